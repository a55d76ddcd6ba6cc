using System.Buffers;
using IronFunction.Native;

namespace IronFunction.Events;

/// <summary>
/// CloudWatch: one compact JSON line per event on the log stream, the first protected process's stderr
/// (Native/glue/log_stream.c), written whole.
/// </summary>
internal sealed class StderrSink : IEventSink
{
    public void Deliver(SecurityEvent securityEvent)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        securityEvent.WriteJson(buffer);
        buffer.Write("\n"u8);
        Glue.LogLine(buffer.WrittenSpan);
    }
}
