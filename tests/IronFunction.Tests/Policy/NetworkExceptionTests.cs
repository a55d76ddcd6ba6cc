using System.Net;
using IronFunction.Policy;
using Xunit;

namespace IronFunction.Tests.Policy;

public class NetworkExceptionTests
{
    [Theory]
    [InlineData("aws", NetworkExceptionKind.Aws, null)]
    [InlineData("AWS", NetworkExceptionKind.Aws, null)]
    [InlineData("Aws", NetworkExceptionKind.Aws, null)]
    [InlineData("yahoo.com", NetworkExceptionKind.Domain, "yahoo.com")]
    [InlineData("Yahoo.COM.", NetworkExceptionKind.Domain, "yahoo.com")]
    [InlineData("localhost", NetworkExceptionKind.Domain, "localhost")]
    [InlineData("aws.amazon.com", NetworkExceptionKind.Domain, "aws.amazon.com")]
    [InlineData("_dmarc.example.com", NetworkExceptionKind.Domain, "_dmarc.example.com")]
    [InlineData("xn--bcher-kva.example", NetworkExceptionKind.Domain, "xn--bcher-kva.example")]
    [InlineData("a-b.c-d.e", NetworkExceptionKind.Domain, "a-b.c-d.e")]
    [InlineData("1a.example", NetworkExceptionKind.Domain, "1a.example")]
    [InlineData("*.example.com", NetworkExceptionKind.WildcardDomain, "example.com")]
    [InlineData("*.Example.COM.", NetworkExceptionKind.WildcardDomain, "example.com")]
    [InlineData("*.com", NetworkExceptionKind.WildcardDomain, "com")]
    public void Names(string text, NetworkExceptionKind kind, string? domain)
    {
        Assert.True(NetworkException.TryParse(text, out var e, out var error), error);
        Assert.Equal(new NetworkException(kind, text, domain, null, 0), e);
    }

    [Theory]
    [InlineData("37.130.156.31", "37.130.156.31", 32)]
    [InlineData("0.0.0.0", "0.0.0.0", 32)]
    [InlineData("255.255.255.255", "255.255.255.255", 32)]
    [InlineData("::1", "::1", 128)]
    [InlineData("2600:1F18::1", "2600:1f18::1", 128)]
    [InlineData("::ffff:37.130.156.31", "37.130.156.31", 32)]
    [InlineData("::FFFF:250a:1", "37.10.0.1", 32)]
    [InlineData("64:ff9b::1.2.3.4", "64:ff9b::102:304", 128)]
    public void Addresses(string text, string address, int prefix)
    {
        Assert.True(NetworkException.TryParse(text, out var e, out var error), error);
        Assert.Equal(new NetworkException(NetworkExceptionKind.Address, text, null, IPAddress.Parse(address), prefix), e);
    }

    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.0", 8)]
    [InlineData("0.0.0.0/0", "0.0.0.0", 0)]
    [InlineData("37.130.156.31/32", "37.130.156.31", 32)]
    [InlineData("192.168.4.0/22", "192.168.4.0", 22)]
    [InlineData("2600:1f18::/32", "2600:1f18::", 32)]
    [InlineData("::/0", "::", 0)]
    [InlineData("::1/128", "::1", 128)]
    [InlineData("::ffff:10.0.0.0/104", "10.0.0.0", 8)]
    [InlineData("::ffff:0:0/96", "0.0.0.0", 0)]
    public void Cidrs(string text, string network, int prefix)
    {
        Assert.True(NetworkException.TryParse(text, out var e, out var error), error);
        Assert.Equal(new NetworkException(NetworkExceptionKind.Cidr, text, null, IPAddress.Parse(network), prefix), e);
    }

    [Theory]
    [InlineData(null, "empty")]
    [InlineData("", "empty")]
    [InlineData("yah oo.com", "contains whitespace or a control character")]
    [InlineData("yahoo.com\n", "contains whitespace or a control character")]
    [InlineData("\tyahoo.com", "contains whitespace or a control character")]
    [InlineData("http://yahoo.com", "a URL is not allowed; give the host name only")]
    [InlineData("https://yahoo.com/", "a URL is not allowed; give the host name only")]
    [InlineData("yahoo.com:443", "a port is not allowed; give the host name only")]
    [InlineData("1.2.3.4:80", "a port is not allowed; give the host name only")]
    [InlineData("[::1]:443", "not a valid IPv6 address")]
    [InlineData("[::1]", "not a valid IPv6 address")]
    [InlineData("fe80::1%eth0", "not a valid IPv6 address")]
    [InlineData("1:2:3:4:5:6:7:8:9", "not a valid IPv6 address")]
    [InlineData("::g", "not a valid IPv6 address")]
    [InlineData("yahoo.com:", "not a valid IPv6 address")]
    [InlineData("*", "a * is only allowed as the whole first label, as in *.example.com")]
    [InlineData("*.*.com", "a * is only allowed as the whole first label, as in *.example.com")]
    [InlineData("www.*.com", "a * is only allowed as the whole first label, as in *.example.com")]
    [InlineData("*example.com", "a * is only allowed as the whole first label, as in *.example.com")]
    [InlineData("10.0.0.*", "a * is only allowed as the whole first label, as in *.example.com")]
    [InlineData("*.", "empty name")]
    [InlineData("*.10.0.0.1", "a wildcard needs a domain name, not an address")]
    [InlineData("*.123", "a wildcard needs a domain name, not an address")]
    [InlineData(".", "empty name")]
    [InlineData("a..b", "empty label (two dots in a row, or a leading dot)")]
    [InlineData(".example.com", "empty label (two dots in a row, or a leading dot)")]
    [InlineData("example.com..", "empty label (two dots in a row, or a leading dot)")]
    [InlineData("-a.com", "a label starts or ends with a hyphen")]
    [InlineData("a-.com", "a label starts or ends with a hyphen")]
    [InlineData("user@example.com", "character '@' is not allowed in a domain name")]
    [InlineData("exa!mple.com", "character '!' is not allowed in a domain name")]
    [InlineData("bücher.de", "non-ASCII name; use its punycode (xn--) form")]
    [InlineData("1.2.3", "not a valid IPv4 address (expected four numbers 0-255 without leading zeros)")]
    [InlineData("1.2.3.4.5", "not a valid IPv4 address (expected four numbers 0-255 without leading zeros)")]
    [InlineData("256.1.1.1", "not a valid IPv4 address (expected four numbers 0-255 without leading zeros)")]
    [InlineData("010.0.0.1", "not a valid IPv4 address (expected four numbers 0-255 without leading zeros)")]
    [InlineData("1.2.3.", "not a valid IPv4 address (expected four numbers 0-255 without leading zeros)")]
    [InlineData("127", "not a valid IPv4 address (expected four numbers 0-255 without leading zeros)")]
    [InlineData("10.0.0.0/33", "prefix length 33 is larger than 32")]
    [InlineData("::/129", "prefix length 129 is larger than 128")]
    [InlineData("10.1.0.0/8", "host bits are set; did you mean 10.0.0.0/8?")]
    [InlineData("2600:1f18::1/32", "host bits are set; did you mean 2600:1f18::/32?")]
    [InlineData("::ffff:0:0/95", "host bits are set; did you mean ::fffe:0:0/95?")]
    [InlineData("::ffff:10.1.0.0/104", "host bits are set; did you mean 10.0.0.0/8?")]
    [InlineData("10.0.0.0/", "not a valid CIDR block (expected address/prefix, as in 10.0.0.0/8)")]
    [InlineData("/8", "not a valid CIDR block (expected address/prefix, as in 10.0.0.0/8)")]
    [InlineData("10.0.0.0/+8", "not a valid CIDR block (expected address/prefix, as in 10.0.0.0/8)")]
    [InlineData("10.0.0.0/8/8", "not a valid CIDR block (expected address/prefix, as in 10.0.0.0/8)")]
    [InlineData("10.0.0.0/1000", "not a valid CIDR block (expected address/prefix, as in 10.0.0.0/8)")]
    [InlineData("10.0/8", "not a valid CIDR block (expected address/prefix, as in 10.0.0.0/8)")]
    [InlineData("example.com/8", "not a valid CIDR block (expected address/prefix, as in 10.0.0.0/8)")]
    [InlineData("example.com/path", "not a valid CIDR block (expected address/prefix, as in 10.0.0.0/8)")]
    public void Rejected(string? text, string reason)
    {
        Assert.False(NetworkException.TryParse(text, out var e, out var error));
        Assert.Null(e);
        Assert.Equal(reason, error);
    }

    [Fact]
    public void LengthLimits()
    {
        string label63 = new('a', 63);
        Assert.True(NetworkException.TryParse(label63 + ".com", out _, out _));
        Assert.False(NetworkException.TryParse(new string('a', 64) + ".com", out _, out var error));
        Assert.Equal("label longer than 63 characters", error);

        string name253 = string.Join('.', label63, label63, label63, new string('b', 61));
        Assert.Equal(253, name253.Length);
        Assert.True(NetworkException.TryParse(name253, out _, out _));
        Assert.True(NetworkException.TryParse(name253 + ".", out var withDot, out _));
        Assert.Equal(name253, withDot.Domain);
        Assert.False(NetworkException.TryParse(name253 + "b", out _, out error));
        Assert.Equal("name longer than 253 characters", error);
    }

    [Theory]
    [InlineData("10.1.2.3", 8, "10.0.0.0")]
    [InlineData("10.1.2.3", 0, "0.0.0.0")]
    [InlineData("10.1.2.3", 32, "10.1.2.3")]
    [InlineData("10.1.2.3", 23, "10.1.2.0")]
    [InlineData("10.1.255.3", 23, "10.1.254.0")]
    [InlineData("2600:1f18:ffff::1", 33, "2600:1f18:8000::")]
    public void NetworkClearsHostBits(string address, int prefix, string network) =>
        Assert.Equal(IPAddress.Parse(network), NetworkException.Network(IPAddress.Parse(address), prefix));
}
