using System.Net.Sockets;
using IronFunction.Native;

namespace IronFunction.Events;

/// <summary>
/// A TLS client connection over a connected socket, done by OpenSSL on the socket's descriptor, which is put in
/// non-blocking mode: OpenSSL returns when it would wait, and every wait (handshake, read, write) is a poll
/// bounded by the I/O timeout.
/// </summary>
internal sealed unsafe class TlsStream : Stream
{
    private static nint s_context;
    private static readonly object s_gate = new();

    private readonly Socket _socket;
    private readonly int _timeoutMs;
    private nint _ssl;

    /// <summary>Handshakes and checks the server's certificate for <paramref name="host"/>; throws with OpenSSL's reason on failure.</summary>
    public TlsStream(Socket socket, string host, bool hostIsAddress, TimeSpan timeout)
    {
        _socket = socket;
        _socket.Blocking = false;
        _timeoutMs = (int)timeout.TotalMilliseconds;
        Prepare();
        OpenSsl.ERR_clear_error();
        _ssl = OpenSsl.SSL_new(s_context);
        if (_ssl == 0) throw new IOException("SSL_new failed: " + OpenSsl.LastError());
        try
        {
            if (OpenSsl.SSL_set_fd(_ssl, (int)socket.Handle) != 1) throw new IOException("SSL_set_fd failed: " + OpenSsl.LastError());
            OpenSsl.SetPeerName(_ssl, host, hostIsAddress);
            while (true)
            {
                int r = OpenSsl.SSL_connect(_ssl);
                if (r == 1) break;
                if (!Wait(r, "TLS handshake"))
                {
                    string verify = OpenSsl.VerifyError(_ssl);
                    string reason = verify.Length > 0 ? "certificate verify failed: " + verify : OpenSsl.LastError();
                    throw new IOException($"TLS handshake with {host} failed: {(reason.Length > 0 ? reason : "connection closed")}");
                }
            }
        }
        catch
        {
            OpenSsl.SSL_free(_ssl);
            _ssl = 0;
            throw;
        }
    }

    /// <summary>Loads OpenSSL and builds the client context (trust store included) once.</summary>
    public static void Prepare()
    {
        lock (s_gate)
        {
            if (s_context == 0) s_context = OpenSsl.NewClientContext();
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.Length == 0) return 0;
        fixed (byte* p = buffer)
        {
            while (true)
            {
                OpenSsl.ERR_clear_error();
                int n = OpenSsl.SSL_read(_ssl, p, buffer.Length);
                if (n > 0) return n;
                if (OpenSsl.SSL_get_error(_ssl, n) == OpenSsl.SSL_ERROR_ZERO_RETURN) return 0;
                if (!Wait(n, "read")) return 0;
            }
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                OpenSsl.ERR_clear_error();
                int n = OpenSsl.SSL_write(_ssl, p + done, buffer.Length - done);
                if (n > 0) { done += n; continue; }
                if (!Wait(n, "write")) throw new IOException("the TLS connection closed while writing: " + OpenSsl.LastError());
            }
        }
    }

    /// <summary>After a call returned <paramref name="result"/>: waits when OpenSSL wants the socket; false when the connection is over.</summary>
    private bool Wait(int result, string what)
    {
        int error = OpenSsl.SSL_get_error(_ssl, result);
        SelectMode mode;
        if (error == OpenSsl.SSL_ERROR_WANT_READ) mode = SelectMode.SelectRead;
        else if (error == OpenSsl.SSL_ERROR_WANT_WRITE) mode = SelectMode.SelectWrite;
        else return false;
        if (!_socket.Poll(_timeoutMs * 1000, mode))
            throw new IOException($"TLS {what} timed out after {_timeoutMs / 1000.0:0.#} s", new SocketException((int)SocketError.TimedOut));
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        if (_ssl != 0)
        {
            // a close_notify if the socket takes it at once; never wait for the peer's
            try { if (_socket.Poll(0, SelectMode.SelectWrite)) OpenSsl.SSL_shutdown(_ssl); } catch (Exception) { }
            OpenSsl.SSL_free(_ssl);
            _ssl = 0;
        }
        if (disposing) _socket.Dispose();
        base.Dispose(disposing);
    }

    public override void Flush() { }
    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
