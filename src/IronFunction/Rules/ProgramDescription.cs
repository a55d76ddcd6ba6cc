using System.Text;

namespace IronFunction.Rules;

/// <summary>
/// How a create_child_process event names what was started: the program, and for a shell given a
/// command with -c, the command line as well (<c>/bin/sh -c "ls /"</c>), since that is what runs.
/// </summary>
public static class ProgramDescription
{
    /// <summary>Program names (basename of the path or of argv[0]) treated as POSIX-style shells.</summary>
    private static readonly string[] Shells = ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ksh93", "ash", "yash", "posh"];

    /// <summary>Longest command line or argument list kept in an event; longer ones end with "...".</summary>
    public const int MaxText = 4096;

    /// <summary>The event's <c>what</c>: the program, or <c>program -c "command"</c> for a shell running a command.</summary>
    public static string What(string program, IReadOnlyList<string> argv)
    {
        var command = ShellCommand(program, argv);
        return command == null ? program : $"{program} -c {Quote(Truncate(command))}";
    }

    /// <summary>True when the program (or the name it is started under, argv[0]) is a shell.</summary>
    public static bool IsShell(string program, IReadOnlyList<string> argv) =>
        Shells.Contains(BaseName(program)) || (argv.Count > 0 && Shells.Contains(BaseName(argv[0])));

    /// <summary>
    /// The command string a shell is asked to run (POSIX: <c>sh [options] -c command [name [args]]</c>), or null
    /// when this is not a shell started with -c. Option clusters (<c>-ec</c>, <c>-lc</c>), <c>-o name</c>,
    /// bash's long options and <c>--</c> are understood.
    /// </summary>
    public static string? ShellCommand(string program, IReadOnlyList<string> argv)
    {
        if (!IsShell(program, argv)) return null;
        bool command = false;
        int i = 1;
        for (; i < argv.Count; i++)
        {
            var a = argv[i];
            if (a == "--" || a == "-") { i++; break; }
            if (a.Length < 2 || (a[0] != '-' && a[0] != '+')) break;
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                // bash's long options; two of them take a file argument
                if (a == "--rcfile" || a == "--init-file") i++;
                continue;
            }
            bool takesArgument = false;
            for (int k = 1; k < a.Length; k++)
            {
                if (a[k] == 'c' && a[0] == '-') command = true;
                else if (a[k] == 'o' || a[k] == 'O') takesArgument = true;
            }
            if (takesArgument) i++;
        }
        return command && i < argv.Count ? argv[i] : null;
    }

    /// <summary>A shell command in double quotes, with backslash and double quote escaped.</summary>
    public static string Quote(string command)
    {
        var sb = new StringBuilder(command.Length + 2).Append('"');
        foreach (var c in command)
        {
            if (c == '"' || c == '\\') sb.Append('\\');
            sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    /// <summary>argv as one line for a message, arguments with spaces or quotes quoted; at most <see cref="MaxText"/> characters.</summary>
    public static string ArgumentLine(IReadOnlyList<string> argv)
    {
        var sb = new StringBuilder();
        foreach (var a in argv)
        {
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(a.Length == 0 || a.AsSpan().IndexOfAny(" \t\n\"'\\") >= 0 ? Quote(a) : a);
            if (sb.Length > MaxText) break;
        }
        return Truncate(sb.ToString());
    }

    public static string Truncate(string text) => text.Length <= MaxText ? text : text[..MaxText] + "...";

    public static string BaseName(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash < 0 ? path : path[(slash + 1)..];
    }
}
