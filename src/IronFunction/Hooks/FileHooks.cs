using System.Runtime.InteropServices;
using IronFunction.Native;
using static IronFunction.Hooks.FileGate;
using Pin = IronFunction.Hooks.TargetResolver.PinMode;

namespace IronFunction.Hooks;

/// <summary>
/// Exported interceptors for every libc entry point that opens, creates, reads, writes, lists,
/// removes, renames, links, truncates or changes the metadata of a file (read_write_tmp, and read_handler
/// for the calls that read a file or give it another name).
/// Each is thin: judge the path argument(s), then call the real function or deny. The real function receives the
/// path as the library copied and anchored it (<see cref="PathArg"/>), never the caller's buffer read a second time.
/// Their names are listed in Hooks/files.symbols; a test keeps both in step.
/// </summary>
// every buffer here is written before it is read: zeroing ~16 KiB of them cost each judged call more than its system call
[System.Runtime.CompilerServices.SkipLocalsInit]
internal static unsafe partial class FileHooks
{
    private const int AT = Libc.AT_FDCWD;
    private const int O_WRONLY = 1, O_CREAT = 0x40, O_TRUNC = 0x200, O_TMPFILE_BIT = Native.Arch.O_TMPFILE_BIT;
    private const int CLONE_FS = 0x200, CLONE_NEWNS = 0x20000;
    private const int O_NONBLOCK = 0x800, O_DIRECTORY = Native.Arch.O_DIRECTORY, O_CLOEXEC = 0x80000;
    private const Pin F = Pin.Follow, N = Pin.NoFollow, C = Pin.FollowCreate;
    private const int AT_SYMLINK_FOLLOW = 0x400;

    // ---- open family ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_open")]
    private static int Open(byte* path, int flags, uint mode)
    {
        PathArg a;
        return JudgeOpen(&a, AT, path, flags, mode, "open", out int fd) switch
        {
            OpenOutcome.CallReal => Real.open(a.Path, flags, mode),
            OpenOutcome.Denied => -1,
            _ => fd,
        };
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_open64")]
    private static int Open64(byte* path, int flags, uint mode)
    {
        PathArg a;
        return JudgeOpen(&a, AT, path, flags, mode, "open64", out int fd) switch
        {
            OpenOutcome.CallReal => Real.open64(a.Path, flags, mode),
            OpenOutcome.Denied => -1,
            _ => fd,
        };
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_openat")]
    private static int Openat(int dirfd, byte* path, int flags, uint mode)
    {
        PathArg a;
        return JudgeOpen(&a, dirfd, path, flags, mode, "openat", out int fd) switch
        {
            OpenOutcome.CallReal => Real.openat(dirfd, a.Path, flags, mode),
            OpenOutcome.Denied => -1,
            _ => fd,
        };
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_openat64")]
    private static int Openat64(int dirfd, byte* path, int flags, uint mode)
    {
        PathArg a;
        return JudgeOpen(&a, dirfd, path, flags, mode, "openat64", out int fd) switch
        {
            OpenOutcome.CallReal => Real.openat64(dirfd, a.Path, flags, mode),
            OpenOutcome.Denied => -1,
            _ => fd,
        };
    }

    // The _FORTIFY_SOURCE forms: glibc aborts them when O_CREAT/O_TMPFILE come without a mode, so those go straight through.
    [UnmanagedCallersOnly(EntryPoint = "iron_hook___open_2")]
    private static int Open2(byte* path, int flags)
    {
        if ((flags & (O_CREAT | O_TMPFILE_BIT)) != 0) return Real.__open_2(path, flags);
        PathArg a;
        return JudgeOpen(&a, AT, path, flags, 0, "__open_2", out int fd) switch
        {
            OpenOutcome.CallReal => Real.__open_2(a.Path, flags),
            OpenOutcome.Denied => -1,
            _ => fd,
        };
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___open64_2")]
    private static int Open64_2(byte* path, int flags)
    {
        if ((flags & (O_CREAT | O_TMPFILE_BIT)) != 0) return Real.__open64_2(path, flags);
        PathArg a;
        return JudgeOpen(&a, AT, path, flags, 0, "__open64_2", out int fd) switch
        {
            OpenOutcome.CallReal => Real.__open64_2(a.Path, flags),
            OpenOutcome.Denied => -1,
            _ => fd,
        };
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___openat_2")]
    private static int Openat2(int dirfd, byte* path, int flags)
    {
        if ((flags & (O_CREAT | O_TMPFILE_BIT)) != 0) return Real.__openat_2(dirfd, path, flags);
        PathArg a;
        return JudgeOpen(&a, dirfd, path, flags, 0, "__openat_2", out int fd) switch
        {
            OpenOutcome.CallReal => Real.__openat_2(dirfd, a.Path, flags),
            OpenOutcome.Denied => -1,
            _ => fd,
        };
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___openat64_2")]
    private static int Openat64_2(int dirfd, byte* path, int flags)
    {
        if ((flags & (O_CREAT | O_TMPFILE_BIT)) != 0) return Real.__openat64_2(dirfd, path, flags);
        PathArg a;
        return JudgeOpen(&a, dirfd, path, flags, 0, "__openat64_2", out int fd) switch
        {
            OpenOutcome.CallReal => Real.__openat64_2(dirfd, a.Path, flags),
            OpenOutcome.Denied => -1,
            _ => fd,
        };
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_creat")]
    private static int Creat(byte* path, uint mode)
    {
        PathArg a;
        return JudgeOpen(&a, AT, path, O_CREAT | O_WRONLY | O_TRUNC, mode, "creat", out int fd) switch
        {
            OpenOutcome.CallReal => Real.creat(a.Path, mode),
            OpenOutcome.Denied => -1,
            _ => fd,
        };
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_creat64")]
    private static int Creat64(byte* path, uint mode)
    {
        PathArg a;
        return JudgeOpen(&a, AT, path, O_CREAT | O_WRONLY | O_TRUNC, mode, "creat64", out int fd) switch
        {
            OpenOutcome.CallReal => Real.creat64(a.Path, mode),
            OpenOutcome.Denied => -1,
            _ => fd,
        };
    }

    // ---- stdio and directory streams (glibc opens these internally, past the public open). The mode is copied
    // too: it decides whether read_handler judges the call. ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fopen")]
    private static nint Fopen(byte* path, byte* mode)
    {
        PathArg a;
        byte* m = stackalloc byte[ModeCopy];
        mode = CopyMode(mode, m);
        if (!Judge(&a, AT, path, C, "fopen", FopenReads(mode))) return 0;
        byte* reopen = stackalloc byte[ModeCopy];
        int held = JudgeStreamTarget(&a, ref mode, reopen, "fopen");
        return held == -1 ? a.Done((nint)0) : Held(held, a.Done(Real.fopen(a.Path, mode)));
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fopen64")]
    private static nint Fopen64(byte* path, byte* mode)
    {
        PathArg a;
        byte* m = stackalloc byte[ModeCopy];
        mode = CopyMode(mode, m);
        if (!Judge(&a, AT, path, C, "fopen64", FopenReads(mode))) return 0;
        byte* reopen = stackalloc byte[ModeCopy];
        int held = JudgeStreamTarget(&a, ref mode, reopen, "fopen64");
        return held == -1 ? a.Done((nint)0) : Held(held, a.Done(Real.fopen64(a.Path, mode)));
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_freopen")]
    private static nint Freopen(byte* path, byte* mode, nint stream)
    {
        PathArg a;
        byte* m = stackalloc byte[ModeCopy];
        mode = CopyMode(mode, m);
        if (path == null) return JudgeReopen(stream, mode, "freopen") ? Real.freopen(null, mode, stream) : 0;
        if (!Judge(&a, AT, path, C, "freopen", FopenReads(mode))) return 0;
        byte* reopen = stackalloc byte[ModeCopy];
        int held = JudgeStreamTarget(&a, ref mode, reopen, "freopen");
        return held == -1 ? a.Done((nint)0) : Held(held, a.Done(Real.freopen(a.Path, mode, stream)));
    }

    /// <summary>freopen with no path reopens the stream's own file (glibc: /proc/self/fd/N) in the new mode: judged by that file.</summary>
    private static bool JudgeReopen(nint stream, byte* mode, string function)
    {
        // a bad stream is libc's to answer
        if (Native.Arch.Unreadable((void*)stream)) return true;
        int errno = Errno.Value;
        try { return Restored(FileGate.PermitStreamReopen(Libc.Fileno(stream), function, FopenReads(mode)), errno); }
        catch (Exception e) { return Restored(Contained(function, e), errno); }
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_freopen64")]
    private static nint Freopen64(byte* path, byte* mode, nint stream)
    {
        PathArg a;
        byte* m = stackalloc byte[ModeCopy];
        mode = CopyMode(mode, m);
        if (path == null) return JudgeReopen(stream, mode, "freopen64") ? Real.freopen64(null, mode, stream) : 0;
        if (!Judge(&a, AT, path, C, "freopen64", FopenReads(mode))) return 0;
        byte* reopen = stackalloc byte[ModeCopy];
        int held = JudgeStreamTarget(&a, ref mode, reopen, "freopen64");
        return held == -1 ? a.Done((nint)0) : Held(held, a.Done(Real.freopen64(a.Path, mode, stream)));
    }

    // opendir is open(O_DIRECTORY) and a directory stream: made from the descriptor the open family judged and opened
    [UnmanagedCallersOnly(EntryPoint = "iron_hook_opendir")]
    private static nint Opendir(byte* path) => OpenDirectory(path, "opendir");

    private static nint OpenDirectory(byte* path, string function)
    {
        PathArg a;
        switch (JudgeOpen(&a, AT, path, O_NONBLOCK | O_DIRECTORY | O_CLOEXEC, 0, function, out int fd, readsContent: false))
        {
            case OpenOutcome.CallReal: return Real.opendir(a.Path);
            case OpenOutcome.Denied: return 0;
            default:
                if (fd < 0) return 0;
                nint dir = Libc.Fdopendir(fd);
                if (dir == 0) { int e = Errno.Value; Libc.Close(fd); Errno.Value = e; }
                return dir;
        }
    }

    // The walkers call the caller back: their exports are C (Native/glue/callbacks.c), which hands these judges its
    // own copy of the path and then runs libc's walk outside the hook. 1 to go on, 0 denied with errno set.

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_scandir")]
    private static int Scandir(int dirfd, byte* path) => JudgeWalk(dirfd, path, "scandir");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_scandir64")]
    private static int Scandir64(int dirfd, byte* path) => JudgeWalk(dirfd, path, "scandir64");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_scandirat")]
    private static int Scandirat(int dirfd, byte* path) => JudgeWalk(dirfd, path, "scandirat");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_scandirat64")]
    private static int Scandirat64(int dirfd, byte* path) => JudgeWalk(dirfd, path, "scandirat64");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_ftw")]
    private static int Ftw(int dirfd, byte* path) => JudgeWalk(dirfd, path, "ftw");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_ftw64")]
    private static int Ftw64(int dirfd, byte* path) => JudgeWalk(dirfd, path, "ftw64");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_nftw")]
    private static int Nftw(int dirfd, byte* path) => JudgeWalk(dirfd, path, "nftw");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_nftw64")]
    private static int Nftw64(int dirfd, byte* path) => JudgeWalk(dirfd, path, "nftw64");

    // fts: its roots at fts_open, and each directory it is about to read (glue: callbacks.c)

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fts_open")]
    private static int FtsOpen(int dirfd, byte* path) => JudgeWalk(dirfd, path, "fts_open");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fts64_open")]
    private static int Fts64Open(int dirfd, byte* path) => JudgeWalk(dirfd, path, "fts64_open");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fts_read")]
    private static int FtsRead(int dirfd, byte* path) => JudgeWalk(dirfd, path, "fts_read");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fts64_read")]
    private static int Fts64Read(int dirfd, byte* path) => JudgeWalk(dirfd, path, "fts64_read");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fts_children")]
    private static int FtsChildren(int dirfd, byte* path) => JudgeWalk(dirfd, path, "fts_children");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fts64_children")]
    private static int Fts64Children(int dirfd, byte* path) => JudgeWalk(dirfd, path, "fts64_children");

    // glob reads directories through the library's GLOB_ALTDIRFUNC callbacks (glue: callbacks.c): this is their opendir

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_glob")]
    private static nint Glob(byte* path) => OpenDirectory(path, "glob");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_glob64")]
    private static nint Glob64(byte* path) => OpenDirectory(path, "glob64");

    /// <summary>A walk hands its callbacks paths spelled from its argument: it runs on that spelling, not an anchored one (README, Limits).</summary>
    private static int JudgeWalk(int dirfd, byte* path, string function)
    {
        PathArg a;
        return Judge(&a, dirfd, path, F, function, anchor: false) ? a.Done(1) : 0;
    }

    // ---- create, remove: the name itself, in its pinned directory ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkdir")]
    private static int Mkdir(byte* path, uint mode)
    {
        PathArg a;
        return Judge(&a, AT, path, N, "mkdir") ? a.Done(Real.mkdir(a.Path, mode)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkdirat")]
    private static int Mkdirat(int dirfd, byte* path, uint mode)
    {
        PathArg a;
        return Judge(&a, dirfd, path, N, "mkdirat") ? a.Done(Real.mkdirat(dirfd, a.Path, mode)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkfifo")]
    private static int Mkfifo(byte* path, uint mode)
    {
        PathArg a;
        return Judge(&a, AT, path, N, "mkfifo") ? a.Done(Real.mkfifo(a.Path, mode)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkfifoat")]
    private static int Mkfifoat(int dirfd, byte* path, uint mode)
    {
        PathArg a;
        return Judge(&a, dirfd, path, N, "mkfifoat") ? a.Done(Real.mkfifoat(dirfd, a.Path, mode)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mknod")]
    private static int Mknod(byte* path, uint mode, ulong dev)
    {
        PathArg a;
        return Judge(&a, AT, path, N, "mknod") ? a.Done(Real.mknod(a.Path, mode, dev)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mknodat")]
    private static int Mknodat(int dirfd, byte* path, uint mode, ulong dev)
    {
        PathArg a;
        return Judge(&a, dirfd, path, N, "mknodat") ? a.Done(Real.mknodat(dirfd, a.Path, mode, dev)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_rmdir")]
    private static int Rmdir(byte* path)
    {
        PathArg a;
        return Judge(&a, AT, path, N, "rmdir") ? a.Done(Real.rmdir(a.Path)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_unlink")]
    private static int Unlink(byte* path)
    {
        PathArg a;
        return Judge(&a, AT, path, N, "unlink") ? a.Done(Real.unlink(a.Path)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_unlinkat")]
    private static int Unlinkat(int dirfd, byte* path, int flags)
    {
        PathArg a;
        return Judge(&a, dirfd, path, N, "unlinkat") ? a.Done(Real.unlinkat(dirfd, a.Path, flags)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_remove")]
    private static int Remove(byte* path)
    {
        PathArg a;
        return Judge(&a, AT, path, N, "remove") ? a.Done(Real.remove(a.Path)) : -1;
    }

    // ---- rename and link: both names are judged; a rename may move the working directory. The source
    // counts as a read for read_handler: another name for the handler would be readable. ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_rename")]
    private static int Rename(byte* from, byte* to)
    {
        PathArg a, b;
        if (!Judge(&a, AT, from, N, "rename", readsContent: true)) return -1;
        if (!Judge(&b, AT, to, N, "rename")) return a.Done(-1);
        int result = a.Done(b.Done(Real.rename(a.Path, b.Path)));
        TargetResolver.ForgetWorkingDirectory();
        return result;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_renameat")]
    private static int Renameat(int fromDir, byte* from, int toDir, byte* to)
    {
        PathArg a, b;
        if (!Judge(&a, fromDir, from, N, "renameat", readsContent: true)) return -1;
        if (!Judge(&b, toDir, to, N, "renameat")) return a.Done(-1);
        int result = a.Done(b.Done(Real.renameat(fromDir, a.Path, toDir, b.Path)));
        TargetResolver.ForgetWorkingDirectory();
        return result;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_renameat2")]
    private static int Renameat2(int fromDir, byte* from, int toDir, byte* to, uint flags)
    {
        PathArg a, b;
        if (!Judge(&a, fromDir, from, N, "renameat2", readsContent: true)) return -1;
        if (!Judge(&b, toDir, to, N, "renameat2")) return a.Done(-1);
        int result = a.Done(b.Done(Real.renameat2(fromDir, a.Path, toDir, b.Path, flags)));
        TargetResolver.ForgetWorkingDirectory();
        return result;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_link")]
    private static int Link(byte* from, byte* to)
    {
        PathArg a, b;
        if (!Judge(&a, AT, from, N, "link", readsContent: true)) return -1;
        if (!Judge(&b, AT, to, N, "link")) return a.Done(-1);
        return a.Done(b.Done(Real.link(a.Path, b.Path)));
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_linkat")]
    private static int Linkat(int fromDir, byte* from, int toDir, byte* to, int flags)
    {
        PathArg a, b;
        if (!JudgeAt(&a, fromDir, from, (flags & AT_SYMLINK_FOLLOW) != 0 ? flags & ~0x100 : flags | 0x100, "linkat", readsContent: true)) return -1;
        if (!Judge(&b, toDir, to, N, "linkat")) return a.Done(-1);
        return a.Done(b.Done(Real.linkat(a.Descriptor(fromDir), a.Path, toDir, b.Path, flags)));
    }

    // the link's own name is judged; where it points is judged when something follows it
    [UnmanagedCallersOnly(EntryPoint = "iron_hook_symlink")]
    private static int Symlink(byte* target, byte* linkPath)
    {
        PathArg a;
        return Judge(&a, AT, linkPath, N, "symlink") ? a.Done(Real.symlink(target, a.Path)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_symlinkat")]
    private static int Symlinkat(byte* target, int dirfd, byte* linkPath)
    {
        PathArg a;
        return Judge(&a, dirfd, linkPath, N, "symlinkat") ? a.Done(Real.symlinkat(target, dirfd, a.Path)) : -1;
    }

    // ---- truncate and metadata: a followed name is pinned as the object itself ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_truncate")]
    private static int Truncate(byte* path, long length)
    {
        PathArg a;
        return Judge(&a, AT, path, F, "truncate") ? a.Done(Real.truncate(a.Path, length)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_truncate64")]
    private static int Truncate64(byte* path, long length)
    {
        PathArg a;
        return Judge(&a, AT, path, F, "truncate64") ? a.Done(Real.truncate64(a.Path, length)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_chmod")]
    private static int Chmod(byte* path, uint mode)
    {
        PathArg a;
        return Judge(&a, AT, path, F, "chmod") ? a.Done(Real.chmod(a.Path, mode)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_lchmod")]
    private static int Lchmod(byte* path, uint mode)
    {
        PathArg a;
        return Judge(&a, AT, path, N, "lchmod") ? a.Done(Real.lchmod(a.Path, mode)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fchmodat")]
    private static int Fchmodat(int dirfd, byte* path, uint mode, int flags)
    {
        PathArg a;
        return JudgeAt(&a, dirfd, path, flags, "fchmodat") ? a.Done(Real.fchmodat(a.Descriptor(dirfd), a.Path, mode, flags)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_chown")]
    private static int Chown(byte* path, uint uid, uint gid)
    {
        PathArg a;
        return Judge(&a, AT, path, F, "chown") ? a.Done(Real.chown(a.Path, uid, gid)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_lchown")]
    private static int Lchown(byte* path, uint uid, uint gid)
    {
        PathArg a;
        return Judge(&a, AT, path, N, "lchown") ? a.Done(Real.lchown(a.Path, uid, gid)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fchownat")]
    private static int Fchownat(int dirfd, byte* path, uint uid, uint gid, int flags)
    {
        PathArg a;
        return JudgeAt(&a, dirfd, path, flags, "fchownat") ? a.Done(Real.fchownat(a.Descriptor(dirfd), a.Path, uid, gid, flags)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_utime")]
    private static int Utime(byte* path, nint times)
    {
        PathArg a;
        return Judge(&a, AT, path, F, "utime") ? a.Done(Real.utime(a.Path, times)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_utimes")]
    private static int Utimes(byte* path, nint times)
    {
        PathArg a;
        return Judge(&a, AT, path, F, "utimes") ? a.Done(Real.utimes(a.Path, times)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_lutimes")]
    private static int Lutimes(byte* path, nint times)
    {
        PathArg a;
        return Judge(&a, AT, path, N, "lutimes") ? a.Done(Real.lutimes(a.Path, times)) : -1;
    }

    // a NULL path makes utimensat/futimesat act on dirfd itself
    [UnmanagedCallersOnly(EntryPoint = "iron_hook_utimensat")]
    private static int Utimensat(int dirfd, byte* path, nint times, int flags)
    {
        PathArg a;
        (&a)->Init(path);
        return (path == null ? JudgeDescriptor(&a, dirfd, "utimensat") : JudgeAt(&a, dirfd, path, flags, "utimensat"))
            ? a.Done(Real.utimensat(a.Descriptor(dirfd), a.Path, times, flags)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_futimesat")]
    private static int Futimesat(int dirfd, byte* path, nint times)
    {
        PathArg a;
        (&a)->Init(path);
        return (path == null ? JudgeDescriptor(&a, dirfd, "futimesat") : Judge(&a, dirfd, path, F, "futimesat"))
            ? a.Done(Real.futimesat(a.Descriptor(dirfd), a.Path, times)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_setxattr")]
    private static int Setxattr(byte* path, byte* name, nint value, nuint size, int flags)
    {
        PathArg a;
        return Judge(&a, AT, path, F, "setxattr") ? a.Done(Real.setxattr(a.Path, name, value, size, flags)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_lsetxattr")]
    private static int Lsetxattr(byte* path, byte* name, nint value, nuint size, int flags)
    {
        PathArg a;
        return Judge(&a, AT, path, N, "lsetxattr") ? a.Done(Real.lsetxattr(a.Path, name, value, size, flags)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_removexattr")]
    private static int Removexattr(byte* path, byte* name)
    {
        PathArg a;
        return Judge(&a, AT, path, F, "removexattr") ? a.Done(Real.removexattr(a.Path, name)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_lremovexattr")]
    private static int Lremovexattr(byte* path, byte* name)
    {
        PathArg a;
        return Judge(&a, AT, path, N, "lremovexattr") ? a.Done(Real.lremovexattr(a.Path, name)) : -1;
    }

    // An extended attribute's value is data kept with the file, which anyone who may write the file can set: reading
    // it (or the list of names) is reading the file.

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_getxattr")]
    private static nint Getxattr(byte* path, byte* name, nint value, nuint size)
    {
        PathArg a;
        return Judge(&a, AT, path, F, "getxattr") ? a.Done(Real.getxattr(a.Path, name, value, size)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_lgetxattr")]
    private static nint Lgetxattr(byte* path, byte* name, nint value, nuint size)
    {
        PathArg a;
        return Judge(&a, AT, path, N, "lgetxattr") ? a.Done(Real.lgetxattr(a.Path, name, value, size)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_listxattr")]
    private static nint Listxattr(byte* path, nint list, nuint size)
    {
        PathArg a;
        return Judge(&a, AT, path, F, "listxattr") ? a.Done(Real.listxattr(a.Path, list, size)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_llistxattr")]
    private static nint Llistxattr(byte* path, nint list, nuint size)
    {
        PathArg a;
        return Judge(&a, AT, path, N, "llistxattr") ? a.Done(Real.llistxattr(a.Path, list, size)) : -1;
    }

    // A watch reports the names of the files made, opened and removed in a directory: a listing of it, as it changes.
    [UnmanagedCallersOnly(EntryPoint = "iron_hook_inotify_add_watch")]
    private static int InotifyAddWatch(int fd, byte* path, uint mask)
    {
        const uint IN_DONT_FOLLOW = 0x02000000;
        PathArg a;
        return Judge(&a, AT, path, (mask & IN_DONT_FOLLOW) != 0 ? N : F, "inotify_add_watch")
            ? a.Done(Real.inotify_add_watch(fd, a.Path, mask)) : -1;
    }

    // ---- temporary-file helpers: the template names the file to create; the name glibc fills in goes back ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkstemp")]
    private static int Mkstemp(byte* template)
    {
        PathArg a;
        if (!JudgeTemplate(&a, template, "mkstemp")) return -1;
        var result = Real.mkstemp(a.Path);
        a.CopyBack();
        return a.Done(result);
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkstemp64")]
    private static int Mkstemp64(byte* template)
    {
        PathArg a;
        if (!JudgeTemplate(&a, template, "mkstemp64")) return -1;
        var result = Real.mkstemp64(a.Path);
        a.CopyBack();
        return a.Done(result);
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkostemp")]
    private static int Mkostemp(byte* template, int flags)
    {
        PathArg a;
        if (!JudgeTemplate(&a, template, "mkostemp")) return -1;
        var result = Real.mkostemp(a.Path, flags);
        a.CopyBack();
        return a.Done(result);
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkostemp64")]
    private static int Mkostemp64(byte* template, int flags)
    {
        PathArg a;
        if (!JudgeTemplate(&a, template, "mkostemp64")) return -1;
        var result = Real.mkostemp64(a.Path, flags);
        a.CopyBack();
        return a.Done(result);
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkstemps")]
    private static int Mkstemps(byte* template, int suffixLength)
    {
        PathArg a;
        if (!JudgeTemplate(&a, template, "mkstemps")) return -1;
        var result = Real.mkstemps(a.Path, suffixLength);
        a.CopyBack();
        return a.Done(result);
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkstemps64")]
    private static int Mkstemps64(byte* template, int suffixLength)
    {
        PathArg a;
        if (!JudgeTemplate(&a, template, "mkstemps64")) return -1;
        var result = Real.mkstemps64(a.Path, suffixLength);
        a.CopyBack();
        return a.Done(result);
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkostemps")]
    private static int Mkostemps(byte* template, int suffixLength, int flags)
    {
        PathArg a;
        if (!JudgeTemplate(&a, template, "mkostemps")) return -1;
        var result = Real.mkostemps(a.Path, suffixLength, flags);
        a.CopyBack();
        return a.Done(result);
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkostemps64")]
    private static int Mkostemps64(byte* template, int suffixLength, int flags)
    {
        PathArg a;
        if (!JudgeTemplate(&a, template, "mkostemps64")) return -1;
        var result = Real.mkostemps64(a.Path, suffixLength, flags);
        a.CopyBack();
        return a.Done(result);
    }

    // mkdtemp returns its argument: the caller's buffer, filled in, not the library's copy
    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkdtemp")]
    private static byte* Mkdtemp(byte* template)
    {
        PathArg a;
        if (!JudgeTemplate(&a, template, "mkdtemp")) return null;
        byte* result = Real.mkdtemp(a.Path);
        a.CopyBack();
        return a.Done(result == null ? null : template);
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_tmpfile")]
    private static nint Tmpfile() => JudgeTmpfile("tmpfile") ? Real.tmpfile() : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_tmpfile64")]
    private static nint Tmpfile64() => JudgeTmpfile("tmpfile64") ? Real.tmpfile64() : 0;

    // ---- a Unix socket bound to a path is a file created there; the address is copied and anchored ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_bind")]
    private static int Bind(int fd, byte* address, uint length)
    {
        PathArg a;
        byte* copy = stackalloc byte[112];
        byte* use = address;
        uint useLength = length;
        return JudgeSocketPath(&a, address, length, copy, ref use, ref useLength, "bind") ? a.Done(Real.bind(fd, use, useLength)) : -1;
    }

    // ---- the working directory, which relative paths are judged against ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_chdir")]
    private static int Chdir(byte* path)
    {
        int result = Real.chdir(path);
        TargetResolver.ForgetWorkingDirectory();
        return result;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fchdir")]
    private static int Fchdir(int fd)
    {
        int result = Real.fchdir(fd);
        TargetResolver.ForgetWorkingDirectory();
        return result;
    }

    // A thread with its own filesystem context (unshare(CLONE_FS), setns of a mount namespace) has its own working
    // directory: from then on it is read at every use, never shared through the process-wide cache.
    [UnmanagedCallersOnly(EntryPoint = "iron_hook_unshare")]
    private static int Unshare(int flags)
    {
        int result = Real.unshare(flags);
        if (result == 0 && (flags & (CLONE_FS | CLONE_NEWNS)) != 0) TargetResolver.WorkingDirectoryPerThread();
        return result;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_setns")]
    private static int Setns(int fd, int nstype)
    {
        int result = Real.setns(fd, nstype);
        if (result == 0) TargetResolver.WorkingDirectoryPerThread();
        return result;
    }

    // ---- containment: a failure inside the library lets the call through and is logged, never thrown
    // into the host; a call let through sees the errno it came with, whatever resolving the path did to it.

    private static bool Judge(PathArg* a, int dirfd, byte* path, Pin pin, string function, bool readsContent = false, bool anchor = true)
    {
        int errno = Errno.Value;
        try { return Restored(Permit(a, dirfd, path, pin, function, readsContent, anchor), errno); }
        catch (Exception e) { return Restored(Contained(a, path, function, e), errno); }
    }

    private static bool JudgeAt(PathArg* a, int dirfd, byte* path, int atFlags, string function, bool readsContent = false)
    {
        int errno = Errno.Value;
        try { return Restored(PermitAt(a, dirfd, path, atFlags, function, readsContent), errno); }
        catch (Exception e) { return Restored(Contained(a, path, function, e), errno); }
    }

    private static bool JudgeTemplate(PathArg* a, byte* template, string function)
    {
        int errno = Errno.Value;
        try { return Restored(PermitTemplate(a, template, function), errno); }
        catch (Exception e) { return Restored(Contained(a, template, function, e), errno); }
    }

    private static bool JudgeDescriptor(PathArg* a, int fd, string function)
    {
        int errno = Errno.Value;
        try { return Restored(PermitDescriptor(a, fd, function), errno); }
        catch (Exception e) { return Restored(Contained(a, a->Path, function, e), errno); }
    }

    private static bool JudgeSocketPath(PathArg* a, byte* address, uint length, byte* copy, ref byte* use, ref uint useLength, string function)
    {
        int errno = Errno.Value;
        try { return Restored(PermitSocketPath(a, address, length, copy, ref use, ref useLength, function), errno); }
        catch (Exception e) { use = address; useLength = length; return Restored(Contained(a, null, function, e), errno); }
    }

    private static bool JudgeTmpfile(string function)
    {
        int errno = Errno.Value;
        try { return Restored(PermitTmpfile(function), errno); }
        catch (Exception e) { return Restored(Contained(function, e), errno); }
    }

    private static int JudgeStreamTarget(PathArg* a, ref byte* mode, byte* reopen, string function)
    {
        int errno = Errno.Value;
        int held;
        try { held = StreamTarget(a, ref mode, reopen); }
        catch (Exception e) { Contained(function, e); held = -2; }
        if (held != -1) Errno.Value = errno;
        return held;
    }

    /// <summary>Closes the descriptor a stream was reopened from, once the stream call returned.</summary>
    private static nint Held(int fd, nint result)
    {
        if (fd < 0) return result;
        int errno = Errno.Value;
        Libc.Close(fd);
        Errno.Value = errno;
        return result;
    }

    private static bool Restored(bool permitted, int errno)
    {
        if (permitted) Errno.Value = errno;
        return permitted;
    }

    /// <summary>Completed means the open was done by the gate: a failure's errno stands, a success leaves the caller's.</summary>
    private static OpenOutcome JudgeOpen(PathArg* a, int dirfd, byte* path, int flags, uint mode, string function, out int fd,
        bool readsContent = true)
    {
        int errno = Errno.Value;
        fd = -1;
        OpenOutcome outcome;
        try { outcome = FileGate.Open(a, dirfd, path, flags, mode, function, out fd, readsContent); }
        catch (Exception e) { Contained(a, path, function, e); outcome = OpenOutcome.CallReal; }
        if (outcome == OpenOutcome.CallReal || (outcome == OpenOutcome.Completed && fd >= 0)) Errno.Value = errno;
        return outcome;
    }

    private static bool Contained(string function, Exception e)
    {
        try { Lifecycle.Diagnostics.Error("files", $"the {function} hook failed and let the call through: {e}"); }
        catch { /* nothing may escape into the host */ }
        return true;
    }

    /// <summary>A failure inside the library: the call goes through on the caller's own path.</summary>
    private static bool Contained(PathArg* a, byte* path, string function, Exception e)
    {
        a->Done(0);
        a->Init(path);
        return Contained(function, e);
    }
}
