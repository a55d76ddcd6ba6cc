using IronFunction.Native;
using IronFunction.Policy;

namespace IronFunction.Events;

/// <summary>
/// Turns a violation into an event, coalesces identical repeats and hands what comes out to every sink.
/// Never changes the caller's errno and never lets a failure reach the hooked call.
/// </summary>
internal static class EventHub
{
    /// <summary>How long a flush (at exit, before the next invocation) waits for pending events at most.</summary>
    public static readonly TimeSpan FlushBound = TimeSpan.FromSeconds(2);

    private static IEventSink[] s_sinks = [new StderrSink()];
    private static FunctionInfo? s_function;
    /// <summary>IRON_FUNCTION_EVENT_BURST: lines of each event_type that go out at once before the budget folds them (README "The event budget").</summary>
    private static readonly int s_burst =
        int.TryParse(Libc.GetEnv("IRON_FUNCTION_EVENT_BURST"), out var burst) && burst >= 0 ? burst : EventCoalescer.DefaultBurst;
    private static Coalescing s_coalescing = new(0);
    private static int s_exitFlushed;

    /// <summary>The coalescing state of one process: a forked child starts its own (its lock may be held by a thread it does not have).</summary>
    private sealed class Coalescing(uint generation)
    {
        public readonly uint Generation = generation;
        public readonly EventCoalescer Coalescer = new(EventCoalescer.DefaultWindowTicks, burst: s_burst);
        public readonly List<SecurityEvent> Emit = new(4);
    }

    public static void Start(FunctionInfo function) => s_function = function;

    /// <summary>Adds a sink (the api_endpoint delivery, say); sinks are added at start only.</summary>
    public static void AddSink(IEventSink sink) => s_sinks = [.. s_sinks, sink];

    public static void Report(Control control, PolicyAction action, string what, string message)
    {
        int savedErrno = Errno.Value;
        using (ReentrancyGuard.Enter())
        {
            try
            {
                var securityEvent = new SecurityEvent
                {
                    Control = control,
                    Action = action,
                    What = what,
                    Message = message,
                    Time = DateTime.UtcNow,
                    Process = ProcessIdentity.Current,
                    Function = s_function ??= new FunctionInfo(),
                    TraceId = Libc.GetEnv("_X_AMZN_TRACE_ID"),
                };
                var c = Current();
                lock (c)
                {
                    c.Coalescer.Offer(securityEvent, Now(), c.Emit);
                    Dispatch(c.Emit);
                }
            }
            catch (Exception e)
            {
                Lifecycle.Diagnostics.Error("events", $"an event could not be reported: {e.Message}");
            }
        }
        Errno.Value = savedErrno;
    }

    /// <summary>
    /// Sends everything pending: the counts of coalesced repeats, then what the sinks still hold, waiting at
    /// most <paramref name="bound"/>. Called right before the runtime asks for its next invocation (the
    /// process may be frozen after that) and at exit. Cheap when nothing is pending. False when something
    /// did not go out in time (it still goes out later if the process lives on).
    /// </summary>
    public static bool Flush(TimeSpan bound) => FlushAll(bound, atExit: false) == 0;

    /// <summary>At exit: a last flush, then every sink stops its background work. What is left is lost, and said so.</summary>
    public static void FlushAtExit()
    {
        // the exit flush may be registered twice (see Native/Glue.RegisterExitFlushAgain): the first run does it all
        if (Interlocked.Exchange(ref s_exitFlushed, 1) != 0) return;
        FlushAll(FlushBound, atExit: true);
        int savedErrno = Errno.Value;
        using (ReentrancyGuard.Enter())
        {
            foreach (var sink in s_sinks)
            {
                try { sink.Close(); }
                catch (Exception) { /* exit goes on */ }
            }
        }
        Errno.Value = savedErrno;
    }

    private static long FlushAll(TimeSpan bound, bool atExit)
    {
        int savedErrno = Errno.Value;
        long left = 0;
        using (ReentrancyGuard.Enter())
        {
            try
            {
                long deadline = Environment.TickCount64 + (long)bound.TotalMilliseconds;
                var c = Current();
                lock (c)
                {
                    c.Coalescer.Sweep(Now(), all: true, c.Emit);
                    Dispatch(c.Emit);
                }
                foreach (var sink in s_sinks)
                {
                    var remaining = TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64));
                    long n = 0;
                    try { n = sink.Flush(remaining, atExit); }
                    catch (Exception e) { Lifecycle.Diagnostics.Error("events", $"an event sink failed to flush: {e.Message}"); }
                    if (n > 0)
                        Lifecycle.Diagnostics.Warn("events", atExit
                            ? $"{n} event(s) could not be delivered to api_endpoint before exit (flush bound {bound.TotalSeconds:0.#} s)"
                            : $"{n} event(s) still waiting for api_endpoint after {bound.TotalSeconds:0.#} s; delivery goes on");
                    left += n;
                }
                // and what the processes below this one sent to its log stream
                Glue.LogDrain();
            }
            catch (Exception e)
            {
                Lifecycle.Diagnostics.Error("events", $"events could not be flushed: {e.Message}");
            }
        }
        Errno.Value = savedErrno;
        return left;
    }

    private static void Dispatch(List<SecurityEvent> emit)
    {
        foreach (var securityEvent in emit)
        {
            foreach (var sink in s_sinks)
            {
                try { sink.Deliver(securityEvent); }
                catch (Exception e) { Lifecycle.Diagnostics.Error("events", $"an event sink failed: {e.Message}"); }
            }
        }
        emit.Clear();
    }

    private static Coalescing Current()
    {
        var c = s_coalescing;
        uint generation = Glue.ForkGeneration;
        if (c.Generation == generation) return c;
        // a forked child: the parent's pending counts are the parent's to report
        Interlocked.CompareExchange(ref s_coalescing, new Coalescing(generation), c);
        return s_coalescing;
    }

    private static long Now() => Environment.TickCount64 * TimeSpan.TicksPerMillisecond;
}
