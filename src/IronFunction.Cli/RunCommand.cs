using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace IronFunction.Cli;

/// <summary>run: a command under the library, preloaded as the layer's wrapper does it, with a summary of its events.</summary>
public static class RunCommand
{
    public const string Help = """
        usage: iron-function run [--policy P] [--log LEVEL] [--events FILE] [--json] [--] CMD ARGS…

        Runs CMD with the library preloaded exactly as the layer's wrapper does (LD_PRELOAD, then
        IRON_FUNCTION_POLICY). Its stdout and stderr pass through, events included; at the end a
        summary of what was blocked and alerted, per control (its policy key), goes to stderr.
        Exits with CMD's exit code (127: CMD could not be started).

          --policy P      the policy (default: none, the library's monitor mode: every control alerts)
          --log LEVEL     IRON_LOG for the library's own log (error, warn, info, debug; area=level,…)
          --events FILE   also write the event lines to FILE (for iron-function learn)
          --json          the summary as one JSON line on stderr
        """;

    public static int Run(string[] args)
    {
        var o = new Options("run", args);
        string? policy = null, log = null, eventsFile = null;
        bool json = false;
        string[]? command = null;
        while (command == null && o.Next(out bool option) is { } a)
        {
            if (!option) { command = [a, .. o.Rest()]; break; }
            switch (a)
            {
                case "--help" or "-h": Console.Out.Write(Help); return Program.Ok;
                case "--policy": policy = o.Value(a); break;
                case "--log": log = o.Value(a); break;
                case "--events": eventsFile = o.Value(a); break;
                case "--json": json = true; break;
                case "--": command = o.Rest(); break;
                default: throw o.Unknown(a);
            }
        }
        if (command == null || command.Length == 0) throw o.Usage("a command to run is required (after --)");

        var psi = new ProcessStartInfo(command[0]) { UseShellExecute = false, RedirectStandardError = true };
        foreach (var arg in command[1..]) psi.ArgumentList.Add(arg);
        Preload(psi.Environment, policy);
        if (log != null) psi.Environment["IRON_LOG"] = log;

        using var events = eventsFile == null ? null : new StreamWriter(eventsFile, append: false, new UTF8Encoding(false)) { AutoFlush = true };
        var tally = new EventTally();
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Console.Error.WriteLine($"iron-function: cannot run {command[0]}: {e.Message}");
            return 127;
        }
        // the command's Ctrl-C is its own: the tool stays to relay its output and summary
        Console.CancelKeyPress += (_, e) => e.Cancel = true;
        using (process)
        {
            Relay(process.StandardError.BaseStream, Console.OpenStandardError(), line =>
            {
                if (EventRecord.FromLine(line) is not { } e) return;
                tally.Add(e);
                events?.WriteLine(line);
            });
            process.WaitForExit();
            WriteSummary(tally, "run summary", json);
            return process.ExitCode;
        }
    }

    /// <summary>The layer's wrapper, in code: the library first in LD_PRELOAD, IRON_FUNCTION_POLICY the policy (none: monitor).</summary>
    public static void Preload(IDictionary<string, string?> env, string? policy)
    {
        var existing = env.TryGetValue("LD_PRELOAD", out var p) && !string.IsNullOrEmpty(p) ? ":" + p : "";
        env["LD_PRELOAD"] = Product.Library + existing;
        if (policy == null) env.Remove("IRON_FUNCTION_POLICY");
        else env["IRON_FUNCTION_POLICY"] = Path.GetFullPath(policy);
    }

    /// <summary>Copies the stream through unchanged, handing each complete line (and a last unterminated one) to <paramref name="line"/>.</summary>
    public static void Relay(Stream from, Stream to, Action<string> line)
    {
        var buffer = new byte[64 * 1024];
        var pending = new MemoryStream();
        int n;
        while ((n = from.Read(buffer, 0, buffer.Length)) > 0)
        {
            to.Write(buffer, 0, n);
            to.Flush();
            int start = 0;
            for (int i = 0; i < n; i++)
            {
                if (buffer[i] != '\n') continue;
                pending.Write(buffer, start, i - start);
                line(Encoding.UTF8.GetString(pending.GetBuffer(), 0, (int)pending.Length));
                pending.SetLength(0);
                start = i + 1;
            }
            pending.Write(buffer, start, n - start);
        }
        if (pending.Length > 0) line(Encoding.UTF8.GetString(pending.GetBuffer(), 0, (int)pending.Length));
    }

    public static void WriteSummary(EventTally tally, string title, bool json)
    {
        if (!json)
        {
            Console.Error.Write(tally.Text(title));
            return;
        }
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer)) tally.WriteJson(w);
        Console.Error.WriteLine(Encoding.UTF8.GetString(buffer.WrittenSpan));
    }
}
