namespace IronFunction.Rules;

/// <summary>
/// Whether a normalised absolute path is a temporary-files location: /tmp or under it, and the
/// same for any other root (where $TMPDIR or /tmp resolve elsewhere). Only whole components match:
/// /tmpfoo and /var/tmp are not /tmp.
/// </summary>
public sealed class TmpPathRule
{
    private readonly byte[][] _roots;

    public TmpPathRule(IEnumerable<string> roots)
    {
        var list = new List<byte[]>();
        foreach (var root in roots)
        {
            if (string.IsNullOrEmpty(root) || root[0] != '/') continue;
            var buffer = new byte[System.Text.Encoding.UTF8.GetByteCount(root) + 1];
            int n = PathLexer.Normalize(default, System.Text.Encoding.UTF8.GetBytes(root), buffer);
            // "/" as a root would cover every file: never a temporary-files location
            if (n <= 1) continue;
            var normalized = buffer[..n];
            if (!list.Exists(r => r.AsSpan().SequenceEqual(normalized))) list.Add(normalized);
        }
        _roots = list.ToArray();
    }

    public IReadOnlyList<string> Roots => Array.ConvertAll(_roots, r => System.Text.Encoding.UTF8.GetString(r));

    public bool Covers(ReadOnlySpan<byte> normalizedPath)
    {
        foreach (var root in _roots)
        {
            if (normalizedPath.StartsWith(root) &&
                (normalizedPath.Length == root.Length || normalizedPath[root.Length] == (byte)'/'))
                return true;
        }
        return false;
    }
}
