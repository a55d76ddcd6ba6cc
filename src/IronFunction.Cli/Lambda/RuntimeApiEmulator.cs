using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace IronFunction.Cli.Lambda;

/// <summary>What the runtime answered for one invocation: its response, or the error it posted.</summary>
public sealed record InvocationResult(string RequestId, bool IsError, string Body, string? ErrorType)
{
    public override string ToString() => $"{(IsError ? "error" : "response")} {RequestId}: {ErrorType} {Body}";
}

/// <summary>
/// The AWS Lambda Runtime API on loopback, for iron-function invoke and the tests: a small HTTP/1.1 server (keep-alive,
/// Content-Length or chunked bodies) speaking the runtime's side of
/// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html:
/// <list type="bullet">
/// <item>GET /2018-06-01/runtime/invocation/next: waits for an event queued by <see cref="Invoke"/>, answers
/// 200 with it and the headers Lambda-Runtime-Aws-Request-Id, -Deadline-Ms, -Invoked-Function-Arn, -Trace-Id</item>
/// <item>POST /2018-06-01/runtime/invocation/{id}/response and /{id}/error: 202, completes that invocation</item>
/// <item>POST /2018-06-01/runtime/init/error: 202, recorded</item>
/// </list>
/// It never talks to anything but the runtime that connects to it.
/// </summary>
public sealed class RuntimeApiEmulator : IDisposable
{
    private const string Prefix = "/2018-06-01/runtime/";
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<(string Id, string Event)> _queue = Channel.CreateUnbounded<(string, string)>();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<InvocationResult>> _pending = new();
    private readonly ConcurrentQueue<string> _requestLines = new();
    private readonly List<TcpClient> _clients = [];
    private readonly object _gate = new();
    private readonly TaskCompletionSource<string> _initError = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _nextRequests;
    private int _invocations;

    public RuntimeApiEmulator(string functionName = "iron-test", string region = "us-east-1")
    {
        FunctionName = functionName;
        FunctionArn = $"arn:aws:lambda:{region}:123456789012:function:{functionName}";
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _ = AcceptLoop();
    }

    public string FunctionName { get; }
    public string FunctionArn { get; }

    /// <summary>The value of AWS_LAMBDA_RUNTIME_API for the runtime: "127.0.0.1:port".</summary>
    public string Endpoint => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>How many times the runtime has asked for its next invocation (the first ends its initialisation).</summary>
    public int NextRequests => Volatile.Read(ref _nextRequests);

    /// <summary>How many events have been queued.</summary>
    public int Invocations => Volatile.Read(ref _invocations);

    /// <summary>Every request line received, in order.</summary>
    public IReadOnlyList<string> RequestLines => _requestLines.ToArray();

    /// <summary>The body of /runtime/init/error, once the runtime posted one.</summary>
    public Task<string> InitError => _initError.Task;

    /// <summary>Queues an event; the task completes when the runtime posts the response or error for it.</summary>
    public Task<InvocationResult> Invoke(string eventJson)
    {
        Interlocked.Increment(ref _invocations);
        var id = Guid.NewGuid().ToString("D");
        var done = new TaskCompletionSource<InvocationResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = done;
        _queue.Writer.TryWrite((id, eventJson));
        return done.Task;
    }

    /// <summary>Completes when the runtime has asked for its next invocation at least <paramref name="count"/> times.</summary>
    public async Task WaitForNextRequests(int count, CancellationToken cancel)
    {
        while (NextRequests < count)
            await Task.Delay(20, cancel);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _queue.Writer.TryComplete();
        _listener.Stop();
        lock (_gate)
            foreach (var c in _clients) c.Dispose();
        foreach (var p in _pending.Values) p.TrySetCanceled();
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            lock (_gate) _clients.Add(client);
            _ = Serve(client);
        }
    }

    /// <summary>One connection: requests one after another while the client keeps it alive.</summary>
    private async Task Serve(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        var reader = new HttpReader(stream);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var request = await reader.ReadRequest(_stop.Token);
                if (request == null) return;
                _requestLines.Enqueue($"{request.Method} {request.Target}");
                var (status, headers, body) = await Handle(request);
                await Write(stream, status, headers, body, _stop.Token);
                if (request.Header("Connection")?.Equals("close", StringComparison.OrdinalIgnoreCase) == true) return;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // the runtime went away, or the emulator stopped
        }
    }

    private async Task<(int, List<(string, string)>, byte[])> Handle(HttpRequest request)
    {
        var path = request.Target.Split('?')[0];
        if (request.Method == "GET" && path == Prefix + "invocation/next")
        {
            Interlocked.Increment(ref _nextRequests);
            var (id, evt) = await _queue.Reader.ReadAsync(_stop.Token);
            var deadline = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeMilliseconds();
            return (200,
            [
                ("Content-Type", "application/json"),
                ("Lambda-Runtime-Aws-Request-Id", id),
                ("Lambda-Runtime-Deadline-Ms", deadline.ToString(CultureInfo.InvariantCulture)),
                ("Lambda-Runtime-Invoked-Function-Arn", FunctionArn),
                ("Lambda-Runtime-Trace-Id", $"Root=1-{DateTimeOffset.UtcNow.ToUnixTimeSeconds():x8}-{id.Replace("-", "")[..24]};Sampled=0"),
            ], Encoding.UTF8.GetBytes(evt));
        }
        if (request.Method == "POST" && path == Prefix + "init/error")
        {
            _initError.TrySetResult(Encoding.UTF8.GetString(request.Body));
            return Accepted();
        }
        if (request.Method == "POST" && path.StartsWith(Prefix + "invocation/", StringComparison.Ordinal))
        {
            var rest = path[(Prefix.Length + "invocation/".Length)..];
            int slash = rest.LastIndexOf('/');
            if (slash > 0)
            {
                var id = Uri.UnescapeDataString(rest[..slash]);
                var kind = rest[(slash + 1)..];
                if ((kind == "response" || kind == "error") && _pending.TryRemove(id, out var done))
                {
                    done.TrySetResult(new InvocationResult(id, kind == "error", Encoding.UTF8.GetString(request.Body),
                        request.Header("Lambda-Runtime-Function-Error-Type")));
                    return Accepted();
                }
                return (400, [("Content-Type", "application/json")],
                    """{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}"""u8.ToArray());
            }
        }
        return (404, [("Content-Type", "application/json")], """{"errorMessage":"not found","errorType":"NotFound"}"""u8.ToArray());
    }

    private static (int, List<(string, string)>, byte[]) Accepted() =>
        (202, [("Content-Type", "application/json")], """{"status":"OK"}"""u8.ToArray());

    private static async Task Write(Stream stream, int status, List<(string Name, string Value)> headers, byte[] body, CancellationToken cancel)
    {
        var reason = status switch { 200 => "OK", 202 => "Accepted", 400 => "Bad Request", _ => "Not Found" };
        var head = new StringBuilder($"HTTP/1.1 {status} {reason}\r\n");
        foreach (var (name, value) in headers) head.Append(name).Append(": ").Append(value).Append("\r\n");
        head.Append("Date: ").Append(DateTime.UtcNow.ToString("R", CultureInfo.InvariantCulture)).Append("\r\n");
        head.Append("Content-Length: ").Append(body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), cancel);
        await stream.WriteAsync(body, cancel);
        await stream.FlushAsync(cancel);
    }

    private sealed record HttpRequest(string Method, string Target, List<(string Name, string Value)> Headers, byte[] Body)
    {
        public string? Header(string name) =>
            Headers.FirstOrDefault(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;
    }

    /// <summary>Reads HTTP/1.1 requests from a stream: head up to the blank line, then a Content-Length or chunked body.</summary>
    private sealed class HttpReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start, _end;

        public async Task<HttpRequest?> ReadRequest(CancellationToken cancel)
        {
            var requestLine = await ReadLine(cancel);
            while (requestLine == "") requestLine = await ReadLine(cancel); // tolerated between requests
            if (requestLine == null) return null;
            var parts = requestLine.Split(' ');
            if (parts.Length != 3) throw new IOException($"bad request line: {requestLine}");
            var headers = new List<(string, string)>();
            while (true)
            {
                var line = await ReadLine(cancel) ?? throw new IOException("connection closed inside a request head");
                if (line.Length == 0) break;
                int colon = line.IndexOf(':');
                if (colon > 0) headers.Add((line[..colon].Trim(), line[(colon + 1)..].Trim()));
            }
            var request = new HttpRequest(parts[0], parts[1], headers, []);
            byte[] body;
            if (request.Header("Transfer-Encoding")?.Contains("chunked", StringComparison.OrdinalIgnoreCase) == true)
                body = await ReadChunked(cancel);
            else if (int.TryParse(request.Header("Content-Length"), NumberStyles.None, CultureInfo.InvariantCulture, out int length))
                body = await ReadExactly(length, cancel);
            else
                body = [];
            return request with { Body = body };
        }

        private async Task<byte[]> ReadChunked(CancellationToken cancel)
        {
            var body = new MemoryStream();
            while (true)
            {
                var sizeLine = await ReadLine(cancel) ?? throw new IOException("connection closed inside a chunked body");
                int size = int.Parse(sizeLine.Split(';')[0].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    while ((await ReadLine(cancel) ?? "") != "") { } // trailers
                    return body.ToArray();
                }
                body.Write(await ReadExactly(size, cancel));
                await ReadLine(cancel);
            }
        }

        private async Task<byte[]> ReadExactly(int length, CancellationToken cancel)
        {
            var result = new byte[length];
            int have = 0;
            while (have < length)
            {
                if (_start == _end && !await Fill(cancel)) throw new IOException("connection closed inside a body");
                int take = Math.Min(length - have, _end - _start);
                Array.Copy(_buffer, _start, result, have, take);
                _start += take;
                have += take;
            }
            return result;
        }

        /// <summary>A line without its CRLF; null at the end of the stream before any byte of it.</summary>
        private async Task<string?> ReadLine(CancellationToken cancel)
        {
            var line = new MemoryStream();
            while (true)
            {
                if (_start == _end && !await Fill(cancel))
                    return line.Length == 0 ? null : throw new IOException("connection closed inside a line");
                int nl = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (nl < 0)
                {
                    line.Write(_buffer, _start, _end - _start);
                    _start = _end;
                    continue;
                }
                line.Write(_buffer, _start, nl - _start);
                _start = nl + 1;
                var bytes = line.ToArray();
                int n = bytes.Length > 0 && bytes[^1] == '\r' ? bytes.Length - 1 : bytes.Length;
                return Encoding.Latin1.GetString(bytes, 0, n);
            }
        }

        private async Task<bool> Fill(CancellationToken cancel)
        {
            _start = 0;
            _end = await stream.ReadAsync(_buffer, cancel);
            return _end > 0;
        }
    }
}
