using System.Reflection;

namespace IronFunction.Cli;

/// <summary>iron-function COMMAND …: exit 0 ok, 1 refused or failed, 2 usage (run: the command's own status).</summary>
public static class Program
{
    public const int Ok = 0, Failed = 1, Usage = 2;

    public const string Help = """
        iron-function — Iron Function's command-line tool

        usage: iron-function COMMAND [OPTIONS]

        commands:
          check POLICY            validate a policy as the library does; print the effective policy
          run [--policy P] -- CMD ARGS…
                                  run a command with the library preloaded; summary of its events at the end
          learn [FILE…|-]         the least-privilege policy that would have allowed the events read
          invoke --runtime python|node --task-root DIR --handler H [--policy P] [--event FILE|-]…
                                  run a function locally as Lambda runs it
          layer [--policy P] [--arch x86_64|arm64] [-o ZIP]
                                  pack the Lambda layer zip

        options: --help (also after a command), --version
        exit codes: 0 ok, 1 refused or failed, 2 usage error; run: the command's own exit code
        """;

    public static int Main(string[] args)
    {
        try
        {
            return Dispatch(args);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"iron-function: {e.Message} (see iron-function {e.Command}--help)");
            return Usage;
        }
        catch (FailedException e)
        {
            Console.Error.WriteLine($"iron-function: {e.Message}");
            return Failed;
        }
    }

    private static int Dispatch(string[] args)
    {
        if (args.Length == 0) throw new UsageException("a command is required", "");
        switch (args[0])
        {
            case "--help" or "-h" or "help": Console.Out.Write(Help); return Ok;
            case "--version": Console.Out.WriteLine($"iron-function {Version}"); return Ok;
            case "check": return CheckCommand.Run(args[1..]);
            case "run": return RunCommand.Run(args[1..]);
            case "learn": return LearnCommand.Run(args[1..]);
            case "invoke": return InvokeCommand.Run(args[1..]);
            case "layer": return LayerCommand.Run(args[1..]);
            default: throw new UsageException($"unknown command {args[0]}", "");
        }
    }

    public static string Version =>
        typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";
}

/// <summary>A wrong command line: one line on stderr, exit 2.</summary>
public sealed class UsageException(string message, string command) : Exception(message)
{
    public string Command { get; } = command.Length == 0 ? "" : command + " ";
}

/// <summary>A refusal or failure: one line on stderr, exit 1.</summary>
public sealed class FailedException(string message) : Exception(message);

/// <summary>A command's options, read left to right; "--" ends them.</summary>
public sealed class Options(string command, string[] args)
{
    private int _i;

    public string Command { get; } = command;

    /// <summary>The next option or operand; null at the end. Sets <paramref name="isOption"/>.</summary>
    public string? Next(out bool isOption)
    {
        isOption = false;
        if (_i >= args.Length) return null;
        var a = args[_i++];
        isOption = a.StartsWith('-') && a.Length > 1;
        return a;
    }

    /// <summary>The value of the option just read (--name VALUE or --name=VALUE).</summary>
    public string Value(string option)
    {
        if (_i >= args.Length) throw Usage($"{option} needs a value");
        return args[_i++];
    }

    public string[] Rest()
    {
        var rest = args[_i..];
        _i = args.Length;
        return rest;
    }

    public UsageException Usage(string message) => new(message, Command);

    public UsageException Unknown(string option) => new($"unknown option {option}", Command);
}
