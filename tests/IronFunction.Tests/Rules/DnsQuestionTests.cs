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

    [Fact]
    public void A_plain_query_gives_its_names()
    {
        Assert.Equal(["api.dns.yahoo.com"], DnsQuestion.QueryNames(Query("api", "dns", "yahoo", "com"))!);
        // with the empty EDNS(0) record res_nmkquery adds under RES_USE_EDNS0
        var edns = Query("api", "dns", "yahoo", "com");
        edns[11] = 1;
        byte[] opt = [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0];
        Assert.Equal(["api.dns.yahoo.com"], DnsQuestion.QueryNames([.. edns, .. opt])!);
        // two questions: both names
        var two = Query("a", "com").ToList();
        two[5] = 2;
        two.AddRange(Query("b", "org")[12..]);
        Assert.Equal(["a.com", "b.org"], DnsQuestion.QueryNames(two.ToArray())!);
    }

    [Fact]
    public void Anything_besides_the_questions_is_not_a_plain_query()
    {
        var q = Query("api", "dns", "yahoo", "com");
        Assert.Null(DnsQuestion.QueryNames([.. q, .. "SECRET"u8.ToArray()]));          // bytes after the question
        Assert.Null(DnsQuestion.QueryNames(q[..^1]));                                  // cut
        var answer = (byte[])q.Clone(); answer[7] = 1;                                 // an answer record
        Assert.Null(DnsQuestion.QueryNames(answer));
        var response = (byte[])q.Clone(); response[2] |= 0x80;                         // QR: a response
        Assert.Null(DnsQuestion.QueryNames(response));
        var update = (byte[])q.Clone(); update[2] = 0x28;                              // opcode UPDATE
        Assert.Null(DnsQuestion.QueryNames(update));
        var rcode = (byte[])q.Clone(); rcode[3] = 0x05;
        Assert.Null(DnsQuestion.QueryNames(rcode));
        var withOption = (byte[])q.Clone(); withOption[11] = 1;                        // an OPT record carrying option data
        byte[] opt = [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 4, 0xAA, 0xBB, 0xCC, 0xDD];
        Assert.Null(DnsQuestion.QueryNames([.. withOption, .. opt]));
        var other = (byte[])q.Clone(); other[11] = 1;                                  // an additional record that is not OPT
        byte[] txt = [0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0];
        Assert.Null(DnsQuestion.QueryNames([.. other, .. txt]));
        var none = (byte[])q.Clone(); none[5] = 0;
        Assert.Null(DnsQuestion.QueryNames(none));
    }

    [Fact]
    public void Round_trip_of_plain_queries_and_never_a_throw()
    {
        var label = Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789-_"].Array[1, 63].Select(c => new string(c));
        label.Array[1, 4].Sample(labels => DnsQuestion.QueryNames(Query(labels)) is [var n] && n == string.Join('.', labels), iter: 2_000);
        Gen.Byte.Array[0, 80].Sample(bytes => { DnsQuestion.QueryNames(bytes); }, iter: 20_000);
    }
}
