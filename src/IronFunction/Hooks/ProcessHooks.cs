using System.Runtime.InteropServices;
using IronFunction.Lifecycle;
using IronFunction.Native;
using IronFunction.Policy;
using static IronFunction.Hooks.ProcessGate;

namespace IronFunction.Hooks;

/// <summary>
/// The managed judges behind the process functions of Hooks/process.symbols (create_child_process).
/// The exported names are C wrappers in Native/glue/process.c (a vfork child must never enter the
/// runtime); each calls its judge here before the real function, unless the control is allow. A judge
/// returns 0 to go on or -1 to deny (errno is then EPERM), and reports the event.
/// </summary>
internal static unsafe class ProcessHooks
{
    private const int AT = Libc.AT_FDCWD;

    /// <summary>What a vfork child executed; mirrors struct iron_exec_record in Native/glue/process.c.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ExecRecord
    {
        public const int TextSize = 8192;
        public int Used, Error, Search, Function, Argc, Length;
        public fixed byte Text[TextSize];
    }

    /// <summary>The exec functions as the native glue numbers them (IRON_FN_*).</summary>
    public static readonly string[] ExecFunctionNames =
        ["execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle", "fexecve", "execveat"];

    // ---- new processes ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fork")]
    private static int Fork() => JudgeFork("fork");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook__Fork")]
    private static int Fork_() => JudgeFork("_Fork");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___fork")]
    private static int Fork__() => JudgeFork("__fork");

    /// <summary>Asked in block mode only: in alert mode a vfork is reported once its child has exec'd (see VforkReport).</summary>
    [UnmanagedCallersOnly(EntryPoint = "iron_hook_vfork")]
    private static int Vfork() => JudgeFork("vfork");

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_clone")]
    private static int Clone(int flags)
    {
        int errno = Errno.Value;
        try { return Result(PermitClone(flags), errno); }
        catch (Exception e) { return Contained("clone", e, errno); }
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_process_vfork_report")]
    private static void VforkReport(ExecRecord* record, int child, int viaClone)
    {
        int errno = Errno.Value;
        try { ReportVfork(record, child, viaClone != 0); }
        catch (Exception e) { Contained("vfork", e, errno); }
        Errno.Value = errno;
    }

    // ---- programs ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_execve")]
    private static int Execve(byte* path, byte** argv) => JudgeExec("execve", Lookup.Path, AT, path, argv, 0);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_execv")]
    private static int Execv(byte* path, byte** argv) => JudgeExec("execv", Lookup.Path, AT, path, argv, 0);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_execvp")]
    private static int Execvp(byte* file, byte** argv) => JudgeExec("execvp", Lookup.Search, AT, file, argv, 0);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_execvpe")]
    private static int Execvpe(byte* file, byte** argv) => JudgeExec("execvpe", Lookup.Search, AT, file, argv, 0);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_execl")]
    private static int Execl(byte* path, byte** argv) => JudgeExec("execl", Lookup.Path, AT, path, argv, 0);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_execlp")]
    private static int Execlp(byte* file, byte** argv) => JudgeExec("execlp", Lookup.Search, AT, file, argv, 0);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_execle")]
    private static int Execle(byte* path, byte** argv) => JudgeExec("execle", Lookup.Path, AT, path, argv, 0);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_fexecve")]
    private static int Fexecve(int fd, byte** argv) => JudgeExec("fexecve", Lookup.Descriptor, fd, null, argv, 0);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_execveat")]
    private static int Execveat(int dirfd, byte* path, byte** argv, int flags) =>
        JudgeExec("execveat", Lookup.At, dirfd, path, argv, flags);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_posix_spawn")]
    private static int PosixSpawn(byte* path, byte** argv) => JudgeExec("posix_spawn", Lookup.Path, AT, path, argv, 0);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_posix_spawnp")]
    private static int PosixSpawnp(byte* file, byte** argv) => JudgeExec("posix_spawnp", Lookup.Search, AT, file, argv, 0);

    // ---- shells ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_system")]
    private static int System(byte* command) => JudgeShell("system", command);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_popen")]
    private static int Popen(byte* command) => JudgeShell("popen", command);

    // popen's own engine (exported, with a FILE the caller set up): the same judgement
    [UnmanagedCallersOnly(EntryPoint = "iron_hook__IO_proc_open")]
    private static int IoProcOpen(byte* command) => JudgeShell("_IO_proc_open", command);

    // ---- containment: nothing escapes into the host; a call let through keeps the errno it came with.
    // A failure inside the library denies in block mode (the kernel filter would deny it too) and lets
    // the call through otherwise, logged.

    private static int JudgeFork(string function)
    {
        int errno = Errno.Value;
        try { return Result(PermitFork(function), errno); }
        catch (Exception e) { return Contained(function, e, errno); }
    }

    private static int JudgeExec(string function, Lookup lookup, int dirfd, byte* path, byte** argv, int flags)
    {
        int errno = Errno.Value;
        try { return Result(PermitExec(function, lookup, dirfd, path, argv, flags), errno); }
        catch (Exception e) { return Contained(function, e, errno); }
    }

    private static int JudgeShell(string function, byte* command)
    {
        int errno = Errno.Value;
        try { return Result(PermitShell(function, command), errno); }
        catch (Exception e) { return Contained(function, e, errno); }
    }

    private static int Result(bool permitted, int errno)
    {
        if (!permitted) return -1;
        Errno.Value = errno;
        return 0;
    }

    private static int Contained(string function, Exception e, int errno)
    {
        bool block = true;
        try
        {
            block = Startup.CreateChildProcess == PolicyAction.Block;
            Diagnostics.Error("process", $"the {function} hook failed and {(block ? "denied" : "let")} the call{(block ? "" : " through")}: {e}");
        }
        catch { /* nothing may escape into the host */ }
        if (block) { Errno.Value = Errno.EPERM; return -1; }
        Errno.Value = errno;
        return 0;
    }
}
