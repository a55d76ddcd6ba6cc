using IronFunction.Cli.Lambda;
using System.Text.Json;
using IronFunction.Tests.EndToEnd;

namespace IronFunction.Tests.Lambda;

// End-to-end tests of read_handler (SPEC §5) inside a local Lambda: the Runtime API emulator and a real runtime
// client, the Python custom runtime (runtime/python/bootstrap.py) or the AWS Node.js client
// (aws-lambda-ric). The handlers (tests/lambda/<runtime>/handler) read their own source at import, which
// is allowed, and during each invocation try the reads the event names, answering what each gave.

/// <summary>A task root in a sandbox: the handler, a symbolic link to it, and a data file beside it.</summary>
public sealed class TaskRoot
{
    public const string Data = "data\n";

    public string Dir { get; }
    public string Handler { get; }

    private TaskRoot(string dir, string handler)
    {
        Dir = dir;
        Handler = handler;
    }

    /// <summary>With its byte-code cache compiled beforehand, whether or not the runtime may write one (PYTHONDONTWRITEBYTECODE).</summary>
    public static TaskRoot Python(Sandbox box)
    {
        var root = Make(box, "python", "app.py", "link.py");
        var compiled = Preloaded.RunPlain(Machine.Python.Value, ["-m", "py_compile", "app.py"], cwd: root.Dir);
        Assert.True(compiled.ExitCode == 0 && Directory.GetFiles(Path.Combine(root.Dir, "__pycache__"), "app.*.pyc").Length == 1,
            $"py_compile did not leave __pycache__/app.*.pyc:\n{compiled}");
        return root;
    }

    public static TaskRoot Node(Sandbox box) => Make(box, "node", "app.mjs", "link.mjs");

    private static TaskRoot Make(Sandbox box, string runtime, string file, string link)
    {
        var dir = Path.Combine(box.Dir, "task");
        Directory.CreateDirectory(dir);
        var handler = Path.Combine(dir, file);
        File.Copy(Path.Combine(LambdaRuntime.Handlers, runtime, "handler", file), handler);
        File.CreateSymbolicLink(Path.Combine(dir, link), file);
        File.WriteAllText(Path.Combine(dir, "data.txt"), Data);
        return new TaskRoot(dir, handler);
    }

    public int HandlerLength => (int)new FileInfo(Handler).Length;
}

/// <summary>One read the handler tries: the name it answers under, the path as the event spells it, and how.</summary>
public sealed record Read(string Name, string Path, string How, bool IsHandler = true, bool InChild = false);

public static class HandlerRuns
{
    public const string Block = """{"read_handler":"block"}""";
    public const string Alert = """{"read_handler":"alert"}""";
    public const string Allow = """{"read_handler":"allow"}""";

    public static string Event(IEnumerable<Read> reads) =>
        JsonSerializer.Serialize(new { reads = reads.Select(r => new { name = r.Name, path = r.Path, how = r.How }) });

    /// <summary>The handler's answer for each read, by name.</summary>
    public static Dictionary<string, string> Results(InvocationResult result, LambdaRun? run = null)
    {
        Assert.False(result.IsError, $"the handler failed: {result}\n{run}");
        using var doc = JsonDocument.Parse(result.Body);
        return doc.RootElement.GetProperty("results").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
    }

    /// <summary>What the handler read of its own source at import (itself, or "init_child_read": a child process).</summary>
    public static int InitRead(InvocationResult result, string key = "init_read")
    {
        using var doc = JsonDocument.Parse(result.Body);
        return doc.RootElement.GetProperty(key).GetInt32();
    }

    /// <summary>
    /// Runs the handler for <paramref name="invocations"/> invocations of the same event and checks what each read
    /// gave and the events: block — every handler read denied with EACCES (a child: cat exits 1) and reported once;
    /// alert — every read succeeds with the file's bytes and is reported; allow — every read succeeds, no event.
    /// Reads of other files succeed and are never reported. The handler read its own source at import unhindered.
    /// </summary>
    public static LambdaRun Check(LambdaRuntime runtime, TaskRoot root, Sandbox box, string policy, string action,
        IReadOnlyList<Read> reads, string deniedAnswer, int invocations = 2, IDictionary<string, string?>? env = null)
    {
        using var lambda = LocalLambda.Start(runtime, root.Dir, "app.handler", box.Policy(policy), env);
        lambda.WaitUntilInitialised();
        var answers = new List<InvocationResult>();
        for (int i = 0; i < invocations; i++) answers.Add(lambda.Invoke(Event(reads)));
        var run = lambda.Finish();

        foreach (var answer in answers)
        {
            var results = Results(answer, run);
            Assert.Equal(root.HandlerLength, InitRead(answer));
            if (runtime.Name == "python") Assert.Equal(root.HandlerLength, InitRead(answer, "init_child_read"));
            foreach (var read in reads)
            {
                Assert.True(results.TryGetValue(read.Name, out var got), $"no answer for {read.Name}: {answer}\n{run}");
                var expected = !read.IsHandler ? $"ok {TaskRoot.Data.Length}"
                    : action == "block" ? (read.InChild ? "exit 1" : deniedAnswer)
                    : read.Path == "<pycache>" ? got : $"ok {root.HandlerLength}";
                if (read.Path == "<pycache>" && action != "block") Assert.StartsWith("ok ", got);
                Assert.True(expected == got, $"{read.Name} ({read.How} {read.Path}): expected \"{expected}\", got \"{got}\"\n{run}");
            }
        }

        foreach (var e in run.Events)
        {
            EventAssert.HasSeedSchema(e);
            Assert.Equal("read_handler", e.Str("event_type"));
            Assert.Equal(action, e.Str("action"));
            Assert.Equal(root.Dir, e.GetProperty("aws_function_info").Str("task_root"));
            Assert.Equal("iron-test", e.GetProperty("aws_function_info").Str("lambda_function_name"));
        }
        int handlerReads = reads.Count(r => r.IsHandler);
        if (action == "allow")
        {
            Assert.True(run.Events.Count == 0, $"allow reported events:\n{run}");
        }
        else
        {
            // exactly one occurrence per handler read (repeats coalesced, flushed before each next invocation):
            // nothing while the runtime initialised, nothing for the data file
            Assert.True(handlerReads * invocations == run.Events.Occurrences(),
                $"expected {handlerReads * invocations} occurrences, got {run.Events.Occurrences()}:\n{run}");
            var whats = run.Events.Select(e => e.Str("what")).ToList();
            Assert.All(whats, w => Assert.True(w == root.Handler || IsPycache(root, w), $"an event names {w}"));
            foreach (var read in reads.Where(r => r.IsHandler))
            {
                var reporter = read.InChild ? "cat" : Path.GetFileName(runtime.Program);
                Assert.Contains(run.Events, e => e.Str("process_name") == reporter);
            }
        }
        Assert.True(run.NextRequests == invocations + 1, $"the runtime asked {run.NextRequests} times for an invocation:\n{run}");
        return run;
    }

    private static bool IsPycache(TaskRoot root, string path) =>
        path.StartsWith(Path.Combine(root.Dir, "__pycache__", "app."), StringComparison.Ordinal) && path.EndsWith(".pyc", StringComparison.Ordinal);
}

public class PythonHandlerTests
{
    private static readonly Read[] Reads =
    [
        new("file", "<self>", "open"),
        new("relative", "app.py", "open"),
        new("dot-dot", "../task/./app.py", "os.open"),
        new("symlink", "link.py", "open"),
        new("proc-cwd", "/proc/self/cwd/app.py", "open"),
        new("dirfd", "app.py", "openat"),
        new("pycache", "<pycache>", "open"),
        new("child", "app.py", "cat", InChild: true),
        new("child-start-copy", "app.py", "cat-copy", InChild: true),
        new("child-scrubbed", "app.py", "cat-scrubbed", InChild: true),
        new("data", "data.txt", "open", IsHandler: false),
        new("data-dirfd", "data.txt", "openat", IsHandler: false),
    ];

    [Fact]
    public void Block_denies_every_spelling_of_the_handler_during_invocations()
    {
        using var box = new Sandbox();
        var run = HandlerRuns.Check(LambdaRuntime.Python(), TaskRoot.Python(box), box, HandlerRuns.Block, "block", Reads, "errno 13");
        Assert.Empty(run.Diagnostics);
    }

    [Fact]
    public void Alert_lets_the_reads_through_and_reports_each()
    {
        using var box = new Sandbox();
        HandlerRuns.Check(LambdaRuntime.Python(), TaskRoot.Python(box), box, HandlerRuns.Alert, "alert", Reads, "errno 13");
    }

    [Fact]
    public void Allow_is_silent()
    {
        using var box = new Sandbox();
        var run = HandlerRuns.Check(LambdaRuntime.Python(), TaskRoot.Python(box), box, HandlerRuns.Allow, "allow", Reads, "errno 13");
        Assert.Empty(run.Diagnostics);
    }

    [Fact]
    public void Without_the_library_every_read_succeeds()
    {
        // the reference the runs above are compared with: the same handler and reads, nothing preloaded
        using var box = new Sandbox();
        var root = TaskRoot.Python(box);
        using var lambda = LocalLambda.Start(LambdaRuntime.Python(), root.Dir, "app.handler", null, preload: false);
        var results = HandlerRuns.Results(lambda.Invoke(HandlerRuns.Event(Reads)));
        var run = lambda.Finish();
        foreach (var read in Reads.Where(r => r.Path != "<pycache>"))
            Assert.True(results[read.Name] == $"ok {(read.IsHandler ? root.HandlerLength : TaskRoot.Data.Length)}", $"{read.Name}: {results[read.Name]}\n{run}");
        Assert.StartsWith("ok ", results["pycache"]);
        Assert.Empty(run.Events);
    }
}

public class NodeHandlerTests
{
    private static readonly Read[] Reads =
    [
        new("file", "<self>", "readFileSync"),
        new("relative", "app.mjs", "readFileSync"),
        new("dot-dot", "../task/./app.mjs", "openSync"),
        new("symlink", "link.mjs", "readFileSync"),
        new("proc-cwd", "/proc/self/cwd/app.mjs", "readFileSync"),
        new("thread-pool", "app.mjs", "readFile"),
        new("child", "app.mjs", "cat", InChild: true),
        new("child-scrubbed", "app.mjs", "cat-scrubbed", InChild: true),
        new("data", "data.txt", "readFileSync", IsHandler: false),
        new("data-async", "data.txt", "readFile", IsHandler: false),
    ];

    [Fact]
    public void Block_denies_every_spelling_of_the_handler_during_invocations()
    {
        using var box = new Sandbox();
        var run = HandlerRuns.Check(LambdaRuntime.Node(), TaskRoot.Node(box), box, HandlerRuns.Block, "block", Reads, "errno EACCES");
        Assert.Empty(run.Diagnostics);
    }

    [Fact]
    public void Alert_lets_the_reads_through_and_reports_each()
    {
        using var box = new Sandbox();
        HandlerRuns.Check(LambdaRuntime.Node(), TaskRoot.Node(box), box, HandlerRuns.Alert, "alert", Reads, "errno EACCES");
    }

    [Fact]
    public void Allow_is_silent()
    {
        using var box = new Sandbox();
        var run = HandlerRuns.Check(LambdaRuntime.Node(), TaskRoot.Node(box), box, HandlerRuns.Allow, "allow", Reads, "errno EACCES");
        Assert.Empty(run.Diagnostics);
    }

    [Fact]
    public void The_node_http_client_of_aws_lambda_ric_arms_protection_too()
    {
        // AWS_LAMBDA_NODEJS_USE_ALTERNATIVE_CLIENT_1 makes the client ask for invocations with node:http (libuv write/writev)
        using var box = new Sandbox();
        HandlerRuns.Check(LambdaRuntime.Node(), TaskRoot.Node(box), box, HandlerRuns.Block, "block", Reads, "errno EACCES",
            env: new Dictionary<string, string?> { ["AWS_LAMBDA_NODEJS_USE_ALTERNATIVE_CLIENT_1"] = "true" });
    }
}

/// <summary>The Runtime API watcher sees every next-invocation request of both clients: where events must be flushed.</summary>
public class RuntimeLifecycleTests
{
    public static TheoryData<string> Runtimes => new() { "python", "node" };

    [Theory]
    [MemberData(nameof(Runtimes))]
    public void Every_request_for_the_next_invocation_is_seen(string name)
    {
        using var box = new Sandbox();
        var runtime = name == "python" ? LambdaRuntime.Python() : LambdaRuntime.Node();
        var root = name == "python" ? TaskRoot.Python(box) : TaskRoot.Node(box);
        using var lambda = LocalLambda.Start(runtime, root.Dir, "app.handler", box.Policy(HandlerRuns.Block),
            new Dictionary<string, string?> { ["IRON_LOG"] = "lifecycle=debug,handler=debug" });
        for (int i = 0; i < 3; i++) HandlerRuns.Results(lambda.Invoke("""{"reads":[]}"""));
        var run = lambda.Finish();
        var seen = run.Diagnostics.Where(d => d.Contains("[lifecycle] the runtime asked for", StringComparison.Ordinal)).ToList();
        Assert.True(seen.Count == run.NextRequests && run.NextRequests == 4, $"{seen.Count} requests seen of {run.NextRequests}:\n{run}");
        Assert.Contains("initialisation is over", seen[0]);
        Assert.Single(run.Diagnostics, d => d.Contains("[handler] read_handler (block) armed: the runtime asked for its first invocation", StringComparison.Ordinal));
        Assert.Empty(run.Events);
    }
}

/// <summary>The local Lambda itself: both clients report a handler that cannot load, and errors a handler raises.</summary>
public class LocalLambdaTests
{
    [Theory]
    [InlineData("python", "app.py", "raise RuntimeError('cannot start')\n", "RuntimeError")]
    [InlineData("node", "app.mjs", "throw new Error('cannot start');\n", "Error")]
    public void A_handler_that_cannot_load_reports_an_init_error(string name, string file, string source, string errorType)
    {
        using var box = new Sandbox();
        var task = box.File(Path.Combine("task", file), source);
        var runtime = name == "python" ? LambdaRuntime.Python() : LambdaRuntime.Node();
        using var lambda = LocalLambda.Start(runtime, Path.GetDirectoryName(task)!, "app.handler", box.Policy(HandlerRuns.Block));
        var error = lambda.Api.InitError.WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        var run = lambda.Stop();
        Assert.Contains(errorType, error);
        Assert.Contains("cannot start", error);
        Assert.Equal(0, run.NextRequests);
        Assert.Empty(run.Events); // loading the handler is initialisation: its reads are free
    }

    [Theory]
    [InlineData("python", "app.py", "def handler(event, context):\n    raise ValueError('bad ' + event['x'])\n", "ValueError")]
    [InlineData("node", "app.mjs", "export const handler = async (event) => { throw new TypeError('bad ' + event.x); };\n", "TypeError")]
    public void An_error_the_handler_raises_is_the_invocation_result(string name, string file, string source, string errorType)
    {
        using var box = new Sandbox();
        var task = box.File(Path.Combine("task", file), source);
        var runtime = name == "python" ? LambdaRuntime.Python() : LambdaRuntime.Node();
        using var lambda = LocalLambda.Start(runtime, Path.GetDirectoryName(task)!, "app.handler", box.Policy(HandlerRuns.Block));
        var result = lambda.Invoke("""{"x":"input"}""");
        var run = lambda.Finish();
        Assert.True(result.IsError, $"{result}\n{run}");
        Assert.Contains(errorType, result.Body);
        Assert.Contains("bad input", result.Body);
        Assert.Equal(2, run.NextRequests);
        Assert.Empty(run.Events); // neither client reads the handler's source to report an error
    }
}
