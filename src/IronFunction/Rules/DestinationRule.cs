using System.Net.Sockets;
using IronFunction.Policy;

namespace IronFunction.Rules;

/// <summary>
/// outbound_connectivity's exceptions as a decision over host names and addresses (SPEC §4).
/// Names match on whole labels, ASCII case-insensitively, one trailing dot ignored: a domain matches
/// itself and its subdomains, "*.domain" its subdomains only, "aws" the AWS service domains and their
/// subdomains. "yahoo.com" never matches "notyahoo.com" nor "yahoo.com.evil.net". Addresses match an IP
/// exactly or a CIDR block, IPv4 only against IPv4 exceptions and IPv6 only against IPv6 ones
/// (IPv4-mapped IPv6 is IPv4). Built once at start; lookups allocate nothing.
/// </summary>
public sealed class DestinationRule
{
    /// <summary>What the "aws" keyword stands for.</summary>
    public static readonly string[] AwsDomains = ["amazonaws.com", "amazonaws.com.cn", "aws", "api.aws"];

    /// <summary>Names of the local host that every resolver answers with loopback; always allowed.</summary>
    public static readonly string[] LocalNames =
        ["localhost", "localhost.localdomain", "localhost6", "localhost6.localdomain6", "ip6-localhost", "ip6-loopback"];

    private readonly byte[][] _domains;   // the name and its subdomains
    private readonly byte[][] _wildcards; // subdomains only
    private readonly byte[][] _hosts;     // the name only
    private readonly Block[] _blocks;

    private readonly struct Block(NetAddress network, ulong maskHi, ulong maskLo, bool v4)
    {
        public readonly ulong NetHi = network.Hi & maskHi, NetLo = network.Lo & maskLo, MaskHi = maskHi, MaskLo = maskLo;
        public readonly bool V4 = v4;
    }

    /// <param name="exceptions">The policy's exceptions.</param>
    /// <param name="hosts">Further names allowed exactly (not their subdomains): the Runtime API and api_endpoint hosts, the host name.</param>
    /// <param name="addresses">Further addresses allowed exactly.</param>
    public DestinationRule(IEnumerable<NetworkException> exceptions, IEnumerable<string>? hosts = null, IEnumerable<NetAddress>? addresses = null)
    {
        var domains = new List<string>();
        var wildcards = new List<string>();
        var exact = new List<string>(LocalNames);
        var blocks = new List<Block>();
        foreach (var e in exceptions)
        {
            switch (e.Kind)
            {
                case NetworkExceptionKind.Aws: domains.AddRange(AwsDomains); break;
                case NetworkExceptionKind.Domain: domains.Add(e.Domain!); break;
                case NetworkExceptionKind.WildcardDomain: wildcards.Add(e.Domain!); break;
                case NetworkExceptionKind.Address:
                case NetworkExceptionKind.Cidr:
                    bool v4 = e.Address!.AddressFamily == AddressFamily.InterNetwork;
                    blocks.Add(MakeBlock(NetAddress.FromBytes(e.Address.GetAddressBytes()), v4 ? e.PrefixLength + 96 : e.PrefixLength, v4));
                    break;
            }
        }
        foreach (var h in hosts ?? []) if (Normalize(h) is { Length: > 0 } name) exact.Add(name);
        foreach (var a in addresses ?? []) blocks.Add(MakeBlock(a, 128, a.IsV4));
        _domains = Encode(domains);
        _wildcards = Encode(wildcards);
        _hosts = Encode(exact);
        _blocks = blocks.ToArray();
    }

    /// <summary>The exceptions, the exact hosts and addresses, readable for the debug log.</summary>
    public string Summary =>
        $"domains=[{string.Join(", ", _domains.Select(Text))}] subdomains-of=[{string.Join(", ", _wildcards.Select(Text))}] " +
        $"hosts=[{string.Join(", ", _hosts.Select(Text))}] address-blocks={_blocks.Length}";

    /// <summary>Whether a lookup of this name may go out. Empty names are not allowed (callers decide about them first).</summary>
    public bool AllowsName(ReadOnlySpan<byte> name)
    {
        if (name.Length > 0 && name[^1] == (byte)'.') name = name[..^1];
        if (name.Length == 0) return false;
        foreach (var host in _hosts)
            if (EqualsFolded(name, host)) return true;
        foreach (var domain in _domains)
            if (EqualsFolded(name, domain) || IsSubdomain(name, domain)) return true;
        foreach (var domain in _wildcards)
            if (IsSubdomain(name, domain)) return true;
        return false;
    }

    /// <summary>Whether an IP or CIDR exception (or an implicit address) covers the address.</summary>
    public bool AllowsAddress(NetAddress address)
    {
        bool v4 = address.IsV4;
        foreach (ref readonly var b in _blocks.AsSpan())
            if (b.V4 == v4 && (address.Hi & b.MaskHi) == b.NetHi && (address.Lo & b.MaskLo) == b.NetLo) return true;
        return false;
    }

    /// <summary>Loopback and the unspecified address (which Linux reaches as loopback): allowed whatever the policy.</summary>
    public static bool IsAlwaysAllowed(NetAddress address) => address.IsLoopback || address.IsUnspecified;

    /// <summary>Lower case without one trailing dot; null when nothing is left.</summary>
    public static string? Normalize(string? name)
    {
        if (string.IsNullOrEmpty(name)) return null;
        if (name[^1] == '.') name = name[..^1];
        return name.Length == 0 ? null : name.ToLowerInvariant();
    }

    /// <summary>The host of AWS_LAMBDA_RUNTIME_API ("host:port", "[v6]:port", or a bare host).</summary>
    public static string? HostOfRuntimeApi(string? value)
    {
        if (string.IsNullOrEmpty(value)) return null;
        if (value[0] == '[')
        {
            int close = value.IndexOf(']');
            return close > 1 ? value[1..close] : null;
        }
        int colon = value.IndexOf(':');
        // one colon separates the port; several make a bare IPv6 address
        string host = colon >= 0 && colon == value.LastIndexOf(':') ? value[..colon] : value;
        return host.Length > 0 ? host : null;
    }

    private static Block MakeBlock(NetAddress network, int prefix, bool v4)
    {
        ulong maskHi = prefix >= 64 ? ulong.MaxValue : prefix <= 0 ? 0 : ulong.MaxValue << (64 - prefix);
        ulong maskLo = prefix <= 64 ? 0 : prefix >= 128 ? ulong.MaxValue : ulong.MaxValue << (128 - prefix);
        return new Block(network, maskHi, maskLo, v4);
    }

    /// <summary>name ends with "." + domain and has at least one character before that dot.</summary>
    private static bool IsSubdomain(ReadOnlySpan<byte> name, byte[] domain) =>
        name.Length > domain.Length + 1 &&
        name[name.Length - domain.Length - 1] == (byte)'.' &&
        EqualsFolded(name[(name.Length - domain.Length)..], domain);

    /// <summary>ASCII case-insensitive equality against an already lower-case <paramref name="lower"/>; other bytes compare exactly.</summary>
    private static bool EqualsFolded(ReadOnlySpan<byte> name, ReadOnlySpan<byte> lower)
    {
        if (name.Length != lower.Length) return false;
        for (int i = 0; i < name.Length; i++)
        {
            byte c = name[i];
            if (c >= 'A' && c <= 'Z') c |= 0x20;
            if (c != lower[i]) return false;
        }
        return true;
    }

    // a plain loop: LINQ's Select on Distinct's iterator is a generic virtual call, resolved at run time by
    // NativeAOT's type loader, which cost every process start a few hundred microseconds
    private static byte[][] Encode(List<string> names)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var encoded = new List<byte[]>(names.Count);
        foreach (var name in names)
        {
            var lower = name.ToLowerInvariant();
            if (seen.Add(lower)) encoded.Add(System.Text.Encoding.UTF8.GetBytes(lower));
        }
        return encoded.ToArray();
    }

    private static string Text(byte[] name) => System.Text.Encoding.UTF8.GetString(name);
}
