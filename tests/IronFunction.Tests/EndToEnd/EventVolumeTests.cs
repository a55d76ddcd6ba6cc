using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using IronFunction.Tests.Lambda;

namespace IronFunction.Tests.EndToEnd;

// End-to-end tests of the event budget (README "Coalescing"): floods of /tmp accesses by real programs write a
// bounded number of lines, and the sum of repeat_count over them (1 where absent) is the number of occurrences,
// on stderr, at the endpoint, per process after a fork, at exit and at the flush before the next invocation.

/// <summary>What the volume tests share: the flood programs and the accounting of their events.</summary>
public static class Volume
{
    public const string EveryControlAlert =
        """{"read_write_tmp":"alert","read_handler":"alert","create_child_process":"alert","outbound_connectivity":"alert"}""";
    public const string TmpBlock = """{"read_write_tmp":"block"}""";

    /// <summary>Creates files f0..f(n-1) in a directory, then reads each of them <c>reads</c> times.</summary>
    public const string PythonFlood = """
        import sys
        d, n, reads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        attempts = failed = 0
        for i in range(n):
            attempts += 1
            try:
                with open(f"{d}/f{i}", "w") as f:
                    f.write("x")
            except OSError:
                failed += 1
        for r in range(reads):
            for i in range(n):
                attempts += 1
                try:
                    with open(f"{d}/f{i}", "rb") as f:
                        f.read()
                except OSError:
                    failed += 1
        print(f"attempts={attempts} failed={failed}")
        """;

    public const string NodeFlood = """
        const fs = require('fs');
        const [d, n, reads] = [process.argv[2], +process.argv[3], +process.argv[4]];
        let attempts = 0, failed = 0;
        for (let i = 0; i < n; i++) { attempts++; try { fs.writeFileSync(`${d}/f${i}`, 'x'); } catch (e) { failed++; } }
        for (let r = 0; r < reads; r++)
            for (let i = 0; i < n; i++) { attempts++; try { fs.readFileSync(`${d}/f${i}`); } catch (e) { failed++; } }
        console.log(`attempts=${attempts} failed=${failed}`);
        """;

    private static readonly string ProbeSource =
        File.ReadAllText(Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", "volume_probe.c"));

    public static readonly Lazy<string> Probe = new(() => CProbe.Compile("volume_probe", ProbeSource));

    public static Dictionary<string, string?> Env() => RuntimeRuns.Env(("_X_AMZN_TRACE_ID", null));

    /// <summary>"attempts=N failed=M" (and "pid=P" for the probe) from a line of stdout.</summary>
    public static (int Pid, long Attempts, long Failed) Counts(string line)
    {
        var m = Regex.Match(line, @"(?:pid=(\d+) )?attempts=(\d+) failed=(\d+)");
        Assert.True(m.Success, $"no counts in: {line}");
        return (m.Groups[1].Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
            long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture));
    }

    public static IEnumerable<JsonElement> Tmp(IEnumerable<JsonElement> events) => events.Where(e => e.Str("event_type") == "read_write_tmp");

    /// <summary>Bytes of event lines on the log stream, newlines included.</summary>
    public static long EventBytes(string stderr) =>
        stderr.Split('\n').Where(l => l.StartsWith("{\"aws_function_info\"", StringComparison.Ordinal)).Sum(l => Encoding.UTF8.GetByteCount(l) + 1L);

    /// <summary>Every line in the schema; a summary names a coarse what, counts at least two targets, and its samples are under it.</summary>
    public static void AreWellFormed(IEnumerable<JsonElement> events, string dir)
    {
        foreach (var e in events)
        {
            EventAssert.HasSeedSchema(e);
            // the seed keys first, new keys after them
            Assert.Equal(EventAssert.TopKeys, e.EnumerateObject().Take(EventAssert.TopKeys.Length).Select(p => p.Name));
            if (!e.TryGetProperty("distinct_count", out var distinct)) continue;
            var what = e.Str("what");
            Assert.EndsWith("/*", what);
            Assert.True(int.Parse(distinct.GetString()!, CultureInfo.InvariantCulture) >= 2, e.ToString());
            var samples = e.Str("samples").Split(" | ");
            Assert.InRange(samples.Length, 2, 3);
            Assert.All(samples, s => Assert.StartsWith(what[..^1], s));
            Assert.All(samples, s => Assert.StartsWith(dir + "/", s));
        }
    }

    /// <summary>
    /// A flood of <paramref name="files"/> files read three times in one directory of /tmp: bounded lines and bytes, every
    /// occurrence counted once (the runtime's own few accesses may add up to <paramref name="slack"/>).
    /// </summary>
    public static RunResult Flood(string program, Func<string, string[]> args, string policy, int files, int slack)
    {
        using var box = new Sandbox();
        var dir = Path.Combine(box.TmpDir, "model");
        Directory.CreateDirectory(dir);
        var run = Preloaded.Run(program, args(dir), box.Policy(policy), Env(), timeoutSeconds: 300);
        Assert.True(run.ExitCode == 0, run.ToString()[..Math.Min(4000, run.ToString().Length)]);
        var (_, attempts, failed) = Counts(run.Stdout);
        long expected = files * 4L;
        Assert.Equal(expected, attempts);
        bool block = policy == TmpBlock;
        Assert.Equal(block ? expected : 0, failed);
        // the disk: created in alert mode, not one in block mode
        Assert.Equal(block ? 0 : files, Directory.GetFiles(dir).Length);

        var tmp = Tmp(run.Events).ToList();
        Assert.InRange(tmp.Occurrences(), expected, expected + slack);
        Assert.All(tmp, e => Assert.Equal(block ? "block" : "alert", e.Str("action")));
        Assert.True(run.Events.Count <= 100, $"{run.Events.Count} event lines");
        Assert.True(EventBytes(run.Stderr) <= 100 * 1024, $"{EventBytes(run.Stderr)} bytes of events");
        // the first occurrence went out as itself
        Assert.Contains(tmp, e => e.Str("what") == dir + "/f0" && !e.TryGetProperty("distinct_count", out _));
        Assert.Contains(tmp, e => e.Str("what") == dir + "/*");
        AreWellFormed(tmp, dir);
        return run;
    }
}

/// <summary>1. Floods in one directory: Python (the case of the issue), Node and C, alert and block.</summary>
public class EventVolumeFloodTests
{
    [Theory]
    [InlineData("alert")]
    [InlineData("block")]
    public void Python_5000_files_written_and_read_three_times_are_a_few_dozen_lines_with_every_access_counted(string mode)
    {
        using var box = new Sandbox();
        var script = box.File("flood.py", Volume.PythonFlood);
        Volume.Flood(Machine.Python.Value, dir => [script, dir, "5000", "3"], mode == "alert" ? Volume.EveryControlAlert : Volume.TmpBlock, 5000, 200);
    }

    [FactWhenProgramOnPath("node")]
    public void Node_alert_flood_is_bounded_and_counted() => NodeFlood(Volume.EveryControlAlert);

    [FactWhenProgramOnPath("node")]
    public void Node_block_flood_is_bounded_and_counted() => NodeFlood(Volume.TmpBlock);

    private static void NodeFlood(string policy)
    {
        using var box = new Sandbox();
        var script = box.File("flood.js", Volume.NodeFlood);
        Volume.Flood(Machine.Node.Value, dir => [script, dir, "5000", "3"], policy, 5000, 200);
    }

    [Theory]
    [InlineData("alert")]
    [InlineData("block")]
    public void C_flood_is_bounded_and_counted_exactly(string mode) =>
        Volume.Flood(Volume.Probe.Value, dir => ["flood", dir, "5000", "1", "3"], mode == "alert" ? Volume.EveryControlAlert : Volume.TmpBlock, 5000, 0);
}

/// <summary>2. Many directories, a fork in the middle of a window, the first denial's latency.</summary>
public class EventVolumeProcessTests
{
    [Fact]
    public void Distinct_files_in_200_directories_are_bounded_and_counted_exactly()
    {
        using var box = new Sandbox();
        for (int d = 0; d < 200; d++) Directory.CreateDirectory(Path.Combine(box.TmpDir, "d" + d));
        var watch = Stopwatch.StartNew();
        var run = Preloaded.Run(Volume.Probe.Value, ["flood", box.TmpDir, "5000", "200", "3"], box.Policy(Volume.EveryControlAlert), Volume.Env(), timeoutSeconds: 300);
        double seconds = watch.Elapsed.TotalSeconds;
        Assert.True(run.ExitCode == 0, run.Stderr[..Math.Min(3000, run.Stderr.Length)]);
        Assert.Equal(20_000, Volume.Counts(run.Stdout).Attempts);
        var tmp = Volume.Tmp(run.Events).ToList();
        Assert.Equal(20_000, tmp.Occurrences());
        // the budget: a burst of 64 targets (each with at most one line of its repeats), then per second 5 targets
        // (two lines each) and one line per window for each of at most 8 directory groups and the top directory's
        double bound = 2 * 64 + Math.Ceiling(seconds + 1) * (2 * 5 + 8 + 1);
        Assert.True(run.Events.Count <= bound, $"{run.Events.Count} lines in {seconds:0.0} s, bound {bound}");
        Assert.Contains(tmp, e => e.Str("what") == "/tmp/*");
        Volume.AreWellFormed(tmp, box.TmpDir.Substring(0, 4));
    }

    [Fact]
    public void A_child_forked_in_the_middle_of_a_window_accounts_its_own_occurrences()
    {
        using var box = new Sandbox();
        var run = Preloaded.Run(Volume.Probe.Value, ["flood", box.TmpDir, "2000", "1", "3", "fork"], box.Policy(Volume.EveryControlAlert), Volume.Env(), timeoutSeconds: 300);
        Assert.True(run.ExitCode == 0, run.ToString());
        var counts = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Volume.Counts).ToList();
        Assert.Equal(2, counts.Count);
        var tmp = Volume.Tmp(run.Events).ToList();
        foreach (var (pid, attempts, _) in counts)
        {
            Assert.Equal(4000, attempts);
            var mine = tmp.Where(e => e.Str("process_id") == pid.ToString(CultureInfo.InvariantCulture)).ToList();
            // the parent's pending summary is the parent's alone: the child neither repeats nor loses it
            Assert.Equal(4000, mine.Occurrences());
            Assert.True(mine.Count <= 80, $"{mine.Count} lines from process {pid}");
        }
        Assert.Equal(8000, tmp.Occurrences());
    }

    [Fact]
    public void A_single_denied_open_is_on_the_log_stream_within_10_ms()
    {
        using var box = new Sandbox();
        var log = Path.Combine(box.Dir, "stderr.log");
        var target = Path.Combine(box.TmpDir, "denied");
        // the probe's stderr is a file, so the probe itself sees when the line has been written
        var run = Preloaded.RunPlain("/bin/sh",
            ["-c", "exec env LD_PRELOAD=\"$3\" IRON_FUNCTION_POLICY=\"$4\" \"$0\" latency \"$1\" 2>\"$2\"",
             Volume.Probe.Value, target, log, Machine.Library, box.Policy(Volume.TmpBlock)], Volume.Env());
        Assert.True(run.ExitCode == 0, run.ToString());
        var m = Regex.Match(run.Stdout, @"grew=(\d+) elapsed_us=(\d+) errno=(\d+)");
        Assert.True(m.Success, run.ToString());
        Assert.NotEqual("0", m.Groups[3].Value);
        Assert.False(File.Exists(target));
        Assert.True(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) > 0, run.ToString());
        long elapsed = long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.True(elapsed <= 10_000, $"the event was written {elapsed} µs after the call began");
        var line = Assert.Single(File.ReadAllLines(log), l => l.StartsWith("{\"aws_function_info\"", StringComparison.Ordinal));
        var e = JsonDocument.Parse(line).RootElement;
        Assert.Equal(target, e.Str("what"));
        Assert.Equal("block", e.Str("action"));
    }
}

/// <summary>3. The endpoint gets the same accounting as stderr; summaries pending at the end of an invocation go out before the next.</summary>
public class EventVolumeDeliveryTests
{
    [Fact]
    public void The_endpoint_receives_the_same_lines_and_counts_as_stderr()
    {
        using var box = new Sandbox();
        using var endpoint = new LoopbackEndpoint();
        var dir = Path.Combine(box.TmpDir, "model");
        Directory.CreateDirectory(dir);
        var script = box.File("flood.py", Volume.PythonFlood);
        var policy = box.Policy($$"""{"read_write_tmp":"alert","api_endpoint":"{{endpoint.Url()}}"}""");
        var run = Preloaded.Run(Machine.Python.Value, [script, dir, "2000", "3"], policy, Volume.Env(), timeoutSeconds: 300);
        Assert.True(run.ExitCode == 0, run.ToString());
        var tmp = Volume.Tmp(run.Events).ToList();
        Assert.InRange(tmp.Occurrences(), 8000, 8200);
        Assert.True(run.Events.Count <= 100, $"{run.Events.Count} event lines");
        Assert.Contains(tmp, e => e.TryGetProperty("distinct_count", out _));
        var requests = endpoint.Requests;
        Delivery.SameAsStderr(run, requests);
        Assert.Equal(run.Events.Occurrences(), requests.Select(r => r.Event).Occurrences());
    }

    [Fact]
    public void Summaries_pending_at_the_end_of_an_invocation_go_out_before_the_next_one()
    {
        using var box = new Sandbox();
        var dir = Path.Combine(box.TmpDir, "model");
        Directory.CreateDirectory(dir);
        var task = box.File(Path.Combine("task", "app.py"), $$"""
            def handler(event, context):
                if not event.get("flood"):
                    return {"ok": 0}
                for i in range(1000):
                    with open(f"{{dir}}/f{i}", "w") as f:
                        f.write("x")
                for r in range(3):
                    for i in range(1000):
                        with open(f"{{dir}}/f{i}") as f:
                            f.read()
                return {"ok": 4000}
            """);
        using var lambda = LocalLambda.Start(LambdaRuntime.Python(), Path.GetDirectoryName(task)!, "app.handler",
            box.Policy("""{"read_write_tmp":"alert"}"""));
        var first = lambda.Invoke("""{"flood":true}""");
        Assert.False(first.IsError, first.ToString());
        // the runtime asks for the next invocation, then is killed as Lambda freezes it: no exit flush
        var run = lambda.Finish();
        var tmp = Volume.Tmp(run.Events).ToList();
        Assert.InRange(tmp.Occurrences(), 4000, 4050);
        Assert.True(run.Events.Count <= 100, $"{run.Events.Count} event lines");
        Assert.Contains(tmp, e => e.Str("what") == dir + "/*");
    }
}
