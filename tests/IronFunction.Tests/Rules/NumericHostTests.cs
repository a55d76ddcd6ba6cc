using System.Runtime.InteropServices;
using System.Text;
using CsCheck;
using IronFunction.Rules;

namespace IronFunction.Tests.Rules;

/// <summary>
/// The numeric-host parsers agree with glibc's own (called here directly: this test process is not preloaded).
/// glibc's public inet_aton ignores trailing text after whitespace, which getaddrinfo's exact form does not;
/// the generated strings contain no whitespace, where the two agree.
/// </summary>
public unsafe partial class NumericHostTests
{
    [LibraryImport("libc", EntryPoint = "inet_aton")]
    private static partial int InetAton(byte* text, uint* address);

    [LibraryImport("libc", EntryPoint = "inet_pton")]
    private static partial int InetPton(int family, byte* text, byte* destination);

    private static (bool Ok, uint Address) Glibc4(string text)
    {
        var z = Encoding.ASCII.GetBytes(text + "\0");
        uint a = 0;
        fixed (byte* p = z) return (InetAton(p, &a) != 0, System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(a));
    }

    private static (bool Ok, byte[] Address) Glibc6(string text)
    {
        var z = Encoding.ASCII.GetBytes(text + "\0");
        var d = new byte[16];
        fixed (byte* p = z) fixed (byte* q = d) return (InetPton(10, p, q) == 1, d);
    }

    private static Gen<string> Over(string alphabet, int max) =>
        Gen.Int[0, alphabet.Length - 1].Array[0, max].Select(ix => new string(ix.Select(i => alphabet[i]).ToArray()));

    [Theory]
    [InlineData("1.2.3.4", 0x01020304u)]
    [InlineData("127.1", 0x7F000001u)]
    [InlineData("10.1.2", 0x0A010002u)]
    [InlineData("3221225985", 0xC0000201u)]
    [InlineData("0x7f.1", 0x7F000001u)]
    [InlineData("0X7F000001", 0x7F000001u)]
    [InlineData("010.0.0.1", 0x08000001u)]
    [InlineData("0", 0u)]
    [InlineData("4294967295", 0xFFFFFFFFu)]
    public void Inet_aton_forms(string text, uint expected)
    {
        Assert.True(NumericHost.TryParseInetAton(Encoding.ASCII.GetBytes(text), out uint a), text);
        Assert.Equal(expected, a);
        Assert.Equal((true, expected), Glibc4(text));
    }

    [Theory]
    [InlineData("1.2.3.4.")]
    [InlineData("1.2.3.4.5")]
    [InlineData("4294967296")]
    [InlineData("256.1.1.1")]
    [InlineData("1.256.1.1")]
    [InlineData("1.2.65536")]
    [InlineData("08")]
    [InlineData("0x")]
    [InlineData("0xg")]
    [InlineData("1..2")]
    [InlineData(".1")]
    [InlineData("1.2.3.4x")]
    [InlineData("x1.2.3.4")]
    [InlineData("")]
    [InlineData("99999999999999999999999")]
    public void Not_inet_aton(string text)
    {
        Assert.False(NumericHost.TryParseInetAton(Encoding.ASCII.GetBytes(text), out _), text);
        Assert.False(Glibc4(text).Ok, text);
    }

    /// <summary>One random edit (replace, insert or delete a character from the alphabet) of a text, or none.</summary>
    private static Gen<string> Mutated(Gen<string> valid, string alphabet) =>
        Gen.Select(valid, Gen.Int[0, 3], Gen.Int[0, 1000], Gen.Int[0, alphabet.Length - 1]).Select((t, kind, at, c) =>
        {
            if (t.Length == 0 || kind == 0) return t;
            int i = at % t.Length;
            return kind switch
            {
                1 => t[..i] + alphabet[c] + t[(i + 1)..],
                2 => t[..i] + alphabet[c] + t[i..],
                _ => t[..i] + t[(i + 1)..],
            };
        });

    /// <summary>inet_aton text: 1 to 4 parts, each decimal, octal or hex, sometimes out of range.</summary>
    private static Gen<string> AtonText =>
        Gen.Select(Gen.UInt, Gen.Int[0, 2]).Select((v, b) => b switch { 0 => v.ToString(), 1 => "0" + Convert.ToString(v, 8), _ => "0x" + v.ToString("x") })
            .Array[1, 4].Select(parts => string.Join('.', parts));

    /// <summary>IPv6 text as .NET writes it (with "::" and embedded IPv4 forms), in random case.</summary>
    private static Gen<string> Inet6Text =>
        Gen.Select(Gen.Byte.Array[16], Gen.Int[0, 16], Gen.Bool).Select((b, zeros, upper) =>
        {
            for (int i = 0; i < zeros; i++) b[(i * 7) % 16] = 0;
            var t = new System.Net.IPAddress(b).ToString();
            return upper ? t.ToUpperInvariant() : t;
        });

    [Fact]
    public void Inet_aton_agrees_with_glibc()
    {
        int valid = 0;
        Gen.OneOf(Over("0123456789.", 20), Over("0123456789abcdefxX.", 16), Over("0x1f.89", 24), Mutated(AtonText, "0123456789.xXaf")).Sample(text =>
        {
            bool ours = NumericHost.TryParseInetAton(Encoding.ASCII.GetBytes(text), out uint a);
            var (ok, address) = Glibc4(text);
            if (ok) Interlocked.Increment(ref valid);
            return ours == ok && (!ok || a == address);
        }, iter: 100_000);
        Assert.True(valid > 10_000, $"only {valid} valid addresses were generated");
    }

    [Fact]
    public void Inet6_agrees_with_glibc()
    {
        int valid = 0;
        Gen.OneOf(Over("0123456789abcdefABCDEF:.", 45), Over("01f:.", 40), Over("0:1.", 30), Mutated(Inet6Text, "0123456789abcdefABCDEF:.g")).Sample(text =>
        {
            var dest = new byte[16];
            bool ours = NumericHost.TryParseInet6(Encoding.ASCII.GetBytes(text), dest);
            var (ok, address) = Glibc6(text);
            if (ok) Interlocked.Increment(ref valid);
            return ours == ok && (!ok || dest.SequenceEqual(address));
        }, iter: 100_000);
        Assert.True(valid > 5_000, $"only {valid} valid addresses were generated");
    }

    [Theory]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("2001:db8::7")]
    [InlineData("::ffff:203.0.113.7")]
    [InlineData("1:2:3:4:5:6:7:8")]
    [InlineData("1:2:3:4:5:6:1.2.3.4")]
    [InlineData("fe80::1")]
    public void Inet6_forms(string text)
    {
        var dest = new byte[16];
        Assert.True(NumericHost.TryParseInet6(Encoding.ASCII.GetBytes(text), dest), text);
        Assert.Equal(System.Net.IPAddress.Parse(text).GetAddressBytes(), dest);
    }

    [Theory]
    [InlineData("1.2.3.4", true)]
    [InlineData("0x7f.1", true)]
    [InlineData("2001:db8::7", true)]
    [InlineData("fe80::1%eth0", true)]     // the scope is parsed, never looked up
    [InlineData("fe80::1%", true)]
    [InlineData("evil.example", false)]
    [InlineData("1.2.3.4.evil.example", false)]
    [InlineData("1.2.3.4.", false)]
    [InlineData("0xdeadbeef.example", false)]
    [InlineData("1.2.3.4%x", false)]        // a scope only follows IPv6
    [InlineData("2001:db8::7.evil", false)]
    public void Getaddrinfo_numeric(string text, bool numeric) =>
        Assert.Equal(numeric, NumericHost.IsNumericForGetaddrinfo(Encoding.ASCII.GetBytes(text)));

    [Theory]
    [InlineData("1.2.3.4", true)]
    [InlineData("999.999", true)]           // all digits and dots: answered "not found" without NSS
    [InlineData("1.2.3.4.", false)]         // a trailing dot makes it a name
    [InlineData("0x7f.1", false)]           // not all digits: glibc asks NSS, so it is judged as a name
    [InlineData("::1", true)]
    [InlineData("2001:db8::7", true)]
    [InlineData("a:b", true)]
    [InlineData("a:b.", false)]
    [InlineData("g:b", false)]
    [InlineData("ab", false)]
    [InlineData("dead:beef.evil", false)]
    [InlineData("", false)]
    public void Gethostbyname_numeric(string text, bool numeric) =>
        Assert.Equal(numeric, NumericHost.IsNumericForGethostbyname(Encoding.ASCII.GetBytes(text)));
}
