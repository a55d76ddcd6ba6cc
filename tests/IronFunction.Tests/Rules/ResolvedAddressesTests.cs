using CsCheck;
using IronFunction.Rules;

namespace IronFunction.Tests.Rules;

public class ResolvedAddressesTests
{
    private static NetAddress V4(uint a) => NetAddress.FromV4(a);

    [Fact]
    public void Remembers_the_name_and_whether_it_is_allowed()
    {
        var table = new ResolvedAddresses();
        Assert.Null(table.Find(V4(1)));
        table.Remember(V4(1), "yahoo.com", true);
        table.Remember(V4(2), "evil.example", false);
        Assert.Equal(("yahoo.com", true), (table.Find(V4(1))!.Name, table.Find(V4(1))!.Allowed));
        Assert.Equal(("evil.example", false), (table.Find(V4(2))!.Name, table.Find(V4(2))!.Allowed));
        Assert.Null(table.Find(V4(3)));
        Assert.Null(table.Find(new NetAddress(0, 1))); // ::1 is not 0.0.0.1
    }

    [Fact]
    public void An_allowed_address_is_never_downgraded_but_a_not_allowed_one_is_upgraded()
    {
        var table = new ResolvedAddresses();
        table.Remember(V4(7), "www.yahoo.com", true);
        table.Remember(V4(7), "evil.example", false);
        Assert.Equal(("www.yahoo.com", true), (table.Find(V4(7))!.Name, table.Find(V4(7))!.Allowed));
        table.Remember(V4(8), "evil.example", false);
        table.Remember(V4(8), "cdn.yahoo.com", true);
        Assert.Equal(("cdn.yahoo.com", true), (table.Find(V4(8))!.Name, table.Find(V4(8))!.Allowed));
        table.Remember(V4(8), "yahoo.com", true); // the newer allowed name
        Assert.Equal("yahoo.com", table.Find(V4(8))!.Name);
    }

    [Fact]
    public void Bounded_and_a_full_bucket_keeps_its_allowed_addresses()
    {
        var table = new ResolvedAddresses(buckets: 1); // one bucket of four
        Assert.Equal(4, table.Capacity);
        for (uint i = 0; i < 4; i++) table.Remember(V4(i), $"h{i}.yahoo.com", true);
        for (uint i = 10; i < 20; i++) table.Remember(V4(i), "evil.example", false);
        for (uint i = 0; i < 4; i++) Assert.True(table.Find(V4(i)) is { Allowed: true }, $"allowed {i} was pushed out by a not-allowed address");
        table.Remember(V4(4), "h4.yahoo.com", true);
        Assert.True(table.Find(V4(4)) is { Allowed: true });
        Assert.Equal(3, Enumerable.Range(0, 4).Count(i => table.Find(V4((uint)i)) != null));
    }

    [Fact]
    public void A_not_allowed_entry_makes_room_first()
    {
        var table = new ResolvedAddresses(buckets: 1);
        table.Remember(V4(1), "a.yahoo.com", true);
        table.Remember(V4(2), "evil.example", false);
        table.Remember(V4(3), "b.yahoo.com", true);
        table.Remember(V4(4), "c.yahoo.com", true);
        table.Remember(V4(5), "d.yahoo.com", true);
        Assert.Null(table.Find(V4(2)));
        foreach (uint i in new uint[] { 1, 3, 4, 5 }) Assert.True(table.Find(V4(i)) is { Allowed: true });
    }

    /// <summary>Concurrent writers and readers: whatever a reader finds is a whole, correct entry; nothing allowed turns not-allowed.</summary>
    [Fact]
    public void Concurrent_use_never_returns_a_wrong_or_torn_entry()
    {
        var table = new ResolvedAddresses(buckets: 16);
        const int Threads = 8, PerThread = 20_000;
        int wrong = 0;
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var rng = new Random(t);
            for (int i = 0; i < PerThread; i++)
            {
                uint a = (uint)rng.Next(0, 200);
                bool allowed = a % 2 == 0;
                table.Remember(V4(a), $"h{a}", allowed);
                var found = table.Find(V4((uint)rng.Next(0, 200)));
                if (found != null && (found.Name != $"h{found.Address.V4}" || found.Allowed != (found.Address.V4 % 2 == 0))) Interlocked.Increment(ref wrong);
            }
        })).ToArray();
        foreach (var th in threads) th.Start();
        foreach (var th in threads) th.Join();
        Assert.Equal(0, wrong);
    }

    [Fact]
    public void Under_capacity_every_address_is_found()
    {
        // 16 addresses in 1024 buckets of four: five landing in one bucket has a chance of about 4e-9 per sample
        Gen.UInt.Array[1, 16].Sample(addresses =>
        {
            var table = new ResolvedAddresses();
            foreach (var a in addresses) table.Remember(V4(a), a.ToString(), true);
            return addresses.All(a => table.Find(V4(a)) is { Allowed: true } e && e.Name == a.ToString());
        }, iter: 2_000);
    }

    [Fact]
    public void Seen_destinations_and_names_are_reported_once()
    {
        var seen = new SeenSet();
        Assert.True(seen.Add(V4(7), 80));
        Assert.False(seen.Add(V4(7), 80));
        Assert.True(seen.Add(V4(7), 81));
        Assert.True(seen.Add(new NetAddress(0x20010db8_00000000, 7), 80));
        Assert.True(seen.Add("evil.example"));
        Assert.False(seen.Add("EVIL.example."));
        Assert.True(seen.Add("evil.example.net"));
    }

    [Fact]
    public void Seen_keys_are_compared_exactly()
    {
        // two destinations differing only where a hash might mix address and port are both new
        Gen.Select(Gen.ULong, Gen.ULong, Gen.UShort, Gen.UShort).Sample((hi, lo, p1, p2) =>
        {
            var seen = new SeenSet(buckets: 1);
            var a = new NetAddress(hi, lo);
            var b = new NetAddress(hi ^ ((ulong)(ushort)(p1 ^ p2) << 48), lo);
            bool first = seen.Add(a, p1), second = seen.Add(b, p2);
            return first && second == (a != b || p1 != p2);
        }, iter: 5_000);
    }
}
