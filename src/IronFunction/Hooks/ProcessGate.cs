using System.Text;
using IronFunction.Events;
using IronFunction.Lifecycle;
using IronFunction.Native;
using IronFunction.Policy;
using IronFunction.Rules;

namespace IronFunction.Hooks;

/// <summary>
/// The create_child_process decision shared by every process hook: name what would start, report
/// it, and in block mode deny with EPERM. Runs in the calling process only, never in a vfork child
/// (the native glue records what such a child executes and <see cref="ReportVfork"/> reports it).
/// </summary>
internal static unsafe class ProcessGate
{
    /// <summary>How an exec-like call names its program.</summary>
    public enum Lookup : byte
    {
        /// <summary>A path, relative to the working directory.</summary>
        Path,
        /// <summary>A name looked up in PATH when it has no slash (execvp, posix_spawnp, ...).</summary>
        Search,
        /// <summary>An open descriptor (fexecve).</summary>
        Descriptor,
        /// <summary>A path relative to a directory descriptor, or the descriptor itself with AT_EMPTY_PATH (execveat).</summary>
        At,
    }

    private const int CLONE_VM = 0x100, CLONE_VFORK = 0x4000, AT_EMPTY_PATH = 0x1000;
    private const int MaxArguments = 256, MaxArgumentBytes = 64 * 1024;

    private static string? s_self;

    /// <summary>fork, _Fork, vfork (block mode) and clone: the new process runs this program.</summary>
    public static bool PermitFork(string function)
    {
        var action = Startup.CreateChildProcess;
        if (action == PolicyAction.Allow || ReentrancyGuard.Active) return true;
        ProcessProtection.EnsureEventTemplate(action); // the child's own process calls are judged in C
        var self = SelfExecutable();
        return Violation(action, self, action == PolicyAction.Block
            ? $"{function} by {self} was blocked: create_child_process does not allow creating processes"
            : $"{function} by {self} was allowed and reported: create_child_process is in alert mode");
    }

    /// <summary>clone without CLONE_THREAD (the glue never asks about threads).</summary>
    public static bool PermitClone(int flags)
    {
        // a CLONE_VM|CLONE_VFORK child is reported like a vfork child: once, with what it executes
        if (Startup.CreateChildProcess == PolicyAction.Alert && (flags & (CLONE_VM | CLONE_VFORK)) == (CLONE_VM | CLONE_VFORK))
            return true;
        return PermitFork("clone");
    }

    /// <summary>The exec family and posix_spawn: the program and its arguments.</summary>
    public static bool PermitExec(string function, Lookup lookup, int dirfd, byte* path, byte** argv, int atFlags)
    {
        var action = Startup.CreateChildProcess;
        if (action == PolicyAction.Allow || ReentrancyGuard.Active) return true;
        var arguments = ReadArguments(argv);
        var spelled = lookup == Lookup.Descriptor ? $"/proc/self/fd/{dirfd}" : ReadString(path) ?? "";
        var program = Resolve(lookup, dirfd, spelled, atFlags);
        // an exec of a file that is not there starts nothing (execvp-style searches try every PATH entry)
        if (action == PolicyAction.Alert && (program == null || !Exists(program))) return true;
        return ReportProgram(action, function, program ?? spelled, arguments, "", null);
    }

    /// <summary>system and popen: the shell and the command line it is given.</summary>
    public static bool PermitShell(string function, byte* command)
    {
        var action = Startup.CreateChildProcess;
        if (action == PolicyAction.Allow || ReentrancyGuard.Active) return true;
        // glibc's system(NULL) asks whether a shell works by running "exit 0"
        var line = command == null && function == "system" ? "exit 0" : ReadString(command) ?? "";
        return ReportProgram(action, function, "/bin/sh", ["sh", "-c", line], "", null);
    }

    /// <summary>
    /// After a vfork child (or a CLONE_VM|CLONE_VFORK clone child) has exec'd or exited, in the parent:
    /// one alert event naming what the child executed, or this program when it executed nothing.
    /// </summary>
    public static void ReportVfork(ProcessHooks.ExecRecord* record, int child, bool viaClone)
    {
        var action = Startup.CreateChildProcess;
        if (action != PolicyAction.Alert || ReentrancyGuard.Active) return;
        var how = viaClone ? "clone" : "vfork";
        if (record == null || record->Used == 0)
        {
            var self = SelfExecutable();
            Violation(action, self, $"{how} by {self} (child {child}) was allowed and reported: create_child_process is in alert mode");
            return;
        }
        var strings = RecordStrings(record);
        var function = (uint)record->Function < ProcessHooks.ExecFunctionNames.Length ? ProcessHooks.ExecFunctionNames[record->Function] : "exec";
        var program = strings.Count > 0 ? strings[0] : "";
        if (record->Search != 0) program = SearchPath(program) ?? program;
        var failure = record->Error != 0 ? $"; the exec failed with errno {record->Error}" : null;
        ReportProgram(action, $"{how}+{function}", program, strings.Skip(1).ToList(), $" in child {child}", failure);
    }

    private static bool ReportProgram(PolicyAction action, string function, string program, List<string> arguments, string where, string? note)
    {
        var what = ProgramDescription.What(program, arguments);
        var detail = ProgramDescription.ShellCommand(program, arguments) == null && arguments.Count > 1
            ? $" ({ProgramDescription.ArgumentLine(arguments)})" : "";
        return Violation(action, what, action == PolicyAction.Block
            ? $"{function} of {what}{detail}{where} was blocked: create_child_process does not allow starting programs"
            : $"{function} of {what}{detail}{where} was allowed and reported: create_child_process is in alert mode{note}");
    }

    private static bool Violation(PolicyAction action, string what, string message)
    {
        bool block = action == PolicyAction.Block;
        EventHub.Report(Control.CreateChildProcess, action, what, message);
        if (block) Errno.Value = Errno.EPERM;
        return !block;
    }

    /// <summary>The program as an absolute, lexically normal path; null when a PATH search finds nothing.</summary>
    private static string? Resolve(Lookup lookup, int dirfd, string spelled, int atFlags)
    {
        switch (lookup)
        {
            case Lookup.Search when !spelled.Contains('/'):
                return SearchPath(spelled);
            case Lookup.Descriptor:
                return DescriptorTarget(dirfd) ?? spelled;
            case Lookup.At when (atFlags & AT_EMPTY_PATH) != 0 && spelled.Length == 0:
                return DescriptorTarget(dirfd) ?? spelled;
            case Lookup.At:
                return Lexical(dirfd, spelled);
            default:
                return Lexical(Libc.AT_FDCWD, spelled);
        }
    }

    private static string Lexical(int dirfd, string path)
    {
        if (path.Length == 0) return path;
        var bytes = Encoding.UTF8.GetBytes(path);
        Span<byte> dest = stackalloc byte[TargetResolver.BufferSize];
        int n = TargetResolver.Lexical(dirfd, bytes, dest);
        return n < 0 ? path : Encoding.UTF8.GetString(dest[..n]);
    }

    private static string? DescriptorTarget(int fd)
    {
        Span<byte> dest = stackalloc byte[TargetResolver.PathMax];
        int n = TargetResolver.DescriptorPath(fd, dest);
        return n < 0 ? null : Encoding.UTF8.GetString(dest[..n]);
    }

    /// <summary>As glibc's execvp searches: PATH of this process (default /bin:/usr/bin), an empty entry is the working directory.</summary>
    private static string? SearchPath(string name)
    {
        if (name.Length == 0) return null;
        if (name.Contains('/')) return Lexical(Libc.AT_FDCWD, name);
        var path = Libc.GetEnv("PATH") ?? "/bin:/usr/bin";
        foreach (var dir in path.Split(':'))
        {
            var candidate = Lexical(Libc.AT_FDCWD, (dir.Length == 0 ? "." : dir) + "/" + name);
            if (Accessible(candidate, Libc.X_OK) && !Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static bool Exists(string path)
    {
        if (Accessible(path, Libc.F_OK)) return true;
        int error = Errno.Value;
        return error != Errno.ENOENT && error != ENOTDIR;
    }

    private const int ENOTDIR = 20;

    private static bool Accessible(string path, int mode)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes) return Libc.Access(p, mode) == 0;
    }

    /// <summary>This process's executable, read once: fork's child runs it too.</summary>
    private static string SelfExecutable()
    {
        if (s_self != null) return s_self;
        Span<byte> buffer = stackalloc byte[TargetResolver.PathMax];
        fixed (byte* link = "/proc/self/exe\0"u8)
        fixed (byte* b = buffer)
        {
            nint n = Libc.Readlink(link, b, buffer.Length);
            s_self = n > 0 && n < buffer.Length ? Encoding.UTF8.GetString(buffer[..(int)n]) : "(this program)";
        }
        return s_self;
    }

    /// <summary>The kernel answers EFAULT for these; they are never read.</summary>
    private static bool Unreadable(void* p) => Native.Arch.Unreadable(p);

    private static string? ReadString(byte* s)
    {
        if (Unreadable(s)) return null;
        nint n = Libc.Strnlen(s, MaxArgumentBytes);
        return Encoding.UTF8.GetString(s, (int)n);
    }

    private static List<string> ReadArguments(byte** argv)
    {
        var list = new List<string>();
        if (Unreadable(argv)) return list;
        for (int i = 0; i < MaxArguments; i++)
        {
            byte* a = argv[i];
            if (a == null || Unreadable(a)) break;
            list.Add(ReadString(a)!);
        }
        return list;
    }

    private static List<string> RecordStrings(ProcessHooks.ExecRecord* record)
    {
        var list = new List<string>();
        var text = new ReadOnlySpan<byte>(record->Text, Math.Clamp(record->Length, 0, ProcessHooks.ExecRecord.TextSize));
        while (!text.IsEmpty && list.Count <= record->Argc)
        {
            int end = text.IndexOf((byte)0);
            if (end < 0) end = text.Length;
            list.Add(Encoding.UTF8.GetString(text[..end]));
            text = end < text.Length ? text[(end + 1)..] : default;
        }
        return list;
    }
}
