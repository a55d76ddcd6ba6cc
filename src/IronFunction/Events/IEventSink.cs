namespace IronFunction.Events;

/// <summary>
/// Where events go. A sink never knows which rule fired; a rule never knows where events go.
/// Deliver runs on the hooked call's thread: a sink that does slow work queues it.
/// </summary>
internal interface IEventSink
{
    void Deliver(SecurityEvent securityEvent);

    /// <summary>
    /// Waits, at most <paramref name="bound"/>, until what was delivered has gone out; returns how many events have not.
    /// <paramref name="atExit"/>: the last chance, worth waiting for even when the destination is known to be failing.
    /// </summary>
    long Flush(TimeSpan bound, bool atExit) => 0;

    /// <summary>At exit, after the last flush: stop background work before the process tears down what it uses.</summary>
    void Close() { }
}
