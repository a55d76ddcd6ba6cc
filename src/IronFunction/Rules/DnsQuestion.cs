namespace IronFunction.Rules;

/// <summary>The name a raw DNS query message asks about (res_send takes whole messages).</summary>
public static class DnsQuestion
{
    private const int HeaderSize = 12;

    /// <summary>
    /// Writes the first question's name in dotted form (no trailing dot; "" for the root) and returns its
    /// length, or -1 when the message holds no readable question: fewer than one question, a label past the
    /// end, a compression pointer (never in a query's first name), a label byte a resolver would not send.
    /// </summary>
    public static int ReadName(ReadOnlySpan<byte> message, Span<byte> dotted)
    {
        if (message.Length < HeaderSize + 1) return -1;
        int questions = message[4] << 8 | message[5];
        if (questions == 0) return -1;
        int i = HeaderSize, n = 0;
        while (true)
        {
            if (i >= message.Length) return -1;
            int length = message[i++];
            if (length == 0) return n;
            if (length > 63 || i + length > message.Length) return -1;
            if (n > 0)
            {
                if (n >= dotted.Length) return -1;
                dotted[n++] = (byte)'.';
            }
            if (n + length > dotted.Length) return -1;
            var label = message.Slice(i, length);
            // a dot or NUL inside a label would make the dotted form say something else than the query
            if (label.IndexOfAny((byte)'.', (byte)0) >= 0) return -1;
            label.CopyTo(dotted[n..]);
            n += length;
            i += length;
        }
    }
}
