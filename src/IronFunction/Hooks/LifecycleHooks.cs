using System.Runtime.InteropServices;
using IronFunction.Lifecycle;
using IronFunction.Native;
using IronFunction.Rules;

namespace IronFunction.Hooks;

/// <summary>
/// Exported interceptors through which a runtime sends its Runtime API requests (Hooks/lifecycle.symbols):
/// the AWS clients' libcurl and CPython's sockets call send, Node.js's own http module writes through
/// libuv (write, writev). Each passes its first bytes to <see cref="RuntimeApiWatcher"/> and then always
/// calls the real function: nothing here is ever denied. A C filter in front of them (Native/glue/runtime_api_filter.c,
/// 5.) lets through only a call whose bytes could begin the request; every other call goes straight to libc.
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
    private static nint Writev(int fd, nint vectors, int count)
    {
        WatchVectors(fd, vectors, count);
        if (Real.writev == null) Real.ResolveLifecycle();
        return Real.writev(fd, vectors, count);
    }

    /// <summary>NULL, low and kernel-space pointers are the kernel's to refuse (EFAULT); they are never read here.</summary>
    private static bool Readable(void* pointer) => !Native.Arch.Unreadable(pointer);

    private static void Watch(int fd, byte* data, nint length)
    {
        int errno = Errno.Value;
        try { RuntimeApiWatcher.OnOutgoing(fd, data, length); }
        catch (Exception e) { Contained(e); }
        Errno.Value = errno;
    }

    private static void WatchVectors(int fd, nint vectors, int count)
    {
        int errno = Errno.Value;
        try { RuntimeApiWatcher.OnOutgoingVectors(fd, vectors, count); }
        catch (Exception e) { Contained(e); }
        Errno.Value = errno;
    }

    private static void Contained(Exception e)
    {
        try { Diagnostics.Error("lifecycle", $"watching an outgoing request failed: {e}"); }
        catch { /* nothing may escape into the host */ }
    }
}
