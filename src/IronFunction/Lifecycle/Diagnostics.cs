using System.Runtime.CompilerServices;
using System.Text;
using IronFunction.Rules;
using Microsoft.Extensions.Logging;

namespace IronFunction.Lifecycle;

/// <summary>
/// The library's own log (not events), levels from IRON_LOG in RUST_LOG style. A message that passes its level is
/// formatted by Microsoft.Extensions.Logging over a Serilog console sink in a second image, loaded at the first such
/// message (src/IronFunction.Log, Native/glue/log_image.c): a quiet process pays nothing for either, and this image
/// stays small. Where that image cannot be loaded, the line is written here in the same format: no message is lost.
/// </summary>
internal static class Diagnostics
{
    private static LogLevelSpec s_levels = LogLevelSpec.Parse(null);
    private static byte[] s_levelText = [];

    public static void Configure(string? levelText)
    {
        s_levels = LogLevelSpec.Parse(levelText);
        s_levelText = Encoding.UTF8.GetBytes(levelText ?? "");
    }

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
                if (Native.Glue.LogImageWrite(s_levelText, area, (int)level, message)) return;
                Native.Glue.LogLine(Encoding.UTF8.GetBytes($"iron-function {Abbreviation(level)} [{area}] {message}\n"));
            }
            catch
            {
                // the log must never be the reason a hooked call fails
            }
        }
    }

    /// <summary>The level as the log image's template writes it ({Level:u3} of Serilog's level for it).</summary>
    private static string Abbreviation(LogLevel level) => level switch
    {
        LogLevel.Trace => "VRB",
        LogLevel.Debug => "DBG",
        LogLevel.Information => "INF",
        LogLevel.Warning => "WRN",
        LogLevel.Error => "ERR",
        _ => "FTL",
    };
}
