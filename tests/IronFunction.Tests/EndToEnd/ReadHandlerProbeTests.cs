using IronFunction.Tests.Lambda;

namespace IronFunction.Tests.EndToEnd;

// End-to-end tests of read_handler (SPEC §5) outside Lambda, where protection starts at once: the C probe
// (probes/tmp_probe.c) makes one libc call on the handler, spelled every way, through every entry point that
// reads a file or gives it another name; a plain CPython script does the same with its own file API.

/// <summary>A task root with app.py (handler "app.handler"), a link to it, its byte-code cache and a data file.</summary>
public sealed class ProbeTaskRoot
{
    public string Dir { get; }
    public string Handler => Path.Combine(Dir, "app.py");
    public string Pycache => Path.Combine(Dir, "__pycache__", "app.cpython-311.pyc");
    public const string Source = "def handler(event, context):\n    return 'secret logic'\n";

    public ProbeTaskRoot(Sandbox box)
    {
        Dir = Path.Combine(box.Dir, "task");
        Directory.CreateDirectory(Path.Combine(Dir, "__pycache__"));
        File.WriteAllText(Handler, Source);
        File.WriteAllText(Pycache, "byte code");
        File.WriteAllText(Path.Combine(Dir, "data.txt"), "data\n");
        File.CreateSymbolicLink(Path.Combine(Dir, "link.py"), "app.py");
        Directory.CreateDirectory(Path.Combine(box.Dir, "elsewhere"));
    }

    /// <summary>The Lambda variables that name the handler; no Runtime API unless given (then protection waits for it).</summary>
    public Dictionary<string, string?> Env(string? runtimeApi = null, string? loaded = null) => new()
    {
        ["TMPDIR"] = null,
        ["_HANDLER"] = "app.handler",
        ["LAMBDA_TASK_ROOT"] = Dir,
        ["AWS_LAMBDA_RUNTIME_API"] = runtimeApi,
        ["IRON_FUNCTION_HANDLER_LOADED"] = loaded,
    };

    public RunResult Probe(Sandbox box, string policy, IEnumerable<string> args, Dictionary<string, string?>? env = null) =>
        Preloaded.Run(TmpProbe.Exe.Value, args, box.Policy(policy), env ?? Env(), cwd: Dir);
}

public class ReadHandlerProbeTests
{
    private const string DeniedFd = "result=-1 errno=13", DeniedPtr = "result=NULL errno=13";

    public static TheoryData<string, string, string> Spellings()
    {
        var data = new TheoryData<string, string, string>();
        string[] fdCalls = ["open", "open64", "__open_2", "__open64_2", "openat", "openat64", "__openat_2", "__openat64_2"];
        string[] streamCalls = ["fopen", "fopen64", "freopen", "freopen64"];
        string[] spellings = ["<abs>", "app.py", "./app.py", "../task/app.py", ".//app.py", "link.py", "/proc/self/cwd/app.py", "<abs-link>"];
        foreach (var call in fdCalls.Concat(streamCalls))
            foreach (var spelling in spellings)
                data.Add(call, spelling, fdCalls.Contains(call) ? DeniedFd : DeniedPtr);
        return data;
    }

    private static string Spell(ProbeTaskRoot root, string spelling) => spelling switch
    {
        "<abs>" => root.Handler,
        "<abs-link>" => Path.Combine(root.Dir, "link.py"),
        _ => spelling,
    };

    [Theory]
    [MemberData(nameof(Spellings))]
    public void Every_read_entry_point_denies_every_spelling(string call, string spelling, string denied)
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var run = root.Probe(box, HandlerRuns.Block, [call, Spell(root, spelling)]);
        Assert.Equal(denied, TmpProbe.Line(run));
        var e = Assert.Single(run.Events);
        EventAssert.HasSeedSchema(e);
        Assert.Equal("read_handler", e.Str("event_type"));
        Assert.Equal("block", e.Str("action"));
        Assert.Equal(root.Handler, e.Str("what"));
        Assert.Contains(call, e.Str("message"));
        TmpProbe.StderrIsOnlyEvents(run);
    }

    [Theory]
    [InlineData("openat", "app.py")]
    [InlineData("openat64", "link.py")]
    [InlineData("__openat_2", "./app.py")]
    [InlineData("__openat64_2", "app.py")]
    public void A_directory_descriptor_of_the_task_root_reaches_the_handler_too(string call, string path)
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        // the descriptor comes from a raw system call, as one inherited from an unprotected parent would
        var run = Preloaded.Run(TmpProbe.Exe.Value, ["--rawdir", root.Dir, call, path], box.Policy(HandlerRuns.Block), root.Env(),
            cwd: Path.Combine(box.Dir, "elsewhere"));
        Assert.Equal(DeniedFd, TmpProbe.Line(run));
        Assert.Equal(root.Handler, Assert.Single(run.Events).Str("what"));
    }

    [Theory]
    [InlineData("/proc/self/fd/{fd}")]
    [InlineData("/dev/fd/{fd}")]
    public void Reopening_a_descriptor_of_the_handler_is_denied(string path)
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var run = root.Probe(box, HandlerRuns.Block, ["--rawfile", root.Handler, "open", path]);
        Assert.Equal(DeniedFd, TmpProbe.Line(run));
        Assert.Equal(root.Handler, Assert.Single(run.Events).Str("what"));
    }

    [Theory]
    [InlineData("open", "RDWR", DeniedFd)]
    [InlineData("open", "RDONLY|NOFOLLOW", DeniedFd)]
    [InlineData("openat", "RDONLY|CLOEXEC", DeniedFd)]
    public void Opening_for_reading_with_any_flags_is_denied(string call, string flags, string expected)
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var run = root.Probe(box, HandlerRuns.Block, ["--oflags", flags, call, root.Handler]);
        Assert.Equal(expected, TmpProbe.Line(run));
        Assert.Single(run.Events);
        Assert.Equal(ProbeTaskRoot.Source, File.ReadAllText(root.Handler));
    }

    [Theory]
    [InlineData("link")]
    [InlineData("linkat")]
    [InlineData("rename")]
    [InlineData("renameat")]
    [InlineData("renameat2")]
    public void Another_name_for_the_handler_is_denied(string call)
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var copy = Path.Combine(box.Dir, "elsewhere", "copy.py");
        var run = root.Probe(box, HandlerRuns.Block, [call, "app.py", copy]);
        Assert.Equal(DeniedFd, TmpProbe.Line(run));
        Assert.Equal(root.Handler, Assert.Single(run.Events).Str("what"));
        Assert.False(File.Exists(copy));
        Assert.Equal(ProbeTaskRoot.Source, File.ReadAllText(root.Handler));
    }

    [Fact]
    public void The_byte_code_cache_is_part_of_the_handler()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var run = root.Probe(box, HandlerRuns.Block, ["open", "__pycache__/app.cpython-311.pyc"]);
        Assert.Equal(DeniedFd, TmpProbe.Line(run));
        Assert.Equal(root.Pycache, Assert.Single(run.Events).Str("what"));
    }

    [Theory]
    [InlineData("data.txt", "open", "")]
    [InlineData("__pycache__", "open", "RDONLY|DIRECTORY")]
    [InlineData(".", "opendir", "")]
    [InlineData("app.py", "open", "WRONLY")]        // not a read
    [InlineData("app.py", "open", "PATH")]          // an O_PATH descriptor reads nothing
    [InlineData("link.py", "open", "PATH|NOFOLLOW")]
    [InlineData("app.py", "utimes", "")]           // metadata, not content
    public void Other_files_and_calls_that_read_no_handler_are_left_alone(string path, string call, string flags)
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var args = flags.Length > 0 ? new[] { "--oflags", flags, call, path } : new[] { call, path };
        var run = root.Probe(box, HandlerRuns.Block, args);
        var plain = Preloaded.RunPlain(TmpProbe.Exe.Value, args, root.Env(), cwd: root.Dir);
        Assert.Equal(TmpProbe.Line(plain), TmpProbe.Line(run));
        Assert.DoesNotContain("errno=13", run.Stdout);
        Assert.Empty(run.Events);
        Assert.Equal(ProbeTaskRoot.Source, File.ReadAllText(root.Handler));
    }

    [Fact]
    public void Fopen_for_appending_reads_nothing_and_is_left_alone()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var run = root.Probe(box, HandlerRuns.Block, ["--fmode", "a", "fopen", "app.py"]);
        Assert.Equal("result=ptr errno=0", TmpProbe.Line(run));
        Assert.Empty(run.Events);
        var plus = root.Probe(box, HandlerRuns.Block, ["--fmode", "a+", "fopen", "app.py"]);
        Assert.Equal(DeniedPtr, TmpProbe.Line(plus));
        Assert.Single(plus.Events);
    }

    [Fact]
    public void Alert_opens_and_reports()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var run = root.Probe(box, HandlerRuns.Alert, ["open", "link.py"]);
        Assert.Equal("result=fd errno=0", TmpProbe.Line(run));
        var e = Assert.Single(run.Events);
        Assert.Equal("alert", e.Str("action"));
        Assert.Equal(root.Handler, e.Str("what"));
    }

    [Fact]
    public void Allow_and_a_policy_without_the_key_are_silent()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        foreach (var policy in new[] { HandlerRuns.Allow, """{"read_write_tmp":"block"}""" })
        {
            var run = root.Probe(box, policy, ["open", "app.py"]);
            Assert.Equal("result=fd errno=0", TmpProbe.Line(run));
            Assert.Empty(run.Events);
        }
    }

    [Fact]
    public void Read_write_tmp_and_read_handler_judge_the_same_call()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var both = """{"read_handler":"block","read_write_tmp":"block"}""";
        var handler = root.Probe(box, both, ["open", "app.py"]);
        Assert.Equal(DeniedFd, TmpProbe.Line(handler));
        Assert.Equal("read_handler", Assert.Single(handler.Events).Str("event_type"));
        var tmp = root.Probe(box, both, ["open", Path.Combine(box.TmpDir, "x")]);
        Assert.Equal(DeniedFd, TmpProbe.Line(tmp));
        Assert.Equal("read_write_tmp", Assert.Single(tmp.Events).Str("event_type"));
    }

    [Fact]
    public void A_handler_alert_does_not_let_a_link_into_tmp_past_read_write_tmp()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var inTmp = Path.Combine(box.TmpDir, "app.py");
        File.WriteAllText(inTmp, ProbeTaskRoot.Source);
        File.Delete(root.Handler);
        File.CreateSymbolicLink(root.Handler, inTmp);
        foreach (var call in new[] { "open", "fopen" })
        {
            var run = root.Probe(box, """{"read_handler":"alert","read_write_tmp":"block"}""", [call, root.Handler]);
            Assert.Equal(call == "open" ? DeniedFd : DeniedPtr, TmpProbe.Line(run));
            Assert.Equal(2, run.Events.Count);
            Assert.Contains(run.Events, e => e.Str("event_type") == "read_handler" && e.Str("action") == "alert" && e.Str("what") == root.Handler);
            Assert.Contains(run.Events, e => e.Str("event_type") == "read_write_tmp" && e.Str("action") == "block" && e.Str("what") == inTmp);
        }
    }

    [Fact]
    public void Under_a_runtime_api_reads_are_free_until_the_runtime_asks_for_an_invocation()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        // the probe never talks to the Runtime API: it is still initialising
        var run = root.Probe(box, HandlerRuns.Block, ["open", "app.py"], root.Env(runtimeApi: "127.0.0.1:9"));
        Assert.Equal("result=fd errno=0", TmpProbe.Line(run));
        Assert.Empty(run.Events);
    }

    [Fact]
    public void A_process_started_after_the_handler_was_loaded_is_protected_at_once()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var run = root.Probe(box, HandlerRuns.Block, ["open", "app.py"], root.Env(runtimeApi: "127.0.0.1:9", loaded: "1"));
        Assert.Equal(DeniedFd, TmpProbe.Line(run));
        Assert.Single(run.Events);
    }

    [Fact]
    public void Without_handler_or_task_root_nothing_is_protected()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        foreach (var missing in new[] { "_HANDLER", "LAMBDA_TASK_ROOT" })
        {
            var env = root.Env();
            env[missing] = null;
            var run = root.Probe(box, HandlerRuns.Block, ["open", "app.py"], env);
            Assert.Equal("result=fd errno=0", TmpProbe.Line(run));
            Assert.Empty(run.Events);
        }
    }

    [Fact]
    public void A_task_root_reached_through_a_link_protects_the_real_files()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var linkedRoot = Path.Combine(box.Dir, "var-task");
        Directory.CreateSymbolicLink(linkedRoot, root.Dir);
        var env = root.Env();
        env["LAMBDA_TASK_ROOT"] = linkedRoot;
        foreach (var path in new[] { root.Handler, Path.Combine(linkedRoot, "app.py"), "app.py" })
        {
            var run = root.Probe(box, HandlerRuns.Block, ["open", path], env);
            Assert.Equal(DeniedFd, TmpProbe.Line(run));
            Assert.Single(run.Events);
        }
    }

    [Fact]
    public void A_plain_python_script_outside_lambda_cannot_read_the_handler()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var script = """
            import os
            for path in ["app.py", os.path.abspath("link.py"), "/proc/self/cwd/app.py", "data.txt"]:
                try:
                    with open(path) as f:
                        print(path, "ok", len(f.read()))
                except OSError as e:
                    print(path, "errno", e.errno)
            """;
        var run = Preloaded.Run(Machine.Python.Value, ["-c", script], box.Policy(HandlerRuns.Block), root.Env(), cwd: root.Dir);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(
            $"app.py errno 13\n{Path.Combine(root.Dir, "link.py")} errno 13\n/proc/self/cwd/app.py errno 13\ndata.txt ok 5\n",
            run.Stdout);
        Assert.Equal(3, run.Events.Occurrences());
        Assert.All(run.Events, e => Assert.Equal(root.Handler, e.Str("what")));
    }
}

/// <summary>
/// The Runtime API watcher through each hooked send path (probes/lifecycle_probe.c): the next-invocation request
/// sent to AWS_LAMBDA_RUNTIME_API ends initialisation; the same bytes anywhere else, or another request, do not.
/// A loopback listener stands in for the Runtime API; it accepts and reads, nothing more.
/// </summary>
public sealed class RuntimeApiWatcherTests : IDisposable
{
    private const string Next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    private static readonly Lazy<string> Probe = new(() => CProbe.Compile("lifecycle_probe",
        File.ReadAllText(Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", "lifecycle_probe.c"))));

    private readonly System.Net.Sockets.TcpListener _api = new(System.Net.IPAddress.Loopback, 0);
    private readonly System.Net.Sockets.TcpListener _other = new(System.Net.IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();

    public RuntimeApiWatcherTests()
    {
        foreach (var listener in new[] { _api, _other })
        {
            listener.Start();
            _ = Drain(listener);
        }
    }

    private int Port(System.Net.Sockets.TcpListener l) => ((System.Net.IPEndPoint)l.LocalEndpoint).Port;

    private async Task Drain(System.Net.Sockets.TcpListener listener)
    {
        var buffer = new byte[4096];
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var client = await listener.AcceptTcpClientAsync(_stop.Token);
                _ = Task.Run(async () =>
                {
                    using (client)
                        while (await client.GetStream().ReadAsync(buffer, _stop.Token) > 0) { }
                });
            }
            catch (Exception) { return; }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _api.Stop();
        _other.Stop();
    }

    private RunResult Run(Sandbox box, ProbeTaskRoot root, string how, int port, string request = Next) =>
        Preloaded.Run(Probe.Value, [how, port.ToString(System.Globalization.CultureInfo.InvariantCulture), request, "app.py"],
            box.Policy(HandlerRuns.Block), root.Env(runtimeApi: $"127.0.0.1:{Port(_api)}"), cwd: root.Dir);

    [Theory]
    [InlineData("send")]
    [InlineData("write")]
    [InlineData("writev")]
    [InlineData("writev-split")]
    [InlineData("writev-empty-first")]
    public void The_request_for_the_next_invocation_arms_protection(string how)
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var run = Run(box, root, how, Port(_api));
        Assert.Equal("result=-1 errno=13", TmpProbe.Line(run));
        Assert.Equal(root.Handler, Assert.Single(run.Events).Str("what"));
    }

    [Theory]
    [InlineData("send", "other-port", Next)]
    [InlineData("write", "pipe", Next)]
    [InlineData("send", "api", "GET /2018-06-01/runtime/invocation/nextx HTTP/1.1\r\n\r\n")]
    [InlineData("write", "api", "POST /2018-06-01/runtime/invocation/id/response HTTP/1.1\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("writev", "api", "GET /2018-06-01/runtime/invocation/NEXT HTTP/1.1\r\n\r\n")]
    public void Anything_else_leaves_initialisation_going_on(string how, string where, string request)
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var run = Run(box, root, where == "pipe" ? "pipe" : how, where == "other-port" ? Port(_other) : Port(_api), request);
        Assert.Equal("result=fd errno=0", TmpProbe.Line(run));
        Assert.Empty(run.Events);
    }
}
