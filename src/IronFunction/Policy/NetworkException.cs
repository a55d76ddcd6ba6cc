using System;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace IronFunction.Policy;

public enum NetworkExceptionKind : byte { Aws, Domain, WildcardDomain, Address, Cidr }

/// <summary>
/// One entry of outbound_connectivity.exceptions. <see cref="Domain"/> is lower-case without a trailing
/// dot (and without "*." for a wildcard); <see cref="Address"/> is the address, or the network address of a
/// CIDR block; IPv4-mapped IPv6 is normalised to IPv4. <see cref="Text"/> is the entry as the policy wrote it.
/// </summary>
public sealed record NetworkException(NetworkExceptionKind Kind, string Text, string? Domain, IPAddress? Address, int PrefixLength)
{
    private const string PortNotAllowed = "a port is not allowed; give the host name only";

    /// <summary>
    /// Parses one exception string strictly. On failure <paramref name="error"/> says what is wrong, in a
    /// phrase that fits in "malformed exception "x" (error)".
    /// </summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out NetworkException? exception, [NotNullWhen(false)] out string? error)
    {
        error = Check(text, out exception);
        return error is null;
    }

    private static string? Check(string? text, out NetworkException? result)
    {
        result = null;
        if (string.IsNullOrEmpty(text)) return "empty";
        foreach (char c in text)
            if (char.IsWhiteSpace(c) || char.IsControl(c)) return "contains whitespace or a control character";

        if (text.Equals("aws", StringComparison.OrdinalIgnoreCase))
        {
            result = new(NetworkExceptionKind.Aws, text, null, null, 0);
            return null;
        }
        if (text.Contains("://", StringComparison.Ordinal)) return "a URL is not allowed; give the host name only";

        int slash = text.IndexOf('/');
        if (slash >= 0) return CheckCidr(text, slash, out result);

        if (text.Contains(':'))
        {
            if (TryParseIPv6(text, out var v6)) { result = ForAddress(text, v6); return null; }
            int colon = text.LastIndexOf(':');
            bool hostPort = text.IndexOf(':') == colon && colon + 1 < text.Length && !text.AsSpan(colon + 1).ContainsAnyExcept("0123456789");
            return hostPort ? PortNotAllowed : "not a valid IPv6 address";
        }

        // Only digits and dots is meant as an IPv4 address, never as a name.
        if (IsNumeric(text))
        {
            if (TryParseIPv4(text, out var v4)) { result = ForAddress(text, v4); return null; }
            return "not a valid IPv4 address (expected four numbers 0-255 without leading zeros)";
        }

        bool wildcard = text.StartsWith("*.", StringComparison.Ordinal);
        string name = wildcard ? text[2..] : text;
        if (name.Contains('*')) return "a * is only allowed as the whole first label, as in *.example.com";
        if (wildcard && IsNumeric(name)) return "a wildcard needs a domain name, not an address";

        string? problem = CheckDomain(name, out string domain);
        if (problem is not null) return problem;
        result = new(wildcard ? NetworkExceptionKind.WildcardDomain : NetworkExceptionKind.Domain, text, domain, null, 0);
        return null;
    }

    private static bool IsNumeric(string text) =>
        text.AsSpan().ContainsAnyInRange('0', '9') && !text.AsSpan().ContainsAnyExcept("0123456789.");

    private static NetworkException ForAddress(string text, IPAddress address) =>
        new(NetworkExceptionKind.Address, text, null, address,
            address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);

    private static string? CheckCidr(string text, int slash, out NetworkException? result)
    {
        result = null;
        const string Expected = "not a valid CIDR block (expected address/prefix, as in 10.0.0.0/8)";
        string left = text[..slash];
        var right = text.AsSpan(slash + 1);
        if (right.Length is 0 or > 3 || right.ContainsAnyExcept("0123456789")) return Expected;
        int prefix = int.Parse(right);

        IPAddress? address;
        if (!(left.Contains(':') ? TryParseIPv6(left, out address, keepMapped: true) : TryParseIPv4(left, out address)))
            return Expected;
        int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (prefix > max) return $"prefix length {prefix} is larger than {max}";

        // ::ffff:a.b.c.d/96+ is an IPv4 block; connections are judged as IPv4, so store it as one
        // (a shorter prefix on a mapped address always has host bits set and is rejected below).
        if (address.IsIPv4MappedToIPv6 && prefix >= 96)
        {
            address = address.MapToIPv4();
            prefix -= 96;
        }

        // Host bits set usually mean a typo (10.1.0.0/8 for /16); widening silently would allow more than meant.
        var network = Network(address, prefix);
        if (!network.Equals(address)) return $"host bits are set; did you mean {network}/{prefix}?";

        result = new(NetworkExceptionKind.Cidr, text, null, address, prefix);
        return null;
    }

    /// <summary>The address with every bit past <paramref name="prefix"/> cleared.</summary>
    public static IPAddress Network(IPAddress address, int prefix)
    {
        byte[] bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
        {
            int keep = Math.Clamp(prefix - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPAddress(bytes);
    }

    /// <summary>Dotted quad only: inet_aton's shorthand and octal forms ("10.1", "010.0.0.1") are ambiguous in a policy.</summary>
    private static bool TryParseIPv4(string text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        var bytes = new byte[4];
        int part = 0;
        foreach (var range in text.AsSpan().Split('.'))
        {
            var digits = text.AsSpan(range);
            if (part == 4 || digits.Length is 0 or > 3 || (digits.Length > 1 && digits[0] == '0')) return false;
            if (digits.ContainsAnyExcept("0123456789")) return false;
            int value = int.Parse(digits);
            if (value > 255) return false;
            bytes[part++] = (byte)value;
        }
        if (part != 4) return false;
        address = new IPAddress(bytes);
        return true;
    }

    /// <summary>IPv6 text only (no scope id, brackets or port); IPv4-mapped addresses become IPv4 unless kept.</summary>
    private static bool TryParseIPv6(string text, [NotNullWhen(true)] out IPAddress? address, bool keepMapped = false)
    {
        address = null;
        if (text.AsSpan().ContainsAnyExcept("0123456789abcdefABCDEF:.")) return false;
        if (!IPAddress.TryParse(text, out var parsed) || parsed.AddressFamily != AddressFamily.InterNetworkV6) return false;
        address = parsed.IsIPv4MappedToIPv6 && !keepMapped ? parsed.MapToIPv4() : parsed;
        return true;
    }

    /// <summary>DNS name syntax: labels of letters, digits, '-' and '_', 1-63 each, 253 in all, one trailing dot allowed.</summary>
    private static string? CheckDomain(string name, out string domain)
    {
        domain = "";
        if (name.EndsWith('.')) name = name[..^1];
        if (name.Length == 0) return "empty name";
        if (name.Length > 253) return "name longer than 253 characters";
        foreach (char c in name)
        {
            if (c > 0x7F) return "non-ASCII name; use its punycode (xn--) form";
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.'))
                return $"character '{c}' is not allowed in a domain name";
        }
        foreach (var range in name.AsSpan().Split('.'))
        {
            var label = name.AsSpan(range);
            if (label.Length == 0) return "empty label (two dots in a row, or a leading dot)";
            if (label.Length > 63) return "label longer than 63 characters";
            if (label[0] == '-' || label[^1] == '-') return "a label starts or ends with a hyphen";
        }
        domain = name.ToLowerInvariant();
        return null;
    }
}
