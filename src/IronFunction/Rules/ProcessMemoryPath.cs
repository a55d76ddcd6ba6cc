namespace IronFunction.Rules;

/// <summary>
/// A process's memory file under /proc: /proc/&lt;pid | self | thread-self&gt;/mem and /proc/&lt;pid&gt;/task/&lt;tid&gt;/mem.
/// Written to, it changes memory whatever its protection (the kernel writes through read-only pages): the library's
/// own state among it. The path is normalised and absolute.
/// </summary>
public static class ProcessMemoryPath
{
    public static bool Matches(ReadOnlySpan<byte> path)
    {
        if (!path.StartsWith("/proc/"u8)) return false;
        var rest = path[6..];
        if (!Process(ref rest, allowSelf: true)) return false;
        if (rest.SequenceEqual("/mem"u8)) return true;
        if (!rest.StartsWith("/task/"u8)) return false;
        rest = rest[5..];
        return Process(ref rest, allowSelf: false) && rest.SequenceEqual("/mem"u8);
    }

    /// <summary>Skips one process component (a number, or self/thread-self) and leaves the rest from its "/".</summary>
    private static bool Process(ref ReadOnlySpan<byte> rest, bool allowSelf)
    {
        if (rest.Length > 0 && rest[0] == (byte)'/') rest = rest[1..];
        int end = rest.IndexOf((byte)'/');
        if (end <= 0) return false;
        var name = rest[..end];
        bool ok = (allowSelf && (name.SequenceEqual("self"u8) || name.SequenceEqual("thread-self"u8))) || IsNumber(name);
        rest = rest[end..];
        return ok;
    }

    private static bool IsNumber(ReadOnlySpan<byte> s)
    {
        foreach (var b in s) if (b < (byte)'0' || b > (byte)'9') return false;
        return s.Length > 0;
    }
}
