using System.Runtime.InteropServices;
using System.Text;
using IronFunction.Rules;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Extensions.Logging;

namespace IronFunction.Log;

/// <summary>
/// The library's own log (not events): Microsoft.Extensions.Logging over a Serilog console sink, levels from
/// IRON_LOG in RUST_LOG style. The library calls <c>iron_log_format</c> for a message that passed its level; each
/// line the sink writes goes back through the library's line writer (its log stream), never the host's stderr.
/// </summary>
internal static unsafe class LogFormatter
{
    private static ILoggerFactory? s_factory;
    private static readonly object s_gate = new();

    /// <summary>
    /// Formats one message (UTF-8 area and text, a Microsoft.Extensions.Logging level) and hands each line to
    /// <paramref name="writeLine"/>. <paramref name="levels"/> is IRON_LOG as the library read it at start; the first
    /// call builds the pipeline from both (the library passes the same two every time). 0 when written, -1 when the pipeline failed (the library then writes the line itself).
    /// </summary>
    [UnmanagedCallersOnly(EntryPoint = "iron_log_format")]
    private static int Format(byte* levels, nint levelsLength, byte* area, nint areaLength, int level,
                              byte* message, nint messageLength, delegate* unmanaged<byte*, nuint, void> writeLine)
    {
        try
        {
            lock (s_gate)
            {
                var factory = s_factory ??= Build(Text(levels, levelsLength), writeLine);
                // a pre-formatted message: braces in paths must not be read as a template
                factory.CreateLogger(Text(area, areaLength)).Log((LogLevel)level, default, Text(message, messageLength), null, static (m, _) => m);
                Console.Error.Flush();
            }
            return 0;
        }
        catch
        {
            // the log must never be the reason a hooked call fails
            return -1;
        }
    }

    private static string Text(byte* bytes, nint length) => Encoding.UTF8.GetString(bytes, checked((int)length));

    private static ILoggerFactory Build(string levelText, delegate* unmanaged<byte*, nuint, void> writeLine)
    {
        var levels = LogLevelSpec.Parse(levelText);
        // the console sink writes to Console.Error: in this image's runtime, that is the library's line writer
        Console.SetError(new LineWriter(writeLine));
        var serilog = new LoggerConfiguration()
            .MinimumLevel.Verbose()
            .WriteTo.Console(
                outputTemplate: "iron-function {Level:u3} [{SourceContext}] {Message:l}{NewLine}{Exception}",
                standardErrorFromLevel: Serilog.Events.LogEventLevel.Verbose,
                theme: Serilog.Sinks.SystemConsole.Themes.ConsoleTheme.None)
            .CreateLogger();
        var filters = new LoggerFilterOptions { MinLevel = levels.Default };
        foreach (var (area, level) in levels.Areas) filters.Rules.Add(new LoggerFilterRule(null, area, level, null));
        return new LoggerFactory([new SerilogLoggerProvider(serilog, dispose: true)], filters);
    }

    /// <summary>Console.Error of this image: whole lines to the library's line writer.</summary>
    private sealed class LineWriter(delegate* unmanaged<byte*, nuint, void> target) : TextWriter
    {
        private readonly StringBuilder _line = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            _line.Append(value);
            if (value == '\n') Emit();
        }

        public override void Write(string? value)
        {
            if (value == null) return;
            _line.Append(value);
            if (value.Contains('\n')) Emit();
        }

        public override void Flush() => Emit();

        private void Emit()
        {
            if (_line.Length == 0) return;
            var bytes = Encoding.UTF8.GetBytes(_line.ToString());
            _line.Clear();
            fixed (byte* p = bytes) target(p, (nuint)bytes.Length);
        }
    }
}
