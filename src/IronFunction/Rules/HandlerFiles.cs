using System.Text;

namespace IronFunction.Rules;

/// <summary>
/// The function's handler files as normalised absolute paths, and whether a path is one of them: what
/// <see cref="HandlerLayout"/> names for the runtime under each task root, plus Python's byte-code caches
/// (<c>__pycache__/app.*.pyc</c>, any interpreter tag or optimisation level). Files found on disk (the jar
/// that holds a Java handler, where links lead) are added by the caller. A path that does not exist is
/// harmless in the set; other files of the task root are never in it.
/// </summary>
public sealed class HandlerFiles
{
    public static readonly HandlerFiles None = new([], []);

    private readonly byte[][] _files;
    // "<dir>/__pycache__/<module>." : a byte-code file is this prefix, then a tag without "/", then ".pyc"
    private readonly byte[][] _pycachePrefixes;
    private readonly int _shortest;

    private HandlerFiles(List<byte[]> files, List<byte[]> pycachePrefixes)
    {
        _files = files.ToArray();
        _pycachePrefixes = pycachePrefixes.ToArray();
        _shortest = int.MaxValue;
        foreach (var f in _files) _shortest = Math.Min(_shortest, f.Length);
        foreach (var p in _pycachePrefixes) _shortest = Math.Min(_shortest, p.Length + 4);
    }

    public bool IsEmpty => _files.Length == 0 && _pycachePrefixes.Length == 0;

    /// <summary>The exact files, as normalised absolute paths.</summary>
    public IReadOnlyList<string> Files => Array.ConvertAll(_files, f => Encoding.UTF8.GetString(f));

    /// <summary>The byte-code cache patterns, written as "&lt;dir&gt;/__pycache__/&lt;module&gt;.*.pyc".</summary>
    public IReadOnlyList<string> PycachePatterns => Array.ConvertAll(_pycachePrefixes, p => Encoding.UTF8.GetString(p) + "*.pyc");

    /// <summary>
    /// The handler files under each of <paramref name="taskRoots"/> (the task root as given and, where it
    /// differs, as it resolves through links). A relative task root is taken from <paramref name="workingDirectory"/>.
    /// Nothing when the handler or every root is missing.
    /// </summary>
    public static HandlerFiles Derive(string? handler, IEnumerable<string?> taskRoots, string workingDirectory = "/",
        HandlerRuntime runtime = HandlerRuntime.Unknown)
    {
        if (string.IsNullOrEmpty(handler) || handler.IndexOf('\0') >= 0) return None;
        var relative = new List<string>();
        var pycache = new List<string>();
        HandlerLayout.Of(runtime, handler, relative, pycache);

        var files = new List<byte[]>();
        var prefixes = new List<byte[]>();
        foreach (var root in taskRoots)
        {
            if (string.IsNullOrEmpty(root) || root.IndexOf('\0') >= 0) continue;
            var rootBytes = Normalize(workingDirectory, root);
            if (rootBytes == null) continue;
            var rootPath = Encoding.UTF8.GetString(rootBytes);
            foreach (var r in relative) AddUnique(files, Normalize(rootPath, r));
            foreach (var p in pycache)
            {
                // the directory is normalised; "<module>." follows it as it is
                var dir = Normalize(rootPath, p[..(p.LastIndexOf('/') + 1)]);
                if (dir != null) AddUnique(prefixes, Concat(dir, "/", p[(p.LastIndexOf('/') + 1)..]));
            }
        }
        return new HandlerFiles(files, prefixes);
    }

    /// <summary>This set plus more exact files (where handler files resolve to through links, say).</summary>
    public HandlerFiles WithFiles(IEnumerable<string> absolutePaths)
    {
        var files = new List<byte[]>(_files);
        foreach (var path in absolutePaths)
            if (!string.IsNullOrEmpty(path) && path[0] == '/' && path.IndexOf('\0') < 0) AddUnique(files, Normalize("/", path));
        return new HandlerFiles(files, new List<byte[]>(_pycachePrefixes));
    }

    /// <summary>This set without the given exact files (candidates that turned out to be directories, say).</summary>
    public HandlerFiles WithoutFiles(IEnumerable<string> absolutePaths)
    {
        var drop = new HashSet<string>(absolutePaths, StringComparer.Ordinal);
        var files = new List<byte[]>();
        foreach (var f in _files) if (!drop.Contains(Encoding.UTF8.GetString(f))) files.Add(f);
        return new HandlerFiles(files, new List<byte[]>(_pycachePrefixes));
    }

    /// <summary>Whether a normalised absolute path is a handler file. Allocation-free; a length check settles most paths.</summary>
    public bool Covers(ReadOnlySpan<byte> path)
    {
        if (path.Length < _shortest) return false;
        foreach (var f in _files)
            if (f.Length == path.Length && path.SequenceEqual(f)) return true;
        foreach (var prefix in _pycachePrefixes)
        {
            if (path.Length < prefix.Length + 4 || !path.StartsWith(prefix) || !path.EndsWith(".pyc"u8)) continue;
            // the tag between "<module>." and ".pyc" ("cpython-311", "cpython-311.opt-1") is one name
            if (path[prefix.Length..].IndexOf((byte)'/') < 0) return true;
        }
        return false;
    }

    private static byte[]? Normalize(string baseDir, string path)
    {
        var b = Encoding.UTF8.GetBytes(baseDir);
        var p = Encoding.UTF8.GetBytes(path);
        var dest = new byte[b.Length + p.Length + 2];
        int n = PathLexer.Normalize(b, p, dest);
        return n < 0 ? null : dest[..n];
    }

    private static byte[] Concat(byte[] dir, string separator, string tail)
    {
        var sep = dir.Length == 1 ? "" : separator; // "/" + "__pycache__/..." is already absolute
        return [.. dir, .. Encoding.UTF8.GetBytes(sep + tail)];
    }

    private static void AddUnique(List<byte[]> list, byte[]? item)
    {
        if (item == null) return;
        foreach (var existing in list)
            if (existing.AsSpan().SequenceEqual(item)) return;
        list.Add(item);
    }
}
