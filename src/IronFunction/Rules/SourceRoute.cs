namespace IronFunction.Rules;

/// <summary>
/// Source routes a socket can ask for, which send a packet through a first hop the destination does not
/// name: IPv4 options (setsockopt IP_OPTIONS, an IP_RETOPTS control message) holding a loose (0x83) or
/// strict (0x89) source route, and IPv6 routing headers (IPV6_RTHDR, IPV6_2292RTHDR, as an option or a
/// control message, also inside IPV6_2292PKTOPTIONS). Read as the kernel reads them.
/// </summary>
public static class SourceRoute
{
    public const int SOL_IP = 0, SOL_IPV6 = 41;
    public const int IP_OPTIONS = 4, IP_RETOPTS = 7;
    public const int IPV6_2292PKTOPTIONS = 6, IPV6_2292RTHDR = 5, IPV6_RTHDR = 57;
    private const byte End = 0, Nop = 1, Lsrr = 0x83, Ssrr = 0x89;
    private const int CmsghdrSize = 16; // cmsg_len (size_t), cmsg_level, cmsg_type

    /// <summary>
    /// The source route in IPv4 options, described ("loose source route via 203.0.113.7"), or null. Options
    /// the kernel would refuse (a length past the end, below 2) end the walk: the call fails without them.
    /// </summary>
    public static string? InIPv4Options(ReadOnlySpan<byte> options)
    {
        int i = 0;
        while (i < options.Length)
        {
            byte type = options[i];
            if (type == End) return null; // the kernel ignores what follows the end of the list
            if (type == Nop) { i++; continue; }
            if (options.Length - i < 2) return null;
            int length = options[i + 1];
            if (length < 2 || length > options.Length - i) return null;
            if (type is Lsrr or Ssrr)
            {
                string kind = type == Lsrr ? "loose" : "strict";
                // type, length, pointer, then the hops
                return length >= 7
                    ? $"{kind} source route via {Text(options.Slice(i + 3, 4))}"
                    : $"{kind} source route";
            }
            i += length;
        }
        return null;
    }

    /// <summary>An IPv6 routing header (any non-empty one: the kernel accepts type 2 and segment routing), described, or null.</summary>
    public static string? InIPv6RoutingHeader(ReadOnlySpan<byte> header)
    {
        if (header.Length == 0) return null; // an empty option removes the header
        // next header, length, type, segments left, 4 reserved bytes, then the addresses
        return header.Length >= 24
            ? $"IPv6 routing header via {Text(header.Slice(8, 16))}"
            : "IPv6 routing header";
    }

    /// <summary>A setsockopt that sets a source route, described, or null.</summary>
    public static string? InSocketOption(int level, int name, ReadOnlySpan<byte> value) => (level, name) switch
    {
        (SOL_IP, IP_OPTIONS) => InIPv4Options(value),
        (SOL_IPV6, IPV6_RTHDR or IPV6_2292RTHDR) => InIPv6RoutingHeader(value),
        (SOL_IPV6, IPV6_2292PKTOPTIONS) => InControl(value),
        _ => null,
    };

    /// <summary>Whether a socket option can carry a source route (the options worth copying and reading).</summary>
    public static bool MayRoute(int level, int name) =>
        (level == SOL_IP && name == IP_OPTIONS) || (level == SOL_IPV6 && name is IPV6_RTHDR or IPV6_2292RTHDR or IPV6_2292PKTOPTIONS);

    /// <summary>
    /// The source route among control messages (sendmsg's msg_control), described, or null. Walked as the
    /// kernel walks them: a message whose length is below its header or past the buffer ends the walk (the
    /// kernel refuses the call with EINVAL then).
    /// </summary>
    public static string? InControl(ReadOnlySpan<byte> control)
    {
        int i = 0;
        while (control.Length - i >= CmsghdrSize)
        {
            ulong length = BitConverter.ToUInt64(control.Slice(i, 8));
            if (length < CmsghdrSize || length > (ulong)(control.Length - i)) return null;
            int level = BitConverter.ToInt32(control.Slice(i + 8, 4)), type = BitConverter.ToInt32(control.Slice(i + 12, 4));
            var data = control.Slice(i + CmsghdrSize, (int)length - CmsghdrSize);
            string? route = (level, type) switch
            {
                (SOL_IP, IP_RETOPTS) => InIPv4Options(data[..Math.Min(data.Length, 40)]),
                (SOL_IPV6, IPV6_RTHDR or IPV6_2292RTHDR) => InIPv6RoutingHeader(data),
                _ => null,
            };
            if (route != null) return route;
            long next = i + (((long)length + 7) & ~7L);
            if (next > control.Length) return null;
            i = (int)next;
        }
        return null;
    }

    private static string Text(ReadOnlySpan<byte> address) => new System.Net.IPAddress(address).ToString();
}
