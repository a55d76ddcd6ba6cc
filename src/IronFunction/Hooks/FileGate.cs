using IronFunction.Events;
using IronFunction.Lifecycle;
using IronFunction.Native;
using IronFunction.Policy;

namespace IronFunction.Hooks;

/// <summary>
/// The read_write_tmp decision shared by every file hook: find the target, ask the rule, and
/// on a violation report it and (in block mode) deny with EACCES.
/// </summary>
internal static unsafe class FileGate
{
    private const int O_ACCMODE = 3, O_WRONLY = 1, O_CREAT = 0x40, O_EXCL = 0x80, O_NOFOLLOW = 0x20000,
        O_TMPFILE = 0x410000, O_PATH = 0x200000, O_LARGEFILE = 0x8000, O_CLOEXEC = 0x80000;
    private const int AT_SYMLINK_NOFOLLOW = 0x100, AT_EMPTY_PATH = 0x1000;
    // every flag openat2 accepts (include/linux/fcntl.h VALID_OPEN_FLAGS); open() ignores others, openat2 refuses them
    private const int ValidOpenFlags = O_ACCMODE | O_CREAT | O_EXCL | 0x100 /*O_NOCTTY*/ | 0x200 /*O_TRUNC*/ |
        0x400 /*O_APPEND*/ | 0x800 /*O_NONBLOCK*/ | 0x1000 /*O_DSYNC*/ | 0x2000 /*FASYNC*/ | 0x4000 /*O_DIRECT*/ |
        O_LARGEFILE | 0x10000 /*O_DIRECTORY*/ | O_NOFOLLOW | 0x40000 /*O_NOATIME*/ | O_CLOEXEC | 0x101000 /*O_SYNC*/ |
        O_PATH | O_TMPFILE;
    private const long SYS_openat2 = 437;
    private const ulong RESOLVE_NO_SYMLINKS = 0x04;

    private static bool s_openat2Unavailable;

    public enum OpenOutcome { CallReal, Denied, Completed }

    private struct OpenHow { public ulong Flags, Mode, Resolve; }

    /// <summary>
    /// Judges a path argument; false when the call must be denied (errno is then EACCES).
    /// <paramref name="readsContent"/>: the call reads the file or gives it another name, which read_handler judges too.
    /// </summary>
    public static bool Permit(int dirfd, byte* path, bool followLast, string function, bool readsContent = false)
    {
        var tmp = Startup.Policy.ReadWriteTmp;
        bool handler = readsContent && HandlerProtection.Armed;
        if ((tmp == PolicyAction.Allow && !handler) || ReentrancyGuard.Active) return true;
        int length = TargetResolver.ArgumentLength(path);
        // NULL, bad, over-long or empty: the call itself gives libc's answer (EFAULT, ENAMETOOLONG, ENOENT)
        if (length <= 0) return true;
        var arg = new ReadOnlySpan<byte>(path, length);
        Span<byte> target = stackalloc byte[TargetResolver.BufferSize];
        int n = TargetResolver.Lexical(dirfd, arg, target);
        if (n >= 0 && Covered(tmp, handler, target[..n]))
        {
            if (!Judge(tmp, handler, function, target[..n])) return false;
            if (!StillToResolve(tmp, target[..n])) return true;
            handler = false; // reported; read_write_tmp still judges where the path really leads
        }
        n = TargetResolver.Kernel(dirfd, arg, followLast, target);
        if (n < 0 || !Covered(tmp, handler, target[..n])) return true;
        return Judge(tmp, handler, function, target[..n]);
    }

    /// <summary>Judges an "at" call's flags: AT_SYMLINK_NOFOLLOW stops at a final link, AT_EMPTY_PATH names dirfd itself.</summary>
    public static bool PermitAt(int dirfd, byte* path, int atFlags, string function, bool readsContent = false)
    {
        if ((atFlags & AT_EMPTY_PATH) != 0 && path != null && TargetResolver.ArgumentLength(path) == 0)
            return PermitDescriptor(dirfd, function, readsContent);
        return Permit(dirfd, path, (atFlags & AT_SYMLINK_NOFOLLOW) == 0, function, readsContent);
    }

    /// <summary>
    /// A call that names a file by descriptor (AT_EMPTY_PATH, a stream reopened with freopen(NULL, …)): judged by
    /// where the descriptor points. <paramref name="readsContent"/> as for <see cref="Permit"/>.
    /// </summary>
    public static bool PermitDescriptor(int fd, string function, bool readsContent = false)
    {
        var tmp = Startup.Policy.ReadWriteTmp;
        bool handler = readsContent && HandlerProtection.Armed;
        if ((tmp == PolicyAction.Allow && !handler) || ReentrancyGuard.Active) return true;
        Span<byte> target = stackalloc byte[TargetResolver.PathMax];
        int n = TargetResolver.DescriptorPath(fd, target);
        if (n < 0 || !Covered(tmp, handler, target[..n])) return true;
        return Judge(tmp, handler, function, target[..n]);
    }

    /// <summary>
    /// The open family. When the lexical target is covered by no rule, the open itself is done with
    /// openat2(RESOLVE_NO_SYMLINKS): success proves no link redirected it, so the common case costs no
    /// extra system call. A link on the way falls back to kernel resolution. Either way every rule has
    /// judged the target before anything is opened.
    /// </summary>
    public static OpenOutcome Open(int dirfd, byte* path, int flags, uint mode, string function, out int fd)
    {
        fd = -1;
        var tmp = Startup.Policy.ReadWriteTmp;
        bool handler = OpensForReading(flags) && HandlerProtection.Armed;
        if ((tmp == PolicyAction.Allow && !handler) || ReentrancyGuard.Active) return OpenOutcome.CallReal;
        int length = TargetResolver.ArgumentLength(path);
        if (length <= 0) return OpenOutcome.CallReal;
        var arg = new ReadOnlySpan<byte>(path, length);
        Span<byte> target = stackalloc byte[TargetResolver.BufferSize];
        int n = TargetResolver.Lexical(dirfd, arg, target);
        bool reported = false;
        if (n >= 0 && Covered(tmp, handler, target[..n]))
        {
            if (!Judge(tmp, handler, function, target[..n])) return OpenOutcome.Denied;
            if (!StillToResolve(tmp, target[..n])) return OpenOutcome.CallReal;
            handler = false; // reported; read_write_tmp still judges where the path really leads
            reported = true;
        }

        if (n >= 0 && !reported && !s_openat2Unavailable && OpenAt2Equivalent(flags))
        {
            var how = new OpenHow
            {
                Flags = (ulong)(uint)(flags | O_LARGEFILE),
                Mode = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE ? mode & 0xFFF : 0,
                Resolve = RESOLVE_NO_SYMLINKS,
            };
            int result = (int)Libc.Syscall4((nint)SYS_openat2, dirfd, (nint)path, (nint)(&how), sizeof(OpenHow));
            if (result >= 0) { fd = result; return OpenOutcome.Completed; }
            int error = Errno.Value;
            if (error == Errno.ENOSYS) s_openat2Unavailable = true;
            else if (error != Errno.ELOOP && error != Errno.EINVAL && error != Errno.EXDEV) return OpenOutcome.Completed;
        }

        bool followLast = (flags & O_NOFOLLOW) == 0 && (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL);
        n = TargetResolver.Kernel(dirfd, arg, followLast, target);
        if (n < 0 || !Covered(tmp, handler, target[..n])) return OpenOutcome.CallReal;
        return Judge(tmp, handler, function, target[..n]) ? OpenOutcome.CallReal : OpenOutcome.Denied;
    }

    /// <summary>Read access: O_RDONLY or O_RDWR (an O_PATH descriptor reads nothing).</summary>
    public static bool OpensForReading(int flags) => (flags & O_PATH) == 0 && (flags & O_ACCMODE) != O_WRONLY;

    /// <summary>An fopen mode that reads: "r…" or any "+"; a mode libc cannot read is left to libc (EINVAL), judged as reading.</summary>
    public static bool FopenReads(byte* mode)
    {
        if ((nuint)mode < 4096 || (nuint)mode >= 0x0000_8000_0000_0000) return true;
        if (mode[0] == (byte)'r') return true;
        // glibc reads the flags up to the first ',' (",ccs=")
        for (int i = 1; i < 16 && mode[i] != 0 && mode[i] != (byte)','; i++)
            if (mode[i] == (byte)'+') return true;
        return false;
    }

    /// <summary>
    /// After a lexical target was judged and let through: read_write_tmp judges a lexical /tmp path at once,
    /// but a path that was only a handler file (alert) may still lead into /tmp through a link.
    /// </summary>
    private static bool StillToResolve(PolicyAction tmp, ReadOnlySpan<byte> lexical) =>
        tmp != PolicyAction.Allow && !Startup.TmpRule.Covers(lexical);

    /// <summary>Whether any active rule covers the target (read_write_tmp when not allow, read_handler when armed and reading).</summary>
    private static bool Covered(PolicyAction tmp, bool handler, ReadOnlySpan<byte> target) =>
        (tmp != PolicyAction.Allow && Startup.TmpRule.Covers(target)) || (handler && HandlerProtection.Files.Covers(target));

    /// <summary>Reports every rule the target violates; false when one of them blocks.</summary>
    private static bool Judge(PolicyAction tmp, bool handler, string function, ReadOnlySpan<byte> target)
    {
        if (tmp != PolicyAction.Allow && Startup.TmpRule.Covers(target) && !Violation(tmp, function, target)) return false;
        if (handler && HandlerProtection.Files.Covers(target) && !HandlerViolation(HandlerProtection.Action, function, target)) return false;
        return true;
    }

    /// <summary>
    /// bind() of an AF_UNIX socket to a path creates a socket file there, and connect() and the sends reach
    /// the socket file a path names (following a final symbolic link); abstract names (leading NUL) and other
    /// families touch no file. A bad address is left to the kernel (EFAULT, EINVAL).
    /// </summary>
    public static bool PermitSocketPath(byte* address, uint length, string function, bool followLast = false)
    {
        const int AF_UNIX = 1, PathOffset = 2, PathCapacity = 108;
        if ((nuint)address < 4096 || (nuint)address >= 0x0000_8000_0000_0000 || length <= PathOffset) return true;
        if (*(ushort*)address != AF_UNIX || address[PathOffset] == 0) return true;
        int max = (int)Math.Min(length - PathOffset, (uint)PathCapacity);
        var name = new ReadOnlySpan<byte>(address + PathOffset, max);
        int end = name.IndexOf((byte)0);
        if (end >= 0) name = name[..end];
        byte* path = stackalloc byte[PathCapacity + 1];
        name.CopyTo(new Span<byte>(path, PathCapacity));
        path[name.Length] = 0;
        return Permit(Libc.AT_FDCWD, path, followLast, function);
    }

    /// <summary>tmpfile() always creates in /tmp (P_tmpdir).</summary>
    public static bool PermitTmpfile(string function)
    {
        var action = Startup.Policy.ReadWriteTmp;
        if (action == PolicyAction.Allow || ReentrancyGuard.Active) return true;
        return Violation(action, function, "/tmp"u8);
    }

    /// <summary>Flags openat2 treats exactly as open() does; others take the slower exact path.</summary>
    private static bool OpenAt2Equivalent(int flags)
    {
        if ((flags & ~ValidOpenFlags) != 0) return false;
        // openat2 refuses O_PATH with flags that open() silently ignores
        if ((flags & O_PATH) != 0 && (flags & ~(O_PATH | 0x10000 | O_NOFOLLOW | O_CLOEXEC)) != 0) return false;
        return true;
    }

    private static bool HandlerViolation(PolicyAction action, string function, ReadOnlySpan<byte> target) =>
        Violation(Control.ReadHandler, "read_handler does not allow reading the function's handler after initialisation",
            action, function, target);

    private static bool Violation(PolicyAction action, string function, ReadOnlySpan<byte> target) =>
        Violation(Control.ReadWriteTmp, "read_write_tmp does not allow access to temporary files", action, function, target);

    /// <summary>Reports a violation of a file control; in block mode denies with EACCES (false).</summary>
    private static bool Violation(Control control, string blockedBecause, PolicyAction action, string function, ReadOnlySpan<byte> target)
    {
        string path = System.Text.Encoding.UTF8.GetString(target);
        bool block = action == PolicyAction.Block;
        EventHub.Report(control, action, path,
            block ? $"{function} on {path} was blocked: {blockedBecause}"
                  : $"{function} on {path} was allowed and reported: {ControlNames.Of(control)} is in alert mode");
        if (block) Errno.Value = Errno.EACCES;
        return !block;
    }
}
