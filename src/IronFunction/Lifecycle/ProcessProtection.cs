using System.Runtime.InteropServices;
using IronFunction.Events;
using IronFunction.Native;
using IronFunction.Policy;
using IronFunction.Rules;

namespace IronFunction.Lifecycle;

/// <summary>
/// create_child_process at start: the kernel backstop in block mode, and the values that new programs
/// must keep (this library in LD_PRELOAD, the policy file), captured before the protected code runs.
/// </summary>
internal static unsafe class ProcessProtection
{
    /// <summary>Mirrors struct iron_process_config in Native/glue/glue.h.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct NativeConfig
    {
        public int Action;
        public int ProtectTree;
        public nint Library;
        public nint LibraryAsLoaded;
        public nint KeepNames;
        public nint KeepEntries;
        public int KeepCount;
        public nint EventTemplate; // 0 at start; the glue gets it at the first judged fork (EnsureEventTemplate)
    }

    /// <summary>Room the native glue has for kept variables (IRON_MAX_KEEP).</summary>
    private const int MaxKept = 16;

    private static readonly nint* s_keepNames = (nint*)NativeMemory.AllocZeroed(MaxKept, (nuint)sizeof(nint));
    private static readonly nint* s_keepEntries = (nint*)NativeMemory.AllocZeroed(MaxKept, (nuint)sizeof(nint));
    private static int s_keepCount;

    private static NativeConfig s_config;
    private static delegate* unmanaged<int> s_inVforkChild;

    /// <summary>
    /// This thread is a vfork child (it runs on its suspended parent's stack and memory, until it execs or
    /// exits): whatever the library caches must not be changed from here.
    /// </summary>
    public static bool InVforkChild => s_inVforkChild != null && s_inVforkChild() != 0;

    /// <summary>The SHA-256 of the policy this process read: a new program must find the same bytes in its policy file.</summary>
    public const string PolicyDigestVariable = "IRON_FUNCTION_POLICY_SHA256";

    /// <summary>
    /// Loader variables that can make a new program run without this library: an LD_AUDIT module may refuse the
    /// preload (la_objsearch). Removed from new programs' environments while some control is not allow.
    /// </summary>
    private static readonly string[] s_sheddingVariables = ["LD_AUDIT"];

    public static void Start(EffectivePolicy policy, string? policyDigest)
    {
        // first, and apart: whatever fails below, the glue still judges and the kernel still denies
        s_config.Action = (int)policy.CreateChildProcess;
        if (policy.CreateChildProcess == PolicyAction.Block) InstallFilter();
        try
        {
            bool protectTree = policy.ReadWriteTmp != PolicyAction.Allow || policy.CreateChildProcess != PolicyAction.Allow ||
                               policy.OutboundConnectivity != PolicyAction.Allow || policy.ReadHandler != PolicyAction.Allow;
            var (library, asLoaded) = LibraryPath();
            var policyPath = PolicyPath();
            s_config.Library = NativeString(library);
            s_config.LibraryAsLoaded = NativeString(asLoaded);
            s_config.ProtectTree = protectTree ? 1 : 0;
            // the policy this process read, absolute; when it read none, a new program must not be handed one
            KeepInChildren("IRON_FUNCTION_POLICY", policyPath == null ? 0 : NativeString("IRON_FUNCTION_POLICY=" + policyPath));
            // and the bytes it read: a policy file swapped since is a policy error in the new program (fail closed)
            KeepInChildren(PolicyDigestVariable, policyDigest == null ? 0 : NativeString($"{PolicyDigestVariable}={policyDigest}"));
            foreach (var name in s_sheddingVariables) KeepInChildren(name, 0);
            // where every process of the tree writes its event lines (Native/glue/log_stream.c)
            if (Glue.LogStreamEntry() is var stream and not 0) KeepInChildren("IRON_FUNCTION_LOG_STREAM", stream);
            if (protectTree && library == null)
                Diagnostics.Warn("process", "cannot tell this library's path; programs started from here will not keep it");
            Diagnostics.Debug("process", $"create_child_process={policy.CreateChildProcess.Name()} protect_tree={protectTree} " +
                                         $"library={library ?? "(unknown)"} policy={policyPath ?? "(unset)"}");
        }
        catch (Exception e)
        {
            Diagnostics.Error("process", $"create_child_process start failed: {e}");
        }
    }

    private static int s_templateState; // 0: not rendered, 1: rendering or done

    /// <summary>
    /// Before a fork: the event line the C judge of the forked child writes, rendered once, at the first fork
    /// this process judges rather than at start (it costs every process start otherwise, and few fork).
    /// </summary>
    public static void EnsureEventTemplate(PolicyAction action)
    {
        if (action == PolicyAction.Allow || Volatile.Read(ref s_templateState) != 0) return;
        if (Interlocked.CompareExchange(ref s_templateState, 1, 0) != 0) return;
        var template = NativeString(EventTemplate(action));
        if (template == 0)
            Diagnostics.Warn("process", "cannot render the event line for forked children; their process calls will not be reported");
        else
            Glue.SetProcessEventTemplate(template);
    }

    private static void InstallFilter()
    {
        try
        {
            var problem = Seccomp.Install(ProcessFilter.Build());
            if (problem != null)
                Diagnostics.Warn("process", $"the kernel refused the process filter ({problem}); fork and exec are still denied through libc, raw system calls are not");
            else
                Diagnostics.Debug("process", "seccomp filter installed: fork, vfork, execve, execveat, clone without CLONE_THREAD, ptrace, process_vm_writev and pidfd_getfd fail with EPERM");
        }
        catch (Exception e)
        {
            Diagnostics.Error("process", $"the process filter could not be installed: {e}");
        }
    }

    /// <summary>
    /// From another control's start (before the ELF constructor ends): a new program started while some control
    /// is not allow gets <paramref name="name"/> as this process has it, <paramref name="liveEntry"/> ("NAME=value",
    /// native memory its owner may change in place and never frees), whatever environment its caller passed;
    /// 0: a new program must not have the variable. False when the glue has no room left.
    /// </summary>
    public static bool KeepInChildren(string name, nint liveEntry)
    {
        if (s_keepCount >= MaxKept) return false;
        s_keepNames[s_keepCount] = NativeString(name);
        s_keepEntries[s_keepCount] = liveEntry;
        s_keepCount++;
        return true;
    }

    /// <summary>Called by the native glue once, from the ELF constructor after start.</summary>
    [UnmanagedCallersOnly(EntryPoint = "iron_process_native_config")]
    private static void FillNativeConfig(NativeConfig* config, delegate* unmanaged<int> inVforkChild)
    {
        try
        {
            *config = s_config;
            config->KeepNames = (nint)s_keepNames;
            config->KeepEntries = (nint)s_keepEntries;
            config->KeepCount = s_keepCount;
            s_inVforkChild = inVforkChild;
        }
        catch { /* nothing may escape into the host */ }
    }

    /// <summary>
    /// This control's event line for the native judge of a forked child, which must not enter the runtime
    /// (Native/glue/glue.h): rendered here by the event code itself, with the per-event values left as
    /// holes marked by the bytes 1 (what), 2 (message), 3 (time), 4 (process id), 5 (process name) and
    /// 6 (process command). Null when the rendering does not have exactly one of each.
    /// </summary>
    public static string? EventTemplate(PolicyAction action)
    {
        const int MarkerPid = -2_013_265_921;
        var markerTime = new DateTime(2001, 2, 3, 4, 5, 6, 789, DateTimeKind.Utc);
        var self = ProcessIdentity.Current;
        var sample = new SecurityEvent
        {
            Control = Control.CreateChildProcess,
            Action = action,
            What = "\u0001",
            Message = "\u0002",
            Time = markerTime,
            Process = new ProcessIdentity { Pid = MarkerPid, Name = "\u0005", Command = "\u0006", Uid = self.Uid, UserName = self.UserName },
            Function = new FunctionInfo(),
        };
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        sample.WriteJson(buffer);
        var json = System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        (string Rendered, char Hole)[] holes =
        [
            ("\\u0001", '\u0001'), ("\\u0002", '\u0002'), ("2001-02-03T04:05:06.789Z", '\u0003'),
            (MarkerPid.ToString(System.Globalization.CultureInfo.InvariantCulture), '\u0004'), ("\\u0005", '\u0005'), ("\\u0006", '\u0006'),
        ];
        foreach (var (rendered, hole) in holes)
        {
            int at = json.IndexOf(rendered, StringComparison.Ordinal);
            if (at < 0 || json.IndexOf(rendered, at + 1, StringComparison.Ordinal) >= 0) return null;
            json = json.Remove(at, rendered.Length).Insert(at, hole.ToString());
        }
        return json;
    }

    /// <summary>The canonical path of this library, and the absolute name it was loaded under.</summary>
    private static (string? Library, string? AsLoaded) LibraryPath()
    {
        Libc.DlInfo info;
        nint inside = (nint)(delegate* unmanaged<NativeConfig*, delegate* unmanaged<int>, void>)&FillNativeConfig;
        if (Libc.Dladdr(inside, &info) == 0 || info.FileName == null) return (null, null);
        var name = Marshal.PtrToStringUTF8((nint)info.FileName);
        if (string.IsNullOrEmpty(name)) return (null, null);
        return (Libc.RealPathOf(name), name[0] == '/' ? name : null);
    }

    /// <summary>IRON_FUNCTION_POLICY as the library read it, made absolute so that a child in another directory finds it.</summary>
    private static string? PolicyPath()
    {
        var value = Libc.GetEnv("IRON_FUNCTION_POLICY");
        if (string.IsNullOrEmpty(value) || value[0] == '/') return value;
        try { return Path.GetFullPath(value); }
        catch (Exception) { return value; }
    }

    // lives as long as the process: the native glue keeps the pointer
    private static nint NativeString(string? s) => s == null ? 0 : Marshal.StringToCoTaskMemUTF8(s);
}
