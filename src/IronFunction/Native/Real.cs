namespace IronFunction.Native;

/// <summary>
/// The real libc functions behind every hook, resolved once at start with dlsym(RTLD_NEXT).
/// A hook calls through these; nothing else in the library calls a hooked name.
/// </summary>
internal static unsafe partial class Real
{
    // open family
    public static delegate* unmanaged<byte*, int, uint, int> open, open64;
    public static delegate* unmanaged<byte*, int, int> __open_2, __open64_2;
    public static delegate* unmanaged<int, byte*, int, uint, int> openat, openat64;
    public static delegate* unmanaged<int, byte*, int, int> __openat_2, __openat64_2;
    public static delegate* unmanaged<byte*, uint, int> creat, creat64;
    // stdio and directories
    public static delegate* unmanaged<byte*, byte*, nint> fopen, fopen64;
    public static delegate* unmanaged<byte*, byte*, nint, nint> freopen, freopen64;
    public static delegate* unmanaged<byte*, nint> opendir;
    // create, remove, rename, link
    public static delegate* unmanaged<byte*, uint, int> mkdir, mkfifo, chmod, lchmod;
    public static delegate* unmanaged<int, byte*, uint, int> mkdirat, mkfifoat;
    public static delegate* unmanaged<byte*, uint, ulong, int> mknod;
    public static delegate* unmanaged<int, byte*, uint, ulong, int> mknodat;
    public static delegate* unmanaged<byte*, int> rmdir, unlink, remove, chdir;
    public static delegate* unmanaged<int, byte*, int, int> unlinkat;
    public static delegate* unmanaged<byte*, byte*, int> rename, link, symlink;
    public static delegate* unmanaged<int, byte*, int, byte*, int> renameat;
    public static delegate* unmanaged<int, byte*, int, byte*, uint, int> renameat2;
    public static delegate* unmanaged<int, byte*, int, byte*, int, int> linkat;
    public static delegate* unmanaged<byte*, int, byte*, int> symlinkat;
    // truncate and metadata
    public static delegate* unmanaged<byte*, long, int> truncate, truncate64;
    public static delegate* unmanaged<int, byte*, uint, int, int> fchmodat;
    public static delegate* unmanaged<byte*, uint, uint, int> chown, lchown;
    public static delegate* unmanaged<int, byte*, uint, uint, int, int> fchownat;
    public static delegate* unmanaged<byte*, nint, int> utime, utimes, lutimes;
    public static delegate* unmanaged<int, byte*, nint, int, int> utimensat;
    public static delegate* unmanaged<int, byte*, nint, int> futimesat;
    public static delegate* unmanaged<byte*, byte*, nint, nuint, int, int> setxattr, lsetxattr;
    public static delegate* unmanaged<byte*, byte*, int> removexattr, lremovexattr;
    public static delegate* unmanaged<byte*, byte*, nint, nuint, nint> getxattr, lgetxattr;
    public static delegate* unmanaged<byte*, nint, nuint, nint> listxattr, llistxattr;
    public static delegate* unmanaged<int, byte*, uint, int> inotify_add_watch;
    public static delegate* unmanaged<byte*, byte*, byte*> bindtextdomain;
    // temporary-file helpers whose glibc internals bypass the public open
    public static delegate* unmanaged<byte*, int> mkstemp, mkstemp64;
    public static delegate* unmanaged<byte*, int, int> mkostemp, mkostemp64, mkstemps, mkstemps64;
    public static delegate* unmanaged<byte*, int, int, int> mkostemps, mkostemps64;
    public static delegate* unmanaged<byte*, byte*> mkdtemp;
    public static delegate* unmanaged<nint> tmpfile, tmpfile64;
    // working directory, tracked for relative paths
    public static delegate* unmanaged<int, int> fchdir, unshare;
    public static delegate* unmanaged<int, int, int> setns;
    // AF_UNIX sockets bound to a path create a file
    public static delegate* unmanaged<int, byte*, uint, int> bind;

    public static void Resolve()
    {
        open = (delegate* unmanaged<byte*, int, uint, int>)Sym("open"u8);
        open64 = (delegate* unmanaged<byte*, int, uint, int>)Sym("open64"u8);
        __open_2 = (delegate* unmanaged<byte*, int, int>)Sym("__open_2"u8);
        __open64_2 = (delegate* unmanaged<byte*, int, int>)Sym("__open64_2"u8);
        openat = (delegate* unmanaged<int, byte*, int, uint, int>)Sym("openat"u8);
        openat64 = (delegate* unmanaged<int, byte*, int, uint, int>)Sym("openat64"u8);
        __openat_2 = (delegate* unmanaged<int, byte*, int, int>)Sym("__openat_2"u8);
        __openat64_2 = (delegate* unmanaged<int, byte*, int, int>)Sym("__openat64_2"u8);
        creat = (delegate* unmanaged<byte*, uint, int>)Sym("creat"u8);
        creat64 = (delegate* unmanaged<byte*, uint, int>)Sym("creat64"u8);
        fopen = (delegate* unmanaged<byte*, byte*, nint>)Sym("fopen"u8);
        fopen64 = (delegate* unmanaged<byte*, byte*, nint>)Sym("fopen64"u8);
        freopen = (delegate* unmanaged<byte*, byte*, nint, nint>)Sym("freopen"u8);
        freopen64 = (delegate* unmanaged<byte*, byte*, nint, nint>)Sym("freopen64"u8);
        opendir = (delegate* unmanaged<byte*, nint>)Sym("opendir"u8);
        mkdir = (delegate* unmanaged<byte*, uint, int>)Sym("mkdir"u8);
        mkfifo = (delegate* unmanaged<byte*, uint, int>)Sym("mkfifo"u8);
        chmod = (delegate* unmanaged<byte*, uint, int>)Sym("chmod"u8);
        lchmod = (delegate* unmanaged<byte*, uint, int>)Sym("lchmod"u8);
        mkdirat = (delegate* unmanaged<int, byte*, uint, int>)Sym("mkdirat"u8);
        mkfifoat = (delegate* unmanaged<int, byte*, uint, int>)Sym("mkfifoat"u8);
        mknod = (delegate* unmanaged<byte*, uint, ulong, int>)Sym("mknod"u8);
        mknodat = (delegate* unmanaged<int, byte*, uint, ulong, int>)Sym("mknodat"u8);
        rmdir = (delegate* unmanaged<byte*, int>)Sym("rmdir"u8);
        unlink = (delegate* unmanaged<byte*, int>)Sym("unlink"u8);
        remove = (delegate* unmanaged<byte*, int>)Sym("remove"u8);
        chdir = (delegate* unmanaged<byte*, int>)Sym("chdir"u8);
        unlinkat = (delegate* unmanaged<int, byte*, int, int>)Sym("unlinkat"u8);
        rename = (delegate* unmanaged<byte*, byte*, int>)Sym("rename"u8);
        link = (delegate* unmanaged<byte*, byte*, int>)Sym("link"u8);
        symlink = (delegate* unmanaged<byte*, byte*, int>)Sym("symlink"u8);
        renameat = (delegate* unmanaged<int, byte*, int, byte*, int>)Sym("renameat"u8);
        renameat2 = (delegate* unmanaged<int, byte*, int, byte*, uint, int>)Sym("renameat2"u8);
        linkat = (delegate* unmanaged<int, byte*, int, byte*, int, int>)Sym("linkat"u8);
        symlinkat = (delegate* unmanaged<byte*, int, byte*, int>)Sym("symlinkat"u8);
        truncate = (delegate* unmanaged<byte*, long, int>)Sym("truncate"u8);
        truncate64 = (delegate* unmanaged<byte*, long, int>)Sym("truncate64"u8);
        fchmodat = (delegate* unmanaged<int, byte*, uint, int, int>)Sym("fchmodat"u8);
        chown = (delegate* unmanaged<byte*, uint, uint, int>)Sym("chown"u8);
        lchown = (delegate* unmanaged<byte*, uint, uint, int>)Sym("lchown"u8);
        fchownat = (delegate* unmanaged<int, byte*, uint, uint, int, int>)Sym("fchownat"u8);
        utime = (delegate* unmanaged<byte*, nint, int>)Sym("utime"u8);
        utimes = (delegate* unmanaged<byte*, nint, int>)Sym("utimes"u8);
        lutimes = (delegate* unmanaged<byte*, nint, int>)Sym("lutimes"u8);
        utimensat = (delegate* unmanaged<int, byte*, nint, int, int>)Sym("utimensat"u8);
        futimesat = (delegate* unmanaged<int, byte*, nint, int>)Sym("futimesat"u8);
        setxattr = (delegate* unmanaged<byte*, byte*, nint, nuint, int, int>)Sym("setxattr"u8);
        lsetxattr = (delegate* unmanaged<byte*, byte*, nint, nuint, int, int>)Sym("lsetxattr"u8);
        removexattr = (delegate* unmanaged<byte*, byte*, int>)Sym("removexattr"u8);
        lremovexattr = (delegate* unmanaged<byte*, byte*, int>)Sym("lremovexattr"u8);
        getxattr = (delegate* unmanaged<byte*, byte*, nint, nuint, nint>)Sym("getxattr"u8);
        lgetxattr = (delegate* unmanaged<byte*, byte*, nint, nuint, nint>)Sym("lgetxattr"u8);
        listxattr = (delegate* unmanaged<byte*, nint, nuint, nint>)Sym("listxattr"u8);
        llistxattr = (delegate* unmanaged<byte*, nint, nuint, nint>)Sym("llistxattr"u8);
        inotify_add_watch = (delegate* unmanaged<int, byte*, uint, int>)Sym("inotify_add_watch"u8);
        bindtextdomain = (delegate* unmanaged<byte*, byte*, byte*>)Sym("bindtextdomain"u8);
        mkstemp = (delegate* unmanaged<byte*, int>)Sym("mkstemp"u8);
        mkstemp64 = (delegate* unmanaged<byte*, int>)Sym("mkstemp64"u8);
        mkostemp = (delegate* unmanaged<byte*, int, int>)Sym("mkostemp"u8);
        mkostemp64 = (delegate* unmanaged<byte*, int, int>)Sym("mkostemp64"u8);
        mkstemps = (delegate* unmanaged<byte*, int, int>)Sym("mkstemps"u8);
        mkstemps64 = (delegate* unmanaged<byte*, int, int>)Sym("mkstemps64"u8);
        mkostemps = (delegate* unmanaged<byte*, int, int, int>)Sym("mkostemps"u8);
        mkostemps64 = (delegate* unmanaged<byte*, int, int, int>)Sym("mkostemps64"u8);
        mkdtemp = (delegate* unmanaged<byte*, byte*>)Sym("mkdtemp"u8);
        tmpfile = (delegate* unmanaged<nint>)Sym("tmpfile"u8);
        tmpfile64 = (delegate* unmanaged<nint>)Sym("tmpfile64"u8);
        fchdir = (delegate* unmanaged<int, int>)Sym("fchdir"u8);
        unshare = (delegate* unmanaged<int, int>)Sym("unshare"u8);
        setns = (delegate* unmanaged<int, int, int>)Sym("setns"u8);
        bind = (delegate* unmanaged<int, byte*, uint, int>)Sym("bind"u8);
        ResolveIndirect();
    }

    /// <param name="quiet">a function only some glibc versions export (GLIBC_PRIVATE, compat): its absence is no news</param>
    internal static nint Sym(ReadOnlySpan<byte> name, bool quiet = false)
    {
        Span<byte> z = stackalloc byte[name.Length + 1];
        name.CopyTo(z);
        z[name.Length] = 0;
        fixed (byte* p = z)
        {
            nint f = Libc.Dlsym(Libc.RTLD_NEXT, p);
            // a compat-only symbol (sunrpc, __res_query...) has no default version for dlsym: its first version has it
            if (f == 0)
                fixed (byte* v = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture ==
                       System.Runtime.InteropServices.Architecture.Arm64 ? "GLIBC_2.17\0"u8 : "GLIBC_2.2.5\0"u8)
                    f = Libc.Dlvsym(Libc.RTLD_NEXT, p, v);
            // a libc without the symbol has no caller for the hook either; failing loudly beats a null call
            if (f == 0 && !quiet) Lifecycle.Diagnostics.Warn("lifecycle", $"libc has no {System.Text.Encoding.UTF8.GetString(name)}; its hook calls fail with ENOSYS");
            return f == 0 ? (nint)(delegate* unmanaged<int>)&MissingFunction : f;
        }
    }

    [System.Runtime.InteropServices.UnmanagedCallersOnly]
    private static int MissingFunction()
    {
        Errno.Value = Errno.ENOSYS;
        return -1;
    }
}
