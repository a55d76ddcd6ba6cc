using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace IronFunction.Tests.EndToEnd;

/// <summary>
/// A real HTTP/1.1 api_endpoint on 127.0.0.1 (keep-alive, optional TLS), run by the test process. Every request
/// is recorded as soon as its body has arrived, before it is answered; <see cref="Respond"/> decides the answer
/// (a status code, or never, for a hanging endpoint).
/// </summary>
public sealed class LoopbackEndpoint : IDisposable
{
    public sealed record Request(int Index, int Connection, string Method, string Target, IReadOnlyDictionary<string, string> Headers, string Body)
    {
        public JsonElement Event => JsonDocument.Parse(Body).RootElement.Clone();
    }

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly X509Certificate2? _certificate;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Request> _requests = [];
    private readonly List<TcpClient> _clients = [];
    private int _connections;

    /// <summary>The answer to the request with the given index (0, 1, …): a status code; a task that never ends hangs it.</summary>
    public Func<Request, Task<int>> Respond { get; set; } = _ => Task.FromResult(204);

    public int Port { get; }
    public string Url(string path = "/iron/events") => $"{(_certificate != null ? "https" : "http")}://127.0.0.1:{Port}{path}";

    public LoopbackEndpoint(X509Certificate2? certificate = null)
    {
        _certificate = certificate;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        new Thread(AcceptLoop) { IsBackground = true, Name = "endpoint-accept" }.Start();
    }

    /// <summary>An endpoint that accepts connections and never answers.</summary>
    public static LoopbackEndpoint Hanging() => new() { Respond = _ => new TaskCompletionSource<int>().Task };

    /// <summary>A port with nothing listening on it: connections are refused.</summary>
    public static int DeadPort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public IReadOnlyList<Request> Requests
    {
        get { lock (_requests) return _requests.ToArray(); }
    }

    /// <summary>Waits until the requests satisfy <paramref name="done"/>; false after <paramref name="timeout"/>.</summary>
    public bool WaitFor(Func<IReadOnlyList<Request>, bool> done, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        lock (_requests)
        {
            while (!done(_requests))
            {
                var left = until - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) return false;
                Monitor.Wait(_requests, left);
            }
            return true;
        }
    }

    // dedicated threads and blocking I/O: the test host's thread pool is busy with other tests, and a late answer
    // would look like a slow endpoint to the library
    private void AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = _listener.AcceptTcpClient(); }
            catch (Exception) { return; }
            lock (_clients) _clients.Add(client);
            int connection = Interlocked.Increment(ref _connections);
            new Thread(() => Serve(client, connection)) { IsBackground = true, Name = "endpoint-connection" }.Start();
        }
    }

    private void Serve(TcpClient client, int connection)
    {
        try
        {
            Stream stream = client.GetStream();
            if (_certificate != null)
            {
                var tls = new SslStream(stream);
                tls.AuthenticateAsServer(_certificate, false, false);
                stream = tls;
            }
            var input = new BufferedReader(stream);
            while (!_stop.IsCancellationRequested)
            {
                var head = input.ReadHead();
                if (head == null) return;
                var lines = head.Split("\r\n");
                var start = lines[0].Split(' ');
                var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (var line in lines.Skip(1))
                {
                    int colon = line.IndexOf(':');
                    if (colon > 0) headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
                }
                int length = headers.TryGetValue("Content-Length", out var cl) ? int.Parse(cl) : 0;
                var body = Encoding.UTF8.GetString(input.ReadExactly(length));
                Request request;
                lock (_requests)
                {
                    request = new Request(_requests.Count, connection, start[0], start[1], headers, body);
                    _requests.Add(request);
                    Monitor.PulseAll(_requests);
                }
                var answer = Respond(request);
                answer.Wait(_stop.Token);
                int status = answer.Result;
                stream.Write(Encoding.ASCII.GetBytes(status is 204 or 304
                    ? $"HTTP/1.1 {status} Status\r\n\r\n"
                    : $"HTTP/1.1 {status} Status\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"));
            }
        }
        catch (Exception)
        {
            // the client went away, or the test is over
        }
        finally
        {
            client.Dispose();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_clients) foreach (var c in _clients) c.Dispose();
    }

    /// <summary>A self-signed server certificate for the given names and addresses, with its key, usable by SslStream.</summary>
    public static X509Certificate2 Certificate(string[] dnsNames, IPAddress[] addresses)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=iron-function test endpoint", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var n in dnsNames) names.AddDnsName(n);
        foreach (var a in addresses) names.AddIpAddress(a);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }

    private sealed class BufferedReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start, _end;

        public string? ReadHead()
        {
            while (true)
            {
                int at = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
                if (at >= 0)
                {
                    var head = Encoding.Latin1.GetString(_buffer, _start, at);
                    _start += at + 4;
                    return head;
                }
                if (!Fill()) return null;
            }
        }

        public byte[] ReadExactly(int count)
        {
            var result = new byte[count];
            int done = 0;
            while (done < count)
            {
                if (_start == _end && !Fill()) throw new EndOfStreamException();
                int n = Math.Min(count - done, _end - _start);
                Array.Copy(_buffer, _start, result, done, n);
                _start += n;
                done += n;
            }
            return result;
        }

        private bool Fill()
        {
            if (_start > 0)
            {
                Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length) throw new InvalidDataException("request head too large");
            int n = stream.Read(_buffer, _end, _buffer.Length - _end);
            _end += n;
            return n > 0;
        }
    }
}
