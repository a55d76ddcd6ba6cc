using System.Runtime.CompilerServices;
using IronFunction.Rules;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Extensions.Logging;

namespace IronFunction.Lifecycle;

/// <summary>
/// The library's own log (not events): Microsoft.Extensions.Logging over a Serilog console sink on
/// stderr, levels from IRON_LOG in RUST_LOG style. Nothing is built until a message passes its level,
/// so a quiet process pays nothing for it.
/// </summary>
internal static class Diagnostics
{
    private static LogLevelSpec s_levels = LogLevelSpec.Parse(null);
    private static ILoggerFactory? s_factory;
    private static readonly object s_gate = new();

    public static void Configure(LogLevelSpec levels) => s_levels = levels;

    public static bool IsEnabled(string area, LogLevel level) => level >= s_levels.For(area) && level != LogLevel.None;

    public static void Debug(string area, string message) => Write(area, LogLevel.Debug, message);

    /// <summary>An interpolated debug message is only formatted when it will be written: every process start logs several.</summary>
    public static void Debug(string area, [InterpolatedStringHandlerArgument("area")] ref DebugMessage message)
    {
        if (message.Enabled) Write(area, LogLevel.Debug, message.ToStringAndClear());
    }

    /// <summary>Formats nothing (enums, collections) unless the area's level lets debug messages through.</summary>
    [InterpolatedStringHandler]
    public ref struct DebugMessage
    {
        private DefaultInterpolatedStringHandler _text;

        public bool Enabled { get; }

        public DebugMessage(int literalLength, int formattedCount, string area, out bool enabled)
        {
            Enabled = enabled = IsEnabled(area, LogLevel.Debug);
            _text = enabled ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
        }

        public void AppendLiteral(string value) => _text.AppendLiteral(value);
        public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);
        public void AppendFormatted<T>(T value, string? format) => _text.AppendFormatted(value, format);
        public void AppendFormatted(string? value) => _text.AppendFormatted(value);
        public string ToStringAndClear() => _text.ToStringAndClear();
    }
    public static void Info(string area, string message) => Write(area, LogLevel.Information, message);
    public static void Warn(string area, string message) => Write(area, LogLevel.Warning, message);
    public static void Error(string area, string message) => Write(area, LogLevel.Error, message);

    public static void Write(string area, LogLevel level, string message)
    {
        if (!IsEnabled(area, level)) return;
        using (Native.ReentrancyGuard.Enter())
        {
            try
            {
                // a pre-formatted message: braces in paths must not be read as a template
                Factory().CreateLogger(area).Log(level, default, message, null, static (m, _) => m);
            }
            catch
            {
                // the log must never be the reason a hooked call fails
            }
        }
    }

    private static ILoggerFactory Factory()
    {
        if (s_factory != null) return s_factory;
        lock (s_gate)
        {
            if (s_factory != null) return s_factory;
            // the console sink writes to Console.Error: in this library's runtime, that is the log stream
            Console.SetError(new LogStreamWriter());
            var serilog = new LoggerConfiguration()
                .MinimumLevel.Verbose()
                .WriteTo.Console(
                    outputTemplate: "iron-function {Level:u3} [{SourceContext}] {Message:l}{NewLine}{Exception}",
                    standardErrorFromLevel: Serilog.Events.LogEventLevel.Verbose,
                    theme: Serilog.Sinks.SystemConsole.Themes.ConsoleTheme.None)
                .CreateLogger();
            var filters = new LoggerFilterOptions { MinLevel = s_levels.Default };
            foreach (var (area, level) in s_levels.Areas) filters.Rules.Add(new LoggerFilterRule(null, area, level, null));
            s_factory = new LoggerFactory([new SerilogLoggerProvider(serilog, dispose: true)], filters);
            return s_factory;
        }
    }
}

/// <summary>Console.Error of the library's runtime: whole lines to the log stream (Native/glue/log_stream.c), never the host's stderr of the moment.</summary>
internal sealed class LogStreamWriter : TextWriter
{
    private readonly System.Text.StringBuilder _line = new();

    public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_line)
        {
            _line.Append(value);
            if (value == '\n') Emit();
        }
    }

    public override void Write(string? value)
    {
        if (value == null) return;
        lock (_line)
        {
            _line.Append(value);
            if (value.Contains('\n')) Emit();
        }
    }

    public override void Flush()
    {
        lock (_line) Emit();
    }

    private void Emit()
    {
        if (_line.Length == 0) return;
        Native.Glue.LogLine(System.Text.Encoding.UTF8.GetBytes(_line.ToString()));
        _line.Clear();
    }
}
