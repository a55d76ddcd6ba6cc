using System.Buffers;
using System.Text;
using System.Text.Json;
using CsCheck;
using IronFunction.Events;
using IronFunction.Policy;

namespace IronFunction.Tests.Events;

/// <summary>The event body (SPEC §6): the same bytes go to stderr and to the api_endpoint, for every event type.</summary>
public class SecurityEventJsonTests
{
    private static readonly string[] SeedKeys =
        ["aws_function_info", "event_type", "action", "what", "message", "time", "process_id", "process_name",
         "process_command", "user_id", "user_name"];

    private static readonly string[] FunctionKeys =
        ["region", "execution_env", "lambda_function_name", "initialization_type", "task_root", "runtime_dir", "tz",
         "memory_size", "version", "log_group", "log_stream"];

    internal static SecurityEvent Sample(Control control = Control.ReadWriteTmp, PolicyAction action = PolicyAction.Block,
        string what = "/tmp/x", string message = "open on /tmp/x was blocked", string? traceId = null, int repeatCount = 0) => new()
    {
        Control = control,
        Action = action,
        What = what,
        Message = message,
        Time = new DateTime(2026, 11, 28, 12, 24, 48, 613, DateTimeKind.Utc),
        Process = new ProcessIdentity { Pid = 3999, Name = "python3", Command = "python3 -c pass", Uid = 993, UserName = "sbx_user1051" },
        Function = new FunctionInfo(),
        TraceId = traceId,
        RepeatCount = repeatCount,
    };

    internal static string Json(SecurityEvent e, long droppedBefore = 0)
    {
        var buffer = new ArrayBufferWriter<byte>();
        e.WriteJson(buffer, droppedBefore);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static IEnumerable<object[]> EveryTypeAndAction()
    {
        foreach (var type in new[] { "read_write_tmp", "create_child_process", "outbound_connectivity", "read_handler" })
            foreach (var action in new[] { "block", "alert" })
                yield return [type, action];
    }

    private static Control ControlOf(string name) => name switch
    {
        "read_write_tmp" => Control.ReadWriteTmp,
        "create_child_process" => Control.CreateChildProcess,
        "outbound_connectivity" => Control.OutboundConnectivity,
        _ => Control.ReadHandler,
    };

    [Theory]
    [MemberData(nameof(EveryTypeAndAction))]
    public void Every_event_type_has_exactly_the_seed_keys_in_order_all_strings(string type, string action)
    {
        var what = type switch
        {
            "create_child_process" => "/bin/sh",
            "outbound_connectivity" => "evil.example.net:443",
            "read_handler" => "/var/task/app.py",
            _ => "/tmp/x",
        };
        var e = Sample(ControlOf(type), action == "block" ? PolicyAction.Block : PolicyAction.Alert, what, $"{type} {action}");
        var json = Json(e);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;

        Assert.Equal(SeedKeys, root.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(FunctionKeys, root.GetProperty("aws_function_info").EnumerateObject().Select(p => p.Name).ToArray());
        foreach (var p in root.EnumerateObject().Where(p => p.Name != "aws_function_info"))
            Assert.Equal(JsonValueKind.String, p.Value.ValueKind);
        foreach (var p in root.GetProperty("aws_function_info").EnumerateObject())
            Assert.Equal(JsonValueKind.String, p.Value.ValueKind);

        Assert.Equal(type, root.GetProperty("event_type").GetString());
        Assert.Equal(action, root.GetProperty("action").GetString());
        Assert.Equal(what, root.GetProperty("what").GetString());
        Assert.Equal($"{type} {action}", root.GetProperty("message").GetString());
        Assert.Equal("2026-11-28T12:24:48.613Z", root.GetProperty("time").GetString());
        Assert.Equal("3999", root.GetProperty("process_id").GetString());
        Assert.Equal("python3", root.GetProperty("process_name").GetString());
        Assert.Equal("python3 -c pass", root.GetProperty("process_command").GetString());
        Assert.Equal("993", root.GetProperty("user_id").GetString());
        Assert.Equal("sbx_user1051", root.GetProperty("user_name").GetString());
        // compact: one line, no spaces between tokens
        Assert.DoesNotContain('\n', json);
        Assert.StartsWith("{\"aws_function_info\":{\"region\":", json);
    }

    [Fact]
    public void Extra_keys_come_after_the_seed_keys_only_when_they_apply()
    {
        Assert.Equal(SeedKeys, Names(Json(Sample())));

        using var all = JsonDocument.Parse(Json(Sample(traceId: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", repeatCount: 41), droppedBefore: 7));
        Assert.Equal([.. SeedKeys, "repeat_count", "dropped_before", "xray_trace_id"], all.RootElement.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("41", all.RootElement.GetProperty("repeat_count").GetString());
        Assert.Equal("7", all.RootElement.GetProperty("dropped_before").GetString());
        Assert.Equal("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", all.RootElement.GetProperty("xray_trace_id").GetString());

        // an empty trace id (the variable set but empty) is no trace id
        Assert.Equal(SeedKeys, Names(Json(Sample(traceId: ""))));
    }

    [Fact]
    public void WithRepeatCount_keeps_everything_else()
    {
        var e = Sample(traceId: "Root=1-a");
        var r = e.WithRepeatCount(5);
        Assert.Equal(5, r.RepeatCount);
        using var a = JsonDocument.Parse(Json(e));
        using var b = JsonDocument.Parse(Json(r));
        var without = b.RootElement.EnumerateObject().Where(p => p.Name != "repeat_count").Select(p => p.ToString());
        Assert.Equal(a.RootElement.EnumerateObject().Select(p => p.ToString()), without);
        Assert.True(e.SameAs(r));
        Assert.False(e.SameAs(Sample(what: "/tmp/y")));
        Assert.False(e.SameAs(Sample(action: PolicyAction.Alert)));
        Assert.False(e.SameAs(Sample(control: Control.ReadHandler)));
        Assert.True(e.SameAs(Sample(message: "another function, same target")));
    }

    [Fact]
    public void Any_text_in_what_message_and_command_round_trips()
    {
        var text = Gen.String[Gen.Char.Where(c => !char.IsSurrogate(c)), 0, 80];
        Gen.Select(text, text, text).Sample((what, message, command) =>
        {
            var e = new SecurityEvent
            {
                Control = Control.ReadWriteTmp, Action = PolicyAction.Alert, What = what, Message = message,
                Time = DateTime.UnixEpoch, Function = new FunctionInfo(),
                Process = new ProcessIdentity { Pid = 1, Name = command, Command = command, Uid = 0, UserName = command },
            };
            var json = Json(e);
            Assert.DoesNotContain('\n', json);
            using var doc = JsonDocument.Parse(json);
            Assert.Equal(what, doc.RootElement.GetProperty("what").GetString());
            Assert.Equal(message, doc.RootElement.GetProperty("message").GetString());
            Assert.Equal(command, doc.RootElement.GetProperty("process_command").GetString());
            Assert.Equal(command, doc.RootElement.GetProperty("user_name").GetString());
        }, iter: 2000);
    }

    private static string[] Names(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
    }
}
