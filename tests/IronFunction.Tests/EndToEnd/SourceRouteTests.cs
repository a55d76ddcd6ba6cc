namespace IronFunction.Tests.EndToEnd;

// End-to-end tests of source routes (outbound_connectivity, SPEC §4): an IPv4 loose or strict source route
// (setsockopt IP_OPTIONS, an IP_RETOPTS control message) or an IPv6 routing header (IPV6_RTHDR, IPV6_2292RTHDR,
// as an option or a control message) sends a packet to its first hop whatever the destination, so a send to
// loopback would reach a blocked host first. Through probes/socket_probe.c and Python, inside the test's network
// namespace.

public static class SocketProbe
{
    private static readonly string SourcePath =
        Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", "socket_probe.c");

    public static readonly Lazy<string> Exe = new(() => CProbe.Compile("socket_probe", File.ReadAllText(SourcePath), "-pthread"));
}

public class SourceRouteTests
{
    private const string Loose = "loose source route via 203.0.113.7", Strict = "strict source route via 203.0.113.7";
    private const string Routing6 = "IPv6 routing header via 2001:db8::7";

    /// <summary>Command, its block-mode line fragment (null: allowed, the same line as without the library), its event.</summary>
    public static readonly (string Command, string? Blocked, string? Event)[] Cases =
    [
        ("lsrr 203.0.113.7", "result=-1 errno=1 held=0", Loose),
        ("ssrr 203.0.113.7", "result=-1 errno=1 held=0", Strict),
        ("plainopts", null, null), // IP options without a route are not judged
        ("rthdr6 2001:db8::7", "result=-1 errno=1 held=0", Routing6),
        ("rthdr2292 2001:db8::7", "result=-1 errno=1", Routing6),
        ("retopts 203.0.113.7", "result=-1 errno=1", Loose),
        ("retopts_mmsg 203.0.113.7", "result=-1 errno=1", Loose),
        ("rthdrmsg 2001:db8::7", "result=-1 errno=1", Routing6),
        ("settle 300", null, null),
    ];

    private static NamespaceRun Run(Sandbox box, string? policy, bool preload = true) =>
        NetNamespace.Run(box, policy, SocketProbe.Exe.Value, Cases.Select(c => c.Command), preload);

    [NamespaceFact]
    public void Block_mode_denies_every_source_route_and_the_datagram_goes_without_it()
    {
        using var box = new Sandbox();
        var plain = Run(box, null, preload: false);
        var block = Run(box, NetNamespace.BlockPolicy);
        var failures = new List<string>();
        foreach (var (command, blocked, _) in Cases)
        {
            var line = block.Line(command);
            if (blocked == null ? line != plain.Line(command) : !line.Contains(blocked, StringComparison.Ordinal))
                failures.Add($"{command}: \"{line}\" (without the library: \"{plain.Line(command)}\")");
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures) + "\n" + block);
        // without the library the routed datagram went to its first hop; denied, the route is not set and it arrives directly
        Assert.Contains("result=0 errno=0 held=8", plain.Line("lsrr 203.0.113.7"));
        Assert.DoesNotContain("udp route-lsrr", plain.ServerLog);
        Assert.Contains("udp route-lsrr", block.ServerLog);
        NetNamespace.EventsHaveSeedSchema(block);
        NetNamespace.SameEvents(Cases.Where(c => c.Event != null).Select(c => c.Event!), block.Events("block"), block);
    }

    [NamespaceFact]
    public void Alert_mode_lets_routes_through_and_reports_each_once_and_allow_is_silent()
    {
        using var box = new Sandbox();
        var plain = Run(box, null, preload: false);
        var alert = Run(box, NetNamespace.AlertPolicy);
        var allow = Run(box, NetNamespace.Policy("allow"));
        foreach (var (command, _, _) in Cases)
        {
            Assert.Equal(plain.Line(command), alert.Line(command));
            Assert.Equal(plain.Line(command), allow.Line(command));
        }
        NetNamespace.EventsHaveSeedSchema(alert);
        Assert.All(alert.Result.Events, e => Assert.Equal("alert", e.Str("action")));
        NetNamespace.SameEvents([Loose, Strict, Routing6], alert.Events(), alert);
        Assert.Empty(allow.Result.Events);
    }

    private const string PythonScript = """
        import socket
        route = bytes([1, 0x83, 7, 4]) + socket.inet_aton("203.0.113.7")
        header = bytes([17, 2, 4, 0, 0, 0, 0, 0]) + socket.inet_pton(socket.AF_INET6, "2001:db8::7")
        def attempt(case, call):
            try:
                call()
                print(f"case={case} ok")
            except OSError as e:
                print(f"case={case} errno={e.errno}")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        attempt("setsockopt", lambda: s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, route))
        attempt("held", lambda: print("held", len(s.getsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, 40))))
        attempt("sendmsg", lambda: s.sendmsg([b"py-retopts"], [(socket.IPPROTO_IP, 7, route)], 0, ("127.0.0.1", 9999)))
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        attempt("rthdr", lambda: s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RTHDR, header))
        """;

    [NamespaceFact]
    public void Python_setsockopt_and_sendmsg_ancillary_data()
    {
        using var box = new Sandbox();
        string[] args = [box.File("route.py", PythonScript)];
        var plain = NetNamespace.Run(box, null, Machine.Python.Value, args, preload: false);
        var block = NetNamespace.Run(box, NetNamespace.BlockPolicy, Machine.Python.Value, args);
        var alert = NetNamespace.Run(box, NetNamespace.AlertPolicy, Machine.Python.Value, args);
        var allow = NetNamespace.Run(box, NetNamespace.Policy("allow"), Machine.Python.Value, args);
        Assert.Equal("ok", plain.Case("setsockopt"));
        Assert.Equal("ok", plain.Case("rthdr"));
        foreach (var c in new[] { "setsockopt", "sendmsg", "rthdr" }) Assert.Equal("errno=1", block.Case(c));
        Assert.Contains("held 0", block.Result.Stdout);
        NetNamespace.SameEvents([Loose, Loose, Routing6], block.Events("block"), block);
        foreach (var c in new[] { "setsockopt", "held", "sendmsg", "rthdr" })
        {
            Assert.Equal(plain.Case(c), alert.Case(c));
            Assert.Equal(plain.Case(c), allow.Case(c));
        }
        NetNamespace.SameEvents([Loose, Routing6], alert.Events("alert"), alert);
        Assert.Empty(allow.Result.Events);
    }
}
