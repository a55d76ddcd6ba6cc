using System;
using System.Collections.Generic;
using System.Linq;
using System.Collections.ObjectModel;
using Microsoft.Extensions.Logging;

namespace IronFunction.Rules;

/// <summary>
/// IRON_LOG, in the style of RUST_LOG: comma-separated entries, each a level ("debug": the default for
/// every area), "area=level" (an override for one area), or a bare area name (that area at trace).
/// Levels: trace, debug, info, warn (warning), error, off; case-insensitive. Areas are lower-case
/// identifiers (files, process, network, handler, events, policy, lifecycle, …). An entry that cannot
/// be read is ignored, so a typo never silences or floods the log; later entries win. Default: warn.
/// </summary>
public sealed class LogLevelSpec
{
    private readonly Dictionary<string, LogLevel> _areas;

    public LogLevel Default { get; }
    public IReadOnlyDictionary<string, LogLevel> Areas { get; }

    /// <summary>The most verbose level enabled anywhere, for a quick "is any logging on at this level" check.</summary>
    public LogLevel Lowest { get; }

    private LogLevelSpec(LogLevel defaultLevel, Dictionary<string, LogLevel> areas)
    {
        Default = defaultLevel;
        _areas = areas;
        Areas = new ReadOnlyDictionary<string, LogLevel>(areas);
        Lowest = areas.Values.Aggregate(defaultLevel, (low, level) => level < low ? level : low);
    }

    /// <summary>The level for an area: its override, or the default.</summary>
    public LogLevel For(string area) => _areas.TryGetValue(area, out var level) ? level : Default;

    public bool IsEnabled(string area, LogLevel level) => level != LogLevel.None && level >= For(area);

    public static LogLevelSpec Parse(string? value)
    {
        var defaultLevel = LogLevel.Warning;
        var areas = new Dictionary<string, LogLevel>(StringComparer.OrdinalIgnoreCase);
        string text = value ?? "";
        foreach (var range in text.AsSpan().Split(','))
        {
            var entry = text.AsSpan(range).Trim();
            if (entry.IsEmpty) continue;
            int equals = entry.IndexOf('=');
            if (equals < 0)
            {
                if (TryLevel(entry, out var level)) defaultLevel = level;
                else if (IsArea(entry)) areas[entry.ToString().ToLowerInvariant()] = LogLevel.Trace;
                continue;
            }
            var area = entry[..equals].Trim();
            if (IsArea(area) && TryLevel(entry[(equals + 1)..].Trim(), out var areaLevel))
                areas[area.ToString().ToLowerInvariant()] = areaLevel;
        }
        return new LogLevelSpec(defaultLevel, areas);
    }

    private static bool TryLevel(ReadOnlySpan<char> text, out LogLevel level)
    {
        level = text.ToString().ToLowerInvariant() switch
        {
            "trace" => LogLevel.Trace,
            "debug" => LogLevel.Debug,
            "info" => LogLevel.Information,
            "warn" or "warning" => LogLevel.Warning,
            "error" => LogLevel.Error,
            "off" => LogLevel.None,
            _ => (LogLevel)(-1),
        };
        return level >= 0;
    }

    /// <summary>An identifier: a letter, then letters, digits or '_'.</summary>
    private static bool IsArea(ReadOnlySpan<char> text) =>
        text.Length > 0 && char.IsAsciiLetter(text[0]) && !text.ContainsAnyExcept(AreaChars);

    private static readonly System.Buffers.SearchValues<char> AreaChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
}
