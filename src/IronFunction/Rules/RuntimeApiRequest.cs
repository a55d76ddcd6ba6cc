using System.Buffers.Binary;
using System.Net;

namespace IronFunction.Rules;

/// <summary>
/// Recognises the Lambda Runtime API request that ends a runtime's initialisation and every invocation:
/// "GET /2018-06-01/runtime/invocation/next" as the first bytes a runtime sends on its connection.
/// </summary>
public static class RuntimeApiRequest
{
    public static ReadOnlySpan<byte> NextInvocation => "GET /2018-06-01/runtime/invocation/next"u8;

    /// <summary>Bytes needed to decide: the request line up to "next" (39) and the character that ends it.</summary>
    public const int DecisiveLength = 40;

    /// <summary>Whether outgoing bytes begin a request for the next invocation (a query string is allowed).</summary>
    public static bool IsNextInvocation(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= DecisiveLength && bytes.StartsWith(NextInvocation) &&
        bytes[NextInvocation.Length] is (byte)' ' or (byte)'?';
}

/// <summary>
/// AWS_LAMBDA_RUNTIME_API ("127.0.0.1:9001", "[::1]:9001", "localhost:9001") and whether a socket's peer
/// address (raw sockaddr bytes from getpeername) is that endpoint. A host name is not resolved: then
/// the port alone decides, on an IPv4 or IPv6 peer.
/// </summary>
public sealed class RuntimeApiEndpoint
{
    private const ushort AF_INET = 2, AF_INET6 = 10;
    private readonly byte[]? _address; // 4 or 16 bytes; null: any address
    private readonly ushort _port;

    private RuntimeApiEndpoint(byte[]? address, ushort port)
    {
        _address = address;
        _port = port;
    }

    public int Port => _port;
    public bool AnyAddress => _address == null;

    /// <summary>The endpoint, or null when the value is not "host:port" with a port 1-65535.</summary>
    public static RuntimeApiEndpoint? Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return null;
        value = value.Trim();
        int colon = value.LastIndexOf(':');
        if (colon <= 0 || !ushort.TryParse(value.AsSpan(colon + 1), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var port) || port == 0) return null;
        var host = value[..colon];
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        else if (host.Contains(':')) return null; // an IPv6 address needs its brackets
        if (host.Length == 0) return null;
        if (IPAddress.TryParse(host, out var ip) && (host.Contains('.') || host.Contains(':')))
        {
            if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
            return new RuntimeApiEndpoint(ip.GetAddressBytes(), port);
        }
        return new RuntimeApiEndpoint(null, port);
    }

    /// <summary>Whether a peer sockaddr (sockaddr_in or sockaddr_in6, IPv4-mapped judged as IPv4) is this endpoint.</summary>
    public bool Matches(ReadOnlySpan<byte> sockaddr)
    {
        if (sockaddr.Length < 2) return false;
        ushort family = BinaryPrimitives.ReadUInt16LittleEndian(sockaddr);
        if (family == AF_INET && sockaddr.Length >= 8)
            return BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]) == _port &&
                   (_address == null || (_address.Length == 4 && sockaddr.Slice(4, 4).SequenceEqual(_address)));
        if (family == AF_INET6 && sockaddr.Length >= 24)
        {
            if (BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]) != _port) return false;
            if (_address == null) return true;
            var address = sockaddr.Slice(8, 16);
            if (_address.Length == 16) return address.SequenceEqual(_address);
            // ::ffff:a.b.c.d
            return address[..10].IndexOfAnyExcept((byte)0) < 0 && address[10] == 0xFF && address[11] == 0xFF &&
                   address[12..].SequenceEqual(_address);
        }
        return false;
    }
}
