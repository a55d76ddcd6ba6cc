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
        int i = HeaderSize;
        return ReadLabels(message, ref i, dotted);
    }

    private const int MostQuestions = 16, OptType = 41;

    /// <summary>
    /// The names of a message that is a plain query and nothing else, in dotted form; null otherwise. Plain: a
    /// query (QR 0, opcode QUERY, no AA, TC, RA, Z or RCODE bits), no answer or authority records, its
    /// questions (read as <see cref="ReadName"/> reads the first one), at most one additional record which is an
    /// empty EDNS(0) OPT (what res_nmkquery with RES_USE_EDNS0 adds), and no byte after that. res_send sends its
    /// buffer as it is: anything else in it (records, option data, trailing bytes) would leave unjudged.
    /// </summary>
    public static string[]? QueryNames(ReadOnlySpan<byte> message)
    {
        if (message.Length < HeaderSize) return null;
        if ((message[2] & 0xFE) != 0 || (message[3] & 0xCF) != 0) return null; // only RD, AD and CD may be set
        int questions = message[4] << 8 | message[5];
        int answers = message[6] << 8 | message[7], authority = message[8] << 8 | message[9], additional = message[10] << 8 | message[11];
        if (questions == 0 || questions > MostQuestions || answers != 0 || authority != 0 || additional > 1) return null;
        var names = new string[questions];
        Span<byte> dotted = stackalloc byte[1024];
        int i = HeaderSize;
        for (int q = 0; q < questions; q++)
        {
            int n = ReadLabels(message, ref i, dotted);
            if (n < 0 || message.Length - i < 4) return null; // QTYPE, QCLASS
            i += 4;
            names[q] = System.Text.Encoding.UTF8.GetString(dotted[..n]);
        }
        if (additional == 1)
        {
            // root owner name, TYPE OPT, CLASS (payload size), TTL (extended flags), RDLENGTH 0
            if (message.Length - i != 11 || message[i] != 0 || (message[i + 1] << 8 | message[i + 2]) != OptType ||
                message[i + 9] != 0 || message[i + 10] != 0)
                return null;
            i += 11;
        }
        return i == message.Length ? names : null;
    }

    /// <summary>One uncompressed name from <paramref name="i"/>, dotted into <paramref name="dotted"/>; its length or -1.</summary>
    private static int ReadLabels(ReadOnlySpan<byte> message, ref int i, Span<byte> dotted)
    {
        int n = 0;
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
            if (label.IndexOfAny((byte)'.', (byte)0) >= 0) return -1;
            label.CopyTo(dotted[n..]);
            n += length;
            i += length;
        }
    }
}
