namespace IronFunction.Rules;

/// <summary>
/// The addresses this process's lookups returned, with the name each was looked up by and whether that
/// name is allowed: a connect to an address an allowed name resolved to is allowed, and events name the
/// host. Bounded and set-associative (a fixed number of buckets of four); reading takes no lock and
/// allocates nothing, writing (after a lookup, which is slow anyway) is a compare-and-swap, so no lock is
/// ever held that a fork could leave taken. When a bucket is full a not-allowed entry is replaced first:
/// forgetting can only ever deny, never allow.
/// </summary>
public sealed class ResolvedAddresses
{
    private const int Ways = 4;

    public sealed class Entry(NetAddress address, string name, bool allowed)
    {
        public NetAddress Address { get; } = address;
        public string Name { get; } = name;
        public bool Allowed { get; } = allowed;
    }

    // made at the first lookup to remember: every process starts the library, few look up names
    private Entry?[]? _slots;
    private readonly int _bucketMask;
    private int _clock;

    /// <param name="buckets">A power of two; capacity is four times as many addresses.</param>
    public ResolvedAddresses(int buckets = 1024)
    {
        if (buckets <= 0 || (buckets & (buckets - 1)) != 0) throw new ArgumentException("a power of two", nameof(buckets));
        _bucketMask = buckets - 1;
    }

    public int Capacity => (_bucketMask + 1) * Ways;

    public Entry? Find(NetAddress address)
    {
        var slots = Volatile.Read(ref _slots);
        if (slots == null) return null;
        int start = Bucket(address);
        for (int w = 0; w < Ways; w++)
        {
            var e = Volatile.Read(ref slots[start + w]);
            if (e != null && e.Address == address) return e;
        }
        return null;
    }

    /// <summary>Remembers that <paramref name="name"/> resolved to <paramref name="address"/>. An allowed entry is never downgraded.</summary>
    public void Remember(NetAddress address, string name, bool allowed)
    {
        var slots = Volatile.Read(ref _slots) ?? Slots();
        int start = Bucket(address);
        Entry? fresh = null;
        for (int attempt = 0; attempt < 8; attempt++)
        {
            // the address is already there: keep it, or upgrade it to allowed / the newer name
            for (int w = 0; w < Ways; w++)
            {
                ref var slot = ref slots[start + w];
                var e = Volatile.Read(ref slot);
                if (e == null || e.Address != address) continue;
                if ((e.Allowed && !allowed) || (e.Allowed == allowed && e.Name == name)) return;
                fresh ??= new Entry(address, name, allowed);
                if (Interlocked.CompareExchange(ref slot, fresh, e) == e) return;
                goto retry;
            }
            for (int w = 0; w < Ways; w++)
            {
                ref var slot = ref slots[start + w];
                if (Volatile.Read(ref slot) != null) continue;
                fresh ??= new Entry(address, name, allowed);
                if (Interlocked.CompareExchange(ref slot, fresh, null) == null) return;
                goto retry;
            }
            // full: replace a not-allowed entry if there is one, else one in turn
            fresh ??= new Entry(address, name, allowed);
            int victim = -1;
            for (int w = 0; w < Ways && victim < 0; w++)
                if (Volatile.Read(ref slots[start + w]) is { Allowed: false }) victim = w;
            if (victim < 0)
            {
                if (!allowed) return; // never push out an allowed address for one that is not
                victim = (int)((uint)Interlocked.Increment(ref _clock) % Ways);
            }
            ref var target = ref slots[start + victim];
            var old = Volatile.Read(ref target);
            if (Interlocked.CompareExchange(ref target, fresh, old) == old) return;
        retry:;
        }
    }

    private Entry?[] Slots()
    {
        Interlocked.CompareExchange(ref _slots, new Entry?[Capacity], null);
        return _slots!;
    }

    private int Bucket(NetAddress a)
    {
        ulong h = (a.Hi * 0x9E3779B97F4A7C15UL) ^ (a.Lo * 0xC2B2AE3D27D4EB4FUL);
        h ^= h >> 29;
        return (int)(h & (ulong)_bucketMask) * Ways;
    }
}

/// <summary>
/// A bounded set of keys (a destination address and port, a host name) for reporting each new destination
/// once. Same shape as <see cref="ResolvedAddresses"/>: lock-free, set-associative, compared exactly (no
/// hash stands in for a key, so no crafted collision can hide a destination); when full an old key is
/// forgotten, which at worst reports that destination again.
/// </summary>
public sealed class SeenSet
{
    private const int Ways = 4;

    private sealed class Key(ulong a, ulong b, uint c, string? s)
    {
        public readonly ulong A = a, B = b;
        public readonly uint C = c;
        public readonly string? S = s;

        public bool Is(ulong a, ulong b, uint c, string? s) => A == a && B == b && C == c && string.Equals(S, s, StringComparison.Ordinal);
    }

    private readonly Key?[] _slots;
    private readonly int _bucketMask;
    private int _clock;

    public SeenSet(int buckets = 1024)
    {
        if (buckets <= 0 || (buckets & (buckets - 1)) != 0) throw new ArgumentException("a power of two", nameof(buckets));
        _slots = new Key?[buckets * Ways];
        _bucketMask = buckets - 1;
    }

    /// <summary>Adds a destination; true when it is new (the caller reports it).</summary>
    public bool Add(NetAddress address, ushort port) => Add(address.Hi, address.Lo, port, null);

    /// <summary>Adds a host name (compared as lower case without a trailing dot); true when it is new.</summary>
    public bool Add(string name) =>
        DestinationRule.Normalize(name) is { } n && Add((ulong)n.GetHashCode(), 0, uint.MaxValue, n);

    private bool Add(ulong a, ulong b, uint c, string? s)
    {
        int start = Bucket(a, b, c);
        for (int w = 0; w < Ways; w++)
            if (Volatile.Read(ref _slots[start + w]) is { } k && k.Is(a, b, c, s)) return false;
        var fresh = new Key(a, b, c, s);
        for (int w = 0; w < Ways; w++)
            if (Interlocked.CompareExchange(ref _slots[start + w], fresh, null) == null) return true;
        Volatile.Write(ref _slots[start + (int)((uint)Interlocked.Increment(ref _clock) % Ways)], fresh);
        return true;
    }

    private int Bucket(ulong a, ulong b, uint c)
    {
        ulong h = (a * 0x9E3779B97F4A7C15UL) ^ (b * 0xC2B2AE3D27D4EB4FUL) ^ ((ulong)c * 0x165667B19E3779F9UL);
        h ^= h >> 29;
        return (int)(h & (ulong)_bucketMask) * Ways;
    }
}
