using IronFunction.Native;
using IronFunction.Policy;
using IronFunction.Rules;
using Microsoft.Extensions.Logging;

namespace IronFunction.Lifecycle;

/// <summary>
/// read_handler: which files are the handler and whether reading them is judged yet. Reads are free
/// while the runtime initialises (it loads the handler then); protection arms at the runtime's first
/// request for its next invocation, or at once outside Lambda. The file hooks ask <see cref="Armed"/>
/// (one static read) and, when armed, <see cref="Files"/>.
/// </summary>
internal static unsafe class HandlerProtection
{
    /// <summary>
    /// Tells child processes whether the handler was already loaded when they started: "1" arms them at
    /// once, whatever their own Runtime API traffic. The library's own "NAME=0" entry, flipped in place when
    /// this process arms (a byte store is safe in a running multi-threaded host).
    /// </summary>
    public const string LoadedVariable = "IRON_FUNCTION_HANDLER_LOADED";

    private static HandlerFiles s_files = HandlerFiles.None;
    private static PolicyAction s_action = PolicyAction.Allow;
    private static EffectivePolicy? s_policy;

    private static byte* s_loadedFlag;

    /// <summary>Reading a handler file is judged now (read_handler is not allow, there are handler files, initialisation is over).</summary>
    public static bool Armed => Glue.HandlerArmed() != 0; // a byte the glue locks at arming (Native/glue/locked.c)

    public static PolicyAction Action => s_action;

    public static HandlerFiles Files => s_files;

    /// <summary>The handler's exact files as absolute paths (none unless protected); Python's byte-code caches are patterns, in <see cref="HandlerFiles.PycachePatterns"/>.</summary>
    public static IReadOnlyList<string> ProtectedPaths() => s_files.Files;

    /// <summary>
    /// From the library's start, once, single-threaded. Starts the Runtime API watcher first: the
    /// lifecycle it reports serves the event pipeline whatever read_handler says.
    /// </summary>
    public static void Start(EffectivePolicy policy)
    {
        var runtimeApi = Libc.GetEnv("AWS_LAMBDA_RUNTIME_API");
        RuntimeApiWatcher.Start(runtimeApi);
        s_action = policy.ReadHandler;
        s_policy = policy;
        if (s_action == PolicyAction.Allow) return;

        var handler = Libc.GetEnv("_HANDLER");
        var taskRoot = Libc.GetEnv("LAMBDA_TASK_ROOT");
        var runtime = HandlerLayout.RuntimeOf(Libc.GetEnv("AWS_EXECUTION_ENV"));
        if (string.IsNullOrEmpty(handler) || string.IsNullOrEmpty(taskRoot))
        {
            Diagnostics.Debug("handler", "no _HANDLER or LAMBDA_TASK_ROOT: no handler files to protect");
            return;
        }
        var files = Derive(handler, taskRoot, runtime);
        if (Diagnostics.IsEnabled("handler", LogLevel.Debug))
            Diagnostics.Debug("handler", $"handler files ({runtime}): {string.Join(", ", [.. files.Files, .. files.PycachePatterns])}");
        // said once, by the first protected process (its descendants inherit the log stream's name): they would only repeat it
        if (!files.Files.Any(File.Exists) && Libc.GetEnv("IRON_FUNCTION_LOG_STREAM") == null)
            Diagnostics.Warn("handler", HandlerLayout.NoFileWarning(runtime, handler, taskRoot));
        if (files.IsEmpty) return;
        s_files = files;

        // a child started with an environment of its own (even an empty one) still knows which files are the handler
        KeepInChildren("_HANDLER");
        KeepInChildren("LAMBDA_TASK_ROOT");
        KeepInChildren("AWS_EXECUTION_ENV");
        if (!RuntimeApiWatcher.InLambda) { Arm("no AWS_LAMBDA_RUNTIME_API: protection starts at once"); return; }
        MarkChildren();
        RuntimeApiWatcher.OnNextInvocation(_ => Arm("the runtime asked for its first invocation"));
    }

    /// <summary>
    /// The handler files: as derived under the task root and its resolved form, the jar that holds a Java handler's
    /// class (read now, before arming), plus where linked ones lead; directories left out.
    /// </summary>
    private static HandlerFiles Derive(string handler, string taskRoot, HandlerRuntime runtime)
    {
        var cwd = Directory.GetCurrentDirectory();
        var files = HandlerFiles.Derive(handler, [taskRoot, Libc.RealPathOf(taskRoot)], cwd, runtime);
        var directories = new List<string>();
        var linked = new List<string>();
        if (HandlerLayout.JavaClassEntry(runtime, handler) is { } entry && HandlerLocator.JarHolding(Path.GetFullPath(taskRoot, cwd), entry) is { } jar)
        {
            linked.Add(jar);
            Diagnostics.Debug("handler", $"{jar} holds {entry}");
        }
        foreach (var file in files.Files.Concat(linked.ToArray()))
        {
            if (Directory.Exists(file)) { directories.Add(file); continue; }
            if (Libc.RealPathOf(file) is { } real && real != file) linked.Add(real);
        }
        return files.WithoutFiles(directories).WithFiles(linked);
    }

    /// <summary>
    /// Children learn from <see cref="LoadedVariable"/> whether the handler is loaded: kept in every new
    /// program's environment (create_child_process puts it back where the caller's environment lacks it), from
    /// the library's own copy, which the protected code cannot reach through the environment.
    /// </summary>
    private static void MarkChildren()
    {
        var inherited = Libc.GetEnv(LoadedVariable) == "1";
        var entry = LoadedVariable + "=0";
        s_loadedFlag = (byte*)OwnCopy(entry) + entry.Length - 1;
        ProcessProtection.KeepInChildren(LoadedVariable, (nint)(s_loadedFlag - entry.Length + 1));
        if (inherited) Arm("started by a process whose handler was already loaded");
    }

    /// <summary>The variable's "NAME=value" as this process started with it goes to every new program: a copy, so
    /// that rewriting the environment's own string in place later changes nothing.</summary>
    private static void KeepInChildren(string name)
    {
        if (Libc.GetEnv(name) is { } value) ProcessProtection.KeepInChildren(name, OwnCopy($"{name}={value}"));
    }

    // lives as long as the process: the native glue keeps the pointer, and the loaded flag is flipped in place
    private static nint OwnCopy(string entry) => System.Runtime.InteropServices.Marshal.StringToCoTaskMemUTF8(entry);

    private static void Arm(string reason)
    {
        if (Armed) return;
        if (Glue.ArmHandler() != 0) Diagnostics.Warn("handler", "cannot make the armed flag read-only");
        if (s_loadedFlag != null && *s_loadedFlag == (byte)'0') *s_loadedFlag = (byte)'1';
        if (s_policy != null) FileBackstops.ArmHandler(s_policy, s_files);
        Diagnostics.Debug("handler", $"read_handler ({s_action.Name()}) armed: {reason}");
    }
}
