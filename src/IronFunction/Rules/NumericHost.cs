namespace IronFunction.Rules;

/// <summary>
/// Which host arguments glibc answers itself, without asking NSS (and so without any DNS query).
/// A lookup of such text carries no name out of the process: it is let through and the connect that
/// follows is judged by address. Anything these functions do not recognise is judged as a name, so a
/// mistake here can only deny, never let a name reach a resolver unjudged.
/// </summary>
public static class NumericHost
{
    /// <summary>
    /// getaddrinfo: __inet_aton_exact (every inet_aton form: 1 to 4 parts, decimal, 0-octal, 0x-hex, nothing
    /// after), else inet_pton(AF_INET6) of the text before the first '%' (a scope id follows it).
    /// </summary>
    public static bool IsNumericForGetaddrinfo(ReadOnlySpan<byte> name)
    {
        if (TryParseInetAton(name, out _)) return true;
        int percent = name.IndexOf((byte)'%');
        Span<byte> scratch = stackalloc byte[16];
        return TryParseInet6(percent < 0 ? name : name[..percent], scratch);
    }

    /// <summary>
    /// gethostbyname, gethostbyname2 and their _r forms (__nss_hostname_digits_dots): text of digits and
    /// dots starting with a digit, or of hex digits, ':' and '.' containing a ':' and starting with a hex
    /// digit or ':', and in both cases not ending with '.', is answered (or refused) without NSS.
    /// </summary>
    public static bool IsNumericForGethostbyname(ReadOnlySpan<byte> name)
    {
        if (name.Length == 0 || name[^1] == (byte)'.') return false;
        byte first = name[0];
        if (IsDigit(first) && !name.ContainsAnyExcept("0123456789."u8)) return true;
        bool v6Shape = (IsHex(first) && name.Contains((byte)':')) || first == (byte)':';
        return v6Shape && !name.ContainsAnyExcept("0123456789abcdefABCDEF:."u8);
    }

    /// <summary>glibc's __inet_aton_exact: the whole text is an inet_aton address.</summary>
    public static bool TryParseInetAton(ReadOnlySpan<byte> s, out uint address)
    {
        address = 0;
        ReadOnlySpan<uint> max = [0xFFFFFFFF, 0xFFFFFF, 0xFFFF, 0xFF];
        uint high = 0;
        int parts = 0, i = 0;
        ulong value;
        while (true)
        {
            if (i >= s.Length || !IsDigit(s[i])) return false;
            value = 0;
            // strtoul(base 0): "0x" needs a hex digit after it to be hex; a lone "0" starts octal
            if (s[i] == '0' && i + 2 < s.Length && (s[i + 1] | 0x20) == 'x' && IsHex(s[i + 2]))
            {
                for (i += 2; i < s.Length && IsHex(s[i]); i++)
                    if ((value = value * 16 + (uint)HexValue(s[i])) > 0xFFFFFFFF) return false;
            }
            else if (s[i] == '0')
            {
                for (; i < s.Length && s[i] >= '0' && s[i] <= '7'; i++)
                    if ((value = value * 8 + (uint)(s[i] - '0')) > 0xFFFFFFFF) return false;
            }
            else
            {
                for (; i < s.Length && IsDigit(s[i]); i++)
                    if ((value = value * 10 + (uint)(s[i] - '0')) > 0xFFFFFFFF) return false;
            }
            if (i < s.Length && s[i] == '.')
            {
                if (parts > 2 || value > 0xFF) return false;
                high |= (uint)value << (24 - 8 * parts);
                parts++;
                i++;
                continue;
            }
            break;
        }
        if (i != s.Length || value > max[parts]) return false;
        address = high | (uint)value;
        return true;
    }

    /// <summary>glibc's inet_pton(AF_INET6) over exactly these bytes; <paramref name="destination"/> gets 16 bytes.</summary>
    public static bool TryParseInet6(ReadOnlySpan<byte> s, Span<byte> destination)
    {
        Span<byte> tmp = stackalloc byte[16];
        tmp.Clear();
        int tp = 0, colonp = -1, i = 0;
        if (s.Length == 0) return false;
        // a leading "::" needs special handling
        if (s[0] == ':')
        {
            i++;
            if (i == s.Length || s[i] != ':') return false;
        }
        int curtok = i, xdigits = 0;
        uint val = 0;
        while (i < s.Length)
        {
            byte ch = s[i++];
            int digit = HexValue(ch);
            if (digit >= 0)
            {
                if (xdigits == 4) return false;
                val = (val << 4) | (uint)digit;
                xdigits++;
                continue;
            }
            if (ch == ':')
            {
                curtok = i;
                if (xdigits == 0)
                {
                    if (colonp >= 0) return false;
                    colonp = tp;
                    continue;
                }
                if (i == s.Length) return false;
                if (tp + 2 > 16) return false;
                tmp[tp++] = (byte)(val >> 8);
                tmp[tp++] = (byte)val;
                xdigits = 0;
                val = 0;
                continue;
            }
            if (ch == '.' && tp + 4 <= 16 && TryParseInet4Strict(s[curtok..], tmp.Slice(tp, 4)))
            {
                tp += 4;
                xdigits = 0;
                break;
            }
            return false;
        }
        if (xdigits > 0)
        {
            if (tp + 2 > 16) return false;
            tmp[tp++] = (byte)(val >> 8);
            tmp[tp++] = (byte)val;
        }
        if (colonp >= 0)
        {
            // "::" must stand for at least one group of zeros
            if (tp == 16) return false;
            int n = tp - colonp;
            tmp.Slice(colonp, n).CopyTo(tmp.Slice(16 - n, n));
            tmp.Slice(colonp, 16 - n - colonp).Clear();
            tp = 16;
        }
        if (tp != 16) return false;
        tmp.CopyTo(destination);
        return true;
    }

    /// <summary>glibc's inet_pton4: exactly four decimal parts 0-255, no leading zeros.</summary>
    private static bool TryParseInet4Strict(ReadOnlySpan<byte> s, Span<byte> destination)
    {
        Span<byte> tmp = stackalloc byte[4];
        tmp.Clear();
        int tp = 0, octets = 0;
        bool sawDigit = false;
        foreach (byte ch in s)
        {
            if (IsDigit(ch))
            {
                uint next = tmp[tp] * 10u + (uint)(ch - '0');
                if (sawDigit && tmp[tp] == 0) return false;
                if (next > 255) return false;
                tmp[tp] = (byte)next;
                if (!sawDigit)
                {
                    if (++octets > 4) return false;
                    sawDigit = true;
                }
            }
            else if (ch == '.' && sawDigit)
            {
                if (octets == 4) return false;
                tmp[++tp] = 0;
                sawDigit = false;
            }
            else return false;
        }
        if (octets < 4) return false;
        tmp.CopyTo(destination);
        return true;
    }

    private static bool IsDigit(byte c) => c >= '0' && c <= '9';
    private static bool IsHex(byte c) => HexValue(c) >= 0;

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };
}
