using System.Text.Json;
using IronFunction.Tests.EndToEnd;

namespace IronFunction.Tests.Cli;

// iron-function invoke: the test handlers (tests/lambda/<runtime>/handler) run through the built tool, the runtime
// started by the layer's wrapper; the results come out on stdout, the events on stderr with the summary.
public sealed class InvokeCommandTests
{
    private static readonly string Handlers = Path.Combine(Machine.RepoRoot, "tests", "lambda");
    private const string Policy = """{"read_handler": "block", "read_write_tmp": "block"}""";

    private static (RunResult Run, JsonElement[] Results) Invoke(Sandbox box, string runtime, string? policyJson, string eventJson, params string[] more)
    {
        var evt = box.File($"event-{Guid.NewGuid():N}.json", eventJson);
        var args = new List<string> { "invoke", "--runtime", runtime, "--task-root", Path.Combine(Handlers, runtime, "handler"),
            "--handler", "app.handler", "--event", evt, "--json" };
        if (policyJson != null) args.AddRange(["--policy", box.Policy(policyJson)]);
        args.AddRange(more);
        var r = IronTool.Run(args, env: RuntimeRuns.Env());
        var results = IronTool.Lines(r.Stdout).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();
        return (r, results);
    }

    [Fact]
    public void RunsAPythonHandlerUnderThePolicy()
    {
        using var box = new Sandbox();
        var (r, results) = Invoke(box, "python", Policy, """{"reads": [{"name": "me", "path": "<self>", "how": "open"}]}""", "--count", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(2, results.Length);
        foreach (var result in results)
        {
            Assert.Equal("response", result.Str("status"));
            var body = result.GetProperty("body");
            // read at initialisation, denied during an invocation
            Assert.True(body.GetProperty("init_read").GetInt32() > 0, r.ToString());
            Assert.Equal("errno 13", body.GetProperty("results").Str("me"));
        }
        var self = Path.Combine(Handlers, "python", "handler", "app.py");
        var events = r.Events.Where(e => e.Str("event_type") == "read_handler" && e.Str("what") == self).ToArray();
        Assert.Equal(2, events.Occurrences());
        Assert.All(events, e => Assert.Equal("block", e.Str("action")));
        Assert.All(events, EventAssert.HasSeedSchema);
        Assert.Equal("on-demand", events[0].GetProperty("aws_function_info").Str("initialization_type"));
        Assert.Contains("\"blocked\":2", IronTool.Lines(r.Stderr).Last());
    }

    [Fact]
    public void RunsANodeHandlerUnderAwsLambdaRic()
    {
        using var box = new Sandbox();
        var (r, results) = Invoke(box, "node", Policy, """{"reads": [{"name": "me", "path": "app.mjs", "how": "readFileSync"}]}""");
        Assert.True(r.ExitCode == 0, r.ToString());
        var body = Assert.Single(results).GetProperty("body");
        Assert.True(body.GetProperty("init_read").GetInt32() > 0, r.ToString());
        Assert.Equal("errno EACCES", body.GetProperty("results").Str("me"));
        var e = Assert.Single(r.Events, e => e.Str("event_type") == "read_handler");
        Assert.Equal(Path.Combine(Handlers, "node", "handler", "app.mjs"), e.Str("what"));
        Assert.Equal("block", e.Str("action"));
        Assert.Contains("aws-lambda-ric", e.Str("process_command"));
    }

    [Fact]
    public void WithoutAPolicyTheLayersOwnPolicyApplies()
    {
        // the wrapper names its own policy.json (alert on every control) when the function sets none
        using var box = new Sandbox();
        var (r, results) = Invoke(box, "python", null, """{"reads": [{"name": "me", "path": "<self>", "how": "open"}]}""");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("ok ", Assert.Single(results).GetProperty("body").GetProperty("results").Str("me"));
        var e = Assert.Single(r.Events, e => e.Str("event_type") == "read_handler");
        Assert.Equal("alert", e.Str("action"));
    }

    [Fact]
    public void AFailingHandlerIsAnErrorAndExitsOne()
    {
        using var box = new Sandbox();
        box.File("fn/app.py", "def handler(event, context):\n    raise ValueError('no ' + event['what'])\n");
        var evt = box.File("event.json", """{"what": "luck"}""");
        var r = IronTool.Run(["invoke", "--runtime", "python", "--task-root", Path.Combine(box.Dir, "fn"), "--handler", "app.handler", "--event", evt]);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.StartsWith("invocation 1/1 ", r.Stdout);
        Assert.Contains(": error ValueError\n", r.Stdout);
        Assert.Contains("\"errorMessage\": \"no luck\"", r.Stdout);
    }

    [Fact]
    public void AHandlerThatCannotLoadIsAnInitError()
    {
        using var box = new Sandbox();
        Directory.CreateDirectory(Path.Combine(box.Dir, "fn"));
        var r = IronTool.Run(["invoke", "--runtime", "python", "--task-root", Path.Combine(box.Dir, "fn"), "--handler", "missing.handler", "--timeout", "20"]);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("iron-function: the runtime reported an init error", r.Stderr);
    }
}
