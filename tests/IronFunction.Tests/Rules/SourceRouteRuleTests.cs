using System.Net;
using CsCheck;
using IronFunction.Rules;

namespace IronFunction.Tests.Rules;

public class SourceRouteRuleTests
{
    private static byte[] Route(byte type, string hop) => [type, 7, 4, .. IPAddress.Parse(hop).GetAddressBytes()];

    [Fact]
    public void Finds_loose_and_strict_routes_among_ipv4_options()
    {
        Assert.Equal("loose source route via 203.0.113.7", SourceRoute.InIPv4Options(Route(0x83, "203.0.113.7")));
        Assert.Equal("strict source route via 198.51.100.1", SourceRoute.InIPv4Options([1, 1, .. Route(0x89, "198.51.100.1")]));
        // after a timestamp option (type 0x44, length 8)
        Assert.Equal("loose source route via 203.0.113.7",
            SourceRoute.InIPv4Options([0x44, 8, 5, 0, 0, 0, 0, 0, .. Route(0x83, "203.0.113.7")]));
        Assert.Equal("loose source route", SourceRoute.InIPv4Options([0x83, 3, 4]));
    }

    [Fact]
    public void Options_without_a_route_or_that_the_kernel_refuses_are_not_a_route()
    {
        Assert.Null(SourceRoute.InIPv4Options([]));
        Assert.Null(SourceRoute.InIPv4Options([1, 1, 0x44, 8, 5, 0, 0, 0, 0, 0]));
        Assert.Null(SourceRoute.InIPv4Options([0, .. Route(0x83, "203.0.113.7")]));   // after the end of the list
        Assert.Null(SourceRoute.InIPv4Options([0x44, 1, .. Route(0x83, "203.0.113.7")])); // a length below 2: refused whole
        Assert.Null(SourceRoute.InIPv4Options([0x44, 40, .. Route(0x83, "203.0.113.7")])); // a length past the end: refused whole
        Assert.Null(SourceRoute.InIPv4Options([0x83]));
    }

    [Fact]
    public void Any_ipv6_routing_header_is_a_route()
    {
        byte[] header = [17, 2, 4, 0, 0, 0, 0, 0, .. IPAddress.Parse("2001:db8::7").GetAddressBytes()];
        Assert.Equal("IPv6 routing header via 2001:db8::7", SourceRoute.InIPv6RoutingHeader(header));
        Assert.Equal("IPv6 routing header", SourceRoute.InIPv6RoutingHeader(header[..8]));
        Assert.Null(SourceRoute.InIPv6RoutingHeader([]));
        Assert.Equal("IPv6 routing header via 2001:db8::7", SourceRoute.InSocketOption(41, SourceRoute.IPV6_RTHDR, header));
        Assert.Equal("IPv6 routing header via 2001:db8::7", SourceRoute.InSocketOption(41, SourceRoute.IPV6_2292RTHDR, header));
        Assert.Null(SourceRoute.InSocketOption(41, 26, header)); // IPV6_V6ONLY
        Assert.Null(SourceRoute.InSocketOption(6, SourceRoute.IP_OPTIONS, Route(0x83, "203.0.113.7"))); // SOL_TCP
    }

    private static byte[] Cmsg(int level, int type, byte[] data)
    {
        int length = 16 + data.Length, space = (length + 7) & ~7;
        var m = new byte[space];
        BitConverter.GetBytes((ulong)length).CopyTo(m, 0);
        BitConverter.GetBytes(level).CopyTo(m, 8);
        BitConverter.GetBytes(type).CopyTo(m, 12);
        data.CopyTo(m, 16);
        return m;
    }

    [Fact]
    public void Finds_routes_among_control_messages()
    {
        byte[] rights = Cmsg(1, 1, [3, 0, 0, 0]); // SCM_RIGHTS
        byte[] retopts = Cmsg(0, SourceRoute.IP_RETOPTS, [1, .. Route(0x83, "203.0.113.7")]);
        byte[] rthdr = Cmsg(41, SourceRoute.IPV6_RTHDR, [17, 2, 2, 1, 0, 0, 0, 0, .. IPAddress.Parse("2001:db8::7").GetAddressBytes()]);
        Assert.Null(SourceRoute.InControl(rights));
        Assert.Equal("loose source route via 203.0.113.7", SourceRoute.InControl([.. rights, .. retopts]));
        Assert.Equal("IPv6 routing header via 2001:db8::7", SourceRoute.InControl([.. rights, .. rthdr]));
        Assert.Equal("IPv6 routing header via 2001:db8::7", SourceRoute.InSocketOption(41, SourceRoute.IPV6_2292PKTOPTIONS, rthdr));
        Assert.Null(SourceRoute.InControl(Cmsg(0, 2, [64, 0, 0, 0]))); // IP_TTL
        // a message longer than the buffer ends the walk: the kernel refuses the call
        var broken = (byte[])retopts.Clone();
        BitConverter.GetBytes(4096UL).CopyTo(broken, 0);
        Assert.Null(SourceRoute.InControl(broken));
    }

    [Fact]
    public void Never_throws_on_arbitrary_bytes()
    {
        Gen.Byte.Array[0, 80].Sample(bytes =>
        {
            SourceRoute.InIPv4Options(bytes);
            SourceRoute.InControl(bytes);
            SourceRoute.InIPv6RoutingHeader(bytes);
        }, iter: 20_000);
    }
}
