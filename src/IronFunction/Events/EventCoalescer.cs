using IronFunction.Policy;

namespace IronFunction.Events;

/// <summary>
/// Bounds the lines a busy process writes without losing a count. Each new target (event_type, action, what)
/// goes out at once while the token bucket of its event_type allows (<see cref="DefaultBurst"/> lines, refilled at
/// <see cref="DefaultRatePerSecond"/> a second); its repeats in the next window are counted, and go out as
/// "repeat_count" on the first occurrence after the window or, when none comes, on a summary written at the
/// next event of any key, at a flush or at exit. Over budget, a new target folds into the group of its coarser
/// what (the directory of a path, the program of a command, the host of a connection; beyond
/// <see cref="MaxGroups"/> groups, the top directory or "*"), written when the group's window closes with
/// "repeat_count", "distinct_count" and a few "samples". While a group is open, new targets of it fold into it,
/// and so do the repeats of a target of it whose own window closes.
/// Not thread-safe: the caller holds a lock. Pure: the caller gives the time.
/// </summary>
internal sealed class EventCoalescer
{
    public static readonly long DefaultWindowTicks = TimeSpan.FromSeconds(1).Ticks;
    public const int DefaultCapacity = 128;
    /// <summary>Targets of one event_type that go out at once, before the rate applies: a function's few dozen distinct violations are each a line.</summary>
    public const int DefaultBurst = 64;
    public const int DefaultRatePerSecond = 5;
    /// <summary>Open groups of a coarse what; beyond, new targets fold into the group of their top directory (or "*").</summary>
    public const int MaxGroups = 8;
    public const int SampleCount = 3;
    /// <summary>Distinct whats remembered per group window (memory stays bounded; distinct_count stops there).</summary>
    public const int DistinctTracked = 65536;

    private sealed class Slot
    {
        public required Control Control;
        public required PolicyAction Action;
        public required string Key;          // the exact what, or a group's coarse what
        public required bool Group;
        public long WindowStart;
        public int Pending;                  // occurrences counted since the window opened, not yet emitted
        public SecurityEvent? Last;          // the latest counted occurrence
        public HashSet<string>? Distinct;    // group: the whats counted in this window
        public List<string>? Samples;
    }

    private readonly Slot?[] _slots;
    private readonly long _window;
    private readonly long _tokenCost;        // ticks of time that buy one line
    private readonly long _creditCap;
    private readonly long[] _credit = new long[4];   // per event_type (Control)
    private long _lastRefill;

    public EventCoalescer(long windowTicks, int capacity = DefaultCapacity, int burst = DefaultBurst, int ratePerSecond = DefaultRatePerSecond)
    {
        _window = windowTicks;
        _slots = new Slot?[capacity];
        _tokenCost = TimeSpan.TicksPerSecond / Math.Max(1, ratePerSecond);
        _creditCap = burst * _tokenCost;
        Array.Fill(_credit, _creditCap);
        _lastRefill = long.MinValue;
    }

    /// <summary>Occurrences counted and not yet emitted, over every key.</summary>
    public long Pending
    {
        get
        {
            long n = 0;
            foreach (var s in _slots) n += s?.Pending ?? 0;
            return n;
        }
    }

    /// <summary>One occurrence at <paramref name="now"/>: appends to <paramref name="emit"/> what must go out now, oldest first.</summary>
    public void Offer(SecurityEvent occurrence, long now, List<SecurityEvent> emit)
    {
        Refill(now);
        var coarse = Coarse(occurrence.Control, occurrence.What);
        int mine = Find(occurrence, occurrence.What, group: false);
        if (mine < 0) mine = Find(occurrence, coarse, group: true);
        Expire(now, mine, emit);
        if (mine >= 0)
        {
            Fold(_slots[mine]!, occurrence, now, emit);
            return;
        }
        ref long credit = ref _credit[(int)occurrence.Control & 3];
        if (credit >= _tokenCost)
        {
            // a new target within the budget: out at once
            credit -= _tokenCost;
            Open(occurrence, occurrence.What, group: false, now, emit);
            emit.Add(occurrence);
            return;
        }
        // over budget: counted in a group, written when its window closes
        int groups = 0;
        foreach (var s in _slots) if (s is { Group: true }) groups++;
        var key = groups < MaxGroups ? coarse : Top(occurrence.Control, occurrence.What);
        int top = Find(occurrence, key, group: true);
        if (top >= 0) Fold(_slots[top]!, occurrence, now, emit);
        else Count(Open(occurrence, key, group: true, now, emit), occurrence);
    }

    /// <summary>Emits the count of every window that has passed at <paramref name="now"/>; all: of every window.</summary>
    public void Sweep(long now, bool all, List<SecurityEvent> emit)
    {
        if (all)
        {
            // targets first: their repeats may join a group that is still open
            for (int i = 0; i < _slots.Length; i++)
                if (_slots[i] is { Group: false }) Close(i, emit);
            for (int i = 0; i < _slots.Length; i++)
                if (_slots[i] != null) Close(i, emit);
            return;
        }
        Expire(now, -1, emit);
    }

    /// <summary>The coarser what a target is grouped under: the directory of a path, the program of a command, the host of a connection.</summary>
    public static string Coarse(Control control, string what)
    {
        switch (control)
        {
            case Control.CreateChildProcess:
                int c = what.IndexOf(" -c ", StringComparison.Ordinal);
                return c > 0 ? what[..c] : what;
            case Control.OutboundConnectivity:
                int paren = what.IndexOf(" (", StringComparison.Ordinal);
                if (paren > 0) return what[..paren];
                int colon = what.LastIndexOf(':');
                var host = colon > 0 && what.AsSpan(colon + 1).IndexOfAnyExceptInRange('0', '9') < 0 ? what[..colon] : what;
                return host.Length > 2 && host[0] == '[' && host[^1] == ']' ? host[1..^1] : host;
            default:
                int slash = what.TrimEnd('/').LastIndexOf('/');
                return slash < 0 ? "*" : what[..slash] + "/*";
        }
    }

    /// <summary>The coarsest group: the top directory of a path, "*" for the others.</summary>
    public static string Top(Control control, string what)
    {
        if (control is Control.CreateChildProcess or Control.OutboundConnectivity || !what.StartsWith('/')) return "*";
        int slash = what.IndexOf('/', 1);
        return slash < 0 || slash == what.Length - 1 ? "/*" : what[..slash] + "/*";
    }

    private void Refill(long now)
    {
        if (_lastRefill != long.MinValue && now > _lastRefill)
            for (int i = 0; i < _credit.Length; i++) _credit[i] = Math.Min(_creditCap, _credit[i] + (now - _lastRefill));
        _lastRefill = now;
    }

    private int Find(SecurityEvent occurrence, string key, bool group)
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            if (_slots[i] is { } s && s.Group == group && s.Control == occurrence.Control && s.Action == occurrence.Action &&
                string.Equals(s.Key, key, StringComparison.Ordinal))
                return i;
        }
        return -1;
    }

    private Slot Open(SecurityEvent occurrence, string key, bool group, long now, List<SecurityEvent> emit)
    {
        int free = -1, oldest = 0;
        for (int i = 0; i < _slots.Length; i++)
        {
            if (_slots[i] == null) { free = i; break; }
            if (_slots[i]!.WindowStart < _slots[oldest]!.WindowStart) oldest = i;
        }
        if (free < 0)
        {
            // more keys than slots: the oldest window closes early, its count is not lost
            free = oldest;
            Close(free, emit);
        }
        return _slots[free] = new Slot { Control = occurrence.Control, Action = occurrence.Action, Key = key, Group = group, WindowStart = now };
    }

    private void Fold(Slot slot, SecurityEvent occurrence, long now, List<SecurityEvent> emit)
    {
        Count(slot, occurrence);
        if (now - slot.WindowStart < _window && now >= slot.WindowStart) return;
        // the window has passed: this occurrence goes out, standing for itself and those before it; a new window opens
        emit.Add(Summary(slot));
        Reset(slot, now);
    }

    private static void Count(Slot slot, SecurityEvent occurrence)
    {
        slot.Pending++;
        slot.Last = occurrence;
        if (!slot.Group) return;
        slot.Distinct ??= new HashSet<string>(StringComparer.Ordinal);
        if (slot.Distinct.Count < DistinctTracked && slot.Distinct.Add(occurrence.What) && slot.Distinct.Count <= SampleCount)
            (slot.Samples ??= new List<string>(SampleCount)).Add(occurrence.What);
    }

    private static void Reset(Slot slot, long now)
    {
        slot.WindowStart = now;
        slot.Pending = 0;
        slot.Last = null;
        slot.Distinct?.Clear();
        slot.Samples?.Clear();
    }

    /// <summary>The one event that stands for a window's occurrences.</summary>
    private static SecurityEvent Summary(Slot slot)
    {
        var last = slot.Last!;
        if (slot.Pending == 1) return last;
        int distinct = slot.Distinct?.Count ?? 1;
        if (distinct <= 1) return last.WithRepeatCount(slot.Pending);
        return last.WithSummary(slot.Key, slot.Pending, distinct, string.Join(" | ", slot.Samples!),
            $"{slot.Pending} occurrences on {distinct} distinct targets under {slot.Key} (over the event budget, folded into one event); the last: {last.Message}");
    }

    private void Expire(long now, int except, List<SecurityEvent> emit)
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            if (i == except || _slots[i] is not { } s) continue;
            // a clock that went backwards closes the window too
            if (now - s.WindowStart >= _window || now < s.WindowStart) Close(i, emit);
        }
    }

    private void Close(int i, List<SecurityEvent> emit)
    {
        var s = _slots[i]!;
        _slots[i] = null;
        if (s.Pending == 0) return;
        if (!s.Group)
        {
            // a target whose group is open: its repeats join the group's line rather than make one of their own
            int group = Find(s.Last!, Coarse(s.Control, s.Key), group: true);
            if (group >= 0)
            {
                Merge(_slots[group]!, s);
                return;
            }
        }
        // a target's repeats go out on their latest occurrence, counted, even when there is one
        emit.Add(s.Group ? Summary(s) : s.Last!.WithRepeatCount(s.Pending));
    }

    private static void Merge(Slot group, Slot target)
    {
        var last = group.Last;
        Count(group, target.Last!);
        group.Pending += target.Pending - 1;
        if (last != null) group.Last = last;
    }
}
