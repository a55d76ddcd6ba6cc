using System.Runtime.InteropServices;
using IronFunction.Events;
using IronFunction.Native;
using IronFunction.Policy;
using IronFunction.Rules;

namespace IronFunction.Lifecycle;

/// <summary>
/// Starts the library once, from the ELF constructor (before main, while the process is still
/// single-threaded) or from the first hook that runs before it: resolves libc, reads IRON_LOG and
/// the policy, and fixes the rules. Nothing here can be changed later by the protected code.
/// </summary>
internal static class Startup
{
    private static readonly object s_gate = new();
    private static EffectivePolicy? s_policy;
    private static TmpPathRule s_tmpRule = new(["/tmp"]);

    /// <summary>The policy in force; starts the library if a hook runs before the constructor did.</summary>
    public static EffectivePolicy Policy => s_policy ?? Start();

    public static TmpPathRule TmpRule => s_tmpRule;

    // Each control's action as the hooks read it: from the page the glue makes read-only after start (Native/glue/locked.c),
    // not from the policy object, which code that writes memory could change. Starts the library first if need be.
    public static PolicyAction ReadWriteTmp => (PolicyAction)Glue.Action(Started(0));
    public static PolicyAction CreateChildProcess => (PolicyAction)Glue.Action(Started(1));
    public static PolicyAction OutboundConnectivity => (PolicyAction)Glue.Action(Started(3));

    private static int Started(int control)
    {
        if (s_policy == null) Start();
        return control;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_function_start")]
    private static void StartFromConstructor()
    {
        try { Start(); }
        catch (Exception e) { Diagnostics.Error("lifecycle", $"start failed: {e}"); }
    }

    private static EffectivePolicy Start()
    {
        lock (s_gate)
        {
            if (s_policy != null) return s_policy;
            using var _ = ReentrancyGuard.Enter();
            Diagnostics.Configure(Libc.GetEnv("IRON_LOG"));
            Real.Resolve();

            EffectivePolicy policy;
            string? digest = null;
            try
            {
                var loaded = PolicyLoader.Load(Libc.GetEnv("IRON_FUNCTION_POLICY"), Libc.GetEnv(ProcessProtection.PolicyDigestVariable));
                if (loaded.Problem != null) Diagnostics.Error("policy", loaded.Problem);
                if (loaded.Warning != null) Diagnostics.Warn("policy", loaded.Warning);
                policy = loaded.Policy;
                digest = loaded.Digest;
            }
            catch (Exception e)
            {
                // the loader reports its own errors; anything else still must not leave the function open
                Diagnostics.Error("policy", $"policy error: {e.Message}; enforcing block on all four controls");
                policy = EffectivePolicy.FailClosed(Libc.GetEnv("IRON_FUNCTION_POLICY"));
            }

            Glue.SetActions((int)policy.ReadWriteTmp, (int)policy.CreateChildProcess, (int)policy.ReadHandler, (int)policy.OutboundConnectivity);
            s_tmpRule = new TmpPathRule(TmpRoots());
            // first, before anything else starts: the kernel layer holds whatever fails below
            FileBackstops.StartTmp(policy, s_tmpRule);
            HandlerProtection.Start(policy);
            if (policy.ReadWriteTmp != PolicyAction.Allow || policy.ReadHandler != PolicyAction.Allow) KeepFileCallsOnLibc();
            Hooks.NetworkGate.Start(policy);
            ProcessProtection.Start(policy, digest);
            EventHub.Start(new FunctionInfo());
            ApiEndpointSink.Start(policy.ApiEndpoint);
            // Lambda may freeze the process once the runtime has asked for its next invocation: nothing pending may wait
            RuntimeApiWatcher.OnNextInvocation(budget => EventHub.Flush(budget));
            Diagnostics.Debug("policy",
                $"read_write_tmp={policy.ReadWriteTmp.Name()} create_child_process={policy.CreateChildProcess.Name()} " +
                $"outbound_connectivity={policy.OutboundConnectivity.Name()} read_handler={policy.ReadHandler.Name()} " +
                $"origin={policy.Origin} source={policy.SourcePath ?? "(none)"}");
            Diagnostics.Debug("files", $"temporary roots: {string.Join(", ", s_tmpRule.Roots)}");
            SkipIdleHooks(policy);
            s_policy = policy;
            return policy;
        }
    }

    /// <summary>
    /// Where an open may lead to something a rule covers, lexically: the temporary roots, the directories of the handler's
    /// files, and /proc (whose entries reach other files and memory without a link the prefilter would see). An open of
    /// a normal absolute path outside them, with no link on the way, is made without entering the runtime. Null when a
    /// root is "/" (everything would be covered).
    /// </summary>
    private static List<string>? PrefilterRoots(EffectivePolicy policy)
    {
        var roots = new List<string> { "/proc" };
        if (policy.ReadWriteTmp != PolicyAction.Allow) roots.AddRange(s_tmpRule.Roots);
        if (policy.ReadHandler != PolicyAction.Allow)
        {
            foreach (var file in HandlerProtection.Files.Files) roots.Add(Path.GetDirectoryName(file) ?? "/");
            foreach (var pattern in HandlerProtection.Files.PycachePatterns) roots.Add(Path.GetDirectoryName(pattern) ?? "/");
        }
        var normal = new List<string>();
        Span<byte> buffer = stackalloc byte[Hooks.TargetResolver.PathMax];
        foreach (var root in roots)
        {
            if (root.Length == 0 || root[0] != '/') return null;
            int n = PathLexer.Normalize(default, System.Text.Encoding.UTF8.GetBytes(root), buffer);
            if (n <= 1) return null;
            var text = System.Text.Encoding.UTF8.GetString(buffer[..n]);
            if (!normal.Contains(text)) normal.Add(text);
        }
        return normal;
    }

    /// <summary>
    /// A list of hooks with nothing to judge in this process sends its calls straight to libc, without entering
    /// the runtime: the file hooks when read_write_tmp is allow and read_handler has no handler to protect, the
    /// network hooks when outbound_connectivity and read_write_tmp are allow, the Runtime API watcher's outside Lambda.
    /// </summary>
    private static void SkipIdleHooks(EffectivePolicy policy)
    {
        bool files = policy.ReadWriteTmp != PolicyAction.Allow || (policy.ReadHandler != PolicyAction.Allow && !HandlerProtection.Files.IsEmpty);
        // read_write_tmp judges AF_UNIX connects and sends to socket files through the network hooks
        bool network = policy.OutboundConnectivity != PolicyAction.Allow || policy.ReadWriteTmp != PolicyAction.Allow;
        bool lifecycle = RuntimeApiWatcher.InLambda;
        Hooks.TargetResolver.CacheWorkingDirectory(files);
        if (files && PrefilterRoots(policy) is { } roots) Glue.SetPrefilterRoots(roots);
        Glue.SetHookLists(files, network, lifecycle);
        // where a control blocks, a module's RTLD_DEEPBIND would let its calls skip the hooks: block means denied, not skipped
        Glue.SetStripDeepBind(policy.ReadWriteTmp == PolicyAction.Block || policy.ReadHandler == PolicyAction.Block ||
                              policy.OutboundConnectivity == PolicyAction.Block || policy.CreateChildProcess == PolicyAction.Block);
        Diagnostics.Debug("lifecycle", $"hooks that judge: files={files} network={network} runtime_api={lifecycle}");
    }

    /// <summary>
    /// libuv (Node.js) can submit file operations through io_uring, which never calls libc: it is told
    /// not to, here, before the program's main can read its environment. Children inherit the setting.
    /// </summary>
    private static void KeepFileCallsOnLibc()
    {
        if (Libc.GetEnv("UV_USE_IO_URING") == "0") return;
        Libc.SetEnv("UV_USE_IO_URING", "0");
        Diagnostics.Debug("files", "UV_USE_IO_URING=0: libuv keeps its file operations on libc");
    }

    /// <summary>/tmp and $TMPDIR, each also as it resolves when it is reached through a link.</summary>
    private static IEnumerable<string> TmpRoots()
    {
        yield return "/tmp";
        if (Libc.RealPathOf("/tmp") is { } tmp) yield return tmp;
        if (Libc.GetEnv("TMPDIR") is { Length: > 0 } tmpdir && tmpdir[0] == '/')
        {
            yield return tmpdir;
            if (Libc.RealPathOf(tmpdir) is { } resolved) yield return resolved;
        }
    }
}
