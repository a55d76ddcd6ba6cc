using System.Runtime.InteropServices;

namespace IronFunction.Native;

/// <summary>The C glue's own functions (Native/glue/), bound at link time (DirectPInvoke "iron_glue"), never dlopen'ed.</summary>
internal static partial class Glue
{
    /// <summary>
    /// How many fork()s led to this process. State shared with other threads (queues, their locks, a worker
    /// thread) is replaced in a forked child, where those threads do not exist. A pthread_atfork child handler
    /// bumps it without entering managed code; a vfork child, which shares the parent's memory and must leave
    /// it as it is, does not.
    /// </summary>
    public static uint ForkGeneration => NativeForkGeneration();

    /// <summary>
    /// Registers the exit flush again, so that it runs before every atexit handler registered until now
    /// (handlers run last-registered first): OpenSSL's own cleanup, when the host initialised OpenSSL.
    /// </summary>
    public static void RegisterExitFlushAgain() => NativeRegisterExitFlush();

    /// <summary>While on, fork() in another thread waits (200 ms at most): see the set-up of the delivery thread.</summary>
    public static void HoldForks(bool on) => NativeSetForkWait(on ? 1 : 0);

    /// <summary>Hands the C judge of forked children its event line (UTF-8, NUL-terminated, never freed).</summary>
    public static void SetProcessEventTemplate(nint template) => NativeSetProcessEventTemplate(template);

    /// <summary>One whole line (its newline included) to the log stream: this process's stderr, or the first protected process's.</summary>
    public static unsafe void LogLine(ReadOnlySpan<byte> line)
    {
        fixed (byte* p = line) NativeLogLine(p, (nuint)line.Length);
    }

    /// <summary>
    /// One of the library's own messages, formatted by the log image (loaded at the first call) and written to the
    /// log stream. False when there is no image beside the library or it failed: the caller writes the line itself.
    /// </summary>
    public static unsafe bool LogImageWrite(ReadOnlySpan<byte> levels, string area, int level, string message)
    {
        var areaBytes = System.Text.Encoding.UTF8.GetBytes(area);
        var messageBytes = System.Text.Encoding.UTF8.GetBytes(message);
        fixed (byte* l = levels)
        fixed (byte* a = areaBytes)
        fixed (byte* m = messageBytes)
            return NativeLogImageWrite(l, (nuint)levels.Length, a, (nuint)areaBytes.Length, level, m, (nuint)messageBytes.Length) == 0;
    }

    /// <summary>In the log stream's owner: the lines its descendants sent so far are written out now.</summary>
    public static void LogDrain() => NativeLogDrain();

    /// <summary>"IRON_FUNCTION_LOG_STREAM=…", which new programs keep, or 0 (native memory, never freed).</summary>
    public static nint LogStreamEntry() => NativeLogStreamEntry();

    [LibraryImport("iron_glue", EntryPoint = "iron_log_line")]
    private static unsafe partial void NativeLogLine(byte* line, nuint length);

    [LibraryImport("iron_glue", EntryPoint = "iron_log_image_write")]
    private static unsafe partial int NativeLogImageWrite(byte* levels, nuint levelsLength, byte* area, nuint areaLength, int level,
                                                          byte* message, nuint messageLength);

    [LibraryImport("iron_glue", EntryPoint = "iron_log_drain")]
    private static partial void NativeLogDrain();

    [LibraryImport("iron_glue", EntryPoint = "iron_log_stream_entry")]
    [SuppressGCTransition]
    private static partial nint NativeLogStreamEntry();

    [LibraryImport("iron_glue", EntryPoint = "iron_native_set_process_event_template")]
    [SuppressGCTransition]
    private static partial void NativeSetProcessEventTemplate(nint template);

    /// <summary>Some thread was cloned without CLONE_FS: it has a working directory of its own.</summary>
    public static bool WorkingDirectoryPerThread => NativeCwdPerThread() != 0;

    [LibraryImport("iron_glue", EntryPoint = "iron_native_cwd_per_thread")]
    [SuppressGCTransition]
    private static partial int NativeCwdPerThread();

    /// <summary>Which lists of hooks (Hooks/&lt;control&gt;.symbols) enter the runtime; the others go straight to libc.</summary>
    public static void SetHookLists(bool files, bool network, bool lifecycle) =>
        NativeSetHookLists(files ? 1 : 0, network ? 1 : 0, lifecycle ? 1 : 0);

    /// <summary>FTW_CHDIR walks under way (high half) and a count of their starts and ends (Native/glue/callbacks.c).</summary>
    [LibraryImport("iron_glue", EntryPoint = "iron_native_cwd_state")]
    [SuppressGCTransition]
    public static partial ulong CwdState();

    /// <summary>dlopen drops RTLD_DEEPBIND (Native/glue/lookups.c): a module loaded with it would call libc past the hooks.</summary>
    public static void SetStripDeepBind(bool on) => NativeSetStripDeepBind(on ? 1 : 0);

    [LibraryImport("iron_glue", EntryPoint = "iron_native_set_strip_deepbind")]
    [SuppressGCTransition]
    private static partial void NativeSetStripDeepBind(int on);

    /// <summary>The roots the open prefilter (Native/glue/file_prefilter.c) leaves to the managed hooks: each a normal absolute path.</summary>
    public static unsafe void SetPrefilterRoots(IReadOnlyList<string> roots)
    {
        var bytes = new List<byte>();
        foreach (var root in roots) { bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(root)); bytes.Add(0); }
        var packed = bytes.ToArray();
        fixed (byte* p = packed) NativeSetPrefilterRoots(p, roots.Count);
    }

    [LibraryImport("iron_glue", EntryPoint = "iron_native_set_prefilter_roots")]
    [SuppressGCTransition]
    private static unsafe partial void NativeSetPrefilterRoots(byte* roots, int count);

    /// <summary>This kernel's Landlock ABI, 0 without Landlock (Native/glue/landlock.c).</summary>
    [LibraryImport("iron_glue", EntryPoint = "iron_landlock_abi")]
    public static partial int LandlockAbi();

    /// <summary>
    /// A Landlock layer on every thread that denies <paramref name="handled"/> (0: every filesystem right) beneath
    /// <paramref name="excluded"/> (normalised absolute paths, NUL-terminated UTF-8) and keeps it elsewhere; 0 when
    /// it is in force, else a static C string saying why not.
    /// </summary>
    [LibraryImport("iron_glue", EntryPoint = "iron_landlock_deny_beneath")]
    public static unsafe partial nint LandlockDenyBeneath(byte** excluded, int count, ulong handled);

    /// <summary>Each control's action, on the page locked after start (Native/glue/locked.c).</summary>
    [LibraryImport("iron_glue", EntryPoint = "iron_native_set_actions")]
    [SuppressGCTransition]
    public static partial void SetActions(int readWriteTmp, int createChildProcess, int readHandler, int outboundConnectivity);

    /// <summary>A control's action as the locked page has it: 0 read_write_tmp, 1 create_child_process, 2 read_handler, 3 outbound_connectivity.</summary>
    [LibraryImport("iron_glue", EntryPoint = "iron_native_action")]
    [SuppressGCTransition]
    public static partial int Action(int control);

    /// <summary>read_handler has armed (a byte on a page locked at arming).</summary>
    [LibraryImport("iron_glue", EntryPoint = "iron_native_handler_armed")]
    [SuppressGCTransition]
    public static partial int HandlerArmed();

    /// <summary>Arms read_handler for good: sets the byte and locks its page; 0, or -1 when the page stays writable.</summary>
    [LibraryImport("iron_glue", EntryPoint = "iron_native_arm_handler")]
    public static partial int ArmHandler();

    [LibraryImport("iron_glue", EntryPoint = "iron_native_set_hook_lists")]
    [SuppressGCTransition]
    private static partial void NativeSetHookLists(int files, int network, int lifecycle);

    [LibraryImport("iron_glue", EntryPoint = "iron_native_set_fork_wait")]
    [SuppressGCTransition]
    private static partial void NativeSetForkWait(int on);

    [LibraryImport("iron_glue", EntryPoint = "iron_native_fork_generation")]
    [SuppressGCTransition]
    private static partial uint NativeForkGeneration();

    [LibraryImport("iron_glue", EntryPoint = "iron_native_register_exit_flush")]
    private static partial int NativeRegisterExitFlush();

    /// <summary>Keeps the resolver's variables as they are at start and the system's resolver state (Native/glue/resolver_state.c).</summary>
    [LibraryImport("iron_glue", EntryPoint = "iron_resolver_start")]
    public static partial void ResolverStart();

    /// <summary>
    /// Which of the resolver's knobs differ from the system's configuration (<see cref="ResolverKnob"/> bits):
    /// the variables, and <paramref name="state"/> (a res_n* caller's res_state) or, when null, the thread's _res.
    /// </summary>
    [LibraryImport("iron_glue", EntryPoint = "iron_resolver_changed")]
    public static unsafe partial int ResolverChanged(byte* state);
}

/// <summary>What iron_resolver_changed reports.</summary>
[Flags]
internal enum ResolverKnob
{
    LocalDomain = 1,
    ResOptions = 2,
    HostAliases = 4,
    ResolverState = 8,
}
