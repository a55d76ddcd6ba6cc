namespace IronFunction.Tests.EndToEnd;

// SPEC §7, no crash: a signal handler may call a hooked function (open, stat) while its thread is inside a
// hook, or on one of the library's own threads (the .NET finalizer, the event delivery). NativeAOT aborts the
// process when managed code it was running is entered again from a handler; the trampolines keep a thread
// to one hook at a time (Native/glue/thread_marks.c). The probe (probes/signal_probe.c) sends SIGUSR1 to
// every other thread of its process, over and over, while its main thread calls hooked functions.
public class SignalHandlerTests
{
    private static readonly string SourcePath =
        Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", "signal_probe.c");

    private static readonly Lazy<string> Exe = new(() => CProbe.Compile("signal_probe", File.ReadAllText(SourcePath), "-pthread"));

    private static RunResult Run(Sandbox box, string policyJson)
    {
        var data = box.File("data.txt", "x");
        var tmp = Path.Combine(box.TmpDir, "judged");
        File.WriteAllText(tmp, "x");
        return Preloaded.Run(Exe.Value, ["20000", data, tmp], box.Policy(policyJson), timeoutSeconds: 180);
    }

    [Theory]
    [InlineData("block")]
    [InlineData("alert")]
    public void Handlers_calling_hooked_functions_inside_hooks_do_not_crash_the_process(string action)
    {
        using var box = new Sandbox();
        var run = Run(box, $$"""{"read_write_tmp":"{{action}}","outbound_connectivity":"{{action}}","read_handler":"{{action}}","create_child_process":"{{action}}"}""");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("calls=20000 handled=yes\n", run.Stdout);
        // the main thread's own opens of the /tmp file are still judged
        Assert.Contains(run.Events, e => e.Str("event_type") == "read_write_tmp" && e.Str("action") == action);
    }

    [Fact]
    public void Handlers_on_the_delivery_thread_do_not_crash_the_process()
    {
        using var endpoint = new LoopbackEndpoint();
        using var box = new Sandbox();
        var run = Run(box, $$"""{"read_write_tmp":"alert","api_endpoint":"{{endpoint.Url()}}"}""");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("calls=20000 handled=yes\n", run.Stdout);
        Assert.True(endpoint.WaitFor(r => r.Count > 0, TimeSpan.FromSeconds(10)), "no event reached the endpoint");
    }

    [Fact]
    public void Without_the_library_the_probe_runs_the_same()
    {
        using var box = new Sandbox();
        var data = box.File("data.txt", "x");
        var run = Preloaded.RunPlain(Exe.Value, ["20000", data, data]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("calls=20000 handled=yes\n", run.Stdout);
    }
}

/// <summary>
/// SPEC §7: the library's own threads never take a signal meant for the host. bash blocks SIGCHLD on its thread
/// around its job table; delivered to the runtime's finalizer thread instead, its handler reaped a child in the
/// middle of an update and a subshell's exit status was lost (about one command substitution in fifty).
/// </summary>
public class LibraryThreadsSignalTests
{
    [Fact]
    public void The_runtime_s_threads_block_the_host_s_signals()
    {
        // the runtime's threads start with the library's first thread of its own: here event delivery
        const string script = """
            import os, time
            try: open("/tmp/iron-signal-threads", "w")
            except OSError: pass
            time.sleep(0.3)
            for tid in os.listdir("/proc/self/task"):
                comm = open(f"/proc/self/task/{tid}/comm").read().strip()
                blocked = [l.split()[1] for l in open(f"/proc/self/task/{tid}/status") if l.startswith("SigBlk:")][0]
                print(comm, blocked)
            """;
        using var box = new Sandbox();
        using var endpoint = new LoopbackEndpoint();
        var run = Preloaded.Run(Machine.Python.Value, ["-c", script],
            box.Policy($$"""{"read_write_tmp":"block","api_endpoint":"{{endpoint.Url()}}"}"""), cwd: box.Dir);
        var threads = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToList();
        Assert.Contains(threads, t => t.Length > 2 && t[0] == ".NET" && t[1] == "Finalizer");
        var library = threads.Where(t => t[0] != "python3").ToList();
        Assert.True(library.Count >= 2, run.ToString());
        foreach (var thread in library)
        {
            ulong mask = Convert.ToUInt64(thread[^1], 16);
            foreach (int signal in new[] { 2 /*SIGINT*/, 10 /*SIGUSR1*/, 14 /*SIGALRM*/, 15 /*SIGTERM*/, 17 /*SIGCHLD*/ })
                Assert.True((mask & (1UL << (signal - 1))) != 0, $"signal {signal} not blocked on the runtime's thread: {run.Stdout}");
            // the runtime's own suspension signal and the faults it handles stay open
            Assert.True((mask & (1UL << (34 - 1))) == 0, run.Stdout);
            Assert.True((mask & (1UL << (11 - 1))) == 0, run.Stdout);
        }
    }

    [Fact]
    public void Bash_keeps_every_subshell_s_exit_status()
    {
        using var box = new Sandbox();
        var missing = Path.Combine(box.TmpDir, "missing", "x");
        var script = $"for i in $(seq 1 1000); do out=$(eval 'echo x > \"{missing}\"' 2>/dev/null); rc=$?; [ $rc -ne 1 ] && echo \"lost rc=$rc at $i\"; done; echo done";
        var run = Preloaded.Run(Machine.Bash.Value, ["-c", script], box.Policy("""{"read_write_tmp":"block"}"""),
            new Dictionary<string, string?> { ["TMPDIR"] = null }, cwd: box.Dir);
        Assert.Equal("done\n", run.Stdout);
    }
}
