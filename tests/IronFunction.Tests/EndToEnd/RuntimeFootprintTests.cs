namespace IronFunction.Tests.EndToEnd;

// The library's footprint on a host (SPEC §8, COST-NOTES §1): no thread of its own until it needs one, a main thread
// that leaves with pthread_exit ends the process, and the opens it makes without entering the runtime
// (Native/glue/file_prefilter.c) judge what they open, whatever another thread does to the caller's buffer.
public sealed class RuntimeFootprintTests : IDisposable
{
    private const string EveryControlBlock =
        """{"read_write_tmp":"block","read_handler":"block","create_child_process":"block","outbound_connectivity":"block"}""";

    private static readonly Lazy<string> Probe = new(() => CProbe.Compile("runtime_cost_probe",
        File.ReadAllText(Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", "runtime_cost_probe.c")),
        "-pthread"));

    private readonly Sandbox _box = new();

    public void Dispose() => _box.Dispose();

    private static int Threads(RunResult run)
    {
        Assert.True(run.ExitCode == 0, run.ToString());
        var line = run.Stdout.Split('\n').Single(l => l.StartsWith("threads=", StringComparison.Ordinal));
        return int.Parse(line["threads=".Length..]);
    }

    [Fact]
    public void A_single_threaded_host_stays_single_threaded_under_every_control()
    {
        // glibc takes its multi-threaded paths on every system call once a second thread exists
        Assert.Equal(1, Threads(Preloaded.RunPlain(Probe.Value, ["threads"])));
        Assert.Equal(1, Threads(Preloaded.Run(Probe.Value, ["threads"], _box.Policy(EveryControlBlock))));
    }

    [Fact]
    public void Denied_calls_reported_on_stderr_start_no_thread()
    {
        var run = Preloaded.Run(Probe.Value, ["threads", "200"], _box.Policy(EveryControlBlock));
        Assert.Equal(1, Threads(run));
        Assert.True(run.Events.Occurrences() == 200, run.ToString());
    }

    [Fact]
    public void Event_delivery_starts_its_threads_and_the_process_still_ends_normally()
    {
        using var endpoint = new LoopbackEndpoint();
        var policy = _box.Policy($$"""{"read_write_tmp":"block","api_endpoint":"{{endpoint.Url()}}"}""");
        var run = Preloaded.Run(Probe.Value, ["threads", "50"], policy);
        // the delivery thread and the runtime's finalizer, started with it
        Assert.True(Threads(run) >= 3, run.ToString());
        Assert.True(run.Events.Occurrences() == 50, run.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData(EveryControlBlock)]
    public void A_main_thread_that_leaves_with_pthread_exit_does_not_keep_the_process_alive(string? policy)
    {
        // the process ends when its last thread does: a thread of the library's that never ends would hang it
        var run = Preloaded.Run(Probe.Value, ["pthread_exit"], policy == null ? null : _box.Policy(policy), timeoutSeconds: 20);
        Assert.True(run.ExitCode == 0 && run.Stdout == "worker done\n", run.ToString());
    }

    [Fact]
    public void An_open_racing_a_rewrite_of_its_path_never_reaches_tmp()
    {
        var name = "iron-race-" + Guid.NewGuid().ToString("N")[..8];
        var target = Path.Combine("/tmp", name);
        try
        {
            var run = Preloaded.Run(Probe.Value, ["race", "/var/lib", name, "200000"], _box.Policy("""{"read_write_tmp":"block"}"""),
                timeoutSeconds: 120);
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.False(File.Exists(target), $"{target} was created:\n{run.Stdout}");
            // the racing spelling was seen and denied at least once, so the race was run
            Assert.True(run.Events.Occurrences() > 0, run.ToString());
        }
        finally { File.Delete(target); }
    }
}
