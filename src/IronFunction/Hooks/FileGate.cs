using IronFunction.Events;
using IronFunction.Lifecycle;
using IronFunction.Native;
using IronFunction.Policy;
using IronFunction.Rules;

namespace IronFunction.Hooks;

/// <summary>
/// The read_write_tmp decision shared by every file hook: find the target, ask the rule, and
/// on a violation report it and (in block mode) deny with EACCES.
/// </summary>
// every buffer here is written before it is read: zeroing ~16 KiB of them cost each judged call more than its system call
[System.Runtime.CompilerServices.SkipLocalsInit]
internal static unsafe class FileGate
{
    private const int O_ACCMODE = 3, O_WRONLY = 1, O_CREAT = 0x40, O_EXCL = 0x80, O_NOFOLLOW = Native.Arch.O_NOFOLLOW,
        O_TMPFILE = Native.Arch.O_TMPFILE, O_PATH = 0x200000, O_LARGEFILE = Native.Arch.O_LARGEFILE, O_CLOEXEC = 0x80000;
    private const int AT_SYMLINK_NOFOLLOW = 0x100, AT_EMPTY_PATH = 0x1000;
    // every flag openat2 accepts (include/linux/fcntl.h VALID_OPEN_FLAGS); open() ignores others, openat2 refuses them
    private const int ValidOpenFlags = O_ACCMODE | O_CREAT | O_EXCL | 0x100 /*O_NOCTTY*/ | 0x200 /*O_TRUNC*/ |
        0x400 /*O_APPEND*/ | 0x800 /*O_NONBLOCK*/ | 0x1000 /*O_DSYNC*/ | 0x2000 /*FASYNC*/ | Native.Arch.O_DIRECT |
        O_LARGEFILE | Native.Arch.O_DIRECTORY | O_NOFOLLOW | 0x40000 /*O_NOATIME*/ | O_CLOEXEC | 0x101000 /*O_SYNC*/ |
        O_PATH | O_TMPFILE;
    private const long SYS_openat2 = 437;
    private const ulong RESOLVE_NO_SYMLINKS = 0x04;

    private static bool s_openat2Unavailable;

    public enum OpenOutcome { CallReal, Denied, Completed }

    private struct OpenHow { public ulong Flags, Mode, Resolve; }

    /// <summary>
    /// Judges a path argument; false when the call must be denied (errno is then EACCES, or the error the call
    /// itself would meet on a path that does not resolve). The path is copied into <paramref name="a"/> and resolved
    /// with pinned descriptors; the real call receives a->Path, which names what was judged.
    /// <paramref name="readsContent"/>: the call reads the file or gives it another name, which read_handler judges too.
    /// </summary>
    public static bool Permit(PathArg* a, int dirfd, byte* path, TargetResolver.PinMode mode, string function,
        bool readsContent = false, bool anchor = true)
    {
        a->Init(path);
        var tmp = Startup.ReadWriteTmp;
        bool handler = readsContent && HandlerProtection.Armed;
        if ((tmp == PolicyAction.Allow && !handler) || ReentrancyGuard.Active) return true;
        // NULL, bad, over-long or empty: the call itself gives libc's answer (EFAULT, ENAMETOOLONG, ENOENT)
        int length = Copy(a, path);
        if (length <= 0) return true;
        var arg = new ReadOnlySpan<byte>(a->Path, length);
        Span<byte> target = stackalloc byte[TargetResolver.BufferSize];
        int n = TargetResolver.Lexical(dirfd, arg, target);
        if (n >= 0 && Covered(tmp, handler, target[..n]))
        {
            if (!Judge(tmp, handler, function, target[..n])) return false;
            if (!StillToJudge(ref tmp, ref handler, target[..n])) return true;
        }
        Span<byte> last = stackalloc byte[TargetResolver.PathMax + 1];
        n = TargetResolver.Pin(dirfd, arg, mode, target, last, out int lastLength, out a->ParentFd, out a->ObjectFd);
        // a path that does not resolve reaches nothing: the call gets the error it would meet itself
        if (n < 0) { Errno.Value = -n; return false; }
        if (Covered(tmp, handler, target[..n]) && !Judge(tmp, handler, function, target[..n])) { a->Done(0); return false; }
        if (anchor) Anchor(a, last[..lastLength], mode);
        else a->Done(0);
        return true;
    }

    /// <summary>
    /// Like <see cref="Permit"/>, for a template the real call fills in (mkstemp, mkdtemp): glibc checks the template
    /// before any system call, so a path that does not resolve is left to the call with the copied bytes.
    /// </summary>
    public static bool PermitTemplate(PathArg* a, byte* path, string function)
    {
        if (Permit(a, Libc.AT_FDCWD, path, TargetResolver.PinMode.NoFollow, function)) return true;
        return Errno.Value != Errno.EACCES;
    }

    /// <summary>Judges an "at" call's flags: AT_SYMLINK_NOFOLLOW stops at a final link, AT_EMPTY_PATH names dirfd itself.</summary>
    public static bool PermitAt(PathArg* a, int dirfd, byte* path, int atFlags, string function, bool readsContent = false)
    {
        if ((atFlags & AT_EMPTY_PATH) != 0 && path != null && TargetResolver.ArgumentLength(path) == 0)
        {
            a->Init(path);
            return PermitDescriptor(a, dirfd, function, readsContent);
        }
        var mode = (atFlags & AT_SYMLINK_NOFOLLOW) == 0 ? TargetResolver.PinMode.Follow : TargetResolver.PinMode.NoFollow;
        return Permit(a, dirfd, path, mode, function, readsContent);
    }

    /// <summary>Copies the caller's path into a->Buffer; its length, or -1 when libc's own answer stands (bad pointer, too long).</summary>
    private static int Copy(PathArg* a, byte* path)
    {
        // below the lowest mappable page or outside user space: the kernel answers EFAULT
        if (Native.Arch.Unreadable(path)) return -1;
        int n = (int)Libc.Strnlen(path, TargetResolver.PathMax);
        // no terminator within PATH_MAX: the copy has none either, and the kernel answers ENAMETOOLONG on it
        System.Buffer.MemoryCopy(path, a->Buffer, PathArg.Capacity, n);
        a->Buffer[n] = 0;
        a->Path = a->Buffer;
        a->OriginalLength = a->TailLength = n;
        return n >= TargetResolver.PathMax ? -1 : n;
    }

    /// <summary>Writes the anchored form of the resolved path into a->Buffer: the pinned object, or the pinned parent and the name.</summary>
    private static void Anchor(PathArg* a, ReadOnlySpan<byte> last, TargetResolver.PinMode mode)
    {
        int fd;
        if (a->ObjectFd >= 0) { fd = a->ObjectFd; last = default; }
        // a directory named by "." or "..": the calls that do not follow act on the name and fail on it (EBUSY, EEXIST…)
        else if (last.IsEmpty && mode == TargetResolver.PinMode.NoFollow) return;
        else fd = a->ParentFd;
        int tail = a->OriginalLength;
        if (32 + last.Length >= PathArg.Capacity) return;
        int n = FdPath(fd, new Span<byte>(a->Buffer, PathArg.Capacity));
        if (!last.IsEmpty)
        {
            a->Buffer[n++] = (byte)'/';
            a->LastOffset = n;
            last.CopyTo(new Span<byte>(a->Buffer + n, PathArg.Capacity - n));
            n += last.Length;
        }
        a->Buffer[n] = 0;
        a->TailLength = Math.Min(last.Length, tail);
    }

    /// <summary>"/proc/self/fd/N" into dest; its length.</summary>
    private static int FdPath(int fd, Span<byte> dest)
    {
        "/proc/self/fd/"u8.CopyTo(dest);
        fd.TryFormat(dest[14..], out int digits, default, System.Globalization.CultureInfo.InvariantCulture);
        dest[14 + digits] = 0;
        return 14 + digits;
    }

    /// <summary>
    /// A call that names a file by descriptor (AT_EMPTY_PATH, a NULL path): judged by where the descriptor points. The
    /// descriptor is duplicated first and the call made on the duplicate (<see cref="PathArg.Descriptor"/>), so that a
    /// dup2 onto that number by another thread cannot change the file between the judgement and the call.
    /// <paramref name="readsContent"/> as for <see cref="Permit"/>.
    /// </summary>
    public static bool PermitDescriptor(PathArg* a, int fd, string function, bool readsContent = false)
    {
        var tmp = Startup.ReadWriteTmp;
        bool handler = readsContent && HandlerProtection.Armed;
        if ((tmp == PolicyAction.Allow && !handler) || ReentrancyGuard.Active) return true;
        int pinned = Libc.Fcntl(fd, 1030 /*F_DUPFD_CLOEXEC*/, 0);
        // not a descriptor (EBADF): the call gives that answer itself
        if (pinned < 0) return true;
        a->ObjectFd = pinned;
        fd = pinned;
        Span<byte> target = stackalloc byte[TargetResolver.PathMax];
        int n = TargetResolver.DescriptorPath(fd, target);
        if (n < 0 || !Covered(tmp, handler, target[..n])) return true;
        if (Judge(tmp, handler, function, target[..n])) return true;
        a->Done(0);
        return false;
    }

    /// <summary>Something libc would do with a file that cannot be judged: read_write_tmp decides it as a violation.</summary>
    public static bool PermitUnjudged(string function, string what)
    {
        var tmp = Startup.Policy.ReadWriteTmp;
        if (tmp == PolicyAction.Allow || ReentrancyGuard.Active) return true;
        return Violation(tmp, function, System.Text.Encoding.UTF8.GetBytes(what));
    }

    /// <summary>
    /// freopen(stream) with no path reopens the stream's own file (glibc: /proc/self/fd/N) in the new mode: judged by
    /// that file. The reopen itself goes through glibc with the stream's descriptor, which the judgement does not pin.
    /// </summary>
    public static bool PermitStreamReopen(int fd, string function, bool readsContent)
    {
        PathArg arg;
        PathArg* a = &arg;
        a->Init(null);
        bool permitted = PermitDescriptor(a, fd, function, readsContent);
        a->Done(0);
        return permitted;
    }

    /// <summary>
    /// The open family. The path is copied first. An absolute path whose lexical target no rule covers is opened
    /// with openat2(RESOLVE_NO_SYMLINKS): the same single system call, which succeeds only if no link redirected
    /// it. A relative path is anchored at its directory, opened once (O_PATH) and judged, and opened from that
    /// descriptor. A link on the way is resolved with pinned descriptors and the open made from them (the object
    /// itself through /proc/self/fd, or the name with no link allowed). Either way every rule has judged the
    /// target before anything is opened, and nothing can change it in between.
    /// </summary>
    public static OpenOutcome Open(PathArg* a, int dirfd, byte* path, int flags, uint mode, string function, out int fd,
        bool readsContent = true)
    {
        fd = -1;
        a->Init(path);
        var tmp = Startup.ReadWriteTmp;
        bool handler = readsContent && OpensForReading(flags) && HandlerProtection.Armed;
        if ((tmp == PolicyAction.Allow && !handler) || ReentrancyGuard.Active) return OpenOutcome.CallReal;
        int length = Copy(a, path);
        if (length <= 0) return OpenOutcome.CallReal;
        var arg = new ReadOnlySpan<byte>(a->Path, length);
        int anchor = Libc.AT_FDCWD;
        if (arg[0] != (byte)'/')
        {
            // the directory the kernel would start from, held so that a chdir or dup2 elsewhere cannot move it
            byte* dot = stackalloc byte[2] { (byte)'.', 0 };
            anchor = Real.openat(dirfd, dot, O_PATH | Native.Arch.O_DIRECTORY | O_CLOEXEC, 0);
            if (anchor < 0) return OpenOutcome.Completed;
        }
        try { return OpenFrom(a, anchor, dirfd == Libc.AT_FDCWD, arg, flags, mode, tmp, handler, function, out fd); }
        finally
        {
            if (anchor >= 0) { int e = Errno.Value; Libc.Close(anchor); Errno.Value = e; }
        }
    }

    private static OpenOutcome OpenFrom(PathArg* a, int anchor, bool fromWorkingDirectory, ReadOnlySpan<byte> arg, int flags,
        uint mode, PolicyAction tmp, bool handler, string function, out int fd)
    {
        fd = -1;
        Span<byte> target = stackalloc byte[TargetResolver.BufferSize];
        int n = anchor >= 0 && fromWorkingDirectory
            ? TargetResolver.LexicalFromWorkingDirectory(anchor, arg, target)
            : TargetResolver.Lexical(anchor, arg, target);
        bool reported = false;
        if (n >= 0 && !MemoryWritePermitted(tmp, flags, function, target[..n])) return OpenOutcome.Denied;
        if (n >= 0 && Covered(tmp, handler, target[..n]))
        {
            if (!Judge(tmp, handler, function, target[..n])) return OpenOutcome.Denied;
            if (!StillToJudge(ref tmp, ref handler, target[..n])) { fd = Real.openat(anchor, a->Path, flags, mode); return OpenOutcome.Completed; }
            reported = true;
        }

        if (n >= 0 && !reported && !s_openat2Unavailable && OpenAt2Equivalent(flags))
        {
            int result = OpenAt2(anchor, a->Path, flags, mode);
            if (result >= 0) { fd = result; return OpenOutcome.Completed; }
            int error = Errno.Value;
            if (error == Errno.ENOSYS) s_openat2Unavailable = true;
            else if (error != Errno.ELOOP && error != Errno.EINVAL && error != Errno.EXDEV) return OpenOutcome.Completed;
        }

        bool followLast = (flags & O_NOFOLLOW) == 0 && (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL);
        var pin = followLast ? TargetResolver.PinMode.FollowCreate : TargetResolver.PinMode.NoFollow;
        Span<byte> last = stackalloc byte[TargetResolver.PathMax + 1];
        Span<byte> proc = stackalloc byte[32];
        byte* dot = stackalloc byte[2] { (byte)'.', 0 };
        for (int attempt = 0; attempt < 8; attempt++)
        {
            n = TargetResolver.Pin(anchor, arg, pin, target, last, out int lastLength, out int parent, out int obj);
            if (n < 0) { Errno.Value = -n; return OpenOutcome.Completed; }
            try
            {
                if (Covered(tmp, handler, target[..n]) && !Judge(tmp, handler, function, target[..n])) return OpenOutcome.Denied;
                if (!MemoryWritePermitted(tmp, flags, function, target[..n])) return OpenOutcome.Denied;
                if (obj >= 0)
                {
                    // the object itself, reopened through its descriptor: exactly what was judged
                    FdPath(obj, proc);
                    fixed (byte* pp = proc) fd = Real.openat(Libc.AT_FDCWD, pp, flags, mode);
                    return OpenOutcome.Completed;
                }
                fixed (byte* lp = last)
                    fd = lastLength == 0 ? Real.openat(parent, dot, flags, mode) : OpenName(parent, lp, flags, mode);
                // the name became a link after it was judged: resolve again
                if (fd < 0 && Errno.Value == Errno.ELOOP && followLast && lastLength > 0) continue;
                return OpenOutcome.Completed;
            }
            finally
            {
                int e = Errno.Value;
                Libc.Close(parent);
                if (obj >= 0) Libc.Close(obj);
                Errno.Value = e;
            }
        }
        Errno.Value = Errno.ELOOP;
        return OpenOutcome.Completed;
    }

    /// <summary>openat2 with RESOLVE_NO_SYMLINKS: fails (ELOOP) rather than follow any link.</summary>
    private static int OpenAt2(int dirfd, byte* path, int flags, uint mode)
    {
        var how = new OpenHow
        {
            Flags = (ulong)(uint)(flags | O_LARGEFILE),
            Mode = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE ? mode & 0xFFF : 0,
            Resolve = RESOLVE_NO_SYMLINKS,
        };
        return (int)Libc.Syscall4((nint)SYS_openat2, dirfd, (nint)path, (nint)(&how), sizeof(OpenHow));
    }

    /// <summary>A name in a pinned directory, opened without following it should it be a link.</summary>
    private static int OpenName(int parent, byte* name, int flags, uint mode)
    {
        if (!s_openat2Unavailable && OpenAt2Equivalent(flags))
        {
            int fd = OpenAt2(parent, name, flags, mode);
            if (fd >= 0 || Errno.Value != Errno.ENOSYS) return fd;
            s_openat2Unavailable = true;
        }
        return Real.openat(parent, name, flags | O_NOFOLLOW, mode);
    }

    /// <summary>
    /// fopen/freopen of a name that did not exist when it was judged: glibc's own open would follow a link planted
    /// there in between. The library opens (or creates) it itself from the pinned directory, following no link, and
    /// the stream is opened on that very file through /proc/self/fd, with "x" dropped (the file is there now).
    /// Returns the descriptor to close after the stream call, -1 when the call must fail (errno set), -2 when
    /// nothing needs doing (a->Path stands).
    /// </summary>
    public static int StreamTarget(PathArg* a, ref byte* mode, byte* reopenMode)
    {
        if (a->ObjectFd >= 0 || a->ParentFd < 0 || a->LastOffset == 0) return -2;
        if (Native.Arch.Unreadable(mode)) return -2;
        int flags = mode[0] switch
        {
            (byte)'r' => 0,
            (byte)'w' => O_WRONLY | O_CREAT | 0x200 /*O_TRUNC*/,
            (byte)'a' => O_WRONLY | O_CREAT | 0x400 /*O_APPEND*/,
            _ => -1,
        };
        if (flags < 0) return -2; // glibc's EINVAL
        int m = 0;
        reopenMode[m++] = mode[0];
        int i = 1;
        for (; mode[i] != 0 && i < ModeCopy - 1; i++)
        {
            byte c = mode[i];
            if (c == (byte)',') break;
            if (c == (byte)'+') flags = (flags & ~O_ACCMODE) | 2 /*O_RDWR*/;
            else if (c == (byte)'x') { flags |= O_EXCL; continue; }
            reopenMode[m++] = c;
        }
        for (; mode[i] != 0 && i < ModeCopy - 1; i++) reopenMode[m++] = mode[i];
        reopenMode[m] = 0;
        int fd = OpenName(a->ParentFd, a->Buffer + a->LastOffset, flags | O_CLOEXEC, 0x1B6 /*0666*/);
        if (fd < 0) return -1;
        FdPath(fd, new Span<byte>(a->Buffer, PathArg.Capacity));
        mode = reopenMode;
        return fd;
    }

    /// <summary>Read access: O_RDONLY or O_RDWR (an O_PATH descriptor reads nothing).</summary>
    public static bool OpensForReading(int flags) => (flags & O_PATH) == 0 && (flags & O_ACCMODE) != O_WRONLY;

    /// <summary>Room for an fopen mode: "r+e,ccs=UTF-16LE" and the like.</summary>
    public const int ModeCopy = 64;

    /// <summary>The mode copied into <paramref name="copy"/>, so that what was judged (reading or not) is what fopen gets.</summary>
    public static byte* CopyMode(byte* mode, byte* copy)
    {
        if (Native.Arch.Unreadable(mode)) return mode;
        int n = (int)Libc.Strnlen(mode, ModeCopy);
        // longer than any mode glibc knows: judged as reading (FopenReads reads the first characters only)
        if (n >= ModeCopy) return mode;
        System.Buffer.MemoryCopy(mode, copy, ModeCopy, n);
        copy[n] = 0;
        return copy;
    }

    /// <summary>An fopen mode that reads: "r…" or any "+"; a mode libc cannot read is left to libc (EINVAL), judged as reading.</summary>
    public static bool FopenReads(byte* mode)
    {
        if (Native.Arch.Unreadable(mode)) return true;
        if (mode[0] == (byte)'r') return true;
        // glibc reads the flags up to the first ',' (",ccs=")
        for (int i = 1; i < 16 && mode[i] != 0 && mode[i] != (byte)','; i++)
            if (mode[i] == (byte)'+') return true;
        return false;
    }

    /// <summary>
    /// After a lexical target was judged and let through (alert): the rules that covered it are done (reported once);
    /// a rule left judges where the path really leads (a /tmp link to the handler, a handler-named link into /tmp).
    /// </summary>
    private static bool StillToJudge(ref PolicyAction tmp, ref bool handler, ReadOnlySpan<byte> lexical)
    {
        if (tmp != PolicyAction.Allow && Startup.TmpRule.Covers(lexical)) tmp = PolicyAction.Allow;
        if (handler && HandlerProtection.Files.Covers(lexical)) handler = false;
        return tmp != PolicyAction.Allow || handler;
    }

    /// <summary>
    /// A process's memory file opened for writing (read_write_tmp not allow): it writes through read-only pages, the
    /// library's locked state among them (Native/glue/locked.c). False when denied.
    /// </summary>
    private static bool MemoryWritePermitted(PolicyAction tmp, int flags, string function, ReadOnlySpan<byte> target) =>
        tmp == PolicyAction.Allow || (flags & O_ACCMODE) == 0 || !ProcessMemoryPath.Matches(target) ||
        Violation(Control.ReadWriteTmp, "writing to a process's memory through /proc could switch the library off", tmp, function, target);

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
    /// bind() of an AF_UNIX socket to a path creates a socket file there; abstract names (leading NUL)
    /// and other families touch no file. A bad address is left to the kernel (EFAULT, EINVAL). The address is
    /// copied into <paramref name="copy"/> (room for a sockaddr_un) and anchored there when the anchored name fits.
    /// </summary>
    public static bool PermitSocketPath(PathArg* a, byte* address, uint length, byte* copy, ref byte* use, ref uint useLength, string function)
    {
        const int AF_UNIX = 1, PathOffset = 2, PathCapacity = 108;
        a->Init(null);
        if (Native.Arch.Unreadable(address) || length <= PathOffset) return true;
        if (length > PathOffset + PathCapacity) return true; // EINVAL from the kernel, whatever it holds
        System.Buffer.MemoryCopy(address, copy, PathOffset + PathCapacity, length);
        use = copy;
        if (*(ushort*)copy != AF_UNIX || copy[PathOffset] == 0) return true;
        var name = new ReadOnlySpan<byte>(copy + PathOffset, (int)length - PathOffset);
        int end = name.IndexOf((byte)0);
        if (end >= 0) name = name[..end];
        byte* path = stackalloc byte[PathCapacity + 1];
        name.CopyTo(new Span<byte>(path, PathCapacity));
        path[name.Length] = 0;
        // a path that does not resolve is the kernel's to answer (EBADF for a bad socket comes first)
        if (!Permit(a, Libc.AT_FDCWD, path, TargetResolver.PinMode.NoFollow, function)) return Errno.Value != Errno.EACCES;
        int n = (int)Libc.Strnlen(a->Path, PathArg.Capacity);
        // an anchored name longer than sun_path keeps the copied one (README, Limits)
        if (a->Path == path || n >= PathCapacity) return true;
        System.Buffer.MemoryCopy(a->Path, copy + PathOffset, PathCapacity, n + 1);
        useLength = (uint)(PathOffset + n + 1);
        return true;
    }

    /// <summary>
    /// connect() and the sends reach the socket file an AF_UNIX address names, following a final symbolic link: judged
    /// where it leads. The address is already the network hooks' own copy; a path that does not resolve is the kernel's to answer.
    /// </summary>
    public static bool PermitSocketTarget(byte* address, uint length, string function)
    {
        const int AF_UNIX = 1, PathOffset = 2, PathCapacity = 108;
        if (Native.Arch.Unreadable(address) || length <= PathOffset) return true;
        if (*(ushort*)address != AF_UNIX || address[PathOffset] == 0) return true;
        var name = new ReadOnlySpan<byte>(address + PathOffset, (int)Math.Min(length - PathOffset, (uint)PathCapacity));
        int end = name.IndexOf((byte)0);
        if (end >= 0) name = name[..end];
        byte* path = stackalloc byte[PathCapacity + 1];
        name.CopyTo(new Span<byte>(path, PathCapacity));
        path[name.Length] = 0;
        PathArg arg;
        PathArg* a = &arg;
        bool permitted = Permit(a, Libc.AT_FDCWD, path, TargetResolver.PinMode.Follow, function, anchor: false);
        a->Done(0);
        return permitted || Errno.Value != Errno.EACCES;
    }

    /// <summary>tmpfile() always creates in /tmp (P_tmpdir).</summary>
    public static bool PermitTmpfile(string function)
    {
        var action = Startup.ReadWriteTmp;
        if (action == PolicyAction.Allow || ReentrancyGuard.Active) return true;
        return Violation(action, function, "/tmp"u8);
    }

    /// <summary>Flags openat2 treats exactly as open() does; others take the slower exact path.</summary>
    private static bool OpenAt2Equivalent(int flags)
    {
        if ((flags & ~ValidOpenFlags) != 0) return false;
        // openat2 refuses O_PATH with flags that open() silently ignores
        if ((flags & O_PATH) != 0 && (flags & ~(O_PATH | Native.Arch.O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) != 0) return false;
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
