using System.Text;
using CsCheck;
using IronFunction.Rules;

namespace IronFunction.Tests.Rules;

public class DnsQuestionTests
{
    /// <summary>A query message as res_mkquery builds it: header, one question, its labels, type A, class IN.</summary>
    private static byte[] Query(params string[] labels)
    {
        var m = new List<byte> { 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0 };
        foreach (var l in labels)
        {
            var b = Encoding.ASCII.GetBytes(l);
            m.Add((byte)b.Length);
            m.AddRange(b);
        }
        m.AddRange(new byte[] { 0, 0, 1, 0, 1 });
        return m.ToArray();
    }

    private static string? Read(byte[] message)
    {
        var name = new byte[1024];
        int n = DnsQuestion.ReadName(message, name);
        return n < 0 ? null : Encoding.ASCII.GetString(name, 0, n);
    }

    [Fact]
    public void Reads_the_question()
    {
        Assert.Equal("exfil.dns.evil.example", Read(Query("exfil", "dns", "evil", "example")));
        Assert.Equal("", Read(Query()));
    }

    [Fact]
    public void Refuses_what_it_cannot_read_exactly()
    {
        Assert.Null(Read(Query("a")[..11]));                        // no question
        var none = Query("a"); none[5] = 0;                           // QDCOUNT 0
        Assert.Null(Read(none));
        var cut = Query("abcdef"); Assert.Null(Read(cut[..15]));      // a label past the end
        var pointer = Query("a"); pointer[12] = 0xC0;                 // compression pointer
        Assert.Null(Read(pointer));
        Assert.Null(Read(Query("evil.example", "yahoo", "com")));     // a dot inside a label would read as yahoo.com's subdomain
        Assert.Null(Read(Query("yahoo\0", "com")));
    }

    [Fact]
    public void Round_trip()
    {
        var label = Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789-_"].Array[1, 63].Select(c => new string(c));
        label.Array[1, 4].Sample(labels => Read(Query(labels)) == string.Join('.', labels), iter: 5_000);
    }
}
