using System.Runtime.InteropServices;
using IronFunction.Lifecycle;
using IronFunction.Native;
using IronFunction.Rules;

namespace IronFunction.Hooks;

/// <summary>
/// Exported interceptors through which a runtime sends its Runtime API requests (Hooks/lifecycle.symbols):
/// the AWS clients' libcurl and CPython's sockets call send, Node.js's own http module writes through
/// libuv (write, writev). Each passes its first bytes to <see cref="RuntimeApiWatcher"/> and then always
/// calls the real function: nothing here is ever denied. The common call costs a length and one byte compare.
/// </summary>
internal static unsafe class LifecycleHooks
{
    private const int Decisive = RuntimeApiRequest.DecisiveLength;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_send")]
    private static nint Send(int fd, byte* buffer, nuint length, int flags)
    {
        if (length >= (nuint)Decisive && Readable(buffer) && *buffer == (byte)'G') Watch(fd, buffer, (nint)length);
        if (Real.send == null) Real.ResolveLifecycle();
        return Real.send(fd, buffer, length, flags);
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_write")]
    private static nint Write(int fd, byte* buffer, nuint length)
    {
        if (length >= (nuint)Decisive && Readable(buffer) && *buffer == (byte)'G') Watch(fd, buffer, (nint)length);
        if (Real.write == null) Real.ResolveLifecycle();
        return Real.write(fd, buffer, length);
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_writev")]
    private static nint Writev(int fd, IoVector* vectors, int count)
    {
        if (count > 0 && Readable(vectors)) WatchVectors(fd, vectors, count);
        if (Real.writev == null) Real.ResolveLifecycle();
        return Real.writev(fd, (nint)vectors, count);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary>The request line may arrive split over several buffers: the first bytes are gathered, up to what decides.</summary>
    private static void WatchVectors(int fd, IoVector* vectors, int count)
    {
        int first = 0;
        while (first < count && vectors[first].Length == 0) first++;
        if (first == count || !Readable(vectors[first].Base) || *vectors[first].Base != (byte)'G') return;
        byte* head = stackalloc byte[Decisive];
        int have = 0;
        for (int i = first; i < count && have < Decisive; i++)
        {
            var v = vectors[i];
            if (v.Length == 0) continue;
            if (!Readable(v.Base)) return;
            int take = (int)Math.Min(v.Length, (nuint)(Decisive - have));
            new ReadOnlySpan<byte>(v.Base, take).CopyTo(new Span<byte>(head + have, Decisive - have));
            have += take;
        }
        if (have == Decisive) Watch(fd, head, have);
    }

    /// <summary>NULL, low and kernel-space pointers are the kernel's to refuse (EFAULT); they are never read here.</summary>
    private static bool Readable(void* pointer) => (nuint)pointer >= 4096 && (nuint)pointer < 0x0000_8000_0000_0000;

    private static void Watch(int fd, byte* data, nint length)
    {
        int errno = Errno.Value;
        try { RuntimeApiWatcher.OnOutgoing(fd, data, length); }
        catch (Exception e)
        {
            try { Diagnostics.Error("lifecycle", $"watching an outgoing request failed: {e}"); }
            catch { /* nothing may escape into the host */ }
        }
        Errno.Value = errno;
    }
}
