using System.Net;
using System.Text;
using CsCheck;
using IronFunction.Policy;
using IronFunction.Rules;

namespace IronFunction.Tests.Rules;

internal static class Rule
{
    public static NetworkException Parse(string text)
    {
        Assert.True(NetworkException.TryParse(text, out var e, out var error), $"{text}: {error}");
        return e!;
    }

    public static DestinationRule Of(params string[] exceptions) => new(exceptions.Select(Parse));

    public static bool Name(this DestinationRule rule, string name) => rule.AllowsName(Encoding.UTF8.GetBytes(name));

    public static bool Address(this DestinationRule rule, string address) =>
        rule.AllowsAddress(NetAddress.FromBytes(IPAddress.Parse(address).GetAddressBytes()));
}

public class DestinationRuleNameTests
{
    private static readonly DestinationRule Sample =
        Rule.Of("aws", "yahoo.com", "*.wild.example", "37.130.156.31", "198.51.100.0/24", "2001:db8:1::/48");

    [Theory]
    [InlineData("yahoo.com")]
    [InlineData("www.yahoo.com")]
    [InlineData("a.b.c.yahoo.com")]
    [InlineData("YAHOO.COM")]
    [InlineData("Www.Yahoo.Com.")]
    [InlineData("yahoo.com.")]
    [InlineData("amazonaws.com")]
    [InlineData("s3.us-east-1.amazonaws.com")]
    [InlineData("S3.US-EAST-1.AMAZONAWS.COM")]
    [InlineData("amazonaws.com.cn")]
    [InlineData("s3.cn-north-1.amazonaws.com.cn")]
    [InlineData("aws")]
    [InlineData("aws.")]
    [InlineData("console.aws")]
    [InlineData("api.aws")]
    [InlineData("bedrock.us-east-1.api.aws")]
    [InlineData("sub.wild.example")]
    [InlineData("a.b.wild.example")]
    [InlineData("localhost")]
    [InlineData("LocalHost.")]
    [InlineData("ip6-localhost")]
    public void Allowed_names(string name) => Assert.True(Sample.Name(name), name);

    [Theory]
    [InlineData("notyahoo.com")]
    [InlineData("yahoo.com.evil.net")]
    [InlineData("yahoo.comevil.net")]
    [InlineData("evilyahoo.com")]
    [InlineData("yahoo.co")]
    [InlineData("ahoo.com")]
    [InlineData("yahoo.comm")]
    [InlineData("yahoo-com")]
    [InlineData("yahoo")]
    [InlineData("com")]
    [InlineData(".yahoo.com")]      // empty first label
    [InlineData("yahoo.com..")]     // only one trailing dot is ignored
    [InlineData("yahoo.com ")]
    [InlineData(" yahoo.com")]
    [InlineData("yahoo.com\t")]
    [InlineData("evil.example")]
    [InlineData("aws.evil.example")]
    [InlineData("aws.example")]
    [InlineData("awsx")]
    [InlineData("xaws")]
    [InlineData("x-aws")]
    [InlineData("amazonaws.com.evil.example")]
    [InlineData("notamazonaws.com")]
    [InlineData("amazonaws.co")]
    [InlineData("amazonaws.com.cn.evil")]
    [InlineData("api.aws.evil")]
    [InlineData("s3.amazonaws.com.evil.example")]
    [InlineData("wild.example")]        // *.x: subdomains only
    [InlineData("notwild.example")]
    [InlineData("wild.example.evil")]
    [InlineData("evil.localhost")]
    [InlineData("localhost.evil.example")]
    [InlineData("37.130.156.31.evil.example")]
    [InlineData("")]
    [InlineData(".")]
    public void Denied_names(string name) => Assert.False(Sample.Name(name), name);

    [Fact]
    public void Names_beyond_ASCII_compare_exactly()
    {
        // only A-Z fold; a byte that folds to '.'-like or to a letter under a naive |0x20 must not
        var rule = Rule.Of("a-b.example");
        Assert.True(rule.Name("A-B.EXAMPLE"));
        Assert.False(rule.AllowsName("a\x0Db.example"u8));   // '-' is 0x2D: 0x0D|0x20 == 0x2D
        Assert.False(rule.AllowsName([.. "a"u8, 0xAD, .. "b.example"u8]));
        Assert.False(rule.Name("aÀb.example"));
    }

    [Fact]
    public void A_wildcard_and_a_domain_together()
    {
        var rule = Rule.Of("*.example.com", "example.org");
        Assert.False(rule.Name("example.com"));
        Assert.True(rule.Name("a.example.com"));
        Assert.True(rule.Name("example.org"));
        Assert.True(rule.Name("a.example.org"));
    }

    [Fact]
    public void Implicit_hosts_are_exact()
    {
        var rule = new DestinationRule([], ["Events.Example.com.", "runtime-host"]);
        Assert.True(rule.Name("events.example.com"));
        Assert.True(rule.Name("EVENTS.example.COM."));
        Assert.True(rule.Name("runtime-host"));
        Assert.False(rule.Name("x.events.example.com"));
        Assert.False(rule.Name("example.com"));
        Assert.False(rule.Name("runtime-host.evil.example"));
    }

    [Fact]
    public void No_exceptions_allow_only_the_local_names()
    {
        var rule = Rule.Of();
        foreach (var local in DestinationRule.LocalNames) Assert.True(rule.Name(local), local);
        Assert.False(rule.Name("yahoo.com"));
        Assert.False(rule.Name("amazonaws.com"));
    }

    [Theory]
    [InlineData("127.0.0.1:9001", "127.0.0.1")]
    [InlineData("localhost:9001", "localhost")]
    [InlineData("runtime.internal", "runtime.internal")]
    [InlineData("[::1]:9001", "::1")]
    [InlineData("::1", "::1")]
    [InlineData("2001:db8::1", "2001:db8::1")]
    [InlineData("", null)]
    [InlineData(null, null)]
    [InlineData(":9001", null)]
    [InlineData("[]:9001", null)]
    public void Runtime_API_host(string? value, string? host) => Assert.Equal(host, DestinationRule.HostOfRuntimeApi(value));

    // ---- properties ----

    private static readonly string[] Labels = ["yahoo", "notyahoo", "com", "evil", "net", "aws", "amazonaws", "cn", "api", "wild", "example", "www", "s3", "x"];

    private static Gen<string> Label => Gen.Int[0, Labels.Length - 1].Select(i => Labels[i]);

    private static Gen<string> RandomCase(string s) =>
        Gen.Bool.Array[s.Length].Select(upper => new string(s.Select((c, i) => upper[i] ? char.ToUpperInvariant(c) : c).ToArray()));

    private static Gen<string> Domain => Label.Array[1, 3].Select(l => string.Join('.', l));

    /// <summary>A name of pooled labels in random case, sometimes with one trailing dot.</summary>
    private static Gen<string> Name =>
        Label.Array[1, 5].SelectMany(l => RandomCase(string.Join('.', l))).SelectMany(n => Gen.Bool.Select(dot => dot ? n + "." : n));

    private static Gen<string> ExceptionText =>
        Gen.Int[0, 2].SelectMany(kind => kind switch
        {
            0 => Gen.Const("aws"),
            1 => Domain,
            _ => Domain.Select(d => "*." + d),
        });

    /// <summary>The same decision written the obvious way, on lists of labels.</summary>
    private static bool Model(string[] exceptions, string name)
    {
        if (name.EndsWith('.')) name = name[..^1];
        var labels = name.ToLowerInvariant().Split('.');
        bool EndsWith(string domain, bool strict)
        {
            var d = domain.Split('.');
            return labels.Length >= d.Length + (strict ? 1 : 0) && labels[^d.Length..].SequenceEqual(d) && labels.All(l => l.Length > 0);
        }
        foreach (var e in exceptions)
        {
            if (e == "aws") { if (DestinationRule.AwsDomains.Any(d => EndsWith(d, false))) return true; }
            else if (e.StartsWith("*.")) { if (EndsWith(e[2..], true)) return true; }
            else if (EndsWith(e, false)) return true;
        }
        return DestinationRule.LocalNames.Contains(name.ToLowerInvariant());
    }

    [Fact]
    public void Names_match_on_whole_labels_like_the_model()
    {
        Gen.Select(ExceptionText.Array[1, 3], Name).Sample((exceptions, name) =>
            Rule.Of(exceptions).Name(name) == Model(exceptions, name), iter: 20_000);
    }

    [Fact]
    public void Case_and_one_trailing_dot_never_change_the_answer()
    {
        Gen.Select(ExceptionText.Array[1, 3], Name, Gen.Bool.Array[64]).Sample((exceptions, name, upper) =>
        {
            var rule = Rule.Of(exceptions);
            string bare = name.TrimEnd('.');
            string flipped = new(bare.Select((c, i) => upper[i % 64] ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c)).ToArray());
            bool expected = rule.Name(bare);
            return rule.Name(bare + ".") == expected && rule.Name(flipped) == expected && rule.Name(flipped + ".") == expected;
        }, iter: 10_000);
    }

    /// <summary>Over a small alphabet that makes look-alikes likely: allowed exactly when the string model says so.</summary>
    [Fact]
    public void Only_the_domain_itself_or_a_dot_separated_subdomain_matches()
    {
        var alphabet = "yahoYAHO.cmCM-x ".ToCharArray();
        var gen = Gen.Int[0, alphabet.Length - 1].Array[0, 12].Select(ix => new string(ix.Select(i => alphabet[i]).ToArray()));
        var rule = Rule.Of("yahoo.com");
        Gen.Select(gen, gen).Sample((before, after) =>
        {
            string name = before + "yahoo.com" + after;
            string n = name.EndsWith('.') ? name[..^1] : name;
            n = new string(n.Select(c => c is >= 'A' and <= 'Z' ? (char)(c | 0x20) : c).ToArray());
            bool model = n == "yahoo.com" || (n.EndsWith(".yahoo.com") && n.Length > ".yahoo.com".Length);
            return rule.Name(name) == model;
        }, iter: 20_000);
    }
}

public class DestinationRuleAddressTests
{
    private static readonly DestinationRule Sample =
        Rule.Of("37.130.156.31", "198.51.100.0/24", "10.0.0.0/8", "2001:db8:1::/48", "2600:1f18::1", "::ffff:192.0.2.0/120");

    [Theory]
    [InlineData("37.130.156.31")]
    [InlineData("::ffff:37.130.156.31")]
    [InlineData("198.51.100.0")]
    [InlineData("198.51.100.255")]
    [InlineData("10.255.0.1")]
    [InlineData("2001:db8:1::5")]
    [InlineData("2001:db8:1:ffff:ffff:ffff:ffff:ffff")]
    [InlineData("2600:1f18::1")]
    [InlineData("192.0.2.200")]          // from the IPv4-mapped CIDR, judged as IPv4
    [InlineData("::ffff:192.0.2.1")]
    public void Allowed_addresses(string address) => Assert.True(Sample.Address(address), address);

    [Theory]
    [InlineData("37.130.156.30")]
    [InlineData("37.130.156.32")]
    [InlineData("198.51.101.0")]
    [InlineData("198.51.99.255")]
    [InlineData("11.0.0.1")]
    [InlineData("2001:db8:2::5")]
    [InlineData("2001:db8::1")]
    [InlineData("2600:1f18::2")]
    [InlineData("::37.130.156.31")]      // IPv4-compatible is IPv6, not IPv4
    [InlineData("64:ff9b::2582:9c1f")]   // NAT64 of 37.130.156.31 is IPv6 too
    [InlineData("192.0.3.1")]
    public void Denied_addresses(string address) => Assert.False(Sample.Address(address), address);

    [Fact]
    public void Families_never_cross()
    {
        var v6all = Rule.Of("::/0");
        Assert.True(v6all.Address("2001:db8::1"));
        Assert.True(v6all.Address("::"));
        Assert.False(v6all.Address("203.0.113.7"));
        Assert.False(v6all.Address("::ffff:203.0.113.7"));
        var v4all = Rule.Of("0.0.0.0/0");
        Assert.True(v4all.Address("203.0.113.7"));
        Assert.True(v4all.Address("::ffff:203.0.113.7"));
        Assert.False(v4all.Address("2001:db8::1"));
        Assert.False(v4all.Address("::cb00:7107"));
    }

    [Fact]
    public void Implicit_addresses_are_exact()
    {
        var rule = new DestinationRule([], null, [NetAddress.FromV4(0xA9FE4F81), NetAddress.FromBytes(IPAddress.Parse("2001:db8::9").GetAddressBytes())]);
        Assert.True(rule.Address("169.254.79.129"));
        Assert.False(rule.Address("169.254.79.128"));
        Assert.True(rule.Address("2001:db8::9"));
        Assert.False(rule.Address("2001:db8::8"));
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.255.255.254", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("0.0.0.0", true)]
    [InlineData("::", true)]
    [InlineData("::ffff:0.0.0.0", true)]
    [InlineData("128.0.0.1", false)]
    [InlineData("126.255.255.255", false)]
    [InlineData("::2", false)]
    [InlineData("::127.0.0.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("fe80::1", false)]
    public void Always_allowed_addresses(string address, bool expected) =>
        Assert.Equal(expected, DestinationRule.IsAlwaysAllowed(NetAddress.FromBytes(IPAddress.Parse(address).GetAddressBytes())));

    [Fact]
    public void IPv4_blocks_match_exactly_their_range()
    {
        Gen.Select(Gen.UInt, Gen.UInt, Gen.Int[0, 32]).Sample((address, network, prefix) =>
        {
            uint mask = prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
            network &= mask;
            var text = $"{new IPAddress(BitConverter.GetBytes(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(network)))}/{prefix}";
            var rule = Rule.Of(text);
            bool model = (address & mask) == network;
            return rule.AllowsAddress(NetAddress.FromV4(address)) == model
                && rule.AllowsAddress(NetAddress.FromV4(network))              // its own network address
                && !rule.AllowsAddress(new NetAddress(0x2001_0db8_0000_0000, 0xFFFF_0000_0000UL | address)); // never an IPv6 address
        }, iter: 20_000);
    }

    [Fact]
    public void IPv6_blocks_match_exactly_their_range()
    {
        Gen.Select(Gen.ULong, Gen.ULong, Gen.ULong, Gen.ULong, Gen.Int[0, 128]).Sample((ah, al, nh, nl, prefix) =>
        {
            UInt128 address = new(ah, al), network = new(nh, nl);
            UInt128 mask = prefix == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - prefix);
            network &= mask;
            // the mapped range is IPv4: the parser stores such blocks as IPv4, so keep the generated network out of it
            var netAddress = new NetAddress((ulong)(network >> 64), (ulong)network);
            if (netAddress.IsV4 || (prefix <= 96 && (network >> 32) == 0xFFFF)) return true;
            var bytes = new byte[16];
            netAddress.WriteBytes(bytes);
            var rule = Rule.Of($"{new IPAddress(bytes)}/{prefix}");
            var candidate = new NetAddress((ulong)(address >> 64), (ulong)address);
            bool model = (address & mask) == network && !candidate.IsV4;
            return rule.AllowsAddress(candidate) == model;
        }, iter: 20_000);
    }
}

public class SocketDestinationTests
{
    private static byte[] In(string ip, ushort port, ushort family = 2, int length = 16)
    {
        var b = new byte[length];
        BitConverter.GetBytes(family).CopyTo(b, 0);
        b[2] = (byte)(port >> 8); b[3] = (byte)port;
        IPAddress.Parse(ip).GetAddressBytes().CopyTo(b, 4);
        return b;
    }

    private static byte[] In6(string ip, ushort port, int length = 28)
    {
        var b = new byte[length];
        BitConverter.GetBytes((ushort)10).CopyTo(b, 0);
        b[2] = (byte)(port >> 8); b[3] = (byte)port;
        IPAddress.Parse(ip).GetAddressBytes().AsSpan(0, Math.Min(16, length - 8)).CopyTo(b.AsSpan(8));
        return b;
    }

    [Fact]
    public void IPv4()
    {
        Assert.Equal(SocketAddressKind.Inet, SocketDestination.Decode(In("203.0.113.7", 8080), false, out var a, out var port));
        Assert.Equal("203.0.113.7", a.ToString());
        Assert.Equal(8080, port);
        Assert.True(a.IsV4);
        Assert.Equal("203.0.113.7:8080", SocketDestination.Describe(a, port, null));
        Assert.Equal("evil.example (203.0.113.7):8080", SocketDestination.Describe(a, port, "evil.example"));
    }

    [Fact]
    public void IPv6_and_mapped()
    {
        Assert.Equal(SocketAddressKind.Inet, SocketDestination.Decode(In6("2001:db8::7", 443), false, out var a, out var port));
        Assert.Equal("2001:db8::7", a.ToString());
        Assert.False(a.IsV4);
        Assert.Equal("[2001:db8::7]:443", SocketDestination.Describe(a, port, null));
        Assert.Equal("evil6.example (2001:db8::7):443", SocketDestination.Describe(a, port, "evil6.example"));
        Assert.Equal(SocketAddressKind.Inet, SocketDestination.Decode(In6("::ffff:203.0.113.7", 80), false, out var m, out _));
        Assert.True(m.IsV4);
        Assert.Equal(NetAddress.FromV4(0xCB007107), m);
        Assert.Equal("203.0.113.7:80", SocketDestination.Describe(m, 80, null));
        // the kernel takes a sockaddr_in6 without its scope id (SIN6_LEN_RFC2133)
        Assert.Equal(SocketAddressKind.Inet, SocketDestination.Decode(In6("2001:db8::7", 443, 24), false, out _, out _));
    }

    [Fact]
    public void Short_addresses_are_left_to_the_kernel()
    {
        Assert.Equal(SocketAddressKind.TooShort, SocketDestination.Decode(In("203.0.113.7", 80)[..15], false, out _, out _));
        Assert.Equal(SocketAddressKind.TooShort, SocketDestination.Decode(In6("2001:db8::7", 80, 23), false, out _, out _));
        Assert.Equal(SocketAddressKind.TooShort, SocketDestination.Decode([2], false, out _, out _));
        Assert.Equal(SocketAddressKind.TooShort, SocketDestination.Decode([], false, out _, out _));
    }

    [Fact]
    public void Other_families_and_AF_UNSPEC()
    {
        Assert.Equal(SocketAddressKind.Other, SocketDestination.Decode(In("203.0.113.7", 80, family: 1, length: 110), false, out _, out _)); // AF_UNIX
        Assert.Equal(SocketAddressKind.Other, SocketDestination.Decode(In("203.0.113.7", 80, family: 16), false, out _, out _));             // AF_NETLINK
        Assert.Equal(SocketAddressKind.Other, SocketDestination.Decode(In("203.0.113.7", 80, family: 0), false, out _, out _));
        // udp_sendmsg on an IPv4 socket sends an AF_UNSPEC address to its sin_addr
        Assert.Equal(SocketAddressKind.Inet, SocketDestination.Decode(In("203.0.113.7", 80, family: 0), true, out var a, out _));
        Assert.Equal("203.0.113.7", a.ToString());
    }

    [Fact]
    public void Round_trip()
    {
        Gen.Select(Gen.Byte.Array[16], Gen.UShort, Gen.Bool).Sample((raw, port, v4) =>
        {
            var ip = new IPAddress(v4 ? raw[..4] : raw);
            var sa = v4 ? In(ip.ToString(), port) : In6(ip.ToString(), port);
            if (SocketDestination.Decode(sa, false, out var a, out var p) != SocketAddressKind.Inet || p != port) return false;
            var expected = ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;
            return a.ToString() == expected.ToString() && a.IsV4 == (expected.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
        }, iter: 5_000);
    }
}
