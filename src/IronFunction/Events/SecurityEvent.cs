using System.Buffers;
using System.Text.Json;
using IronFunction.Policy;

namespace IronFunction.Events;

/// <summary>One violation, in the seed schema: every key present, every value a string.</summary>
internal sealed class SecurityEvent
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    public required Control Control { get; init; }
    public required PolicyAction Action { get; init; }
    public required string What { get; init; }
    public required string Message { get; init; }
    public required DateTime Time { get; init; }
    public required ProcessIdentity Process { get; init; }
    public required FunctionInfo Function { get; init; }

    /// <summary>The X-Ray trace id (_X_AMZN_TRACE_ID) when the call was made; written as "xray_trace_id" when set.</summary>
    public string? TraceId { get; init; }

    /// <summary>
    /// 0: this event stands for one occurrence. N &gt; 0: it stands for N identical occurrences (same event_type,
    /// action, what) coalesced into it; written as "repeat_count".
    /// </summary>
    public int RepeatCount { get; init; }

    /// <summary>&gt; 0: a summary of occurrences on this many distinct targets under a coarser what; written as "distinct_count".</summary>
    public int DistinctCount { get; init; }

    /// <summary>A summary's first few targets, joined with " | "; written as "samples".</summary>
    public string? Samples { get; init; }

    /// <summary>A summary of <paramref name="count"/> occurrences on <paramref name="distinct"/> targets under <paramref name="what"/>, from this (the last) one.</summary>
    public SecurityEvent WithSummary(string what, int count, int distinct, string samples, string message) => new()
    {
        Control = Control, Action = Action, What = what, Message = message, Time = Time, Process = Process,
        Function = Function, TraceId = TraceId, RepeatCount = count, DistinctCount = distinct, Samples = samples,
    };

    /// <summary>The same event standing for <paramref name="count"/> occurrences.</summary>
    public SecurityEvent WithRepeatCount(int count) => new()
    {
        Control = Control, Action = Action, What = What, Message = Message, Time = Time, Process = Process,
        Function = Function, TraceId = TraceId, RepeatCount = count,
    };

    /// <summary>Same type, action and target: the key under which repeats are coalesced.</summary>
    public bool SameAs(SecurityEvent other) =>
        Control == other.Control && Action == other.Action && string.Equals(What, other.What, StringComparison.Ordinal);

    /// <summary>
    /// Compact JSON, no trailing newline: the seed schema's keys in its order, then the extra keys that apply.
    /// <paramref name="droppedBefore"/> &gt; 0 (api_endpoint only): events lost before this one, written as "dropped_before".
    /// </summary>
    public void WriteJson(IBufferWriter<byte> output, long droppedBefore = 0)
    {
        using var w = new Utf8JsonWriter(output, WriterOptions);
        w.WriteStartObject();
        w.WriteStartObject("aws_function_info");
        var values = Function.Values;
        for (int i = 0; i < FunctionInfo.Fields.Length; i++) w.WriteString(FunctionInfo.Fields[i].Key, values[i]);
        w.WriteEndObject();
        w.WriteString("event_type", ControlNames.Of(Control));
        w.WriteString("action", Action == PolicyAction.Block ? "block" : "alert");
        w.WriteString("what", What);
        w.WriteString("message", Message);
        w.WriteString("time", Time.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
        w.WriteString("process_id", Process.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        w.WriteString("process_name", Process.Name);
        w.WriteString("process_command", Process.Command);
        w.WriteString("user_id", Process.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        w.WriteString("user_name", Process.UserName);
        // extra keys, allowed by the schema; every value a string like the rest
        if (RepeatCount > 0) w.WriteString("repeat_count", RepeatCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (DistinctCount > 0) w.WriteString("distinct_count", DistinctCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (Samples != null) w.WriteString("samples", Samples);
        if (droppedBefore > 0) w.WriteString("dropped_before", droppedBefore.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (!string.IsNullOrEmpty(TraceId)) w.WriteString("xray_trace_id", TraceId);
        w.WriteEndObject();
    }
}
