namespace IronFunction.Rules;

/// <summary>
/// Lexical path normalisation: joins a relative path to its base directory and removes empty
/// components, "." and "..", as the kernel would if no component were a symbolic link.
/// </summary>
public static class PathLexer
{
    /// <summary>Writes the normalised absolute path to <paramref name="dest"/>; returns its length, or -1 if it does not fit.</summary>
    /// <param name="baseDir">Absolute directory for a relative <paramref name="path"/>; ignored when the path is absolute.</param>
    public static int Normalize(ReadOnlySpan<byte> baseDir, ReadOnlySpan<byte> path, Span<byte> dest)
    {
        if (dest.Length < 1) return -1;
        dest[0] = (byte)'/';
        int len = 1;
        if (path.Length == 0 || path[0] != (byte)'/')
        {
            len = Append(baseDir, dest, len);
            if (len < 0) return -1;
        }
        return Append(path, dest, len);
    }

    private static int Append(ReadOnlySpan<byte> path, Span<byte> dest, int len)
    {
        int i = 0;
        while (i < path.Length)
        {
            while (i < path.Length && path[i] == (byte)'/') i++;
            int start = i;
            while (i < path.Length && path[i] != (byte)'/') i++;
            var component = path[start..i];
            if (component.Length == 0 || (component.Length == 1 && component[0] == (byte)'.')) continue;
            if (component.Length == 2 && component[0] == (byte)'.' && component[1] == (byte)'.')
            {
                // ".." of "/" is "/"
                if (len > 1)
                {
                    len = dest[..len].LastIndexOf((byte)'/');
                    if (len == 0) len = 1;
                }
                continue;
            }
            int need = (len > 1 ? 1 : 0) + component.Length;
            if (len + need > dest.Length) return -1;
            if (len > 1) dest[len++] = (byte)'/';
            component.CopyTo(dest[len..]);
            len += component.Length;
        }
        return len;
    }
}
