using System.Diagnostics;
using IronFunction.Native;
using IronFunction.Rules;

namespace IronFunction.Lifecycle;

/// <summary>
/// The Lambda phase as the runtime itself announces it: every request for the next invocation
/// ("GET /2018-06-01/runtime/invocation/next" to AWS_LAMBDA_RUNTIME_API) ends an initialisation or an
/// invocation, and Lambda may freeze the process as soon as it is answered.
///
/// Every hook that sends bytes on a descriptor hands them to <see cref="OnOutgoing"/> before the real
/// call: send, write and writev here (Hooks/LifecycleHooks.cs, behind the C filter of
/// Native/glue/runtime_api_filter.c); the network hooks (sendto, sendmsg, sendmmsg) should do the same with the
/// first bytes they send. The subscribers (<see cref="OnNextInvocation"/>) run synchronously on the
/// requesting thread, before the request leaves: read_handler arms there, and the event pipeline flushes
/// what is pending there, so nothing waits in a frozen process.
/// </summary>
internal static unsafe class RuntimeApiWatcher
{
    /// <summary>What one request may spend in all subscribers together; each is told what is left.</summary>
    public static readonly TimeSpan FlushBound = TimeSpan.FromMilliseconds(500);

    /// <param name="budget">Time left of <see cref="FlushBound"/> for this request (zero when spent: return at once).</param>
    public delegate void NextInvocationSubscriber(TimeSpan budget);

    private static readonly object s_gate = new();
    private static NextInvocationSubscriber[] s_subscribers = [];
    private static RuntimeApiEndpoint? s_endpoint;
    private static bool s_inLambda;
    private static long s_requests;

    /// <summary>Whether the process runs under a Lambda Runtime API (AWS_LAMBDA_RUNTIME_API is set).</summary>
    public static bool InLambda => s_inLambda;

    /// <summary>How many next-invocation requests this process has made (the first one ends initialisation).</summary>
    public static long NextInvocationRequests => Volatile.Read(ref s_requests);

    /// <summary>From the library's start: where the Runtime API is. Idempotent.</summary>
    public static void Start(string? runtimeApi)
    {
        Real.ResolveLifecycle();
        s_inLambda = !string.IsNullOrWhiteSpace(runtimeApi);
        s_endpoint = RuntimeApiEndpoint.Parse(runtimeApi);
        if (s_inLambda && s_endpoint == null)
            Diagnostics.Warn("lifecycle", $"AWS_LAMBDA_RUNTIME_API={runtimeApi} is not host:port; next-invocation requests are recognised by their bytes alone");
        Diagnostics.Debug("lifecycle", s_inLambda ? $"Runtime API at {runtimeApi}" : "no AWS_LAMBDA_RUNTIME_API: not running under Lambda");
    }

    /// <summary>
    /// Adds a subscriber to every next-invocation request, in order of subscription. It runs with the
    /// library's re-entrancy guard held (its own file and network calls are not judged), must keep to its
    /// budget, and never lets an exception out (one that does is logged and swallowed).
    /// </summary>
    public static void OnNextInvocation(NextInvocationSubscriber subscriber)
    {
        lock (s_gate) s_subscribers = [.. s_subscribers, subscriber];
    }

    /// <summary>
    /// Outgoing bytes on <paramref name="fd"/>, seen by a hook before the real call sends them (for a
    /// vector of buffers, the first bytes gathered). Cheap for anything but a request line starting with
    /// 'G'; the caller keeps errno and contains exceptions. NULL, low and kernel-space pointers are never
    /// read; any other <paramref name="data"/> must be readable for <paramref name="length"/> bytes.
    /// </summary>
    public static void OnOutgoing(int fd, byte* data, nint length)
    {
        if (length < RuntimeApiRequest.DecisiveLength || !UserPointer(data)) return;
        if (*data != (byte)'G' || !s_inLambda) return;
        if (ReentrancyGuard.Active) return;
        var head = new ReadOnlySpan<byte>(data, RuntimeApiRequest.DecisiveLength);
        if (!RuntimeApiRequest.IsNextInvocation(head) || !PeerIsRuntimeApi(fd)) return;
        NextInvocationRequested();
    }

    /// <summary>
    /// Outgoing bytes as an iovec array (writev; sendmsg's msg_iov): the first bytes are gathered across
    /// the buffers, since a request line may arrive split, and judged as <see cref="OnOutgoing"/> does.
    /// </summary>
    public static void OnOutgoingVectors(int fd, nint iovecs, int count)
    {
        if (count <= 0 || !s_inLambda || !UserPointer((void*)iovecs)) return;
        var vectors = (IoVector*)iovecs;
        int first = 0;
        while (first < count && vectors[first].Length == 0) first++;
        if (first == count || !UserPointer(vectors[first].Base) || *vectors[first].Base != (byte)'G') return;
        const int Need = RuntimeApiRequest.DecisiveLength;
        byte* head = stackalloc byte[Need];
        int have = 0;
        for (int i = first; i < count && have < Need; i++)
        {
            var v = vectors[i];
            if (v.Length == 0) continue;
            if (!UserPointer(v.Base)) return;
            int take = (int)Math.Min(v.Length, (nuint)(Need - have));
            new ReadOnlySpan<byte>(v.Base, take).CopyTo(new Span<byte>(head + have, Need - have));
            have += take;
        }
        if (have == Need) OnOutgoing(fd, head, have);
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary>NULL, low and kernel-space pointers are the kernel's to refuse (EFAULT); they are never read here.</summary>
    private static bool UserPointer(void* p) => !Native.Arch.Unreadable(p);

    /// <summary>The descriptor is a socket connected to the Runtime API (anything else that writes those bytes is not the runtime).</summary>
    private static bool PeerIsRuntimeApi(int fd)
    {
        if (s_endpoint == null) return true;
        Span<byte> address = stackalloc byte[128];
        uint length = (uint)address.Length;
        fixed (byte* a = address)
            if (Libc.Getpeername(fd, a, &length) != 0) return false;
        return s_endpoint.Matches(address[..(int)Math.Min(length, (uint)address.Length)]);
    }

    private static void NextInvocationRequested()
    {
        using var _ = ReentrancyGuard.Enter();
        long n = Interlocked.Increment(ref s_requests);
        Diagnostics.Debug("lifecycle", n == 1
            ? "the runtime asked for its first invocation: initialisation is over"
            : $"the runtime asked for invocation {n}");
        long start = Stopwatch.GetTimestamp();
        foreach (var subscriber in s_subscribers)
        {
            var left = FlushBound - Stopwatch.GetElapsedTime(start);
            try { subscriber(left > TimeSpan.Zero ? left : TimeSpan.Zero); }
            catch (Exception e) { Diagnostics.Error("lifecycle", $"a next-invocation subscriber failed: {e}"); }
        }
    }
}
