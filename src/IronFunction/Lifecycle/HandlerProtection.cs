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
    /// once, whatever their own Runtime API traffic. Set to "0" at start and flipped in place when this
    /// process arms (setenv from a running multi-threaded host is not safe; a byte store is).
    /// </summary>
    public const string LoadedVariable = "IRON_FUNCTION_HANDLER_LOADED";

    private static HandlerFiles s_files = HandlerFiles.None;
    private static PolicyAction s_action = PolicyAction.Allow;
    private static volatile bool s_armed;
    private static byte* s_loadedFlag;

    /// <summary>Reading a handler file is judged now (read_handler is not allow, there are handler files, initialisation is over).</summary>
    public static bool Armed => s_armed;

    public static PolicyAction Action => s_action;

    public static HandlerFiles Files => s_files;

    /// <summary>
    /// From the library's start, once, single-threaded. Starts the Runtime API watcher first: the
    /// lifecycle it reports serves the event pipeline whatever read_handler says.
    /// </summary>
    public static void Start(EffectivePolicy policy)
    {
        var runtimeApi = Libc.GetEnv("AWS_LAMBDA_RUNTIME_API");
        RuntimeApiWatcher.Start(runtimeApi);
        s_action = policy.ReadHandler;
        if (s_action == PolicyAction.Allow) return;

        var files = Derive(Libc.GetEnv("_HANDLER"), Libc.GetEnv("LAMBDA_TASK_ROOT"));
        if (files.IsEmpty)
        {
            Diagnostics.Debug("handler", "no _HANDLER or LAMBDA_TASK_ROOT: no handler files to protect");
            return;
        }
        s_files = files;
        if (Diagnostics.IsEnabled("handler", LogLevel.Debug))
            Diagnostics.Debug("handler", $"handler files: {string.Join(", ", [.. files.Files, .. files.PycachePatterns])}");

        // a child started with an environment of its own (even an empty one) still knows which files are the handler
        KeepInChildren("_HANDLER");
        KeepInChildren("LAMBDA_TASK_ROOT");
        if (!RuntimeApiWatcher.InLambda) { Arm("no AWS_LAMBDA_RUNTIME_API: protection starts at once"); return; }
        MarkChildren();
        RuntimeApiWatcher.OnNextInvocation(_ => Arm("the runtime asked for its first invocation"));
    }

    /// <summary>The handler files: as derived under the task root and its resolved form, plus where linked ones lead; directories left out.</summary>
    private static HandlerFiles Derive(string? handler, string? taskRoot)
    {
        if (string.IsNullOrEmpty(handler) || string.IsNullOrEmpty(taskRoot)) return HandlerFiles.None;
        var cwd = Directory.GetCurrentDirectory();
        var files = HandlerFiles.Derive(handler, [taskRoot, Libc.RealPathOf(taskRoot)], cwd);
        var directories = new List<string>();
        var linked = new List<string>();
        foreach (var file in files.Files)
        {
            if (Directory.Exists(file)) { directories.Add(file); continue; }
            if (Libc.RealPathOf(file) is { } real && real != file) linked.Add(real);
        }
        return files.WithoutFiles(directories).WithFiles(linked);
    }

    /// <summary>
    /// Children learn from <see cref="LoadedVariable"/> whether the handler is loaded: kept in every new
    /// program's environment (create_child_process puts it back where the caller's environment lacks it).
    /// </summary>
    private static void MarkChildren()
    {
        var inherited = Libc.GetEnv(LoadedVariable) == "1";
        if (!inherited) Libc.SetEnv(LoadedVariable, "0");
        // glibc never frees a "NAME=value" string of the environment: the flag is flipped in place
        fixed (byte* name = "IRON_FUNCTION_HANDLER_LOADED\0"u8)
            s_loadedFlag = Libc.Getenv(name);
        KeepInChildren(LoadedVariable);
        if (inherited) Arm("started by a process whose handler was already loaded");
    }

    /// <summary>The variable's "NAME=value" entry, as this process started with it, goes to every new program.</summary>
    private static void KeepInChildren(string name)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* n = bytes)
        {
            byte* value = Libc.Getenv(n);
            // glibc never frees an environment string, so the entry outlives any later change of the variable
            if (value != null) ProcessProtection.KeepInChildren(name, (nint)(value - (bytes.Length)));
        }
    }

    private static void Arm(string reason)
    {
        if (s_armed) return;
        s_armed = true;
        if (s_loadedFlag != null && *s_loadedFlag == (byte)'0') *s_loadedFlag = (byte)'1';
        Diagnostics.Debug("handler", $"read_handler ({s_action.Name()}) armed: {reason}");
    }
}
