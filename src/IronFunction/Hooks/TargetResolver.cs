using IronFunction.Native;
using IronFunction.Rules;

namespace IronFunction.Hooks;

/// <summary>
/// Finds the file a path argument designates: lexically (cheap, no system call for absolute
/// paths) and, when that cannot settle it, by asking the kernel to resolve the parent directory,
/// which follows symbolic links, "..", dirfd and /proc/self magic links exactly as the call will.
/// </summary>
// every buffer here is written before it is read: zeroing ~16 KiB of them cost each judged call more than its system call
[System.Runtime.CompilerServices.SkipLocalsInit]
internal static unsafe class TargetResolver
{
    public const int PathMax = 4096;
    /// <summary>Room for a base directory and a path, each up to PATH_MAX.</summary>
    public const int BufferSize = 2 * PathMax + 16;

    private const int O_RDONLY = 0, O_DIRECTORY = Native.Arch.O_DIRECTORY, O_CLOEXEC = 0x80000, O_PATH = 0x200000, O_NOFOLLOW = Native.Arch.O_NOFOLLOW;
    private const int MaxSymlinkHops = 40;

    private static volatile CachedCwd? s_cwd;

    /// <summary>The working directory as read, and the glue's walk state then: an nftw with FTW_CHDIR moves it unseen.</summary>
    private sealed class CachedCwd(byte[] path, ulong state)
    {
        public readonly byte[] Path = path;
        public readonly ulong State = state;
    }

    /// <summary>Length of a path argument, or -1 when libc's own answer should be given (NULL, a bad address, longer than PATH_MAX).</summary>
    public static int ArgumentLength(byte* path)
    {
        // below the lowest mappable page or outside user space: the kernel answers EFAULT
        if (Native.Arch.Unreadable(path)) return -1;
        // libc's strnlen never reads past the terminator's page; a vectorised span search could
        nint n = Libc.Strnlen(path, PathMax);
        return n >= PathMax ? -1 : (int)n; // no terminator within PATH_MAX: ENAMETOOLONG from the kernel
    }

    /// <summary>The working directory changed (or may have been renamed): read it again on next use.</summary>
    public static void ForgetWorkingDirectory()
    {
        s_cwd = null;
        s_pinnedCwd = null;
    }

    /// <summary>A working directory's path as last read back through /proc/self/fd, with the directory's identity.</summary>
    private sealed class PinnedDirectory(byte[] path, ulong device, ulong inode)
    {
        public readonly byte[] Path = path;
        public readonly ulong Device = device, Inode = inode;
    }

    private static volatile PinnedDirectory? s_pinnedCwd;

    /// <summary>
    /// Lexical absolute form of a relative path from a working directory held open (<paramref name="pinned"/>): its path
    /// is read back through /proc/self/fd when it is not the directory last read back (a fstat compares device and
    /// inode), so that a thread's own directory, or one changed since, is always the one judged.
    /// </summary>
    public static int LexicalFromWorkingDirectory(int pinned, ReadOnlySpan<byte> path, Span<byte> dest)
    {
        ulong* stat = stackalloc ulong[32];
        if (Libc.Fstat(pinned, stat) != 0) return Lexical(pinned, path, dest);
        var known = s_pinnedCwd;
        if (known != null && known.Device == stat[0] && known.Inode == stat[1]) return PathLexer.Normalize(known.Path, path, dest);
        Span<byte> dir = stackalloc byte[PathMax];
        int n = DescriptorPath(pinned, dir);
        if (n < 0) return -1;
        // a vfork child shares its parent's memory: it leaves the parent's cache as it was
        if (!Lifecycle.ProcessProtection.InVforkChild) s_pinnedCwd = new PinnedDirectory(dir[..n].ToArray(), stat[0], stat[1]);
        return PathLexer.Normalize(dir[..n], path, dest);
    }

    private static bool s_cacheWorkingDirectory = true;

    /// <summary>Some thread has a working directory of its own: the cache, shared by all threads, is off for good.</summary>
    public static void WorkingDirectoryPerThread()
    {
        s_cacheWorkingDirectory = false;
        s_cwd = null;
    }

    /// <summary>
    /// At start: whether the file hooks run in this process. Only they see chdir; without them the working
    /// directory is read again at every use (create_child_process's relative program paths).
    /// </summary>
    public static void CacheWorkingDirectory(bool fileHooksRun)
    {
        s_cacheWorkingDirectory = fileHooksRun;
        if (!fileHooksRun) s_cwd = null;
    }

    /// <summary>Lexical absolute form of (dirfd, path); -1 when the base directory is unknown.</summary>
    public static int Lexical(int dirfd, ReadOnlySpan<byte> path, Span<byte> dest)
    {
        if (path.Length > 0 && path[0] == (byte)'/') return PathLexer.Normalize(default, path, dest);
        if (dirfd == Libc.AT_FDCWD)
        {
            var cached = Glue.WorkingDirectoryPerThread ? null : s_cwd;
            var cwd = cached != null && cached.State == Glue.CwdState() ? cached.Path : ReadWorkingDirectory();
            return cwd == null ? -1 : PathLexer.Normalize(cwd, path, dest);
        }
        Span<byte> dir = stackalloc byte[PathMax];
        int n = DescriptorPath(dirfd, dir);
        return n < 0 ? -1 : PathLexer.Normalize(dir[..n], path, dest);
    }


    /// <summary>How a call treats the last component of its path.</summary>
    public enum PinMode
    {
        /// <summary>Acts on the name itself (creates, removes, renames, or does not follow a final link).</summary>
        NoFollow,
        /// <summary>Follows a final link and needs the object to exist (chmod, truncate…).</summary>
        Follow,
        /// <summary>Follows a final link and may create the object (open with O_CREAT, fopen "w").</summary>
        FollowCreate,
    }

    /// <summary>
    /// Resolves (dirfd, path) to descriptors held open, so that the call can be made on exactly what was judged:
    /// the parent directory (O_PATH, resolved by the kernel) and, when the last component is followed and exists,
    /// the object itself. Links in the last component are followed one at a time from the pinned directory;
    /// under /proc (magic links) the kernel follows them. Returns the length of the target's path in dest
    /// (0 when it has none), or -errno; <paramref name="last"/> gets the last component with its trailing slashes,
    /// NUL-terminated (length 0 when the path names <paramref name="parentFd"/> itself). The caller closes both descriptors.
    /// </summary>
    public static int Pin(int dirfd, ReadOnlySpan<byte> path, PinMode mode, Span<byte> dest, Span<byte> last,
        out int lastLength, out int parentFd, out int objectFd)
    {
        parentFd = objectFd = -1;
        lastLength = 0;
        if (path.Length > PathMax) return -Errno.ENAMETOOLONG;
        Span<byte> current = stackalloc byte[PathMax + 1];
        Span<byte> parent = stackalloc byte[PathMax + 1];
        path.CopyTo(current);
        int currentLength = path.Length;
        int linkDir = -1; // the directory a followed link lives in: its relative target starts there
        for (int hop = 0; hop <= MaxSymlinkHops; hop++)
        {
            var p = current[..currentLength];
            int end = p.Length;
            while (end > 1 && p[end - 1] == (byte)'/') end--;
            int slash = p[..end].LastIndexOf((byte)'/');
            var name = p[(slash + 1)..end];
            bool wholeIsDirectory = end == 0 || (slash == 0 && end == 1) ||
                name.SequenceEqual("."u8) || name.SequenceEqual(".."u8);
            int parentLength;
            if (wholeIsDirectory) { p.CopyTo(parent); parentLength = p.Length; }
            else if (slash < 0) { parent[0] = (byte)'.'; parentLength = 1; }
            else if (slash == 0) { parent[0] = (byte)'/'; parentLength = 1; }
            else { p[..slash].CopyTo(parent); parentLength = slash; }
            if (parentLength == 0) { parent[0] = (byte)'.'; parentLength = 1; }
            parent[parentLength] = 0;

            int pfd;
            fixed (byte* pp = parent)
                pfd = Real.openat(linkDir >= 0 ? linkDir : dirfd, pp, O_PATH | O_DIRECTORY | O_CLOEXEC | O_RDONLY, 0);
            int error = Errno.Value;
            if (linkDir >= 0) { Libc.Close(linkDir); linkDir = -1; }
            if (pfd < 0) return -error;
            int n = DescriptorPath(pfd, dest);
            if (n < 0) n = 0;
            if (wholeIsDirectory) { parentFd = pfd; last[0] = 0; return n; }

            var withSlashes = p[(slash + 1)..];
            withSlashes.CopyTo(last);
            last[withSlashes.Length] = 0;
            lastLength = withSlashes.Length;
            if (mode != PinMode.NoFollow)
            {
                // magic links (/proc/self/fd/N, /proc/self/cwd…) name no path the library could follow: the kernel does
                bool magic = n >= 5 && dest[..n].StartsWith("/proc"u8) && (n == 5 || dest[5] == (byte)'/');
                int ofd;
                fixed (byte* lp = last)
                    ofd = Real.openat(pfd, lp, O_PATH | O_CLOEXEC | (magic ? 0 : O_NOFOLLOW), 0);
                if (ofd < 0)
                {
                    error = Errno.Value;
                    if (mode == PinMode.Follow || error != Errno.ENOENT) { Libc.Close(pfd); return -error; }
                }
                else
                {
                    nint linkLength = -1;
                    byte empty = 0;
                    if (!magic)
                        fixed (byte* cp = current)
                            linkLength = Libc.Readlinkat(ofd, &empty, cp, PathMax);
                    if (linkLength > 0 && linkLength < PathMax)
                    {
                        // a link, read from the pinned link itself: its target is resolved from the link's directory
                        Libc.Close(ofd);
                        currentLength = (int)linkLength;
                        linkDir = pfd;
                        lastLength = 0;
                        continue;
                    }
                    parentFd = pfd;
                    objectFd = ofd;
                    int m = DescriptorPath(ofd, dest);
                    return m < 0 ? 0 : m;
                }
            }
            parentFd = pfd;
            if (n + 1 + name.Length > dest.Length) return n;
            if (n > 1) dest[n++] = (byte)'/';
            name.CopyTo(dest[n..]);
            return n + name.Length;
        }
        if (linkDir >= 0) Libc.Close(linkDir);
        return -Errno.ELOOP;
    }

    /// <summary>The path a descriptor refers to, from /proc/self/fd.</summary>
    public static int DescriptorPath(int fd, Span<byte> dest)
    {
        Span<byte> link = stackalloc byte[32];
        "/proc/self/fd/"u8.CopyTo(link);
        int len = 14;
        fd.TryFormat(link[len..], out int digits, default, System.Globalization.CultureInfo.InvariantCulture);
        len += digits;
        link[len] = 0;
        fixed (byte* l = link)
        fixed (byte* d = dest)
        {
            nint n = Libc.Readlink(l, d, dest.Length);
            // pipes, sockets and anonymous files have no path to judge
            if (n <= 0 || n >= dest.Length || d[0] != (byte)'/') return -1;
            return (int)n;
        }
    }

    private static byte[]? ReadWorkingDirectory()
    {
        ulong state = Glue.CwdState();
        byte* buffer = stackalloc byte[PathMax];
        if (Libc.Getcwd(buffer, PathMax) == null) return null;
        var cwd = new ReadOnlySpan<byte>(buffer, PathMax);
        var copy = cwd[..cwd.IndexOf((byte)0)].ToArray();
        // a vfork child's directory is its own, and this cache is its parent's too
        if (s_cacheWorkingDirectory && !Lifecycle.ProcessProtection.InVforkChild && !Glue.WorkingDirectoryPerThread && state >> 32 == 0)
            s_cwd = new CachedCwd(copy, state);
        return copy;
    }
}
