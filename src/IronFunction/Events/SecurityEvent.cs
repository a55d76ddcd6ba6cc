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

    /// <summary>Compact JSON, no trailing newline.</summary>
    public void WriteJson(IBufferWriter<byte> output)
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
        w.WriteEndObject();
    }
}
