using System.Text.Json;
using IronFunction.Tests.EndToEnd;

namespace IronFunction.Tests.Cli;

// iron-function learn on the events of real runs, in each input form, with noise and coalesced repeats; the policy it
// writes is checked by the tool and then enforced on a rerun of the same program: what was seen goes through,
// anything else is blocked. The network runs happen in the tests' own namespace (nothing leaves the machine).
public sealed class LearnCommandTests
{
    /// <summary>Tries each target in turn: "host:port" (a connection, by name or address) or "tmp:PATH" (a write); one line each.</summary>
    private const string Client = """
        import socket, sys
        for target in sys.argv[1:]:
            try:
                if target.startswith("tmp:"):
                    open(target[4:], "w").close()
                else:
                    host, port = target.rsplit(":", 1)
                    with socket.create_connection((host, int(port)), timeout=3) as s:
                        s.recv(64)
                print(target, "ok")
            except OSError as e:
                print(target, "errno", e.errno if e.errno is not None else type(e).__name__)
        """;

    private const string Learned = """
        {
          "outbound_connectivity": { "action": "block", "exceptions": ["evil.example", "203.0.113.99", "yahoo.com"] },
          "read_write_tmp": "block",
          "create_child_process": "block",
          "read_handler": "block"
        }

        """;

    private static (NamespaceRun Run, string Events) RunUnder(Sandbox box, string policy, params string[] targets)
    {
        var script = box.File("client.py", Client);
        var events = Path.Combine(box.Dir, $"events-{Guid.NewGuid():N}.log");
        var run = NetNamespace.Run(box, null, IronTool.Path,
            ["run", "--policy", policy, "--events", events, "--", Machine.Python.Value, script, .. targets], preload: false);
        return (run, events);
    }

    private static RunResult Learn(Sandbox box, string name, string content, params string[] options)
    {
        var input = box.File(name, content);
        var r = IronTool.Run(["learn", .. options, input]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r;
    }

    [NamespaceFact]
    public void EachInputFormGivesTheSamePolicyWhichCheckAcceptsAndARerunEnforces()
    {
        using var box = new Sandbox();
        var alert = box.Policy("""{"outbound_connectivity": "alert"}""");
        var (first, eventsFile) = RunUnder(box, alert, "evil.example:7070", "203.0.113.99:7070", "yahoo.com:7070", "yahoo.com:7070");
        Assert.True(first.Result.ExitCode == 0, first.ToString());
        Assert.Contains("tcp 203.0.113.99 7070", first.ServerLog);
        var lines = File.ReadAllLines(eventsFile);
        Assert.Contains(lines, l => l.Contains("\"what\":\"evil.example (203.0.113.7):7070\""));

        // the library's stderr as it is, with what else a function prints around it
        var raw = string.Join('\n', ["START RequestId: 1 Version: $LATEST", "{\"level\":\"info\",\"msg\":\"not an event\"}",
            .. lines, lines[0][..40], "END RequestId: 1", "REPORT RequestId: 1\tDuration: 2.00 ms"]) + "\n";
        // a CloudWatch Logs export: a timestamp, a request id (or a log stream) before each line
        var exported = string.Join('\n', lines.Select((l, i) => $"2026-12-01T04:20:0{i % 10}.000Z\t6f1c2d3e-0000-4000-8000-00000000000{i % 10}\tINFO\t{l}"))
            + "\n2026-12-01T04:20:09.000Z\tEND RequestId: 6f1c\n";
        // aws logs filter-log-events --output json
        var filtered = JsonSerializer.Serialize(new
        {
            events = lines.Select((l, i) => new { logStreamName = "2026/12/01/[$LATEST]abc", timestamp = 1764562800000L + i, message = l + "\n", ingestionTime = 1764562801000L, eventId = i.ToString() })
                .Append(new { logStreamName = "2026/12/01/[$LATEST]abc", timestamp = 1764562809000L, message = "INIT_START Runtime Version: python:3.12\n", ingestionTime = 1764562801000L, eventId = "x" }),
            searchedLogStreams = Array.Empty<object>(),
        });
        // api_endpoint POST bodies: an array of events
        var posted = "[" + string.Join(",", lines) + "]";

        foreach (var (name, content) in new[] { ("raw.log", raw), ("exported.log", exported), ("filtered.json", filtered), ("posted.json", posted) })
        {
            var r = Learn(box, name, content);
            Assert.True(r.Stdout == Learned, $"{name}:\n{r}");
            Assert.Contains("outbound_connectivity: block, 3 exceptions", r.Stderr);
            Assert.Contains("a proposal to review", r.Stderr);
        }
        var noisy = Learn(box, "raw2.log", raw);
        Assert.True(noisy.Stderr.Contains("5 lines that are not an event skipped"), noisy.Stderr);

        var policy = box.Policy(Learned);
        var check = IronTool.Run(["check", policy]);
        Assert.True(check.ExitCode == 0, check.ToString());

        // the rerun: what was seen goes through; another name, another address and a temporary file do not
        var tmp = Path.Combine(box.TmpDir, "dropper");
        var (rerun, _) = RunUnder(box, policy, "evil.example:7070", "203.0.113.99:7070", "yahoo.com:7070", "notyahoo.com:7070",
            "203.0.113.13:7070", "tmp:" + tmp);
        var output = IronTool.Lines(rerun.Result.Stdout);
        Assert.True(output.SequenceEqual(["evil.example:7070 ok", "203.0.113.99:7070 ok", "yahoo.com:7070 ok", "notyahoo.com:7070 errno -4",
            "203.0.113.13:7070 errno 1", $"tmp:{tmp} errno 13"]), rerun.ToString());
        Assert.DoesNotContain("tcp 203.0.113.13 7070", rerun.ServerLog);
        Assert.DoesNotContain("tcp 203.0.113.12 7070", rerun.ServerLog);
        Assert.Contains("tcp 203.0.113.10 7070", rerun.ServerLog);
        Assert.False(File.Exists(tmp));
    }

    [Fact]
    public void CoalescedRepeatsCountEveryOccurrence()
    {
        using var box = new Sandbox();
        var script = box.File("client.py", Client);
        var tmp = Path.Combine(box.TmpDir, "x");
        var events = Path.Combine(box.Dir, "events.log");
        var policy = box.Policy("""{"read_write_tmp": "block"}""");
        var run = IronTool.Run(["run", "--policy", policy, "--events", events, "--", Machine.Python.Value, script, .. Enumerable.Repeat("tmp:" + tmp, 5)],
            env: RuntimeRuns.Env());
        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = File.ReadAllLines(events);
        // fewer lines than occurrences: the library coalesced the repeats
        Assert.True(lines.Length < 5 && lines.Any(l => l.Contains("\"repeat_count\"")), string.Join('\n', lines));

        var r = IronTool.Run(["learn", events]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("\"read_write_tmp\": \"alert\"", r.Stdout);
        Assert.Contains("\"outbound_connectivity\": \"block\"", r.Stdout);
        Assert.Contains("read_write_tmp: alert (seen in use; the policy format cannot narrow it): 5 occurrences (block)", r.Stderr);
    }

    [Fact]
    public void NamesFoldIntoTheirParentOnlyWithWiden()
    {
        using var box = new Sandbox();
        static string Event(string what) =>
            $$"""{"aws_function_info":{"region":"us-east-1"},"event_type":"outbound_connectivity","action":"alert","what":"{{what}}","message":"m","time":"2026-12-01T04:20:00.000Z","process_id":"1","process_name":"python3","process_command":"python3 app.py","user_id":"0","user_name":"root"}""";
        var content = string.Join('\n', Event("a.api.example.com"), Event("b.api.example.com (203.0.113.5):443"), Event("c.example.org"),
            Event("[2001:db8::1]:443"), Event("example.org"), Event("x.example.org"), Event("route via 10.0.0.1")) + "\n";
        var plain = Learn(box, "ev.log", content);
        Assert.Contains("""["a.api.example.com", "b.api.example.com", "c.example.org", "2001:db8::1", "example.org", "x.example.org"]""", plain.Stdout);
        // a destination no exception can name keeps the control in alert
        Assert.Contains("\"action\": \"alert\"", plain.Stdout);
        var widened = Learn(box, "ev2.log", content, "--widen");
        Assert.Contains("""["*.api.example.com", "example.org", "2001:db8::1"]""", widened.Stdout);
        Assert.Equal(0, IronTool.Run(["check", box.Policy(widened.Stdout)]).ExitCode);
    }
}
