namespace IronFunction.Tests.EndToEnd;

// The library's own messages are formatted by a second NativeAOT image, lib_iron_function_log.so, loaded beside the
// library at the first message that passes its level (Native/glue/log_image.c, src/IronFunction.Log): a quiet
// process never maps it; without it the library writes the same lines itself; with it, two runtimes share one
// process through threads, garbage collections, signals and fork.
public sealed class LogImageTests : IDisposable
{
    private const string EveryControlBlock =
        """{"read_write_tmp":"block","read_handler":"block","create_child_process":"block","outbound_connectivity":"block"}""";

    // whether the log image is mapped, and the process's threads
    private const string Footprint =
        "import os; print('log_image', any(l.rstrip().endswith('/lib_iron_function_log.so') for l in open('/proc/self/maps'))); " +
        "print('threads', len(os.listdir('/proc/self/task')))";

    private readonly Sandbox _box = new();

    public void Dispose() => _box.Dispose();

    private static (bool Mapped, int Threads) Read(RunResult run)
    {
        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Stdout.Split('\n');
        return (lines.Single(l => l.StartsWith("log_image ", StringComparison.Ordinal)).EndsWith("True", StringComparison.Ordinal),
                int.Parse(lines.Single(l => l.StartsWith("threads ", StringComparison.Ordinal))["threads ".Length..]));
    }

    [Fact]
    public void A_quiet_process_never_maps_the_log_image_nor_starts_its_runtime()
    {
        var run = Preloaded.Run(Machine.Python.Value, ["-c", Footprint], _box.Policy(EveryControlBlock));
        Assert.Empty(run.Diagnostics);
        Assert.Equal((false, 1), Read(run));
    }

    [Fact]
    public void A_message_that_passes_its_level_loads_the_log_image_which_writes_it()
    {
        var run = Preloaded.Run(Machine.Python.Value, ["-c", Footprint], _box.Policy(EveryControlBlock),
            new Dictionary<string, string?> { ["IRON_LOG"] = "policy=debug" });
        Assert.Contains(run.Diagnostics, l => l.StartsWith("iron-function DBG [policy] read_write_tmp=block create_child_process=block", StringComparison.Ordinal));
        // only the area asked for: the image's own filter (Microsoft.Extensions.Logging's rules) agrees with the library's
        Assert.All(run.Diagnostics, l => Assert.StartsWith("iron-function DBG [policy] ", l));
        var (mapped, threads) = Read(run);
        Assert.True(mapped, run.ToString());
        // the image's runtime starts no thread (Native/no_finalizer_thread.c): the host stays single-threaded
        Assert.Equal(1, threads);
    }

    [Fact]
    public void Without_the_log_image_beside_it_the_library_writes_the_same_lines()
    {
        var alone = Path.Combine(_box.Dir, "alone");
        Directory.CreateDirectory(alone);
        var library = Path.Combine(alone, "lib_iron_function.so");
        File.Copy(Machine.Library, library);
        // a policy error, a warning and every debug line of a start: each written in the image's format
        var policy = _box.Policy("""{"read_write_tmp":"block","create_child_process":"sometimes"}""");
        var env = new Dictionary<string, string?> { ["IRON_LOG"] = "debug" };
        var withImage = Preloaded.Run(Machine.Python.Value, ["-c", Footprint], policy, env);
        env["LD_PRELOAD"] = library;
        var without = Preloaded.Run(Machine.Python.Value, ["-c", Footprint], policy, env);
        Assert.True(Read(withImage).Mapped, withImage.ToString());
        Assert.False(Read(without).Mapped, without.ToString());
        Assert.Contains(without.Diagnostics, l => l.StartsWith("iron-function ERR [policy] ", StringComparison.Ordinal));
        Assert.True(withImage.Diagnostics.Count > 5, withImage.ToString());
        Assert.Equal(withImage.Diagnostics, without.Diagnostics.Select(l => l.Replace(library, Machine.Library)));
    }

    [Fact]
    public void Two_runtimes_share_a_process_through_threads_collections_signals_and_fork()
    {
        // four threads judged in the library's runtime (alert: every open is an event, so its heap fills and is
        // collected, each collection suspending the threads with the signal both runtimes handle) while the delivery
        // thread writes a warning through the log image for each failed delivery; halfway, the process forks and the
        // child does the same
        using var refused = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        refused.Start();
        int port = ((System.Net.IPEndPoint)refused.LocalEndpoint).Port;
        refused.Stop();
        var policy = _box.Policy($$"""{"read_write_tmp":"alert","api_endpoint":"http://127.0.0.1:{{port}}/events"}""");
        var script = $$"""
            import os, sys, threading
            base = {{System.Text.Json.JsonSerializer.Serialize(_box.TmpDir)}}
            def work(tag, n):
                for i in range(n):
                    p = os.path.join(base, f"{tag}-{i % 50}")
                    with open(p, "w") as f: f.write("x" * 64)
                    with open(p) as f: f.read()
            def run(tag):
                threads = [threading.Thread(target=work, args=(f"{tag}{k}", 1500)) for k in range(4)]
                for t in threads: t.start()
                for t in threads: t.join()
            run("a")
            pid = os.fork()
            if pid == 0:
                run("c")
                sys.exit(0)
            run("b")
            _, status = os.waitpid(pid, 0)
            print("child", status)
            {{Footprint.Replace("; ", "\n")}}
            """;
        var run = Preloaded.Run(Machine.Python.Value, ["-c", script], policy,
            new Dictionary<string, string?> { ["IRON_LOG"] = "debug" }, timeoutSeconds: 300);
        Assert.True(run.ExitCode == 0 && run.Stdout.Contains("child 0\n"), run.ToString());
        Assert.True(Read(run).Mapped, run.ToString());
        Assert.Contains(run.Diagnostics, l => l.StartsWith("iron-function WRN [events] ", StringComparison.Ordinal));
        // two opens per iteration, 4 x 1500 iterations in each of three rounds (two in the parent, one in the child)
        var seen = run.Events.Where(e => e.Str("event_type") == "read_write_tmp").Occurrences();
        Assert.True(seen == 3 * 4 * 1500 * 2, $"{seen} occurrences\n{run}");
    }
}

// The same from a C program, on both architectures: the arm64 pass runs it under qemu-aarch64 with the arm64 library
// and its arm64 log image (dist/linux-arm64/).
[Trait("Architecture", "arm64")]
public sealed class LogImageProbeTests : IDisposable
{
    private static readonly Lazy<string> Probe = new(() => CProbe.Compile("runtime_cost_probe",
        File.ReadAllText(Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", "runtime_cost_probe.c")),
        "-pthread"));

    private readonly Sandbox _box = new();

    public void Dispose() => _box.Dispose();

    private static bool Mapped(RunResult run)
    {
        Assert.True(run.ExitCode == 0, run.ToString());
        return run.Stdout.Split('\n').Single(l => l.StartsWith("log_image=", StringComparison.Ordinal)) == "log_image=1";
    }

    [Fact]
    public void The_log_image_is_loaded_by_the_first_message_and_not_before()
    {
        // create_child_process allow: under qemu-user the kernel filter cannot be installed, and its warning is a message
        var policy = _box.Policy("""{"read_write_tmp":"block","outbound_connectivity":"block"}""");
        var quiet = Preloaded.Run(Probe.Value, ["threads", "3"], policy);
        Assert.False(Mapped(quiet), quiet.ToString());
        Assert.Empty(quiet.Diagnostics);
        Assert.True(quiet.Events.Occurrences() == 3, quiet.ToString());

        var debug = Preloaded.Run(Probe.Value, ["threads", "3"], policy, new Dictionary<string, string?> { ["IRON_LOG"] = "policy=debug" });
        Assert.True(Mapped(debug), debug.ToString());
        Assert.Contains(debug.Diagnostics, l => l.StartsWith("iron-function DBG [policy] read_write_tmp=block ", StringComparison.Ordinal));
        // the library's own runtime goes on judging beside the image's
        Assert.True(debug.Events.Occurrences() == 3, debug.ToString());
    }
}
