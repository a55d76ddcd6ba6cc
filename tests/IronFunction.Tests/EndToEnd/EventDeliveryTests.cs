using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace IronFunction.Tests.EndToEnd;

// End-to-end tests of event delivery to api_endpoint (SPEC §6): real programs under the preload, a real HTTP
// listener on 127.0.0.1 in this test process (LoopbackEndpoint). What the endpoint received is compared with
// what the program wrote on stderr: the same JSON, byte for byte. Only read_write_tmp is enforced so far, so
// the violations are /tmp calls of several kinds; the serialisation of the other event types is unit-tested
// (Events/SecurityEventJsonTests).

/// <summary>What the delivery tests share.</summary>
public static class Delivery
{
    private static readonly string ProbeSource =
        File.ReadAllText(Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", "events_probe.c"));

    /// <summary>probes/events_probe.c: denied calls in a pattern, then an end of the process chosen on its command line.</summary>
    public static readonly Lazy<string> Probe = new(() => CProbe.Compile("events_probe", ProbeSource, "-pthread"));

    /// <summary>The flush bound at exit (EventHub.FlushBound).</summary>
    public static readonly TimeSpan FlushBound = TimeSpan.FromSeconds(2);

    public static string Policy(Sandbox box, string? endpoint, string action = "block") =>
        box.Policy(endpoint == null
            ? $$"""{"read_write_tmp":"{{action}}"}"""
            : $$"""{"read_write_tmp":"{{action}}","api_endpoint":"{{endpoint}}"}""");

    /// <summary>TMPDIR and friends unset: only /tmp is a temporary root.</summary>
    public static Dictionary<string, string?> Env(params (string Key, string? Value)[] extra)
    {
        var env = new Dictionary<string, string?> { ["TMPDIR"] = null, ["TMP"] = null, ["TEMP"] = null, ["_X_AMZN_TRACE_ID"] = null };
        foreach (var (k, v) in extra) env[k] = v;
        return env;
    }

    public static RunResult RunProbe(string policy, params string[] args) => Preloaded.Run(Probe.Value, args, policy, Env());

    public static string[] StderrEventLines(RunResult run) =>
        run.Stderr.Split('\n').Where(l => l.StartsWith("{\"aws_function_info\"", StringComparison.Ordinal)).ToArray();

    public static long Dropped(JsonElement e) => e.TryGetProperty("dropped_before", out var d) ? long.Parse(d.GetString()!, CultureInfo.InvariantCulture) : 0;

    /// <summary>Every request is a POST of application/json to the endpoint's path, one event per request.</summary>
    public static void AreEventPosts(IEnumerable<LoopbackEndpoint.Request> requests, string path = "/iron/events")
    {
        foreach (var r in requests)
        {
            Assert.Equal("POST", r.Method);
            Assert.Equal(path, r.Target);
            Assert.Equal("application/json", r.Headers["Content-Type"]);
            Assert.Matches(@"^(127\.0\.0\.1|localhost):\d+$", r.Headers["Host"]);
            Assert.Equal(Encoding.UTF8.GetByteCount(r.Body), int.Parse(r.Headers["Content-Length"], CultureInfo.InvariantCulture));
            EventAssert.HasSeedSchema(r.Event);
        }
    }

    /// <summary>The endpoint got exactly the events written on stderr, as the same bytes (each once, in order).</summary>
    public static void SameAsStderr(RunResult run, IReadOnlyList<LoopbackEndpoint.Request> requests)
    {
        var lines = StderrEventLines(run);
        Assert.True(lines.Length == requests.Count, $"stderr has {lines.Length} events, the endpoint {requests.Count}:\n{run}");
        for (int i = 0; i < lines.Length; i++) Assert.Equal(lines[i], requests[i].Body);
    }

    /// <summary>A program under the preload that the test talks to while it runs (stdout and stderr lines, stdin).</summary>
    public sealed class Interactive : IDisposable
    {
        private readonly Process _process;
        private readonly BlockingCollection<string> _out = new(), _err = new();
        private readonly StringBuilder _stdout = new(), _stderr = new();
        private readonly Thread _outReader, _errReader;

        public Interactive(string program, IEnumerable<string> args, string policy, IDictionary<string, string?> env)
        {
            var psi = new ProcessStartInfo(program)
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
                WorkingDirectory = Machine.RepoRoot,
            };
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment.Remove("IRON_LOG");
            psi.Environment["LD_PRELOAD"] = Machine.Library;
            psi.Environment["IRON_FUNCTION_POLICY"] = policy;
            foreach (var (k, v) in env) if (v == null) psi.Environment.Remove(k); else psi.Environment[k] = v;
            _process = Process.Start(psi)!;
            // dedicated threads: blocking reads must not take the test host's thread pool
            _outReader = Reader(_process.StandardOutput, _stdout, _out);
            _errReader = Reader(_process.StandardError, _stderr, _err);
        }

        private static Thread Reader(StreamReader from, StringBuilder all, BlockingCollection<string> lines)
        {
            var t = new Thread(() =>
            {
                string? line;
                while ((line = from.ReadLine()) != null)
                {
                    lock (all) all.Append(line).Append('\n');
                    lines.Add(line);
                }
                lines.CompleteAdding();
            }) { IsBackground = true };
            t.Start();
            return t;
        }

        public string WaitForLine(Func<string, bool> match, TimeSpan timeout) => Wait(_out, _stdout, match, timeout);

        public string WaitForStderrLine(Func<string, bool> match, TimeSpan timeout) => Wait(_err, _stderr, match, timeout);

        private static string Wait(BlockingCollection<string> lines, StringBuilder all, Func<string, bool> match, TimeSpan timeout)
        {
            var until = DateTime.UtcNow + timeout;
            while (true)
            {
                var left = until - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !lines.TryTake(out var line, left))
                {
                    lock (all) throw new TimeoutException($"no matching line; so far:\n{all}");
                }
                if (match(line)) return line;
            }
        }

        public void Send(string line)
        {
            _process.StandardInput.WriteLine(line);
            _process.StandardInput.Flush();
        }

        public RunResult Finish(TimeSpan timeout)
        {
            if (!_process.WaitForExit((int)timeout.TotalMilliseconds))
            {
                _process.Kill(entireProcessTree: true);
                throw new TimeoutException("the program did not end");
            }
            _process.WaitForExit();
            _outReader.Join();
            _errReader.Join();
            var err = _stderr.ToString();
            var events = err.Split('\n').Where(l => l.StartsWith("{\"aws_function_info\"", StringComparison.Ordinal))
                .Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
            var diagnostics = err.Split('\n').Where(l => l.StartsWith("iron-function", StringComparison.Ordinal)).ToList();
            return new RunResult(_process.ExitCode, _stdout.ToString(), err, events, diagnostics);
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }
    }
}

/// <summary>1. Delivery: every event reaches the endpoint, the same JSON as on stderr, before the process is gone.</summary>
public class EventDeliveryTests
{
    private const string TwoViolations = """
        import json, os, pwd, sys
        T = sys.argv[1]
        try:
            open(T + "/written", "w")
        except PermissionError:
            pass
        try:
            os.listdir(T)
        except PermissionError:
            pass
        with open("/proc/self/comm") as f:
            comm = f.read().strip()
        print(json.dumps({"pid": str(os.getpid()), "uid": str(os.getuid()), "user": pwd.getpwuid(os.getuid()).pw_name, "comm": comm}))
        """;

    [Fact]
    public void A_python_process_that_violates_twice_and_exits_at_once_has_both_events_at_the_endpoint()
    {
        using var box = new Sandbox();
        using var endpoint = new LoopbackEndpoint();
        var before = DateTime.UtcNow.AddSeconds(-1);

        var run = Preloaded.Run(Machine.Python.Value, ["-c", TwoViolations, box.TmpDir], Delivery.Policy(box, endpoint.Url()), Delivery.Env());

        var after = DateTime.UtcNow.AddSeconds(1);
        Assert.True(run.ExitCode == 0, run.ToString());
        // nothing to wait for: the process has exited, so both requests have arrived
        var requests = endpoint.Requests;
        Assert.Equal(2, requests.Count);
        Delivery.AreEventPosts(requests);
        Delivery.SameAsStderr(run, requests);
        Assert.Empty(run.Diagnostics);

        var me = JsonDocument.Parse(run.Stdout).RootElement;
        var written = requests[0].Event;
        var listed = requests[1].Event;
        Assert.Equal(box.TmpDir + "/written", written.Str("what"));
        Assert.Equal(box.TmpDir, listed.Str("what"));
        foreach (var e in new[] { written, listed })
        {
            // exactly the seed keys: no trace id without _X_AMZN_TRACE_ID, nothing coalesced, nothing dropped
            Assert.Equal(EventAssert.TopKeys, e.EnumerateObject().Select(p => p.Name).ToArray());
            Assert.Equal("read_write_tmp", e.Str("event_type"));
            Assert.Equal("block", e.Str("action"));
            Assert.Contains(e.Str("what"), e.Str("message"));
            Assert.Equal(me.Str("pid"), e.Str("process_id"));
            Assert.Equal(me.Str("comm"), e.Str("process_name"));
            Assert.Equal($"{Machine.Python.Value} -c {TwoViolations} {box.TmpDir}", e.Str("process_command"));
            Assert.Equal(me.Str("uid"), e.Str("user_id"));
            Assert.Equal(me.Str("user"), e.Str("user_name"));
            var time = DateTime.Parse(e.Str("time"), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
            Assert.InRange(time, before, after);
        }
        Assert.True(requests[0].Connection == requests[1].Connection, "the two events did not share one persistent connection");
    }

    private const string ManyKinds = """
        import os, sys, tempfile
        T, D = sys.argv[1], sys.argv[2]
        def attempt(fn):
            try:
                fn()
            except OSError:
                pass
        attempt(lambda: open(T + "/new", "w"))
        attempt(lambda: open(T + "/e1").read())
        attempt(lambda: os.mkdir(T + "/dir"))
        attempt(lambda: os.unlink(T + "/e2"))
        attempt(lambda: os.rename(T + "/e3", D + "/renamed"))
        attempt(lambda: os.chmod(T + "/e4", 0o600))
        attempt(lambda: os.utime(T + "/e5", (0, 0)))
        attempt(lambda: os.listdir(T))
        attempt(lambda: os.symlink(D + "/outside", T + "/link"))
        attempt(lambda: os.close(tempfile.mkstemp(dir=T, prefix="mk")[0]))
        attempt(lambda: os.truncate(T + "/e6", 0))
        """;

    [Theory]
    [InlineData("block")]
    [InlineData("alert")]
    public void Every_kind_of_read_write_tmp_event_is_delivered_as_written_on_stderr(string action)
    {
        using var box = new Sandbox();
        for (int i = 1; i <= 6; i++) File.WriteAllText(Path.Combine(box.TmpDir, "e" + i), "x");
        using var endpoint = new LoopbackEndpoint();

        var run = Preloaded.Run(Machine.Python.Value, ["-c", ManyKinds, box.TmpDir, box.Dir], Delivery.Policy(box, endpoint.Url(), action), Delivery.Env());

        Assert.True(run.ExitCode == 0, run.ToString());
        var requests = endpoint.Requests;
        Delivery.AreEventPosts(requests);
        Delivery.SameAsStderr(run, requests);
        var whats = requests.Select(r => r.Event.Str("what")).ToHashSet();
        foreach (var expected in new[] { "/new", "/e1", "/dir", "/e2", "/e3", "/e4", "/e5", "/link", "", "/e6" })
            Assert.Contains(box.TmpDir + expected, whats);
        Assert.Contains(whats, w => w.StartsWith(box.TmpDir + "/mk", StringComparison.Ordinal));
        Assert.All(requests, r => Assert.Equal(action, r.Event.Str("action")));
        // a different function for each kind: the messages name them
        var functions = requests.Select(r => r.Event.Str("message").Split(' ')[0]).ToHashSet();
        foreach (var f in new[] { "open64", "mkdir", "unlink", "rename", "chmod", "utimensat", "opendir", "symlink", "truncate64" })
            Assert.Contains(f, functions);
        Assert.True(functions.Count >= 9, $"expected many different functions, got {string.Join(", ", functions)}");
    }

    [Theory]
    [InlineData("return")]
    [InlineData("exit")]
    [InlineData("thread-exit")]
    [Trait("Architecture", "arm64")] // also run on arm64 under qemu-user (Qemu.cs)
    public void The_event_is_at_the_endpoint_however_a_C_program_ends(string end)
    {
        using var box = new Sandbox();
        using var endpoint = new LoopbackEndpoint();
        var target = Path.Combine(box.TmpDir, "x-" + end);

        var run = Delivery.RunProbe(Delivery.Policy(box, endpoint.Url()), end, "deny", target);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("denied=1 ", run.Stdout);
        var request = Assert.Single(endpoint.Requests);
        Assert.Equal(target, request.Event.Str("what"));
        Delivery.SameAsStderr(run, endpoint.Requests);
        Assert.Equal($"{Delivery.Probe.Value} {end} deny {target}", request.Event.Str("process_command"));
    }

    [Fact] // not under qemu-user: Debian 12's qemu-aarch64 aborts (plugins/core.c) in this probe's fork
    public void A_forked_child_delivers_its_own_events_and_none_of_its_parents()
    {
        using var box = new Sandbox();
        string P(string name) => Path.Combine(box.TmpDir, name);
        var release = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        // the parent's first event is held at the endpoint while its second waits in the queue and the child is forked;
        // the child's own event releases it
        using var endpoint = new LoopbackEndpoint
        {
            Respond = r =>
            {
                if (r.Event.Str("what") == P("child")) release.TrySetResult(204);
                return r.Index == 0 ? release.Task : Task.FromResult(204);
            },
        };

        var run = Delivery.RunProbe(Delivery.Policy(box, endpoint.Url()), "return", "fork", P("p1"), P("p2"), P("child"), P("p3"));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("child-status=0", run.Stdout);
        var parent = run.Stdout.Split('\n').Single(l => l.StartsWith("pid=", StringComparison.Ordinal)).Split(' ')[0][4..];
        var child = run.Stdout.Split('\n').Single(l => l.StartsWith("child=", StringComparison.Ordinal)).Split(' ')[0][6..];
        var got = endpoint.Requests.Select(r => (What: r.Event.Str("what"), Pid: r.Event.Str("process_id"))).ToList();
        Assert.Equal(4, got.Count);
        Assert.Equal(
            new[] { (P("p1"), parent), (P("p2"), parent), (P("child"), child), (P("p3"), parent) }.OrderBy(x => x.Item1),
            got.OrderBy(x => x.What));
        var childRequest = endpoint.Requests.Single(r => r.Event.Str("what") == P("child"));
        Assert.NotEqual(endpoint.Requests[0].Connection, childRequest.Connection);
    }

    [Fact]
    public void The_xray_trace_id_in_force_at_each_call_is_added()
    {
        using var box = new Sandbox();
        using var endpoint = new LoopbackEndpoint();
        const string script = """
            import os, sys
            for trace in ["Root=1-00000001-aaaaaaaaaaaaaaaaaaaaaaaa;Sampled=1", "Root=1-00000002-bbbbbbbbbbbbbbbbbbbbbbbb;Sampled=0"]:
                os.environ["_X_AMZN_TRACE_ID"] = trace
                try:
                    open(sys.argv[1] + "/" + trace[7:15], "w")
                except PermissionError:
                    pass
            """;

        var run = Preloaded.Run(Machine.Python.Value, ["-c", script, box.TmpDir], Delivery.Policy(box, endpoint.Url()),
            Delivery.Env(("_X_AMZN_TRACE_ID", "Root=1-00000000-000000000000000000000000")));

        Assert.True(run.ExitCode == 0, run.ToString());
        var requests = endpoint.Requests;
        Delivery.SameAsStderr(run, requests);
        Assert.Equal(2, requests.Count);
        Assert.Equal("Root=1-00000001-aaaaaaaaaaaaaaaaaaaaaaaa;Sampled=1", requests[0].Event.Str("xray_trace_id"));
        Assert.Equal("Root=1-00000002-bbbbbbbbbbbbbbbbbbbbbbbb;Sampled=0", requests[1].Event.Str("xray_trace_id"));
    }
}

/// <summary>2. The function is never slowed: a dead or hanging endpoint changes nothing for the calls, and exit waits at most the flush bound.</summary>
public class EventDeliveryCostTests
{
    private static long Nanoseconds(RunResult run) =>
        long.Parse(run.Stdout.Split('\n').Single(l => l.StartsWith("pid=", StringComparison.Ordinal)).Split("ns=")[1], CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("dead")]
    [InlineData("hanging")]
    public void Two_hundred_denied_calls_take_no_longer_with_a_broken_endpoint_than_without_one(string kind)
    {
        using var box = new Sandbox();
        using var hanging = LoopbackEndpoint.Hanging();
        var url = kind == "dead" ? $"http://127.0.0.1:{LoopbackEndpoint.DeadPort()}/iron/events" : hanging.Url();
        var broken = Delivery.Policy(box, url);
        var none = Delivery.Policy(box, null);
        var prefix = Path.Combine(box.TmpDir, "denied-");

        // interleaved, three of each: the machine's own noise hits both
        var with = new List<long>();
        var without = new List<long>();
        var walls = new List<TimeSpan>();
        for (int round = 0; round < 3; round++)
        {
            var plain = Delivery.RunProbe(none, "return", "burst", prefix, "200");
            Assert.Contains("denied=200 ", plain.Stdout);
            without.Add(Nanoseconds(plain));

            var clock = Stopwatch.StartNew();
            var run = Delivery.RunProbe(broken, "return", "burst", prefix, "200");
            walls.Add(clock.Elapsed);
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Contains("denied=200 ", run.Stdout);
            Assert.Equal(200, run.Events.Occurrences());
            with.Add(Nanoseconds(run));
            // what could not go out is said, once, at exit
            Assert.Contains(run.Diagnostics, d => d.Contains("could not be delivered to api_endpoint before exit", StringComparison.Ordinal));
        }
        long w = with.Order().ElementAt(1), wo = without.Order().ElementAt(1);
        Assert.True(w <= wo * 1.5 + 200_000_000,
            $"200 denied calls took {w / 1e6:0.0} ms with a {kind} endpoint, {wo / 1e6:0.0} ms without one (all: {string.Join(", ", with.Select(x => x / 1e6))} / {string.Join(", ", without.Select(x => x / 1e6))})");
        // the exit waits for the flush bound, not for the endpoint's timeouts
        Assert.True(walls.Max() < Delivery.FlushBound + TimeSpan.FromSeconds(4), $"the process took {walls.Max().TotalSeconds:0.0} s to end");
    }

    [Fact]
    public void Without_an_endpoint_no_thread_is_started_and_with_one_only_at_the_first_event()
    {
        using var box = new Sandbox();
        using var endpoint = new LoopbackEndpoint();
        const string script = """
            import os, sys, time
            def threads():
                names = []
                for t in os.listdir("/proc/self/task"):
                    with open(f"/proc/self/task/{t}/comm") as f:
                        names.append(f.read().strip())
                return names
            before = threads()
            try:
                open(sys.argv[1] + "/x", "w")
            except PermissionError:
                pass
            print("before", "iron-events" in before, len(before))
            # the thread names itself once it runs: give it a moment (a second at most)
            for _ in range(100):
                if "iron-events" in threads():
                    break
                time.sleep(0.01)
            print("after", "iron-events" in threads())
            """;

        var with = Preloaded.Run(Machine.Python.Value, ["-c", script, box.TmpDir], Delivery.Policy(box, endpoint.Url()), Delivery.Env());
        var without = Preloaded.Run(Machine.Python.Value, ["-c", script, box.TmpDir], Delivery.Policy(box, null), Delivery.Env());

        Assert.Contains("before False", with.Stdout);
        Assert.Contains("after True", with.Stdout);
        Assert.Contains("before False", without.Stdout);
        Assert.Contains("after False", without.Stdout);
        Assert.Single(endpoint.Requests);
    }

    [Fact]
    public void An_http_endpoint_never_loads_OpenSSL()
    {
        using var box = new Sandbox();
        using var endpoint = new LoopbackEndpoint();
        const string script = """
            import sys
            try:
                open(sys.argv[1] + "/x", "w")
            except PermissionError:
                pass
            with open("/proc/self/maps") as f:
                print("libssl" if "libssl" in f.read() else "no libssl")
            """;

        var http = Preloaded.Run(Machine.Python.Value, ["-c", script, box.TmpDir], Delivery.Policy(box, endpoint.Url()), Delivery.Env());

        Assert.Contains("no libssl", http.Stdout);
        Assert.Single(endpoint.Requests);
    }
}

/// <summary>3. Nothing lost: overflow, repeats and refusals are counted, and the counts arrive.</summary>
public class EventDeliveryAccountingTests
{
    [Fact]
    public void Overflow_drops_the_oldest_and_a_later_event_reports_how_many()
    {
        using var box = new Sandbox();
        var release = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var endpoint = new LoopbackEndpoint { Respond = r => r.Index == 0 ? release.Task : Task.FromResult(204) };
        var prefix = Path.Combine(box.TmpDir, "burst-");
        const int burst = 10_000, capacity = 4096;

        // the event budget off: 10,000 distinct targets are 10,000 lines, more than the queue holds
        using var probe = new Delivery.Interactive(Delivery.Probe.Value, ["stdin", "burst", prefix, burst.ToString(CultureInfo.InvariantCulture)],
            Delivery.Policy(box, endpoint.Url()), Delivery.Env(("IRON_FUNCTION_EVENT_BURST", "1000000")));
        // all of the burst is queued (or dropped) while the endpoint holds the first one
        probe.WaitForLine(l => l == "ready", TimeSpan.FromSeconds(60));
        Assert.True(endpoint.WaitFor(r => r.Count == 1, TimeSpan.FromSeconds(30)), "the first event never arrived");
        release.SetResult(204);
        Assert.True(endpoint.WaitFor(r => r.Sum(x => 1 + Delivery.Dropped(x.Event)) >= burst, TimeSpan.FromSeconds(60)),
            $"the endpoint accounts for {endpoint.Requests.Sum(x => 1 + Delivery.Dropped(x.Event))} of {burst} events");
        probe.Send("go");
        var run = probe.Finish(TimeSpan.FromSeconds(30));

        Assert.Equal(0, run.ExitCode);
        Assert.Equal(burst, run.Events.Count); // stderr never drops
        var requests = endpoint.Requests;
        Delivery.AreEventPosts(requests);
        Assert.Equal(burst, requests.Sum(r => 1 + Delivery.Dropped(r.Event)));
        Assert.InRange(requests.Count, 2, 1 + capacity);
        Assert.Contains(requests, r => Delivery.Dropped(r.Event) > 0);
        // first in, first out; the oldest are the ones dropped, so the newest all arrive
        var indices = requests.Select(r => int.Parse(r.Event.Str("what")[prefix.Length..], CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(indices.Order(), indices);
        Assert.Equal(Enumerable.Range(burst - capacity, capacity), indices.TakeLast(capacity));
        // apart from dropped_before, each body is the line written on stderr
        var lines = Delivery.StderrEventLines(run).ToHashSet();
        foreach (var r in requests)
        {
            var body = Delivery.Dropped(r.Event) > 0 ? r.Body.Replace($",\"dropped_before\":\"{Delivery.Dropped(r.Event)}\"", "") : r.Body;
            Assert.Contains(body, lines);
        }
    }

    [Fact]
    public void Identical_repeats_are_coalesced_with_a_count_on_stderr_and_at_the_endpoint()
    {
        using var box = new Sandbox();
        using var endpoint = new LoopbackEndpoint();
        var target = Path.Combine(box.TmpDir, "again");
        const int repeats = 50_000;

        var run = Delivery.RunProbe(Delivery.Policy(box, endpoint.Url()), "return", "same", target, repeats.ToString(CultureInfo.InvariantCulture));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"denied={repeats} ", run.Stdout);
        var requests = endpoint.Requests;
        Delivery.SameAsStderr(run, requests);
        Assert.Equal(repeats, run.Events.Occurrences());
        Assert.Equal(repeats, requests.Sum(r => r.Event.Occurrences()));
        Assert.InRange(requests.Count, 2, 20);
        Assert.All(requests, r => Assert.Equal(target, r.Event.Str("what")));
        Assert.False(requests[0].Event.TryGetProperty("repeat_count", out _), "the first occurrence goes out alone, at once");
    }

    [Fact]
    public void Server_errors_are_retried_and_a_refused_event_is_counted_in_the_next()
    {
        using var box = new Sandbox();
        // 503, 503, then accepted: one event, three attempts; then 400 for the second event (not retried); the third is accepted
        using var endpoint = new LoopbackEndpoint { Respond = r => Task.FromResult(r.Index switch { 0 or 1 => 503, 3 => 400, _ => 204 }) };
        string P(string n) => Path.Combine(box.TmpDir, n);

        var run = Delivery.RunProbe(Delivery.Policy(box, endpoint.Url()), "return", "deny", P("first"), P("second"), P("third"));

        Assert.True(run.ExitCode == 0, run.ToString());
        var requests = endpoint.Requests;
        Assert.True(new[] { P("first"), P("first"), P("first"), P("second"), P("third") }.SequenceEqual(requests.Select(r => r.Event.Str("what"))),
            $"requests: {string.Join(", ", requests.Select(r => r.Event.Str("what")))}\n{run}");
        Assert.Equal(requests[0].Body, requests[2].Body);
        Assert.Equal(1, Delivery.Dropped(requests[4].Event));
        Assert.Contains(run.Diagnostics, d => d.Contains("HTTP 400", StringComparison.Ordinal));
    }
}

/// <summary>4. https: the server is checked against OpenSSL's trust (SSL_CERT_FILE here), by name or address.</summary>
public class EventDeliveryTlsTests
{
    private static (RunResult Run, LoopbackEndpoint Endpoint) Deliver(Sandbox box, X509Certificate2 served, string? trusted, string host = "127.0.0.1")
    {
        var endpoint = new LoopbackEndpoint(served);
        var env = Delivery.Env(("SSL_CERT_DIR", Path.Combine(box.Dir, "no-certs")), ("SSL_CERT_FILE", trusted ?? Path.Combine(box.Dir, "no-such-file.pem")));
        var url = endpoint.Url().Replace("127.0.0.1", host);
        var run = Preloaded.Run(Delivery.Probe.Value, ["return", "deny", Path.Combine(box.TmpDir, "a"), Path.Combine(box.TmpDir, "b")],
            Delivery.Policy(box, url), env);
        return (run, endpoint);
    }

    /// <summary>The trusted certificate is kept under /tmp, with read_write_tmp blocking: the library's own reads are never judged.</summary>
    private static string TrustFile(Sandbox box, X509Certificate2 cert)
    {
        var path = Path.Combine(box.TmpDir, "trusted.pem");
        File.WriteAllText(path, cert.ExportCertificatePem());
        return path;
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    public void A_trusted_certificate_for_the_name_delivers_over_TLS(string host)
    {
        using var box = new Sandbox();
        using var cert = LoopbackEndpoint.Certificate(["localhost"], [IPAddress.Loopback]);
        var (run, endpoint) = Deliver(box, cert, TrustFile(box, cert), host);
        using var _ = endpoint;

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(2, endpoint.Requests.Count);
        Delivery.AreEventPosts(endpoint.Requests);
        Delivery.SameAsStderr(run, endpoint.Requests);
        Assert.Empty(run.Diagnostics);
    }

    /// <summary>The process waits (stdin) until the library has said why delivery fails: no race with the exit flush.</summary>
    private static (RunResult Run, string Reason, IReadOnlyList<LoopbackEndpoint.Request> Requests) Refused(Sandbox box, X509Certificate2 served, string? trusted)
    {
        using var endpoint = new LoopbackEndpoint(served);
        var env = Delivery.Env(("SSL_CERT_DIR", Path.Combine(box.Dir, "no-certs")), ("SSL_CERT_FILE", trusted ?? Path.Combine(box.Dir, "no-such-file.pem")));
        using var probe = new Delivery.Interactive(Delivery.Probe.Value, ["stdin", "deny", Path.Combine(box.TmpDir, "a"), Path.Combine(box.TmpDir, "b")],
            Delivery.Policy(box, endpoint.Url()), env);
        var reason = probe.WaitForStderrLine(l => l.StartsWith("iron-function WRN [events] delivery to", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        probe.Send("go");
        return (probe.Finish(TimeSpan.FromSeconds(30)), reason, endpoint.Requests);
    }

    [Fact]
    public void An_untrusted_certificate_gets_nothing_and_says_why()
    {
        using var box = new Sandbox();
        using var cert = LoopbackEndpoint.Certificate(["localhost"], [IPAddress.Loopback]);
        var (run, reason, requests) = Refused(box, cert, trusted: null);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Empty(requests);
        Assert.Equal(2, run.Events.Count);
        Assert.Matches("certificate verify failed: self.signed certificate", reason);
    }

    [Fact]
    public void A_trusted_certificate_for_another_name_gets_nothing()
    {
        using var box = new Sandbox();
        using var cert = LoopbackEndpoint.Certificate(["events.example.com"], []);
        var (run, reason, requests) = Refused(box, cert, TrustFile(box, cert));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Empty(requests);
        Assert.Equal(2, run.Events.Count);
        Assert.Matches("certificate verify failed: (IP address|hostname) mismatch", reason);
    }

    [Fact]
    public void OpenSSL_is_loaded_for_an_https_endpoint_once_used()
    {
        using var box = new Sandbox();
        using var cert = LoopbackEndpoint.Certificate(["localhost"], [IPAddress.Loopback]);
        using var endpoint = new LoopbackEndpoint(cert);
        const string script = """
            import sys, time
            def maps():
                with open("/proc/self/maps") as f:
                    return "libssl" in f.read()
            print("before", maps())
            try:
                open(sys.argv[1] + "/x", "w")
            except PermissionError:
                pass
            for _ in range(300):
                if maps():
                    break
                time.sleep(0.01)
            print("after", maps())
            """;

        var run = Preloaded.Run(Machine.Python.Value, ["-c", script, box.TmpDir], Delivery.Policy(box, endpoint.Url()),
            Delivery.Env(("SSL_CERT_FILE", TrustFile(box, cert))));

        Assert.Contains("before False", run.Stdout);
        Assert.Contains("after True", run.Stdout);
        Assert.Single(endpoint.Requests);
    }
}
