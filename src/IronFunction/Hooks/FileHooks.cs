using System.Runtime.InteropServices;
using IronFunction.Native;
using static IronFunction.Hooks.FileGate;

namespace IronFunction.Hooks;

/// <summary>
/// Exported interceptors for every libc entry point that opens, creates, reads, writes, lists,
/// removes, renames, links, truncates or changes the metadata of a file (read_write_tmp, and read_handler
/// for the calls that read a file or give it another name).
/// Each is thin: judge the path argument(s), then call the real function or deny.
/// Their names are listed in Hooks/files.symbols; a test keeps both in step.
/// </summary>
internal static unsafe partial class FileHooks
{
    private const int AT = Libc.AT_FDCWD;
    private const int O_WRONLY = 1, O_CREAT = 0x40, O_TRUNC = 0x200, O_TMPFILE_BIT = 0x400000;
    private const int AT_SYMLINK_FOLLOW = 0x400;

    // ---- open family ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_open")]
    private static int Open(byte* path, int flags, uint mode) =>
        JudgeOpen(AT, path, flags, mode, "open", out int fd) switch
        {
            OpenOutcome.CallReal => Real.open(path, flags, mode),
            OpenOutcome.Denied => -1,
            _ => fd,
        };

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_open64")]
    private static int Open64(byte* path, int flags, uint mode) =>
        JudgeOpen(AT, path, flags, mode, "open64", out int fd) switch
        {
            OpenOutcome.CallReal => Real.open64(path, flags, mode),
            OpenOutcome.Denied => -1,
            _ => fd,
        };

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_openat")]
    private static int Openat(int dirfd, byte* path, int flags, uint mode) =>
        JudgeOpen(dirfd, path, flags, mode, "openat", out int fd) switch
        {
            OpenOutcome.CallReal => Real.openat(dirfd, path, flags, mode),
            OpenOutcome.Denied => -1,
            _ => fd,
        };

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_openat64")]
    private static int Openat64(int dirfd, byte* path, int flags, uint mode) =>
        JudgeOpen(dirfd, path, flags, mode, "openat64", out int fd) switch
        {
            OpenOutcome.CallReal => Real.openat64(dirfd, path, flags, mode),
            OpenOutcome.Denied => -1,
            _ => fd,
        };

    // The _FORTIFY_SOURCE forms: glibc aborts them when O_CREAT/O_TMPFILE come without a mode, so those go straight through.
    [UnmanagedCallersOnly(EntryPoint = "iron_hook___open_2")]
    private static int Open2(byte* path, int flags) =>
        (flags & (O_CREAT | O_TMPFILE_BIT)) != 0 ? Real.__open_2(path, flags) :
        JudgeOpen(AT, path, flags, 0, "__open_2", out int fd) switch
        {
            OpenOutcome.CallReal => Real.__open_2(path, flags),
            OpenOutcome.Denied => -1,
            _ => fd,
        };

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___open64_2")]
    private static int Open64_2(byte* path, int flags) =>
        (flags & (O_CREAT | O_TMPFILE_BIT)) != 0 ? Real.__open64_2(path, flags) :
        JudgeOpen(AT, path, flags, 0, "__open64_2", out int fd) switch
        {
            OpenOutcome.CallReal => Real.__open64_2(path, flags),
            OpenOutcome.Denied => -1,
            _ => fd,
        };

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___openat_2")]
    private static int Openat2(int dirfd, byte* path, int flags) =>
        (flags & (O_CREAT | O_TMPFILE_BIT)) != 0 ? Real.__openat_2(dirfd, path, flags) :
        JudgeOpen(dirfd, path, flags, 0, "__openat_2", out int fd) switch
        {
            OpenOutcome.CallReal => Real.__openat_2(dirfd, path, flags),
            OpenOutcome.Denied => -1,
            _ => fd,
        };

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___openat64_2")]
    private static int Openat64_2(int dirfd, byte* path, int flags) =>
        (flags & (O_CREAT | O_TMPFILE_BIT)) != 0 ? Real.__openat64_2(dirfd, path, flags) :
        JudgeOpen(dirfd, path, flags, 0, "__openat64_2", out int fd) switch
        {
            OpenOutcome.CallReal => Real.__openat64_2(dirfd, path, flags),
            OpenOutcome.Denied => -1,
            _ => fd,
        };

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_creat")]
    private static int Creat(byte* path, uint mode) =>
        JudgeOpen(AT, path, O_CREAT | O_WRONLY | O_TRUNC, mode, "creat", out int fd) switch
        {
            OpenOutcome.CallReal => Real.creat(path, mode),
            OpenOutcome.Denied => -1,
            _ => fd,
        };

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_creat64")]
    private static int Creat64(byte* path, uint mode) =>
        JudgeOpen(AT, path, O_CREAT | O_WRONLY | O_TRUNC, mode, "creat64", out int fd) switch
        {
            OpenOutcome.CallReal => Real.creat64(path, mode),
            OpenOutcome.Denied => -1,
            _ => fd,
        };

    // ---- stdio and directory streams (glibc opens these internally, past the public open) ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fopen")]
    private static nint Fopen(byte* path, byte* mode) => Judge(AT, path, true, "fopen", FopenReads(mode)) ? Real.fopen(path, mode) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fopen64")]
    private static nint Fopen64(byte* path, byte* mode) => Judge(AT, path, true, "fopen64", FopenReads(mode)) ? Real.fopen64(path, mode) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_freopen")]
    private static nint Freopen(byte* path, byte* mode, nint stream) =>
        JudgeReopen(path, mode, stream, "freopen") ? Real.freopen(path, mode, stream) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_freopen64")]
    private static nint Freopen64(byte* path, byte* mode, nint stream) =>
        JudgeReopen(path, mode, stream, "freopen64") ? Real.freopen64(path, mode, stream) : 0;

    /// <summary>freopen with no path reopens the stream's own file (glibc: /proc/self/fd/N) in the new mode: judged by that file.</summary>
    private static bool JudgeReopen(byte* path, byte* mode, nint stream, string function)
    {
        if (path != null) return Judge(AT, path, true, function, FopenReads(mode));
        // a bad stream is libc's to answer
        if ((nuint)stream < 4096 || (nuint)stream >= 0x0000_8000_0000_0000) return true;
        int errno = Errno.Value;
        try { return Restored(PermitDescriptor(Libc.Fileno(stream), function, FopenReads(mode)), errno); }
        catch (Exception e) { return Restored(Contained(function, e), errno); }
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_opendir")]
    private static nint Opendir(byte* path) => Judge(AT, path, true, "opendir") ? Real.opendir(path) : 0;

    // The walkers call the caller's functions back: they are exported in C (Native/glue/callbacks.c), which
    // runs libc's walk outside the hook so that the callbacks are judged; here only the path is judged (1: go on).
    [UnmanagedCallersOnly(EntryPoint = "iron_hook_scandir")]
    private static int Scandir(int dirfd, byte* path) => Judge(dirfd, path, true, "scandir") ? 1 : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_scandir64")]
    private static int Scandir64(int dirfd, byte* path) => Judge(dirfd, path, true, "scandir64") ? 1 : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_scandirat")]
    private static int Scandirat(int dirfd, byte* path) => Judge(dirfd, path, true, "scandirat") ? 1 : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_scandirat64")]
    private static int Scandirat64(int dirfd, byte* path) => Judge(dirfd, path, true, "scandirat64") ? 1 : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_ftw")]
    private static int Ftw(int dirfd, byte* path) => Judge(dirfd, path, true, "ftw") ? 1 : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_ftw64")]
    private static int Ftw64(int dirfd, byte* path) => Judge(dirfd, path, true, "ftw64") ? 1 : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_nftw")]
    private static int Nftw(int dirfd, byte* path) => Judge(dirfd, path, true, "nftw") ? 1 : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_nftw64")]
    private static int Nftw64(int dirfd, byte* path) => Judge(dirfd, path, true, "nftw64") ? 1 : 0;

    // ---- create, remove ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkdir")]
    private static int Mkdir(byte* path, uint mode) => Judge(AT, path, false, "mkdir") ? Real.mkdir(path, mode) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkdirat")]
    private static int Mkdirat(int dirfd, byte* path, uint mode) =>
        Judge(dirfd, path, false, "mkdirat") ? Real.mkdirat(dirfd, path, mode) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkfifo")]
    private static int Mkfifo(byte* path, uint mode) => Judge(AT, path, false, "mkfifo") ? Real.mkfifo(path, mode) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkfifoat")]
    private static int Mkfifoat(int dirfd, byte* path, uint mode) =>
        Judge(dirfd, path, false, "mkfifoat") ? Real.mkfifoat(dirfd, path, mode) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mknod")]
    private static int Mknod(byte* path, uint mode, ulong dev) => Judge(AT, path, false, "mknod") ? Real.mknod(path, mode, dev) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mknodat")]
    private static int Mknodat(int dirfd, byte* path, uint mode, ulong dev) =>
        Judge(dirfd, path, false, "mknodat") ? Real.mknodat(dirfd, path, mode, dev) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_rmdir")]
    private static int Rmdir(byte* path) => Judge(AT, path, false, "rmdir") ? Real.rmdir(path) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_unlink")]
    private static int Unlink(byte* path) => Judge(AT, path, false, "unlink") ? Real.unlink(path) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_unlinkat")]
    private static int Unlinkat(int dirfd, byte* path, int flags) =>
        Judge(dirfd, path, false, "unlinkat") ? Real.unlinkat(dirfd, path, flags) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_remove")]
    private static int Remove(byte* path) => Judge(AT, path, false, "remove") ? Real.remove(path) : -1;

    // ---- rename and link: both names are judged; a rename may move the working directory. The source
    // counts as a read for read_handler: another name for the handler would be readable. ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_rename")]
    private static int Rename(byte* from, byte* to)
    {
        if (!Judge(AT, from, false, "rename", readsContent: true) || !Judge(AT, to, false, "rename")) return -1;
        int result = Real.rename(from, to);
        TargetResolver.ForgetWorkingDirectory();
        return result;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_renameat")]
    private static int Renameat(int fromDir, byte* from, int toDir, byte* to)
    {
        if (!Judge(fromDir, from, false, "renameat", readsContent: true) || !Judge(toDir, to, false, "renameat")) return -1;
        int result = Real.renameat(fromDir, from, toDir, to);
        TargetResolver.ForgetWorkingDirectory();
        return result;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_renameat2")]
    private static int Renameat2(int fromDir, byte* from, int toDir, byte* to, uint flags)
    {
        if (!Judge(fromDir, from, false, "renameat2", readsContent: true) || !Judge(toDir, to, false, "renameat2")) return -1;
        int result = Real.renameat2(fromDir, from, toDir, to, flags);
        TargetResolver.ForgetWorkingDirectory();
        return result;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_link")]
    private static int Link(byte* from, byte* to) =>
        Judge(AT, from, false, "link", readsContent: true) && Judge(AT, to, false, "link") ? Real.link(from, to) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_linkat")]
    private static int Linkat(int fromDir, byte* from, int toDir, byte* to, int flags) =>
        JudgeAt(fromDir, from, (flags & AT_SYMLINK_FOLLOW) != 0 ? flags & ~0x100 : flags | 0x100, "linkat", readsContent: true) &&
        Judge(toDir, to, false, "linkat") ? Real.linkat(fromDir, from, toDir, to, flags) : -1;

    // the link's own name is judged; where it points is judged when something follows it
    [UnmanagedCallersOnly(EntryPoint = "iron_hook_symlink")]
    private static int Symlink(byte* target, byte* linkPath) =>
        Judge(AT, linkPath, false, "symlink") ? Real.symlink(target, linkPath) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_symlinkat")]
    private static int Symlinkat(byte* target, int dirfd, byte* linkPath) =>
        Judge(dirfd, linkPath, false, "symlinkat") ? Real.symlinkat(target, dirfd, linkPath) : -1;

    // ---- truncate and metadata ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_truncate")]
    private static int Truncate(byte* path, long length) => Judge(AT, path, true, "truncate") ? Real.truncate(path, length) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_truncate64")]
    private static int Truncate64(byte* path, long length) => Judge(AT, path, true, "truncate64") ? Real.truncate64(path, length) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_chmod")]
    private static int Chmod(byte* path, uint mode) => Judge(AT, path, true, "chmod") ? Real.chmod(path, mode) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_lchmod")]
    private static int Lchmod(byte* path, uint mode) => Judge(AT, path, false, "lchmod") ? Real.lchmod(path, mode) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fchmodat")]
    private static int Fchmodat(int dirfd, byte* path, uint mode, int flags) =>
        JudgeAt(dirfd, path, flags, "fchmodat") ? Real.fchmodat(dirfd, path, mode, flags) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_chown")]
    private static int Chown(byte* path, uint uid, uint gid) => Judge(AT, path, true, "chown") ? Real.chown(path, uid, gid) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_lchown")]
    private static int Lchown(byte* path, uint uid, uint gid) => Judge(AT, path, false, "lchown") ? Real.lchown(path, uid, gid) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fchownat")]
    private static int Fchownat(int dirfd, byte* path, uint uid, uint gid, int flags) =>
        JudgeAt(dirfd, path, flags, "fchownat") ? Real.fchownat(dirfd, path, uid, gid, flags) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_utime")]
    private static int Utime(byte* path, nint times) => Judge(AT, path, true, "utime") ? Real.utime(path, times) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_utimes")]
    private static int Utimes(byte* path, nint times) => Judge(AT, path, true, "utimes") ? Real.utimes(path, times) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_lutimes")]
    private static int Lutimes(byte* path, nint times) => Judge(AT, path, false, "lutimes") ? Real.lutimes(path, times) : -1;

    // a NULL path makes utimensat/futimesat act on dirfd itself
    [UnmanagedCallersOnly(EntryPoint = "iron_hook_utimensat")]
    private static int Utimensat(int dirfd, byte* path, nint times, int flags) =>
        (path == null ? JudgeDescriptor(dirfd, "utimensat") : JudgeAt(dirfd, path, flags, "utimensat"))
            ? Real.utimensat(dirfd, path, times, flags) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_futimesat")]
    private static int Futimesat(int dirfd, byte* path, nint times) =>
        (path == null ? JudgeDescriptor(dirfd, "futimesat") : Judge(dirfd, path, true, "futimesat"))
            ? Real.futimesat(dirfd, path, times) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_setxattr")]
    private static int Setxattr(byte* path, byte* name, nint value, nuint size, int flags) =>
        Judge(AT, path, true, "setxattr") ? Real.setxattr(path, name, value, size, flags) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_lsetxattr")]
    private static int Lsetxattr(byte* path, byte* name, nint value, nuint size, int flags) =>
        Judge(AT, path, false, "lsetxattr") ? Real.lsetxattr(path, name, value, size, flags) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_removexattr")]
    private static int Removexattr(byte* path, byte* name) =>
        Judge(AT, path, true, "removexattr") ? Real.removexattr(path, name) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_lremovexattr")]
    private static int Lremovexattr(byte* path, byte* name) =>
        Judge(AT, path, false, "lremovexattr") ? Real.lremovexattr(path, name) : -1;

    // ---- temporary-file helpers: the template names the file to create ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkstemp")]
    private static int Mkstemp(byte* template) => Judge(AT, template, false, "mkstemp") ? Real.mkstemp(template) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkstemp64")]
    private static int Mkstemp64(byte* template) => Judge(AT, template, false, "mkstemp64") ? Real.mkstemp64(template) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkostemp")]
    private static int Mkostemp(byte* template, int flags) =>
        Judge(AT, template, false, "mkostemp") ? Real.mkostemp(template, flags) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkostemp64")]
    private static int Mkostemp64(byte* template, int flags) =>
        Judge(AT, template, false, "mkostemp64") ? Real.mkostemp64(template, flags) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkstemps")]
    private static int Mkstemps(byte* template, int suffixLength) =>
        Judge(AT, template, false, "mkstemps") ? Real.mkstemps(template, suffixLength) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkstemps64")]
    private static int Mkstemps64(byte* template, int suffixLength) =>
        Judge(AT, template, false, "mkstemps64") ? Real.mkstemps64(template, suffixLength) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkostemps")]
    private static int Mkostemps(byte* template, int suffixLength, int flags) =>
        Judge(AT, template, false, "mkostemps") ? Real.mkostemps(template, suffixLength, flags) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkostemps64")]
    private static int Mkostemps64(byte* template, int suffixLength, int flags) =>
        Judge(AT, template, false, "mkostemps64") ? Real.mkostemps64(template, suffixLength, flags) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_mkdtemp")]
    private static byte* Mkdtemp(byte* template) => Judge(AT, template, false, "mkdtemp") ? Real.mkdtemp(template) : null;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_tmpfile")]
    private static nint Tmpfile() => JudgeTmpfile("tmpfile") ? Real.tmpfile() : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_tmpfile64")]
    private static nint Tmpfile64() => JudgeTmpfile("tmpfile64") ? Real.tmpfile64() : 0;

    // ---- a Unix socket bound to a path is a file created there ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_bind")]
    private static int Bind(int fd, byte* address, uint length) =>
        JudgeSocketPath(address, length, "bind") ? Real.bind(fd, address, length) : -1;

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

    // ---- containment: a failure inside the library lets the call through and is logged, never thrown
    // into the host; a call let through sees the errno it came with, whatever resolving the path did to it.

    private static bool Judge(int dirfd, byte* path, bool followLast, string function, bool readsContent = false)
    {
        int errno = Errno.Value;
        try { return Restored(Permit(dirfd, path, followLast, function, readsContent), errno); }
        catch (Exception e) { return Restored(Contained(function, e), errno); }
    }

    private static bool JudgeAt(int dirfd, byte* path, int atFlags, string function, bool readsContent = false)
    {
        int errno = Errno.Value;
        try { return Restored(PermitAt(dirfd, path, atFlags, function, readsContent), errno); }
        catch (Exception e) { return Restored(Contained(function, e), errno); }
    }

    private static bool JudgeDescriptor(int fd, string function)
    {
        int errno = Errno.Value;
        try { return Restored(PermitDescriptor(fd, function), errno); }
        catch (Exception e) { return Restored(Contained(function, e), errno); }
    }

    private static bool JudgeSocketPath(byte* address, uint length, string function)
    {
        int errno = Errno.Value;
        try { return Restored(PermitSocketPath(address, length, function), errno); }
        catch (Exception e) { return Restored(Contained(function, e), errno); }
    }

    private static bool JudgeTmpfile(string function)
    {
        int errno = Errno.Value;
        try { return Restored(PermitTmpfile(function), errno); }
        catch (Exception e) { return Restored(Contained(function, e), errno); }
    }

    private static bool Restored(bool permitted, int errno)
    {
        if (permitted) Errno.Value = errno;
        return permitted;
    }

    /// <summary>Completed means the open was done (openat2) and its own errno stands.</summary>
    private static OpenOutcome JudgeOpen(int dirfd, byte* path, int flags, uint mode, string function, out int fd)
    {
        int errno = Errno.Value;
        fd = -1;
        OpenOutcome outcome;
        try { outcome = FileGate.Open(dirfd, path, flags, mode, function, out fd); }
        catch (Exception e) { Contained(function, e); outcome = OpenOutcome.CallReal; }
        if (outcome == OpenOutcome.CallReal) Errno.Value = errno;
        return outcome;
    }

    private static bool Contained(string function, Exception e)
    {
        try { Lifecycle.Diagnostics.Error("files", $"the {function} hook failed and let the call through: {e}"); }
        catch { /* nothing may escape into the host */ }
        return true;
    }
}
