namespace IronFunction.Events;

/// <summary>
/// Coalesces identical repeats (same event_type, action and what) so that a loop of a million denied calls
/// writes a few lines, not a million. The first occurrence of a key is emitted at once and opens a window;
/// repeats inside the window are only counted. When the window has passed, the count goes out on one event
/// that stands for all of them ("repeat_count"): the next occurrence of the key carries it, or, when none
/// comes, a summary emitted at the next event of any key, at a flush or at exit.
/// Not thread-safe: the caller holds a lock. Pure: the caller gives the time.
/// </summary>
internal sealed class EventCoalescer
{
    public static readonly long DefaultWindowTicks = TimeSpan.FromSeconds(1).Ticks;
    public const int DefaultCapacity = 64;

    private struct Slot
    {
        public SecurityEvent? Key;      // the occurrence that opened the window; null: free
        public SecurityEvent? Last;     // the latest counted repeat
        public long WindowStart;
        public int Pending;             // repeats counted since the window opened, not yet emitted
    }

    private readonly Slot[] _slots;
    private readonly long _window;

    public EventCoalescer(long windowTicks, int capacity = DefaultCapacity)
    {
        _window = windowTicks;
        _slots = new Slot[capacity];
    }

    /// <summary>Repeats counted and not yet emitted, over every key.</summary>
    public long Pending
    {
        get
        {
            long n = 0;
            foreach (ref readonly var s in _slots.AsSpan()) n += s.Pending;
            return n;
        }
    }

    /// <summary>One occurrence at <paramref name="now"/>: appends to <paramref name="emit"/> what must go out now, oldest first.</summary>
    public void Offer(SecurityEvent occurrence, long now, List<SecurityEvent> emit)
    {
        int mine = -1;
        for (int i = 0; i < _slots.Length; i++)
        {
            if (_slots[i].Key is { } key && key.SameAs(occurrence)) { mine = i; break; }
        }
        Expire(now, mine, emit);

        if (mine >= 0)
        {
            ref var slot = ref _slots[mine];
            if (now - slot.WindowStart < _window && now >= slot.WindowStart)
            {
                slot.Pending++;
                slot.Last = occurrence;
                return;
            }
            // the window has passed: this occurrence goes out, standing for itself and the repeats before it
            emit.Add(slot.Pending > 0 ? occurrence.WithRepeatCount(slot.Pending + 1) : occurrence);
            slot = new Slot { Key = occurrence, WindowStart = now };
            return;
        }

        int free = -1, oldest = 0;
        for (int i = 0; i < _slots.Length; i++)
        {
            if (_slots[i].Key == null) { free = i; break; }
            if (_slots[i].WindowStart < _slots[oldest].WindowStart) oldest = i;
        }
        if (free < 0)
        {
            // more distinct keys than slots: the oldest window closes early, its count is not lost
            free = oldest;
            Close(ref _slots[free], emit);
        }
        _slots[free] = new Slot { Key = occurrence, WindowStart = now };
        emit.Add(occurrence);
    }

    /// <summary>Emits the count of every window that has passed at <paramref name="now"/>; all: of every window.</summary>
    public void Sweep(long now, bool all, List<SecurityEvent> emit)
    {
        if (all)
        {
            for (int i = 0; i < _slots.Length; i++)
                if (_slots[i].Key != null) Close(ref _slots[i], emit);
            return;
        }
        Expire(now, -1, emit);
    }

    private void Expire(long now, int except, List<SecurityEvent> emit)
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            if (i == except || _slots[i].Key == null) continue;
            // a clock that went backwards closes the window too
            if (now - _slots[i].WindowStart >= _window || now < _slots[i].WindowStart) Close(ref _slots[i], emit);
        }
    }

    private static void Close(ref Slot slot, List<SecurityEvent> emit)
    {
        if (slot.Pending > 0) emit.Add(slot.Last!.WithRepeatCount(slot.Pending));
        slot = default;
    }
}
