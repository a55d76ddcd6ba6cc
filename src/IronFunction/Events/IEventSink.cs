namespace IronFunction.Events;

/// <summary>
/// Where events go. A sink never knows which rule fired; a rule never knows where events go.
/// Deliver runs on the hooked call's thread: a sink that does slow work queues it.
/// </summary>
internal interface IEventSink
{
    void Deliver(SecurityEvent securityEvent);
}
