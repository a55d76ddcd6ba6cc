using System.Buffers;
using IronFunction.Lifecycle;
using IronFunction.Native;

namespace IronFunction.Events;

/// <summary>
/// The policy's api_endpoint: each event is POSTed as JSON by one background thread, started at the first
/// event. A hooked call only puts the event in a bounded queue (never waits for the network); when the queue
/// is full the oldest event makes room, and the number lost goes out as "dropped_before" on the next event
/// delivered. Events that fail for good (after the retries of <see cref="EndpointClient"/>) count the same way.
/// </summary>
internal sealed class ApiEndpointSink : IEventSink
{
    /// <summary>
    /// A few hundred bytes per event, so about 1.5 MB when full: 0.4 s of events at 10,000/s, room for the delivery
    /// thread to be kept off the CPU for a while by a busy machine.
    /// </summary>
    public const int QueueCapacity = 4096;

    /// <summary>Naps of 1 ms the worker takes on an empty queue before it sleeps until woken.</summary>
    private const int LingerNaps = 3;

    private readonly Uri _endpoint;
    private Delivery _delivery;

    /// <summary>The delivery state of one process; a forked child gets its own (and its own thread).</summary>
    private sealed class Delivery(uint generation, int ownerPid)
    {
        public readonly uint Generation = generation;
        public readonly int OwnerPid = ownerPid;
        public readonly DropOldestQueue<SecurityEvent> Queue = new(QueueCapacity);
        public bool WorkerStarted, WorkerIdle, InFlight;
        public volatile bool EndpointFailing;
        public volatile EndpointClient? Client;
        /// <summary>Held by the worker while it sends; taken for good at exit.</summary>
        public readonly object Sending = new();
    }

    /// <summary>At start: adds the sink when the policy names an endpoint. Nothing of HTTP is touched before the first event.</summary>
    public static void Start(Uri? endpoint)
    {
        if (endpoint == null) return;
        EventHub.AddSink(new ApiEndpointSink(endpoint));
        Diagnostics.Debug("events", $"events go to {endpoint.GetLeftPart(UriPartial.Path)} too, from the first event on");
    }

    private ApiEndpointSink(Uri endpoint)
    {
        _endpoint = endpoint;
        _delivery = new Delivery(Glue.ForkGeneration, Libc.Getpid());
    }

    public void Deliver(SecurityEvent securityEvent)
    {
        var d = Current();
        bool start = false;
        lock (d)
        {
            d.Queue.Enqueue(securityEvent);
            if (!d.WorkerStarted) start = d.WorkerStarted = MayStartThreads(d);
            else if (d.WorkerIdle) Monitor.PulseAll(d);
        }
        if (start) StartWorker(d);
    }

    /// <summary>
    /// Waits until the queue is empty and nothing is in flight, at most <paramref name="bound"/>; returns what is left.
    /// Before an invocation ends it does not wait for an endpoint that is failing: a dead endpoint must not add the
    /// bound to every invocation. At exit it waits, as the retries may still succeed.
    /// </summary>
    public long Flush(TimeSpan bound, bool atExit)
    {
        var d = Current();
        long deadline = Environment.TickCount64 + (long)bound.TotalMilliseconds;
        bool start = false;
        lock (d)
        {
            if (d.Queue.Count == 0 && !d.InFlight) return 0;
            if (d.EndpointFailing && !atExit) return d.Queue.Count + (d.InFlight ? 1 : 0);
            // events queued by a vfork child, say, before any worker existed
            if (!d.WorkerStarted) start = d.WorkerStarted = MayStartThreads(d);
        }
        if (start) StartWorker(d);
        lock (d)
        {
            if (d.WorkerIdle) Monitor.PulseAll(d);
            while ((d.Queue.Count > 0 || d.InFlight) && d.WorkerStarted)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0) break;
                Monitor.Wait(d, (int)Math.Min(left, int.MaxValue));
            }
            return d.Queue.Count + (d.InFlight ? 1 : 0);
        }
    }

    /// <summary>
    /// At exit, after the flush: the worker must not be inside OpenSSL when the host's atexit cleanup of it runs.
    /// The connection is shut down (a blocked read returns at once) and the worker is kept from sending again.
    /// </summary>
    public void Close()
    {
        var d = Current();
        long dropped;
        lock (d) dropped = d.Queue.Dropped;
        if (dropped > 0)
            Diagnostics.Warn("events", $"{dropped} event(s) were lost on the way to api_endpoint (queue overflow or failed delivery) and no later event reported them");
        d.Client?.Abort();
        // only OpenSSL needs the worker out of the way; plain HTTP can be left to the end of the process
        Monitor.TryEnter(d.Sending, OpenSsl.IsLoaded ? 1000 : 0);
    }

    private Delivery Current()
    {
        var d = _delivery;
        uint generation = Glue.ForkGeneration;
        if (d.Generation == generation) return d;
        // a forked child: the parent's queue and thread are not this process's
        if (Interlocked.CompareExchange(ref _delivery, new Delivery(generation, Libc.Getpid()), d) == d)
            Diagnostics.Debug("events", $"forked child {Libc.Getpid()}: a delivery queue of its own");
        return _delivery;
    }

    /// <summary>A vfork child shares the parent's memory and thread list until it execs: it only queues.</summary>
    private static bool MayStartThreads(Delivery d) => Libc.Getpid() == d.OwnerPid;

    private void StartWorker(Delivery d)
    {
        try
        {
            var thread = new Thread(() => Work(d)) { IsBackground = true, Name = "iron-events" };
            thread.Start();
            Diagnostics.Debug("events", $"delivery thread started in process {Libc.Getpid()}");
        }
        catch (Exception e)
        {
            lock (d) d.WorkerStarted = false;
            Diagnostics.Error("events", $"the api_endpoint delivery thread could not start: {e.Message}");
        }
    }

    private void Work(Delivery d)
    {
        try { Deliveries(d); }
        catch (Exception e)
        {
            // nothing may escape this thread: an unhandled exception would end the host process
            Diagnostics.Error("events", $"api_endpoint delivery stopped: {e.Message}");
        }
    }

    private void Deliveries(Delivery d)
    {
        // sockets, DNS, TLS and certificate files of the delivery are the library's own work: never judged
        ReentrancyGuard.MarkThreadAsLibraryOwned();
        var body = new ArrayBufferWriter<byte>(2048);
        EndpointClient? client = null;
        // one-time set-up (class constructors, OpenSSL) with forks held back: a child forked meanwhile would
        // inherit their locks taken by this thread, which it does not have
        Glue.HoldForks(true);
        try { client = new EndpointClient(_endpoint, warmUp: true); }
        catch (Exception e) { Diagnostics.Error("events", $"api_endpoint delivery could not be set up: {e.Message}"); }
        finally { Glue.HoldForks(false); }
        while (true)
        {
            SecurityEvent next;
            long dropped;
            lock (d)
            {
                d.InFlight = false;
                for (int naps = 0; !d.Queue.TryDequeue(out next); naps++)
                {
                    if (naps < LingerNaps)
                    {
                        // under a stream of events, stay awake a moment: callers then never pay for waking this thread
                        if (naps == 0) Monitor.PulseAll(d);
                        Monitor.Wait(d, 1);
                        continue;
                    }
                    d.WorkerIdle = true;
                    Monitor.PulseAll(d);
                    Monitor.Wait(d);
                    d.WorkerIdle = false;
                }
                dropped = d.Queue.TakeDropped();
                d.InFlight = true;
            }
            bool delivered = false;
            lock (d.Sending)
            {
                try
                {
                    d.Client = client ??= new EndpointClient(_endpoint);
                    body.ResetWrittenCount();
                    next.WriteJson(body, dropped);
                    delivered = client.Post(body.WrittenSpan);
                }
                catch (Exception e)
                {
                    Diagnostics.Error("events", $"an event could not be sent to api_endpoint: {e.Message}");
                }
            }
            d.EndpointFailing = client?.Failing ?? true;
            if (!delivered) lock (d) d.Queue.AddDropped(dropped + 1);
        }
    }
}
