using System.Runtime.InteropServices;
using IronFunction.Native;
using static IronFunction.Hooks.FileGate;

namespace IronFunction.Hooks;

/// <summary>
/// libc functions that open a file through glibc's internal calls, past the public open (Hooks/files.symbols):
/// each is judged at its own entry, like the public function it stands for. Also the compat mknod entry
/// points, whose signature differs (__xmknod, __xmknodat). Each judges the hook's own copy of the path, which is what
/// the real call receives; the ones that keep the name or pass it on inside libc get the copy, not an anchored form.
/// </summary>
internal static unsafe partial class FileHooks
{
    private const int O_ACCMODE = 3, O_NOFOLLOW = Native.Arch.O_NOFOLLOW;

    // ---- mknod's compat entry points (glibc before 2.33 routed mknod through them): ver, path, mode, &dev ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___xmknod")]
    private static int Xmknod(int version, byte* path, uint mode, ulong* dev)
    {
        PathArg a;
        return Judge(&a, AT, path, N, "__xmknod") ? a.Done(Real.__xmknod(version, a.Path, mode, dev)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___xmknodat")]
    private static int Xmknodat(int version, int dirfd, byte* path, uint mode, ulong* dev)
    {
        PathArg a;
        return Judge(&a, dirfd, path, N, "__xmknodat") ? a.Done(Real.__xmknodat(version, dirfd, a.Path, mode, dev)) : -1;
    }

    // ---- glibc's own open (GLIBC_PRIVATE, reachable with dlvsym): the same judgement as open ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___open_nocancel")]
    private static int OpenNocancel(byte* path, int flags, uint mode)
    {
        PathArg a;
        return JudgeOpen(&a, AT, path, flags, mode, "__open_nocancel", out int fd) switch
        {
            OpenOutcome.CallReal => Real.__open_nocancel(a.Path, flags, mode),
            OpenOutcome.Denied => -1,
            _ => fd,
        };
    }

    // ---- stdio opened inside libc: a path and an fopen mode (or open flags) ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_setmntent")]
    private static nint Setmntent(byte* path, byte* mode)
    {
        PathArg a;
        return JudgeCopy(&a, path, F, "setmntent", FileGate.FopenReads(mode)) ? Real.setmntent(a.Path, mode) : 0;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___nss_files_fopen")]
    private static nint NssFilesFopen(byte* path)
    {
        PathArg a;
        return JudgeCopy(&a, path, F, "__nss_files_fopen", true) ? Real.__nss_files_fopen(a.Path) : 0;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook__IO_file_fopen")]
    private static nint IoFileFopen(nint stream, byte* path, byte* mode, int is32)
    {
        PathArg a;
        return JudgeCopy(&a, path, C, "_IO_file_fopen", FileGate.FopenReads(mode)) ? Real._IO_file_fopen(stream, a.Path, mode, is32) : 0;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook__IO_file_open")]
    private static nint IoFileOpen(nint stream, byte* path, int flags, int prot, int readWrite, int is32)
    {
        PathArg a;
        return JudgeCopy(&a, path, (flags & O_NOFOLLOW) == 0 ? C : N, "_IO_file_open", FileGate.OpensForReading(flags))
            ? Real._IO_file_open(stream, a.Path, flags, prot, readWrite, is32) : 0;
    }

    // ---- message catalogs: a path, or a name looked up along NLSPATH (whose %L comes from LANG) ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_catopen")]
    private static nint Catopen(byte* name, int flag)
    {
        const int NL_CAT_LOCALE = 1;
        // the locale's name cannot hold a '/' (setlocale refuses one); LANG can
        string? language = flag == NL_CAT_LOCALE ? null : Libc.GetEnv("LANG");
        string? nlspath = Libc.GetEnv("NLSPATH");
        return JudgeCatalog(name, nlspath is { Length: > 0 } ? nlspath + ":" + DefaultNlspath : DefaultNlspath, language, "catopen")
            ? Real.catopen(name, flag) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___open_catalog")]
    private static int OpenCatalog(byte* name, byte* nlspath, byte* language, nint catalog) =>
        JudgeCatalog(name, Text(nlspath), Text(language), "__open_catalog") ? Real.__open_catalog(name, nlspath, language, catalog) : -1;

    // ---- utmp and wtmp: utmpname names the file that the next setutent, getut* or pututline opens ----

    /// <summary>The name libc holds since the last utmpname let through (NUL-ended), or null for its default.</summary>
    private static volatile byte[]? s_utmpName;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_utmpname")]
    private static int Utmpname(byte* file)
    {
        PathArg a;
        return Utmp(&a, file, "utmpname") ? RememberUtmp(a.Path, Real.utmpname(a.Path)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_utmpxname")]
    private static int Utmpxname(byte* file)
    {
        PathArg a;
        return Utmp(&a, file, "utmpxname") ? RememberUtmp(a.Path, Real.utmpxname(a.Path)) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_updwtmp")]
    private static void Updwtmp(byte* file, nint entry)
    {
        PathArg a;
        if (JudgeCopy(&a, file, C, "updwtmp")) Real.updwtmp(a.Path, entry);
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_updwtmpx")]
    private static void Updwtmpx(byte* file, nint entry)
    {
        PathArg a;
        if (JudgeCopy(&a, file, C, "updwtmpx")) Real.updwtmpx(a.Path, entry);
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_setutent")]
    private static void Setutent()
    {
        if (JudgeUtmp("setutent")) Real.setutent();
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_setutxent")]
    private static void Setutxent()
    {
        if (JudgeUtmp("setutxent")) Real.setutxent();
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_getutent")]
    private static nint Getutent() => JudgeUtmp("getutent") ? Real.getutent() : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_getutxent")]
    private static nint Getutxent() => JudgeUtmp("getutxent") ? Real.getutxent() : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_getutid")]
    private static nint Getutid(nint id) => JudgeUtmp("getutid") ? Real.getutid(id) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_getutxid")]
    private static nint Getutxid(nint id) => JudgeUtmp("getutxid") ? Real.getutxid(id) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_getutline")]
    private static nint Getutline(nint line) => JudgeUtmp("getutline") ? Real.getutline(line) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_getutxline")]
    private static nint Getutxline(nint line) => JudgeUtmp("getutxline") ? Real.getutxline(line) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_pututline")]
    private static nint Pututline(nint entry) => JudgeUtmp("pututline") ? Real.pututline(entry) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_pututxline")]
    private static nint Pututxline(nint entry) => JudgeUtmp("pututxline") ? Real.pututxline(entry) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_getutent_r")]
    private static int GetutentR(nint buffer, nint* result) =>
        JudgeUtmp("getutent_r") ? Real.getutent_r(buffer, result) : NoEntry(result);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_getutid_r")]
    private static int GetutidR(nint id, nint buffer, nint* result) =>
        JudgeUtmp("getutid_r") ? Real.getutid_r(id, buffer, result) : NoEntry(result);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_getutline_r")]
    private static int GetutlineR(nint line, nint buffer, nint* result) =>
        JudgeUtmp("getutline_r") ? Real.getutline_r(line, buffer, result) : NoEntry(result);

    private static int NoEntry(nint* result)
    {
        if (NetworkGate.Readable(result)) *result = 0;
        return -1;
    }

    /// <summary>utmpname keeps a name whose file need not exist yet: a path that does not resolve is not refused here.</summary>
    private static bool Utmp(PathArg* a, byte* file, string function) =>
        JudgeCopy(a, file, C, function, readsContent: true) || Errno.Value != Errno.EACCES;

    /// <summary>Judged on the hook's own copy, which the real call receives (not anchored: libc keeps or passes on the name).</summary>
    private static bool JudgeCopy(PathArg* a, byte* path, TargetResolver.PinMode pin, string function, bool readsContent = false) =>
        Judge(a, AT, path, pin, function, readsContent, anchor: false);

    private static int RememberUtmp(byte* file, int result)
    {
        if (result == 0 && NetworkGate.Readable(file))
        {
            int errno = Errno.Value;
            try
            {
                var name = new ReadOnlySpan<byte>(file, (int)Libc.Strnlen(file, 4096));
                var copy = new byte[name.Length + 1];
                name.CopyTo(copy);
                s_utmpName = copy;
            }
            catch (Exception e) { Contained("utmpname", e); }
            Errno.Value = errno;
        }
        return result;
    }

    /// <summary>The file named by utmpname, judged again where it is opened: a relative name follows the working directory.</summary>
    private static bool JudgeUtmp(string function)
    {
        var name = s_utmpName;
        if (name == null) return true;
        PathArg a;
        fixed (byte* p = name) return Judge(&a, AT, p, C, function, readsContent: true, anchor: false) || Errno.Value != Errno.EACCES;
    }

    // ---- ~/.netrc, read by ruserpass (and rexec) from $HOME, which the caller can set ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_ruserpass")]
    private static int Ruserpass(byte* host, byte** name, byte** password) => JudgeNetrc("ruserpass") ? Real.ruserpass(host, name, password) : -1;

    internal static bool JudgeNetrc(string function)
    {
        int errno = Errno.Value;
        try
        {
            string? home = Libc.GetEnv("HOME");
            return Restored(string.IsNullOrEmpty(home) || JudgePath(home + "/.netrc", function), errno);
        }
        catch (Exception e) { return Restored(Contained(function, e), errno); }
    }

    // ---- catalogs ----

    /// <summary>glibc's NLSPATH after the caller's own (catgets/catopen.c).</summary>
    private const string DefaultNlspath =
        "/usr/share/locale/%L/%N:/usr/share/locale/%L/LC_MESSAGES/%N:/usr/share/locale/%l/%N:/usr/share/locale/%l/LC_MESSAGES/%N:";

    private static string? Text(byte* s) => NetworkGate.Readable(s) ? Marshal.PtrToStringUTF8((nint)s) : null;

    /// <summary>Every file the catalog lookup may open, judged as a read: the name itself when it holds a '/', else each NLSPATH candidate.</summary>
    private static bool JudgeCatalog(byte* name, string? nlspath, string? language, string function)
    {
        if (!NetworkGate.Readable(name)) return true;
        int errno = Errno.Value;
        try
        {
            string catalog = Marshal.PtrToStringUTF8((nint)name) ?? "";
            if (catalog.Contains('/')) return Restored(JudgePath(catalog, function), errno);
            if (string.IsNullOrEmpty(language)) language = "C";
            foreach (var template in (nlspath ?? DefaultNlspath).Split(':'))
                if (!JudgePath(template.Length == 0 ? catalog : Expand(template, catalog, language), function)) return false;
            Errno.Value = errno;
            return true;
        }
        catch (Exception e) { return Restored(Contained(function, e), errno); }
    }

    // gettext reads its message catalogs (dirname/<language>/LC_MESSAGES/domain.mo) inside libc: the directory is
    // judged, as a read of it, when it is named. glibc keeps its own copy of the string, made from the judged one.
    [UnmanagedCallersOnly(EntryPoint = "iron_hook_bindtextdomain")]
    private static byte* Bindtextdomain(byte* domain, byte* dirname)
    {
        if (dirname == null) return Real.bindtextdomain(domain, null);
        PathArg a;
        return JudgeCopy(&a, dirname, F, "bindtextdomain", false) ? Real.bindtextdomain(domain, a.Path) : null;
    }

    // ---- files libc reaches for process creation and dlopen (glue: process_files.c, lookups.c). 1 to go on, 0 denied
    // with errno EACCES; a path that does not resolve is left to the call, which meets the same error itself. ----

    /// <summary>Names of the exec functions by the glue's IRON_FN_* numbers, then posix_spawn and posix_spawnp.</summary>
    private static readonly string[] ProgramFunctions =
        ["execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle", "fexecve", "execveat", "posix_spawn", "posix_spawnp"];

    /// <summary>The program an exec runs is read and mapped from its file: judged as a read (path, or dirfd alone when path is NULL).</summary>
    [UnmanagedCallersOnly(EntryPoint = "iron_files_program")]
    private static int FilesProgram(int dirfd, byte* path, int flags, int function)
    {
        string name = (uint)function < (uint)ProgramFunctions.Length ? ProgramFunctions[function] : "exec";
        PathArg a;
        (&a)->Init(path);
        int errno = Errno.Value;
        try
        {
            // running the handler is not reading its source: read_write_tmp only
            bool permitted = path == null ? PermitDescriptor(&a, dirfd, name) : PermitAt(&a, dirfd, path, flags, name);
            return Resolved(&a, permitted, errno);
        }
        catch (Exception e) { return Contained(&a, path, name, e) ? 1 : 0; }
    }

    /// <summary>A posix_spawn file action's open, by its flags; a NULL path is an action the glue cannot judge (flags: why).</summary>
    [UnmanagedCallersOnly(EntryPoint = "iron_files_spawn_open")]
    private static int FilesSpawnOpen(int dirfd, byte* path, int flags, int spawnp)
    {
        string name = spawnp != 0 ? "posix_spawnp" : "posix_spawn";
        PathArg a;
        (&a)->Init(path);
        int errno = Errno.Value;
        try
        {
            if (path == null)
                return PermitUnjudged(name + " file action", flags switch
                {
                    1 => "addfchdir_np to a descriptor an earlier action opened",
                    2 => "a path too long to judge",
                    _ => "an action of a kind this library does not know",
                }) ? 1 : 0;
            var pin = (flags & O_CREAT) != 0 ? ((flags & 0x80 /*O_EXCL*/) != 0 ? N : C) : (flags & O_NOFOLLOW) != 0 ? N : F;
            return Resolved(&a, Permit(&a, dirfd, path, pin, name + " file action open", OpensForReading(flags), anchor: false), errno);
        }
        catch (Exception e) { return Contained(&a, path, name, e) ? 1 : 0; }
    }

    /// <summary>dlopen/dlmopen: the file ld.so will map, a read (the glue found it).</summary>
    [UnmanagedCallersOnly(EntryPoint = "iron_files_dlopen")]
    private static int FilesDlopen(byte* path, int dlmopen)
    {
        string name = dlmopen != 0 ? "dlmopen" : "dlopen";
        PathArg a;
        (&a)->Init(path);
        int errno = Errno.Value;
        try { return Resolved(&a, Permit(&a, AT, path, F, name, readsContent: true, anchor: false), errno); }
        catch (Exception e) { return Contained(&a, path, name, e) ? 1 : 0; }
    }

    /// <summary>1 when permitted, or when the path did not resolve (the call meets that error itself); its descriptors closed.</summary>
    private static int Resolved(PathArg* a, bool permitted, int errno)
    {
        int error = Errno.Value;
        a->Done(0);
        if (permitted || error != Errno.EACCES) { Errno.Value = errno; return 1; }
        Errno.Value = error;
        return 0;
    }

    private static bool JudgePath(string path, string function)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        PathArg a;
        // a candidate that does not resolve is one the lookup cannot open either
        fixed (byte* p = bytes) return FileGate.Permit(&a, AT, p, TargetResolver.PinMode.Follow, function, readsContent: true, anchor: false) ||
                                       Errno.Value != Errno.EACCES;
    }

    /// <summary>%N the name, %L the language, %l %t %c its parts (language_territory.codeset), %% a '%' (catgets/open_catalog.c).</summary>
    private static string Expand(string template, string name, string language)
    {
        int underscore = language.IndexOf('_'), dot = language.IndexOf('.'), at = language.IndexOf('@');
        int end = at < 0 ? language.Length : at;
        string lang = language[..new[] { underscore, dot, end }.Where(i => i >= 0).Min()];
        string territory = underscore < 0 ? "" : language[(underscore + 1)..(dot > underscore ? dot : end)];
        string codeset = dot < 0 ? "" : language[(dot + 1)..Math.Max(dot + 1, end)];
        var result = new System.Text.StringBuilder();
        for (int i = 0; i < template.Length; i++)
        {
            if (template[i] != '%' || i + 1 == template.Length) { result.Append(template[i]); continue; }
            result.Append(template[++i] switch
            {
                'N' => name, 'L' => language, 'l' => lang, 't' => territory, 'c' => codeset, '%' => "%",
                var other => "%" + other,
            });
        }
        return result.ToString();
    }
}
