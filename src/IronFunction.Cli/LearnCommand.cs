using System.Text;
using System.Text.Json;
using IronFunction.Policy;
using IronFunction.Rules;

namespace IronFunction.Cli;

/// <summary>
/// learn: the least-privilege policy that would have allowed what the events show. The output is a proposal: code
/// in the function can print lines that imitate events, so the evidence for each entry goes to stderr for review.
/// </summary>
public static class LearnCommand
{
    public const string Help = """
        usage: iron-function learn [--widen] [FILE…|-]

        Reads security events (default: stdin) and writes to stdout the least-privilege policy that
        would have allowed what they show; the evidence behind each entry (occurrences, processes,
        first and last time) goes to stderr. Review it before use: code in a function can print
        lines that imitate events.

        Input, in any mix: the library's stderr lines; lines exported from CloudWatch Logs (a
        timestamp, a log stream or request id, then the event); the JSON output of
        `aws logs filter-log-events` (events[].message); api_endpoint POST bodies (one event or an
        array). Anything else is skipped. Coalesced events count every occurrence (repeat_count).

        The policy: a control with no events "block"; outbound_connectivity "block" with the
        destinations seen as exceptions (names as the events name them, bare IP addresses as seen,
        never widened to a CIDR); a control seen in use that the policy format cannot narrow
        (read_write_tmp, create_child_process, read_handler; a destination that is neither a name
        nor an address) "alert".

          --widen   fold two or more names under one parent domain into "*.parent" (the parent
                    itself when it was seen too); never above a name's parent, never to a top-level domain
        """;

    private const string Outbound = "outbound_connectivity";

    public static int Run(string[] args)
    {
        var o = new Options("learn", args);
        var inputs = new List<string>();
        bool widen = false;
        while (o.Next(out bool option) is { } a)
        {
            if (!option || a == "-") { inputs.Add(a); continue; }
            switch (a)
            {
                case "--help" or "-h": Console.Out.Write(Help); return Program.Ok;
                case "--widen": widen = true; break;
                case "--": inputs.AddRange(o.Rest()); break;
                default: throw o.Unknown(a);
            }
        }
        if (inputs.Count == 0) inputs.Add("-");

        var reader = new EventReader();
        foreach (var input in inputs)
        {
            string text;
            try
            {
                text = input == "-" ? Console.In.ReadToEnd() : File.ReadAllText(input);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new FailedException($"cannot read {input}: {(e is FileNotFoundException or DirectoryNotFoundException ? "No such file or directory" : "Permission denied")}");
            }
            reader.Read(text);
        }

        var learned = Learn(reader.Events, widen);
        var json = learned.Json();
        // the proposal must be one the library accepts
        var parsed = PolicyLoader.Parse(Encoding.UTF8.GetBytes(json), "<learned policy>");
        if (parsed.Problem != null) throw new FailedException("the learned policy is refused (a bug): " + parsed.Problem);
        Console.Out.Write(json);
        Console.Error.Write(learned.Evidence(reader));
        return Program.Ok;
    }

    /// <summary>One entry and what backs it: occurrences, processes, first and last time, actions.</summary>
    private sealed class Evidence
    {
        public long Occurrences;
        public readonly SortedSet<string> Processes = new(StringComparer.Ordinal);
        public readonly SortedSet<string> Actions = new(StringComparer.Ordinal);
        public readonly List<string> Whats = new();
        public string First = "", Last = "";

        public void Add(EventRecord e)
        {
            Occurrences += e.Occurrences;
            if (e.ProcessName.Length > 0) Processes.Add(e.ProcessName);
            Actions.Add(e.Action);
            if (!Whats.Contains(e.What) && Whats.Count < 5) Whats.Add(e.What);
            if (e.Time.Length > 0)
            {
                if (First.Length == 0 || string.CompareOrdinal(e.Time, First) < 0) First = e.Time;
                if (string.CompareOrdinal(e.Time, Last) > 0) Last = e.Time;
            }
        }

        public override string ToString() =>
            $"{Occurrences} occurrence{(Occurrences == 1 ? "" : "s")} ({string.Join(", ", Actions)}), " +
            $"processes {(Processes.Count == 0 ? "?" : string.Join(", ", Processes))}, " +
            (First.Length == 0 ? "no times" : First == Last ? $"at {First}" : $"{First} to {Last}");
    }

    private sealed class Learned
    {
        public readonly Dictionary<string, Evidence> Controls = new();
        public readonly List<(string Exception, Evidence Evidence)> Exceptions = new();
        public readonly Evidence Unnarrowed = new();

        public string Action(string key) =>
            key == Outbound
                ? (Unnarrowed.Occurrences > 0 ? "alert" : "block")
                : Controls.ContainsKey(key) ? "alert" : "block";

        public string Json()
        {
            var sb = new StringBuilder("{\n");
            sb.Append($"  \"{Outbound}\": ");
            if (Exceptions.Count == 0) sb.Append($"\"{Action(Outbound)}\"");
            else
                sb.Append($"{{ \"action\": \"{Action(Outbound)}\", \"exceptions\": [")
                  .AppendJoin(", ", Exceptions.Select(e => JsonSerializerString(e.Exception))).Append("] }");
            foreach (var key in new[] { "read_write_tmp", "create_child_process", "read_handler" })
                sb.Append($",\n  \"{key}\": \"{Action(key)}\"");
            return sb.Append("\n}\n").ToString();
        }

        public string Evidence(EventReader reader)
        {
            var sb = new StringBuilder();
            sb.Append($"iron-function learn: {reader.Events.Count} events ({reader.Events.Sum(e => (long)e.Occurrences)} occurrences) read; " +
                      $"{reader.Skipped} line{(reader.Skipped == 1 ? "" : "s")} that {(reader.Skipped == 1 ? "is" : "are")} not an event skipped\n");
            foreach (var key in EventRecord.EventTypes)
            {
                var action = Action(key);
                Controls.TryGetValue(key, out var seen);
                if (key == Outbound)
                {
                    sb.Append($"{key}: {action}");
                    sb.Append(Exceptions.Count == 0 ? "\n" : $", {Exceptions.Count} exception{(Exceptions.Count == 1 ? "" : "s")}:\n");
                    foreach (var (exception, evidence) in Exceptions)
                        sb.Append($"  {exception}: {evidence}; seen as {string.Join(" | ", evidence.Whats)}\n");
                    if (Unnarrowed.Occurrences > 0)
                        sb.Append($"  alert: destinations an exception cannot name: {Unnarrowed}; seen as {string.Join(" | ", Unnarrowed.Whats)}\n");
                    if (seen == null) sb.Append("  no events\n");
                    continue;
                }
                if (seen == null) sb.Append($"{key}: block (no events)\n");
                else sb.Append($"{key}: alert (seen in use; the policy format cannot narrow it): {seen}; seen as {string.Join(" | ", seen.Whats)}\n");
            }
            sb.Append("iron-function learn: a proposal to review: code in a function can print lines that imitate events\n");
            return sb.ToString();
        }

        private static string JsonSerializerString(string s) => $"\"{JsonEncodedText.Encode(s)}\"";
    }

    private static Learned Learn(IReadOnlyList<EventRecord> events, bool widen)
    {
        var learned = new Learned();
        var byException = new Dictionary<string, Evidence>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var e in events)
        {
            if (!learned.Controls.TryGetValue(e.EventType, out var control)) learned.Controls[e.EventType] = control = new Evidence();
            control.Add(e);
            if (e.EventType != Outbound) continue;
            if (Destination(e.What) is not { } exception)
            {
                learned.Unnarrowed.Add(e);
                continue;
            }
            if (!byException.TryGetValue(exception, out var evidence))
            {
                byException[exception] = evidence = new Evidence();
                order.Add(exception);
            }
            evidence.Add(e);
        }
        if (widen) order = Widen(order, byException);
        foreach (var exception in order) learned.Exceptions.Add((exception, byException[exception]));
        return learned;
    }

    /// <summary>
    /// The exception that allows an outbound event's destination, as the event names it: a looked-up name, the name
    /// of "name (address):port", the bare address of "address:port" or "[v6]:port", or a summary's host. Null: none can.
    /// </summary>
    public static string? Destination(string what)
    {
        string candidate = what;
        int paren = what.IndexOf(" (", StringComparison.Ordinal);
        if (paren > 0) candidate = what[..paren];
        else if (what.StartsWith('['))
        {
            int close = what.IndexOf(']');
            if (close < 0) return null;
            candidate = what[1..close];
        }
        else if (what.Count(c => c == ':') == 1)
        {
            int colon = what.IndexOf(':');
            if (!what.AsSpan(colon + 1).ContainsAnyExcept("0123456789") && colon + 1 < what.Length) candidate = what[..colon];
        }
        if (!NetworkException.TryParse(candidate, out var e, out _)) return null;
        return e.Kind switch
        {
            NetworkExceptionKind.Domain => e.Domain,
            NetworkExceptionKind.Address => e.Address!.ToString(),
            _ => null,
        };
    }

    /// <summary>Names sharing a parent (two labels at least) fold into it: "*.parent", or "parent" when it was seen itself.</summary>
    private static List<string> Widen(List<string> order, Dictionary<string, Evidence> byException)
    {
        static string? Parent(string name)
        {
            if (System.Net.IPAddress.TryParse(name, out _)) return null;
            int dot = name.IndexOf('.');
            var parent = dot < 0 ? null : name[(dot + 1)..];
            return parent != null && parent.Contains('.') ? parent : null;
        }
        var groups = order.Where(n => Parent(n) != null).GroupBy(n => Parent(n)!).Where(g => g.Count() >= 2).ToDictionary(g => g.Key, g => g.ToList());
        var result = new List<string>();
        foreach (var name in order)
        {
            if (Parent(name) is { } parent && groups.TryGetValue(parent, out var members))
            {
                var folded = byException.ContainsKey(parent) ? parent : "*." + parent;
                if (!byException.ContainsKey(folded)) byException[folded] = new Evidence();
                if (folded != name)
                {
                    foreach (var w in byException[name].Whats) if (!byException[folded].Whats.Contains(w)) byException[folded].Whats.Add(w);
                    Merge(byException[folded], byException[name]);
                }
                if (!result.Contains(folded)) result.Add(folded);
                continue;
            }
            if (groups.ContainsKey(name)) { if (!result.Contains(name)) result.Add(name); continue; }
            result.Add(name);
        }
        return result;
    }

    private static void Merge(Evidence into, Evidence from)
    {
        into.Occurrences += from.Occurrences;
        into.Processes.UnionWith(from.Processes);
        into.Actions.UnionWith(from.Actions);
        if (from.First.Length > 0 && (into.First.Length == 0 || string.CompareOrdinal(from.First, into.First) < 0)) into.First = from.First;
        if (string.CompareOrdinal(from.Last, into.Last) > 0) into.Last = from.Last;
    }
}

/// <summary>Events from any of the input forms learn reads; counts what it skipped.</summary>
public sealed class EventReader
{
    public List<EventRecord> Events { get; } = new();
    public int Skipped { get; private set; }

    public void Read(string text)
    {
        var trimmed = text.TrimStart();
        if (trimmed.StartsWith('{') || trimmed.StartsWith('['))
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                ReadJson(doc.RootElement);
                return;
            }
            catch (JsonException)
            {
                // not one JSON document: lines
            }
        }
        foreach (var line in text.Split('\n')) ReadLine(line);
    }

    private void ReadLine(string line)
    {
        if (line.Trim().Length == 0) return;
        if (EventRecord.FromLine(line) is { } e) Events.Add(e);
        else Skipped++;
    }

    private void ReadJson(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Array:
                // an api_endpoint body, or CloudWatch's events on their own
                foreach (var item in e.EnumerateArray()) ReadJson(item);
                return;
            case JsonValueKind.Object when EventRecord.From(e) is { } record:
                Events.Add(record);
                return;
            case JsonValueKind.Object when e.TryGetProperty("events", out var events) && events.ValueKind == JsonValueKind.Array:
                // aws logs filter-log-events / get-log-events: each message holds the line as logged
                foreach (var item in events.EnumerateArray()) ReadJson(item);
                return;
            case JsonValueKind.Object when e.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String:
                foreach (var line in message.GetString()!.Split('\n')) ReadLine(line);
                return;
            default:
                Skipped++;
                return;
        }
    }
}
