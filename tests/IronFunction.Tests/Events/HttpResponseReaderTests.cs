using System.Text;
using CsCheck;
using IronFunction.Events;

namespace IronFunction.Tests.Events;

/// <summary>Reading the endpoint's responses so that one connection carries request after request.</summary>
public class HttpResponseReaderTests
{
    /// <summary>A connection that hands out its bytes in pieces of the given sizes (then the rest), then ends.</summary>
    private sealed class Pieces(byte[] data, int[] sizes) : Stream
    {
        private int _pos, _piece;
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_pos == data.Length) return 0;
            int size = _piece < sizes.Length ? Math.Max(1, sizes[_piece++]) : data.Length;
            int n = Math.Min(Math.Min(count, size), data.Length - _pos);
            Array.Copy(data, _pos, buffer, offset, n);
            _pos += n;
            return n;
        }
        public int Remaining => data.Length - _pos;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _pos; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long o, SeekOrigin s) => throw new NotSupportedException();
        public override void SetLength(long v) => throw new NotSupportedException();
        public override void Write(byte[] b, int o, int c) => throw new NotSupportedException();
    }

    private static Stream Wire(string text, params int[] sizes) => new Pieces(Encoding.Latin1.GetBytes(text), sizes);

    private const string NoContent = "HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n";
    private const string Ok = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
    private const string Chunked = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n";
    private const string Continue = "HTTP/1.1 100 Continue\r\n\r\n";
    private const string ServerError = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 3\r\nconnection: close\r\n\r\nbye";

    [Fact]
    public void Responses_one_after_another_on_one_connection()
    {
        var reader = new HttpResponseReader();
        var wire = Wire(NoContent + Ok + Continue + Chunked + ServerError);
        Assert.Equal(new HttpResponseReader.Response(204, true), reader.Read(wire));
        Assert.Equal(new HttpResponseReader.Response(200, true), reader.Read(wire));
        Assert.Equal(new HttpResponseReader.Response(201, true), reader.Read(wire));
        Assert.Equal(new HttpResponseReader.Response(503, false), reader.Read(wire));
    }

    [Theory]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, false)]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 200, true)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", 200, false)]
    [InlineData("HTTP/1.1 202 Accepted\r\n\r\nbody until the connection ends", 202, false)]
    [InlineData("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", 304, true)]
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno", 400, true)]
    public void Status_and_whether_the_connection_can_carry_another_request(string response, int status, bool keepAlive)
    {
        Assert.Equal(new HttpResponseReader.Response(status, keepAlive), new HttpResponseReader().Read(Wire(response)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")]
    [InlineData("SSH-2.0-OpenSSH_9.2\r\n\r\n")]
    [InlineData("HTTP/1.1 2000 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")]
    public void A_truncated_or_foreign_response_is_an_error(string response)
    {
        var e = Assert.Throws<HttpFormatException>(() => new HttpResponseReader().Read(Wire(response)));
        Assert.Equal(response.Length == 0, e.NothingRead);
    }

    [Fact]
    public void Endless_headers_are_an_error_not_a_memory_leak()
    {
        var endless = "HTTP/1.1 200 OK\r\n" + string.Concat(Enumerable.Repeat("X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 2000));
        Assert.Throws<HttpFormatException>(() => new HttpResponseReader().Read(Wire(endless)));
    }

    /// <summary>However the bytes are split by the network, the same responses come out and nothing past them is read.</summary>
    [Fact]
    public void Property_any_split_of_the_bytes_reads_the_same()
    {
        var all = NoContent + Ok + Continue + Chunked + NoContent;
        Gen.Int[1, 40].Array[0, 60].Sample(sizes =>
        {
            var reader = new HttpResponseReader();
            var wire = Wire(all, sizes);
            Assert.Equal(204, reader.Read(wire).Status);
            Assert.Equal(200, reader.Read(wire).Status);
            Assert.Equal(201, reader.Read(wire).Status);
            Assert.Equal(204, reader.Read(wire).Status);
            Assert.Throws<HttpFormatException>(() => reader.Read(wire));
        }, iter: 2000);
    }
}
