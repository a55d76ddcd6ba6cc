using IronFunction.Native;
using IronFunction.Policy;

namespace IronFunction.Events;

/// <summary>Turns a violation into an event and hands it to every sink. Never changes the caller's errno.</summary>
internal static class EventHub
{
    private static IEventSink[] s_sinks = [new StderrSink()];
    private static FunctionInfo? s_function;

    public static void Start(FunctionInfo function) => s_function = function;

    /// <summary>Adds a sink (the api_endpoint delivery, say); sinks are added at start only.</summary>
    public static void AddSink(IEventSink sink) => s_sinks = [.. s_sinks, sink];

    public static void Report(Control control, PolicyAction action, string what, string message)
    {
        int savedErrno = Errno.Value;
        using (ReentrancyGuard.Enter())
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
            };
            foreach (var sink in s_sinks)
            {
                try { sink.Deliver(securityEvent); }
                catch (Exception e) { Lifecycle.Diagnostics.Error("events", $"an event sink failed: {e.Message}"); }
            }
        }
        Errno.Value = savedErrno;
    }
}
