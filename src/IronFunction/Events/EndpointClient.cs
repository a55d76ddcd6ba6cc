using System.Net;
using System.Net.Sockets;
using System.Text;
using IronFunction.Lifecycle;

namespace IronFunction.Events;

/// <summary>
/// POSTs one event body to the api_endpoint over a persistent HTTP/1.1 connection (TLS for https), with
/// bounded retries. Synchronous on purpose: every socket, DNS, TLS and certificate-file operation runs on
/// the calling thread, which the library owns; socket timeouts bound each step, so no timer (whose
/// callbacks would run on the runtime's thread pool) is ever started.
/// </summary>
internal sealed class EndpointClient : IDisposable
{
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan IoTimeout = TimeSpan.FromSeconds(5);
    /// <summary>Attempts per event, and the pause after each failed one (connection errors, 5xx, 408, 429).</summary>
    public const int Attempts = 3;
    private static readonly int[] BackoffMs = [100, 400];

    private readonly Uri _endpoint;
    private readonly byte[] _head;
    private Stream? _connection;
    private volatile Socket? _socket;
    private volatile bool _aborted;
    private readonly HttpResponseReader _reader = new();
    private volatile bool _failing;

    /// <summary>The last attempt failed, and none has succeeded since.</summary>
    public bool Failing => _failing;

    /// <param name="warmUp">Runs now what a first request would set up (socket and parsing types, OpenSSL for https), without any network traffic.</param>
    public EndpointClient(Uri endpoint, bool warmUp = false)
    {
        _endpoint = endpoint;
        var host = endpoint.IsDefaultPort ? endpoint.IdnHost : $"{endpoint.IdnHost}:{endpoint.Port}";
        if (endpoint.HostNameType == UriHostNameType.IPv6 && !host.StartsWith('[')) host = $"[{host}]";
        _head = Encoding.ASCII.GetBytes(
            $"POST {endpoint.PathAndQuery} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: iron-function\r\n" +
            "Content-Type: application/json\r\nContent-Length: ");
        if (!warmUp) return;
        using (new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)) { }
        _ = IPAddress.TryParse("127.0.0.1", out _);
        System.Buffers.ArrayPool<byte>.Shared.Return(System.Buffers.ArrayPool<byte>.Shared.Rent(1));
        if (endpoint.Scheme == Uri.UriSchemeHttps) TlsStream.Prepare();
    }

    /// <summary>Delivers one body; false when every attempt failed or the endpoint refused it (4xx).</summary>
    public bool Post(ReadOnlySpan<byte> body)
    {
        string failure = "";
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            if (attempt > 0) Thread.Sleep(BackoffMs[Math.Min(attempt - 1, BackoffMs.Length - 1)]);
            if (_aborted) return false;
            bool retry;
            try
            {
                int status = Exchange(body, reused: out bool reused);
                if (status is >= 200 and < 300)
                {
                    if (_failing) Diagnostics.Info("events", $"delivery to {Where} works again");
                    _failing = false;
                    return true;
                }
                failure = $"HTTP {status}";
                retry = status >= 500 || status == 408 || status == 429;
            }
            catch (Exception e)
            {
                Close();
                // at exit the connection was cut on purpose: nothing to report
                if (_aborted) return false;
                failure = Reason(e);
                retry = true;
            }
            if (!retry)
            {
                Diagnostics.Warn("events", $"{Where} refused an event ({failure}); it is counted in dropped_before of the next event delivered");
                return false;
            }
            // said once per outage, at its first failure
            if (!_failing)
                Diagnostics.Warn("events", $"delivery to {Where} failed ({failure}); each event is tried {Attempts} times, " +
                    "those that do not go through are counted in dropped_before of the next event delivered");
            _failing = true;
        }
        return false;
    }

    /// <summary>One request and its response; a connection the server closed while idle is replaced once, at no cost of an attempt.</summary>
    private int Exchange(ReadOnlySpan<byte> body, out bool reused)
    {
        reused = _connection != null;
        try
        {
            return ExchangeOnce(body);
        }
        catch (Exception e) when (reused && ClosedWhileIdle(e))
        {
            Close();
            reused = false;
            return ExchangeOnce(body);
        }
    }

    private int ExchangeOnce(ReadOnlySpan<byte> body)
    {
        var connection = _connection ??= Open();
        Span<byte> length = stackalloc byte[16];
        body.Length.TryFormat(length, out int digits, provider: System.Globalization.CultureInfo.InvariantCulture);
        // one write for head and body: fewer packets, and no Nagle delay between them
        int total = _head.Length + digits + 4 + body.Length;
        byte[] request = System.Buffers.ArrayPool<byte>.Shared.Rent(total);
        try
        {
            _head.CopyTo(request, 0);
            length[..digits].CopyTo(request.AsSpan(_head.Length));
            "\r\n\r\n"u8.CopyTo(request.AsSpan(_head.Length + digits));
            body.CopyTo(request.AsSpan(_head.Length + digits + 4));
            connection.Write(request, 0, total);
            connection.Flush();
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(request);
        }
        var response = _reader.Read(connection);
        if (!response.KeepAlive) Close();
        return response.Status;
    }

    /// <summary>The server had dropped the idle connection (not: it is slow to answer).</summary>
    private static bool ClosedWhileIdle(Exception e) =>
        e is HttpFormatException { NothingRead: true } ||
        e is IOException { InnerException: SocketException s } && s.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown;

    private Stream Open()
    {
        string host = _endpoint.IdnHost.TrimStart('[').TrimEnd(']');
        var socket = Connect(host, _endpoint.Port);
        _socket = socket;
        try
        {
            if (_aborted) throw new IOException("the process is exiting");
            if (_endpoint.Scheme == Uri.UriSchemeHttps)
                return new TlsStream(socket, host, IPAddress.TryParse(host, out _), IoTimeout);
            socket.SendTimeout = socket.ReceiveTimeout = (int)IoTimeout.TotalMilliseconds;
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private void Close()
    {
        try { _connection?.Dispose(); }
        catch (Exception) { /* the connection is gone either way */ }
        _connection = null;
        _socket = null;
        _reader.Reset();
    }

    public void Dispose() => Close();

    /// <summary>From another thread, at exit: no more attempts, and a blocked read or write on the connection returns at once.</summary>
    public void Abort()
    {
        _aborted = true;
        try { _socket?.Shutdown(SocketShutdown.Both); }
        catch (Exception) { /* closed already */ }
    }

    private string Where => _endpoint.GetLeftPart(UriPartial.Path);

    private static string Reason(Exception e)
    {
        while (e.InnerException != null && e is IOException) e = e.InnerException;
        return e.Message;
    }

    /// <summary>A connected TCP socket (blocking), each address tried in turn, each within the connect timeout.</summary>
    private static Socket Connect(string host, int port)
    {
        IPAddress[] addresses = IPAddress.TryParse(host, out var literal) ? [literal] : Dns.GetHostAddresses(host);
        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                ConnectWithin(socket, new IPEndPoint(address, port), ConnectTimeout);
                return socket;
            }
            catch (Exception e) when (e is SocketException or TimeoutException)
            {
                socket.Dispose();
                last = e;
            }
        }
        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>
    /// A blocking connect bounded by SO_SNDTIMEO (Linux applies it to connect). Never non-blocking and back:
    /// .NET would then emulate every blocking call through its socket engine thread, which the library does
    /// not own and which a forked child does not have.
    /// </summary>
    private static void ConnectWithin(Socket socket, IPEndPoint endpoint, TimeSpan timeout)
    {
        socket.SendTimeout = (int)timeout.TotalMilliseconds;
        try
        {
            socket.Connect(endpoint);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.InProgress or SocketError.WouldBlock or SocketError.TimedOut)
        {
            throw new TimeoutException($"connect to {endpoint} timed out after {timeout.TotalSeconds:0.#} s");
        }
    }
}
