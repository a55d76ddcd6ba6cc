using System.Text;

namespace IronFunction.Events;

/// <summary>A response the endpoint sent that is not HTTP/1.x as this reader knows it.</summary>
internal sealed class HttpFormatException(string message, bool nothingRead = false) : Exception(message)
{
    /// <summary>The connection ended before the first byte of a response: a keep-alive connection the server had closed.</summary>
    public bool NothingRead { get; } = nothingRead;
}

/// <summary>
/// Reads one HTTP/1.x response off a connection, body included (and discarded), so that the connection can
/// carry the next request: status line, headers, then a Content-Length body, a chunked body, or a body
/// that ends with the connection. Interim 1xx responses are skipped. Bytes read past the response are kept
/// for the next one.
/// </summary>
internal sealed class HttpResponseReader
{
    public const int MaxHeaderBytes = 16 * 1024;

    public readonly record struct Response(int Status, bool KeepAlive);

    private byte[] _buffer = new byte[4096];
    private int _start, _end;

    /// <summary>Forgets buffered bytes: a new connection starts empty.</summary>
    public void Reset() => _start = _end = 0;

    public Response Read(Stream connection)
    {
        bool first = true;
        while (true)
        {
            var (status, keepAlive, length, chunked) = ReadHead(connection, first);
            first = false;
            if (status is >= 100 and < 200) continue;
            bool noBody = status is 204 or 304;
            if (noBody) { }
            else if (chunked) SkipChunked(connection);
            else if (length >= 0) Skip(connection, length);
            else
            {
                // the body ends when the connection does
                while (Fill(connection) > 0) _start = _end;
                keepAlive = false;
            }
            return new Response(status, keepAlive);
        }
    }

    private (int Status, bool KeepAlive, long Length, bool Chunked) ReadHead(Stream connection, bool first)
    {
        int headEnd;
        while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (_end - _start > MaxHeaderBytes) throw new HttpFormatException("response headers too long");
            if (Fill(connection) == 0)
                throw new HttpFormatException("the connection closed before a complete response", nothingRead: first && _end == _start);
        }
        var head = Encoding.Latin1.GetString(_buffer, _start, headEnd);
        _start += headEnd + 4;

        var lines = head.Split("\r\n");
        var statusLine = lines[0].Split(' ', 3);
        if (statusLine.Length < 2 || !statusLine[0].StartsWith("HTTP/1.", StringComparison.Ordinal) ||
            statusLine[1].Length != 3 || !int.TryParse(statusLine[1], System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out int status))
            throw new HttpFormatException($"not an HTTP/1.x status line: {Printable(lines[0])}");

        bool keepAlive = statusLine[0] != "HTTP/1.0";
        long length = -1;
        bool chunked = false;
        for (int i = 1; i < lines.Length; i++)
        {
            int colon = lines[i].IndexOf(':');
            if (colon <= 0) continue;
            var name = lines[i].AsSpan(0, colon).Trim();
            var value = lines[i].AsSpan(colon + 1).Trim();
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                if (!long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out length))
                    throw new HttpFormatException($"bad Content-Length: {Printable(value.ToString())}");
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                chunked = value.EndsWith("chunked", StringComparison.OrdinalIgnoreCase);
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                if (value.Contains("close", StringComparison.OrdinalIgnoreCase)) keepAlive = false;
                else if (value.Contains("keep-alive", StringComparison.OrdinalIgnoreCase)) keepAlive = true;
            }
        }
        return (status, keepAlive, length, chunked);
    }

    private void SkipChunked(Stream connection)
    {
        while (true)
        {
            var line = ReadLine(connection);
            int semicolon = line.IndexOf(';');
            var digits = (semicolon >= 0 ? line[..semicolon] : line).Trim();
            if (!long.TryParse(digits, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out long size) || size < 0)
                throw new HttpFormatException($"bad chunk size: {Printable(line)}");
            if (size == 0)
            {
                // trailers, up to the empty line
                while (ReadLine(connection).Length > 0) { }
                return;
            }
            Skip(connection, size);
            if (ReadLine(connection).Length != 0) throw new HttpFormatException("chunk not followed by CRLF");
        }
    }

    private string ReadLine(Stream connection)
    {
        int end;
        while ((end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8)) < 0)
        {
            if (_end - _start > MaxHeaderBytes) throw new HttpFormatException("response line too long");
            if (Fill(connection) == 0) throw new HttpFormatException("the connection closed inside a chunked body");
        }
        var line = Encoding.Latin1.GetString(_buffer, _start, end);
        _start += end + 2;
        return line;
    }

    private void Skip(Stream connection, long count)
    {
        while (count > 0)
        {
            if (_start == _end && Fill(connection) == 0) throw new HttpFormatException("the connection closed inside a body");
            int n = (int)Math.Min(count, _end - _start);
            _start += n;
            count -= n;
        }
    }

    /// <summary>Reads more into the buffer; 0 at the end of the connection.</summary>
    private int Fill(Stream connection)
    {
        if (_start == _end) _start = _end = 0;
        else if (_end == _buffer.Length)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            else Array.Resize(ref _buffer, _buffer.Length * 2);
        }
        int n = connection.Read(_buffer, _end, _buffer.Length - _end);
        _end += n;
        return n;
    }

    private static string Printable(string s) => s.Length > 80 ? s[..80] + "…" : s;
}
