using System.Globalization;
using System.Text.Json;

namespace IronFunction.Cli;

/// <summary>
/// One security event as the library writes it (src/IronFunction/Events/SecurityEvent.cs): every value a string;
/// "repeat_count" N means it stands for N occurrences, a summary ("distinct_count") for N occurrences on several
/// targets under a coarser what.
/// </summary>
public sealed record EventRecord(string EventType, string Action, string What, string Time, string ProcessName,
    string ProcessCommand, int Occurrences, int DistinctCount, string? Samples)
{
    public static readonly string[] EventTypes = ["read_write_tmp", "create_child_process", "read_handler", "outbound_connectivity"];

    public bool Blocked => Action == "block";

    /// <summary>An event, or null when the element is not one (anything else a function may print).</summary>
    public static EventRecord? From(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) return null;
        string? type = Str(e, "event_type"), action = Str(e, "action"), what = Str(e, "what");
        if (type == null || !EventTypes.Contains(type) || action is not ("block" or "alert") || what == null) return null;
        if (!e.TryGetProperty("aws_function_info", out var info) || info.ValueKind != JsonValueKind.Object) return null;
        return new EventRecord(type, action, what, Str(e, "time") ?? "", Str(e, "process_name") ?? "", Str(e, "process_command") ?? "",
            Math.Max(1, Count(e, "repeat_count")), Count(e, "distinct_count"), Str(e, "samples"));
    }

    /// <summary>The event a line carries: the library's line itself, or one with a prefix (a CloudWatch timestamp, a request id…).</summary>
    public static EventRecord? FromLine(string line)
    {
        for (int start = line.IndexOf('{'); start >= 0; start = line.IndexOf('{', start + 1))
        {
            if (!line.AsSpan(start).StartsWith("{\"aws_function_info\"", StringComparison.Ordinal)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line.AsMemory(start).ToString().TrimEnd());
                return From(doc.RootElement);
            }
            catch (JsonException)
            {
                // not an event after all: keep looking further on the line
            }
        }
        return null;
    }

    private static string? Str(JsonElement e, string key) =>
        e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int Count(JsonElement e, string key) =>
        int.TryParse(Str(e, key), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : 0;
}

/// <summary>What a run's events add up to: per control and action, each what with its number of occurrences.</summary>
public sealed class EventTally
{
    private readonly Dictionary<(string Type, string Action, string What), long> _counts = new();
    private readonly List<(string Type, string Action, string What)> _order = new();

    public void Add(EventRecord e)
    {
        var key = (e.EventType, e.Action, e.What);
        if (!_counts.ContainsKey(key)) _order.Add(key);
        _counts[key] = _counts.GetValueOrDefault(key) + e.Occurrences;
    }

    public long Total(string action) => _counts.Where(kv => kv.Key.Action == action).Sum(kv => kv.Value);

    /// <summary>The summary lines, grouped by control in the policy's order.</summary>
    public string Text(string title)
    {
        var sb = new System.Text.StringBuilder();
        long blocked = Total("block"), alerted = Total("alert");
        sb.Append($"iron-function: {title}: {blocked} blocked, {alerted} alerted\n");
        foreach (var type in EventRecord.EventTypes)
            foreach (var key in _order.Where(k => k.Type == type).OrderBy(k => k.Action == "block" ? 0 : 1))
                sb.Append($"  {type,-22} {(key.Action == "block" ? "blocked" : "alerted"),-8} {_counts[key],5}×  {key.What}\n");
        return sb.ToString();
    }

    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteNumber("blocked", Total("block"));
        w.WriteNumber("alerted", Total("alert"));
        w.WriteStartArray("events");
        foreach (var key in _order)
        {
            w.WriteStartObject();
            w.WriteString("event_type", key.Type);
            w.WriteString("action", key.Action);
            w.WriteString("what", key.What);
            w.WriteNumber("count", _counts[key]);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
