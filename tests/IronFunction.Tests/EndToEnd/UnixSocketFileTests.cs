using System.Net.Sockets;

namespace IronFunction.Tests.EndToEnd;

// End-to-end tests of AF_UNIX socket files under /tmp (read_write_tmp, SPEC §2): connect, sendto, sendmsg and
// sendmmsg to a socket file there are judged like bind, by the path the kernel reaches (a symbolic link
// elsewhere is followed); abstract names and socket files outside /tmp are untouched. The sockets are made and
// read by this (unpreloaded) test process, so what reached them is known.

public sealed class UnixSockets : IDisposable
{
    public readonly string Stream, Datagram, Link, Outside;
    private readonly Socket _stream, _datagram, _outside;

    public UnixSockets(Sandbox box)
    {
        Stream = Path.Combine(box.TmpDir, "stream.sock");
        Datagram = Path.Combine(box.TmpDir, "dgram.sock");
        Link = Path.Combine(box.Dir, "link.sock");
        Outside = Path.Combine(box.Dir, "outside.sock");
        _stream = Listen(Stream);
        _outside = Listen(Outside);
        _datagram = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        _datagram.Bind(new UnixDomainSocketEndPoint(Datagram));
        File.CreateSymbolicLink(Link, Stream);
    }

    private static Socket Listen(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Bind(new UnixDomainSocketEndPoint(path));
        s.Listen(64);
        return s;
    }

    /// <summary>Connections waiting on the /tmp stream socket.</summary>
    public int Connections()
    {
        int n = 0;
        _stream.Blocking = false;
        try { while (true) { _stream.Accept().Dispose(); n++; } }
        catch (SocketException) { }
        return n;
    }

    /// <summary>Datagrams that reached the /tmp datagram socket.</summary>
    public List<string> Datagrams()
    {
        var got = new List<string>();
        var buffer = new byte[256];
        while (_datagram.Available > 0)
        {
            int n = _datagram.Receive(buffer);
            got.Add(System.Text.Encoding.ASCII.GetString(buffer, 0, n));
        }
        return got;
    }

    public void Dispose()
    {
        _stream.Dispose();
        _datagram.Dispose();
        _outside.Dispose();
    }
}

public class UnixSocketFileTests
{
    private const string Denied = "result=-1 errno=13";

    private static string[] Commands(UnixSockets s) =>
    [
        $"unix_connect {s.Stream}",
        $"unix_sendto {s.Datagram} via-sendto",
        $"unix_sendmsg {s.Datagram} via-sendmsg",
        $"unix_sendmmsg {s.Datagram} via-sendmmsg",
        $"unix_connect {s.Link}",
        $"unix_connect {s.Outside}",
        "unix_abstract iron-function-test-abstract",
    ];

    private static RunResult Probe(UnixSockets s, string? policy, bool preload = true) => preload
        ? Preloaded.Run(SocketProbe.Exe.Value, Commands(s), policy, TmpProbe.Env)
        : Preloaded.RunPlain(SocketProbe.Exe.Value, Commands(s), TmpProbe.Env);

    private static string Line(RunResult run, string command)
    {
        var line = run.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith(command + " => ", StringComparison.Ordinal));
        Assert.True(line != null, $"no line for {command}:\n{run}");
        return line![(command.Length + 4)..];
    }

    [Fact]
    public void Block_mode_denies_connects_and_sends_to_socket_files_in_tmp()
    {
        using var box = new Sandbox();
        using var sockets = new UnixSockets(box);
        var run = Probe(sockets, box.Policy(TmpProbe.BlockPolicy));
        var c = Commands(sockets);
        foreach (var denied in c[..5]) Assert.True(Line(run, denied) == Denied, $"{denied}: {Line(run, denied)}\n{run}");
        Assert.Equal("result=0 errno=0", Line(run, c[5]));
        Assert.Equal("result=-1 errno=111", Line(run, c[6])); // abstract: nobody listens, the kernel answers
        Assert.Equal(0, sockets.Connections());
        Assert.Empty(sockets.Datagrams());
        var events = run.Events.Where(e => e.Str("event_type") == "read_write_tmp").ToList();
        Assert.All(events, e => { EventAssert.HasSeedSchema(e); Assert.Equal("block", e.Str("action")); });
        Assert.Equal(
            new[] { sockets.Stream, sockets.Datagram, sockets.Datagram, sockets.Datagram, sockets.Stream }.Order(),
            events.SelectMany(e => Enumerable.Repeat(e.Str("what"), e.Occurrences())).Order());
    }

    [Fact]
    public void Alert_mode_lets_them_through_and_reports_them_and_allow_is_silent()
    {
        using var box = new Sandbox();
        using var sockets = new UnixSockets(box);
        var plain = Probe(sockets, null, preload: false);
        sockets.Connections();
        sockets.Datagrams();
        var alert = Probe(sockets, box.Policy(TmpProbe.AlertPolicy));
        foreach (var command in Commands(sockets)) Assert.Equal(Line(plain, command), Line(alert, command));
        Assert.Equal(2, sockets.Connections());
        Assert.Equal(["via-sendto", "via-sendmsg", "via-sendmmsg"], sockets.Datagrams());
        var whats = alert.Events.Where(e => e.Str("event_type") == "read_write_tmp").Select(e => e.Str("what")).ToHashSet();
        Assert.Equal(new HashSet<string> { sockets.Stream, sockets.Datagram }, whats);
        Assert.All(alert.Events, e => Assert.Equal("alert", e.Str("action")));

        var allow = Probe(sockets, box.Policy(TmpProbe.AllowPolicy));
        foreach (var command in Commands(sockets)) Assert.Equal(Line(plain, command), Line(allow, command));
        Assert.Empty(allow.Events);
        Assert.Equal(2, sockets.Connections());
        Assert.Equal(3, sockets.Datagrams().Count);
    }

    [Fact]
    public void Python_connect_and_sendto()
    {
        using var box = new Sandbox();
        using var sockets = new UnixSockets(box);
        var script = box.File("unix.py", """
            import socket, sys
            def attempt(case, call):
                try:
                    call()
                    print(f"case={case} ok")
                except OSError as e:
                    print(f"case={case} errno={e.errno}")
            attempt("connect", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(sys.argv[1]))
            attempt("sendto", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"python", sys.argv[2]))
            """);
        string[] args = [script, sockets.Stream, sockets.Datagram];
        var block = Preloaded.Run(Machine.Python.Value, args, box.Policy(TmpProbe.BlockPolicy), TmpProbe.Env);
        Assert.Contains("case=connect errno=13", block.Stdout);
        Assert.Contains("case=sendto errno=13", block.Stdout);
        Assert.Equal(0, sockets.Connections());
        Assert.Empty(sockets.Datagrams());
        Assert.Contains(block.Events, e => e.Str("what") == sockets.Stream && e.Str("action") == "block");

        var alert = Preloaded.Run(Machine.Python.Value, args, box.Policy(TmpProbe.AlertPolicy), TmpProbe.Env);
        Assert.Contains("case=connect ok", alert.Stdout);
        Assert.Contains("case=sendto ok", alert.Stdout);
        Assert.Equal(1, sockets.Connections());
        Assert.Equal(["python"], sockets.Datagrams());
        Assert.Contains(alert.Events, e => e.Str("what") == sockets.Datagram && e.Str("action") == "alert");
    }
}
