namespace IronFunction.Native;

/// <summary>
/// The real functions behind the hooks of libc functions that open a file through internal calls
/// (FileHooks.Indirect.cs) or take a path in another signature (__xmknod).
/// </summary>
internal static unsafe partial class Real
{
    public static delegate* unmanaged<int, byte*, uint, ulong*, int> __xmknod;
    public static delegate* unmanaged<int, int, byte*, uint, ulong*, int> __xmknodat;
    public static delegate* unmanaged<byte*, int, uint, int> __open_nocancel;
    public static delegate* unmanaged<byte*, byte*, nint> setmntent;
    public static delegate* unmanaged<byte*, nint> __nss_files_fopen;
    public static delegate* unmanaged<nint, byte*, byte*, int, nint> _IO_file_fopen;
    public static delegate* unmanaged<nint, byte*, int, int, int, int, nint> _IO_file_open;
    public static delegate* unmanaged<byte*, int, nint> catopen;
    public static delegate* unmanaged<byte*, byte*, byte*, nint, int> __open_catalog;
    public static delegate* unmanaged<byte*, int> utmpname, utmpxname;
    public static delegate* unmanaged<byte*, byte**, byte**, int> ruserpass;
    public static delegate* unmanaged<byte*, nint, void> updwtmp, updwtmpx;
    public static delegate* unmanaged<void> setutent, setutxent;
    public static delegate* unmanaged<nint> getutent, getutxent;
    public static delegate* unmanaged<nint, nint> getutid, getutline, pututline, getutxid, getutxline, pututxline;
    public static delegate* unmanaged<nint, nint*, int> getutent_r;
    public static delegate* unmanaged<nint, nint, nint*, int> getutid_r, getutline_r;

    private static void ResolveIndirect()
    {
        __xmknod = (delegate* unmanaged<int, byte*, uint, ulong*, int>)Sym("__xmknod"u8, quiet: true);
        __xmknodat = (delegate* unmanaged<int, int, byte*, uint, ulong*, int>)Sym("__xmknodat"u8, quiet: true);
        __open_nocancel = (delegate* unmanaged<byte*, int, uint, int>)Sym("__open_nocancel"u8, quiet: true);
        setmntent = (delegate* unmanaged<byte*, byte*, nint>)Sym("setmntent"u8, quiet: true);
        __nss_files_fopen = (delegate* unmanaged<byte*, nint>)Sym("__nss_files_fopen"u8, quiet: true);
        _IO_file_fopen = (delegate* unmanaged<nint, byte*, byte*, int, nint>)Sym("_IO_file_fopen"u8, quiet: true);
        _IO_file_open = (delegate* unmanaged<nint, byte*, int, int, int, int, nint>)Sym("_IO_file_open"u8, quiet: true);
        catopen = (delegate* unmanaged<byte*, int, nint>)Sym("catopen"u8, quiet: true);
        __open_catalog = (delegate* unmanaged<byte*, byte*, byte*, nint, int>)Sym("__open_catalog"u8, quiet: true);
        ruserpass = (delegate* unmanaged<byte*, byte**, byte**, int>)Sym("ruserpass"u8, quiet: true);
        utmpname = (delegate* unmanaged<byte*, int>)Sym("utmpname"u8, quiet: true);
        utmpxname = (delegate* unmanaged<byte*, int>)Sym("utmpxname"u8, quiet: true);
        updwtmp = (delegate* unmanaged<byte*, nint, void>)Sym("updwtmp"u8, quiet: true);
        updwtmpx = (delegate* unmanaged<byte*, nint, void>)Sym("updwtmpx"u8, quiet: true);
        setutent = (delegate* unmanaged<void>)Sym("setutent"u8, quiet: true);
        setutxent = (delegate* unmanaged<void>)Sym("setutxent"u8, quiet: true);
        getutent = (delegate* unmanaged<nint>)Sym("getutent"u8, quiet: true);
        getutxent = (delegate* unmanaged<nint>)Sym("getutxent"u8, quiet: true);
        getutid = (delegate* unmanaged<nint, nint>)Sym("getutid"u8, quiet: true);
        getutline = (delegate* unmanaged<nint, nint>)Sym("getutline"u8, quiet: true);
        pututline = (delegate* unmanaged<nint, nint>)Sym("pututline"u8, quiet: true);
        getutxid = (delegate* unmanaged<nint, nint>)Sym("getutxid"u8, quiet: true);
        getutxline = (delegate* unmanaged<nint, nint>)Sym("getutxline"u8, quiet: true);
        pututxline = (delegate* unmanaged<nint, nint>)Sym("pututxline"u8, quiet: true);
        getutent_r = (delegate* unmanaged<nint, nint*, int>)Sym("getutent_r"u8, quiet: true);
        getutid_r = (delegate* unmanaged<nint, nint, nint*, int>)Sym("getutid_r"u8, quiet: true);
        getutline_r = (delegate* unmanaged<nint, nint, nint*, int>)Sym("getutline_r"u8, quiet: true);
    }
}
