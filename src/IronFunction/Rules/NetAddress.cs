using System.Buffers.Binary;

namespace IronFunction.Rules;

/// <summary>
/// An IPv4 or IPv6 address as 128 bits (network byte order, high half first). IPv4 is held in its
/// IPv4-mapped form (::ffff:a.b.c.d), so an IPv4-mapped IPv6 destination is the same value as the
/// IPv4 one and is judged as IPv4.
/// </summary>
public readonly struct NetAddress : IEquatable<NetAddress>
{
    private const ulong MappedPrefix = 0x0000_FFFF_0000_0000;

    public readonly ulong Hi, Lo;

    public NetAddress(ulong hi, ulong lo)
    {
        Hi = hi;
        Lo = lo;
    }

    /// <summary>An IPv4 address given as its four bytes read big-endian (203.0.113.7 is 0xCB007107).</summary>
    public static NetAddress FromV4(uint address) => new(0, MappedPrefix | address);

    /// <summary>4 bytes (IPv4) or 16 bytes (IPv6, IPv4-mapped ones becoming IPv4), in network order.</summary>
    public static NetAddress FromBytes(ReadOnlySpan<byte> bytes) => bytes.Length switch
    {
        4 => FromV4(BinaryPrimitives.ReadUInt32BigEndian(bytes)),
        16 => new(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..])),
        _ => throw new ArgumentException("an address is 4 or 16 bytes", nameof(bytes)),
    };

    public bool IsV4 => Hi == 0 && (Lo & 0xFFFF_FFFF_0000_0000) == MappedPrefix;

    /// <summary>The IPv4 address (meaningful when <see cref="IsV4"/>).</summary>
    public uint V4 => (uint)Lo;

    /// <summary>127.0.0.0/8 and ::1 (and so ::ffff:127.x.y.z).</summary>
    public bool IsLoopback => IsV4 ? V4 >> 24 == 127 : Hi == 0 && Lo == 1;

    /// <summary>0.0.0.0 and ::, which Linux connects and sends to as the local host.</summary>
    public bool IsUnspecified => IsV4 ? V4 == 0 : Hi == 0 && Lo == 0;

    public void WriteBytes(Span<byte> destination16)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination16, Hi);
        BinaryPrimitives.WriteUInt64BigEndian(destination16[8..], Lo);
    }

    /// <summary>Dotted quad for IPv4, RFC 5952 text for IPv6.</summary>
    public override string ToString()
    {
        if (IsV4) return $"{V4 >> 24}.{(V4 >> 16) & 0xFF}.{(V4 >> 8) & 0xFF}.{V4 & 0xFF}";
        Span<byte> bytes = stackalloc byte[16];
        WriteBytes(bytes);
        return new System.Net.IPAddress(bytes).ToString();
    }

    public bool Equals(NetAddress other) => Hi == other.Hi && Lo == other.Lo;
    public override bool Equals(object? obj) => obj is NetAddress other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(Hi, Lo);
    public static bool operator ==(NetAddress a, NetAddress b) => a.Equals(b);
    public static bool operator !=(NetAddress a, NetAddress b) => !a.Equals(b);
}

/// <summary>What a socket address argument holds, for judging.</summary>
public enum SocketAddressKind : byte
{
    /// <summary>Not an internet address (AF_UNIX, AF_NETLINK, AF_PACKET, …): always allowed.</summary>
    Other,
    /// <summary>Shorter than the kernel accepts for its family: the kernel answers EINVAL, nothing is sent.</summary>
    TooShort,
    /// <summary>An IPv4 or IPv6 destination.</summary>
    Inet,
}

/// <summary>Reads the destination out of raw sockaddr bytes as the kernel will use it.</summary>
public static class SocketDestination
{
    public const int AF_UNSPEC = 0, AF_INET = 2, AF_INET6 = 10;
    public const int SockaddrInSize = 16;
    /// <summary>SIN6_LEN_RFC2133: the kernel takes a sockaddr_in6 without its scope id.</summary>
    public const int SockaddrIn6MinSize = 24;

    /// <summary>The family field (host byte order, first two bytes); -1 when fewer than two bytes.</summary>
    public static int Family(ReadOnlySpan<byte> sockaddr) =>
        sockaddr.Length < 2 ? -1 : BinaryPrimitives.ReadUInt16LittleEndian(sockaddr);

    /// <summary>
    /// Decodes sockaddr bytes (exactly the addrlen the caller passed). <paramref name="unspecIsV4"/>: an
    /// AF_UNSPEC address sent on an IPv4 datagram socket goes to its sin_addr (udp_sendmsg accepts it).
    /// </summary>
    public static SocketAddressKind Decode(ReadOnlySpan<byte> sockaddr, bool unspecIsV4, out NetAddress address, out ushort port)
    {
        address = default;
        port = 0;
        int family = Family(sockaddr);
        if (family < 0) return SocketAddressKind.TooShort;
        if (family == AF_INET || (family == AF_UNSPEC && unspecIsV4))
        {
            if (sockaddr.Length < SockaddrInSize) return SocketAddressKind.TooShort;
            port = BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]);
            address = NetAddress.FromV4(BinaryPrimitives.ReadUInt32BigEndian(sockaddr[4..]));
            return SocketAddressKind.Inet;
        }
        if (family == AF_INET6)
        {
            if (sockaddr.Length < SockaddrIn6MinSize) return SocketAddressKind.TooShort;
            port = BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]);
            address = NetAddress.FromBytes(sockaddr.Slice(8, 16));
            return SocketAddressKind.Inet;
        }
        return SocketAddressKind.Other;
    }

    /// <summary>"ip:port", "[v6]:port", or "host (ip):port" when the name it was resolved from is known.</summary>
    public static string Describe(NetAddress address, ushort port, string? host)
    {
        string ip = address.ToString();
        if (host != null) return $"{host} ({ip}):{port}";
        return address.IsV4 ? $"{ip}:{port}" : $"[{ip}]:{port}";
    }
}
