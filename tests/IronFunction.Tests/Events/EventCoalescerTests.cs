using CsCheck;
using IronFunction.Events;
using IronFunction.Policy;

namespace IronFunction.Tests.Events;

/// <summary>Coalescing of identical repeats: fewer events out, never a lost occurrence.</summary>
public class EventCoalescerTests
{
    private const long Window = 1000;

    private static SecurityEvent Occurrence(string what, PolicyAction action = PolicyAction.Block, Control control = Control.ReadWriteTmp, int id = 0) =>
        SecurityEventJsonTests.Sample(control, action, what, message: $"occurrence {id}");

    /// <summary>How many occurrences an emitted event stands for.</summary>
    private static int Weight(SecurityEvent e) => e.RepeatCount == 0 ? 1 : e.RepeatCount;

    [Fact]
    public void The_first_occurrence_goes_out_at_once_repeats_in_the_window_are_counted()
    {
        var c = new EventCoalescer(Window);
        var emit = new List<SecurityEvent>();
        c.Offer(Occurrence("/tmp/x", id: 1), 0, emit);
        Assert.Single(emit);
        Assert.Equal(0, emit[0].RepeatCount);
        emit.Clear();

        for (int i = 2; i <= 1000; i++) c.Offer(Occurrence("/tmp/x", id: i), i % (Window - 1), emit);
        Assert.Empty(emit);
        Assert.Equal(999, c.Pending);

        // a flush sends the count on the latest repeat
        c.Sweep(Window - 1, all: true, emit);
        var summary = Assert.Single(emit);
        Assert.Equal(999, summary.RepeatCount);
        Assert.Equal("occurrence 1000", summary.Message);
        Assert.Equal(0, c.Pending);
    }

    [Fact]
    public void After_the_window_the_next_occurrence_carries_the_count_of_the_repeats_before_it()
    {
        var c = new EventCoalescer(Window);
        var emit = new List<SecurityEvent>();
        c.Offer(Occurrence("/tmp/x", id: 1), 0, emit);
        c.Offer(Occurrence("/tmp/x", id: 2), 10, emit);
        c.Offer(Occurrence("/tmp/x", id: 3), 20, emit);
        c.Offer(Occurrence("/tmp/x", id: 4), Window, emit);
        Assert.Equal(2, emit.Count);
        Assert.Equal(0, emit[0].RepeatCount);
        Assert.Equal("occurrence 4", emit[1].Message);
        Assert.Equal(3, emit[1].RepeatCount);
        // and it opened a new window
        c.Offer(Occurrence("/tmp/x", id: 5), Window + 1, emit);
        Assert.Equal(2, emit.Count);
    }

    [Fact]
    public void A_window_that_passes_is_reported_at_the_next_event_of_another_key()
    {
        var c = new EventCoalescer(Window);
        var emit = new List<SecurityEvent>();
        c.Offer(Occurrence("/tmp/x", id: 1), 0, emit);
        c.Offer(Occurrence("/tmp/x", id: 2), 5, emit);
        c.Offer(Occurrence("/tmp/y", id: 3), Window + 5, emit);
        Assert.Equal(["occurrence 1", "occurrence 2", "occurrence 3"], emit.Select(e => e.Message));
        Assert.Equal([0, 1, 0], emit.Select(e => e.RepeatCount));
    }

    [Fact]
    public void Type_action_and_what_make_the_key_the_message_does_not()
    {
        var c = new EventCoalescer(Window);
        var emit = new List<SecurityEvent>();
        c.Offer(Occurrence("/tmp/x"), 0, emit);
        c.Offer(Occurrence("/tmp/x", PolicyAction.Alert), 1, emit);
        c.Offer(Occurrence("/tmp/x", control: Control.ReadHandler), 2, emit);
        c.Offer(Occurrence("/tmp/X"), 3, emit);
        Assert.Equal(4, emit.Count);
        c.Offer(SecurityEventJsonTests.Sample(what: "/tmp/x", message: "unlink on /tmp/x was blocked"), 4, emit);
        Assert.Equal(4, emit.Count);
    }

    [Fact]
    public void More_keys_than_slots_close_the_oldest_window_early_without_losing_its_count()
    {
        var c = new EventCoalescer(Window, capacity: 4);
        var emit = new List<SecurityEvent>();
        c.Offer(Occurrence("/tmp/a"), 0, emit);
        c.Offer(Occurrence("/tmp/a"), 1, emit);
        c.Offer(Occurrence("/tmp/a"), 2, emit);
        for (int i = 0; i < 4; i++) c.Offer(Occurrence("/tmp/k" + i), 3 + i, emit);
        // /tmp/a's window closed to make room: its two repeats went out
        Assert.Contains(emit, e => e.What == "/tmp/a" && e.RepeatCount == 2);
        Assert.Equal(1 + 1 + 4, emit.Count);
    }

    [Fact]
    public void A_clock_that_goes_back_closes_the_window()
    {
        var c = new EventCoalescer(Window);
        var emit = new List<SecurityEvent>();
        c.Offer(Occurrence("/tmp/x"), 5000, emit);
        c.Offer(Occurrence("/tmp/x"), 5001, emit);
        c.Offer(Occurrence("/tmp/x"), 10, emit);
        Assert.Equal(2, emit.Count);
        Assert.Equal(2, emit[1].RepeatCount);
    }

    /// <summary>
    /// For any stream of occurrences (few keys, non-decreasing time, flushes at random), the emitted events of a
    /// key stand for exactly its occurrences once everything is flushed; in each window of a key at most two
    /// events go out (the occurrence that opens it and the count of the previous one).
    /// </summary>
    [Fact]
    public void Property_nothing_is_lost_and_repeats_collapse()
    {
        var step = Gen.Select(Gen.Int[0, 5], Gen.Int[0, 400], Gen.Int[0, 30]);
        Gen.Select(step.Array[1, 300], Gen.Int[2, 8]).Sample((steps, capacity) =>
        {
            // a budget that is never spent: every target is followed on its own
            var c = new EventCoalescer(Window, capacity, burst: 1000);
            var emit = new List<SecurityEvent>();
            var offered = new Dictionary<string, int>();
            long now = 0;
            foreach (var (key, advance, flushRoll) in steps)
            {
                now += advance;
                var what = "/tmp/k" + key;
                offered[what] = offered.GetValueOrDefault(what) + 1;
                c.Offer(Occurrence(what), now, emit);
                if (flushRoll == 0) c.Sweep(now, all: true, emit);
            }
            c.Sweep(now, all: true, emit);
            Assert.Equal(0, c.Pending);
            foreach (var (what, n) in offered)
                Assert.Equal(n, emit.Where(e => e.What == what).Sum(Weight));
            Assert.All(emit.Select(e => e.What), w => Assert.True(offered.ContainsKey(w)));
            Assert.True(emit.Count <= steps.Length);
        }, iter: 3000);
    }

    [Fact]
    public void A_million_repeats_in_a_second_are_two_events()
    {
        var c = new EventCoalescer(TimeSpan.FromSeconds(1).Ticks);
        var emit = new List<SecurityEvent>();
        var e = Occurrence("/tmp/loop");
        for (int i = 0; i < 1_000_000; i++) c.Offer(e, i * 5L /* 0.5 µs apart: 0.5 s */, emit);
        c.Sweep(TimeSpan.FromSeconds(1).Ticks, all: false, emit);
        Assert.Equal(2, emit.Count);
        Assert.Equal(1_000_000, emit.Sum(Weight));
    }

    // ---- the event budget: new targets beyond it fold into summaries of their coarser what

    [Fact]
    public void Over_the_budget_new_targets_fold_into_a_summary_of_their_directory()
    {
        var c = new EventCoalescer(Window, burst: 3, ratePerSecond: 1);
        var emit = new List<SecurityEvent>();
        for (int i = 0; i < 100; i++) c.Offer(Occurrence($"/tmp/model/f{i}", id: i), i, emit);
        // the first three went out at once, as themselves
        Assert.Equal(["/tmp/model/f0", "/tmp/model/f1", "/tmp/model/f2"], emit.Select(e => e.What));
        Assert.All(emit, e => Assert.Equal(0, e.RepeatCount));
        emit.Clear();
        c.Sweep(100, all: true, emit);
        var summary = Assert.Single(emit);
        Assert.Equal("/tmp/model/*", summary.What);
        Assert.Equal(97, summary.RepeatCount);
        Assert.Equal(97, summary.DistinctCount);
        Assert.Equal("/tmp/model/f3 | /tmp/model/f4 | /tmp/model/f5", summary.Samples);
        Assert.Contains("occurrence 99", summary.Message);
        Assert.Equal(0, c.Pending);
    }

    [Fact]
    public void A_group_is_written_when_its_window_closes_and_a_busy_group_writes_one_line_a_window()
    {
        var c = new EventCoalescer(Window, burst: 1, ratePerSecond: 1);
        var emit = new List<SecurityEvent>();
        // 10 windows of 1000 distinct files each, all in one directory
        for (int i = 0; i < 10_000; i++) c.Offer(Occurrence($"/tmp/d/f{i}"), i, emit);
        c.Sweep(10_000, all: true, emit);
        Assert.Equal(10_000, emit.Sum(Weight));
        Assert.InRange(emit.Count, 10, 12);
        // another key's event closes a window that has passed
        emit.Clear();
        c.Offer(Occurrence("/tmp/e/a"), 20_000, emit);
        c.Offer(Occurrence("/tmp/e/b"), 20_001, emit);
        c.Offer(Occurrence("/tmp/e/c"), 20_002, emit);
        int before = emit.Count;
        c.Offer(Occurrence("/var/x", control: Control.ReadHandler), 21_500, emit);
        Assert.Contains(emit.Skip(before), e => e.What == "/tmp/e/*" && e.RepeatCount == 3 && e.DistinctCount == 3);
    }

    [Fact]
    public void Beyond_the_group_limit_targets_fold_into_their_top_directory()
    {
        var c = new EventCoalescer(Window, burst: 0);
        var emit = new List<SecurityEvent>();
        for (int d = 0; d < 200; d++)
            for (int f = 0; f < 5; f++) c.Offer(Occurrence($"/tmp/many/d{d}/f{f}"), d, emit);
        Assert.Empty(emit);
        c.Sweep(1000, all: true, emit);
        Assert.Equal(1000, emit.Sum(Weight));
        Assert.Equal(EventCoalescer.MaxGroups + 1, emit.Count);
        Assert.Contains(emit, e => e.What == "/tmp/*" && e.DistinctCount == 1000 - 5 * EventCoalescer.MaxGroups);
    }

    [Fact]
    public void The_budget_refills_with_time()
    {
        var c = new EventCoalescer(TimeSpan.FromSeconds(1).Ticks, burst: 2, ratePerSecond: 10);
        var emit = new List<SecurityEvent>();
        c.Offer(Occurrence("/a/1"), 0, emit);
        c.Offer(Occurrence("/b/1"), 1, emit);
        c.Offer(Occurrence("/c/1"), 2, emit);
        Assert.Equal(2, emit.Count);
        // a tenth of a second later one more target may go out at once
        c.Offer(Occurrence("/d/1"), 2 + TimeSpan.FromSeconds(0.1).Ticks, emit);
        Assert.Equal("/d/1", emit[^1].What);
    }

    [Theory]
    [InlineData("create_child_process", "/bin/sh -c 'echo 1'", "/bin/sh")]
    [InlineData("create_child_process", "/usr/bin/ls", "/usr/bin/ls")]
    [InlineData("outbound_connectivity", "example.com (93.184.216.34):443", "example.com")]
    [InlineData("outbound_connectivity", "10.0.0.1:80", "10.0.0.1")]
    [InlineData("outbound_connectivity", "[2001:db8::1]:80", "2001:db8::1")]
    [InlineData("read_write_tmp", "/tmp/model/a.bin", "/tmp/model/*")]
    [InlineData("read_write_tmp", "/tmp/", "/*")]
    [InlineData("read_handler", "relative", "*")]
    public void The_coarse_what_is_the_directory_the_program_or_the_host(string control, string what, string coarse) =>
        Assert.Equal(coarse, EventCoalescer.Coarse(control switch
        {
            "create_child_process" => Control.CreateChildProcess,
            "outbound_connectivity" => Control.OutboundConnectivity,
            "read_handler" => Control.ReadHandler,
            _ => Control.ReadWriteTmp,
        }, what));

    /// <summary>Any stream, any budget: the weights add up to the occurrences, per event type and action, and a burst of distinct targets writes a bounded number of lines.</summary>
    [Fact]
    public void Property_every_occurrence_is_counted_once_whatever_the_budget()
    {
        var step = Gen.Select(Gen.Int[0, 40], Gen.Int[0, 50], Gen.Int[0, 60], Gen.Bool);
        Gen.Select(step.Array[1, 400], Gen.Int[0, 5], Gen.Int[2, 70]).Sample((steps, burst, capacity) =>
        {
            var c = new EventCoalescer(Window, capacity, burst, ratePerSecond: 1);
            var emit = new List<SecurityEvent>();
            long now = 0;
            int alerts = 0;
            foreach (var (key, advance, flushRoll, alert) in steps)
            {
                now += advance;
                if (alert) alerts++;
                c.Offer(Occurrence($"/tmp/d{key % 20}/f{key}", alert ? PolicyAction.Alert : PolicyAction.Block), now, emit);
                if (flushRoll == 0) c.Sweep(now, all: true, emit);
            }
            c.Sweep(now, all: true, emit);
            Assert.Equal(0, c.Pending);
            Assert.Equal(alerts, emit.Where(e => e.Action == PolicyAction.Alert).Sum(Weight));
            Assert.Equal(steps.Length, emit.Sum(Weight));
            Assert.All(emit.Where(e => e.DistinctCount > 0), e => Assert.EndsWith("/*", e.What));
        }, iter: 2000);
    }

    [Fact]
    public void The_repeats_of_a_target_whose_group_is_open_join_the_group_s_line()
    {
        var c = new EventCoalescer(Window, burst: 2, ratePerSecond: 1);
        var emit = new List<SecurityEvent>();
        c.Offer(Occurrence("/tmp/m/a"), 0, emit);
        c.Offer(Occurrence("/tmp/m/b"), 1, emit);
        for (int i = 0; i < 10; i++) c.Offer(Occurrence("/tmp/m/f" + i), 2 + i, emit);
        c.Offer(Occurrence("/tmp/m/a"), 20, emit);
        c.Offer(Occurrence("/tmp/m/b"), 21, emit);
        Assert.Equal(2, emit.Count);
        c.Sweep(30, all: true, emit);
        var summary = Assert.Single(emit.Skip(2));
        Assert.Equal("/tmp/m/*", summary.What);
        Assert.Equal(12, summary.RepeatCount);
        Assert.Equal(12, summary.DistinctCount);
    }

    [Fact]
    public void Each_event_type_has_its_own_budget()
    {
        var c = new EventCoalescer(Window, burst: 2, ratePerSecond: 1);
        var emit = new List<SecurityEvent>();
        for (int i = 0; i < 10; i++) c.Offer(Occurrence("/tmp/f" + i), i, emit);
        c.Offer(Occurrence("/var/task/app.py", control: Control.ReadHandler), 11, emit);
        c.Offer(Occurrence("/bin/sh -c 'x'", control: Control.CreateChildProcess), 12, emit);
        Assert.Equal(["/tmp/f0", "/tmp/f1", "/var/task/app.py", "/bin/sh -c 'x'"], emit.Select(e => e.What));
    }
}
