using System.Buffers;
using IronFunction.Native;

namespace IronFunction.Events;

/// <summary>CloudWatch: one compact JSON line per event on stderr, written with a single write(2).</summary>
internal sealed unsafe class StderrSink : IEventSink
{
    public void Deliver(SecurityEvent securityEvent)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        securityEvent.WriteJson(buffer);
        buffer.Write("\n"u8);
        WriteAll(2, buffer.WrittenSpan);
    }

    public static void WriteAll(int fd, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* start = bytes)
        {
            int done = 0;
            while (done < bytes.Length)
            {
                nint n = Libc.Write(fd, start + done, bytes.Length - done);
                if (n > 0) done += (int)n;
                else if (n < 0 && Errno.Value == Errno.EINTR) continue;
                else return;
            }
        }
    }
}
