namespace IronFunction.Tests.EndToEnd;

// End-to-end tests of outbound_connectivity (SPEC §4, §6, §7) through one C probe, probes/net_probe.c, that runs a
// list of network calls in one process and prints one line per call. Every run is inside the test's own network
// namespace (NetNamespace). Each call's line under the library is compared with the same call's line in a run
// without it: allowed calls must print exactly the same (return, errno, what the server answered), denied calls
// must print EPERM / EAI_FAIL / NO_RECOVERY. The servers' log shows what actually arrived.

public static class NetProbe
{
    private static readonly string SourcePath =
        Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", "net_probe.c");

    public static readonly Lazy<string> Exe = new(() => CProbe.Compile("net_probe", File.ReadAllText(SourcePath)));

    public const string EPERM = "result=-1 errno=1";
    public const string EaiFail = "status=-4";
}

/// <summary>One probe command and what it must do under the block policy.</summary>
/// <param name="Denied">The call is denied (and its line differs from the run without the library).</param>
/// <param name="Expect">A fragment the block-mode line must contain.</param>
/// <param name="Event">The "what" of the event a denied call reports.</param>
public sealed record ProbeCase(string Command, bool Denied, string Expect, string? Event = null)
{
    public static ProbeCase Allowed(string command, string expect = "") => new(command, false, expect);
    public static ProbeCase Deny(string command, string @event, string expect = NetProbe.EPERM) => new(command, true, expect, @event);
}

[Trait("Architecture", "arm64")] // also run on arm64 under qemu-user (Qemu.cs)
public class NetworkCProbeTests
{
    private const string Hello = "result=0 errno=0 reply=hello ";

    /// <summary>In this order, in one process: later lines depend on what earlier lookups remembered.</summary>
    public static readonly ProbeCase[] Cases =
    [
        // always allowed: loopback in every spelling, the unspecified address
        ProbeCase.Allowed("connect4 127.0.0.1 7070", Hello + "127.0.0.1"),
        ProbeCase.Allowed("connect4 127.8.9.10 7070", Hello + "127.8.9.10"),
        ProbeCase.Allowed("connect6 ::1 7070", Hello + "::1"),
        ProbeCase.Allowed("connect6 ::ffff:127.0.0.1 7070", Hello + "127.0.0.1"),
        ProbeCase.Allowed("connect4 0.0.0.0 7070", Hello + "127.0.0.1"),
        ProbeCase.Allowed("unix", "result=0 errno=0 reply=hello unix"),
        // IP and CIDR exceptions, IPv4-mapped judged as IPv4
        ProbeCase.Allowed("connect4 203.0.113.77 7070", Hello + "203.0.113.77"),
        ProbeCase.Allowed("connect6 ::ffff:203.0.113.77 7070", Hello + "203.0.113.77"),
        ProbeCase.Allowed("connect4 198.51.100.5 7070", Hello + "198.51.100.5"),
        ProbeCase.Allowed("connect6 2001:db8:1::5 7070", Hello + "2001:db8:1::5"),
        ProbeCase.Allowed("__connect 203.0.113.77 7070", Hello + "203.0.113.77"),
        // addresses nobody resolved from an allowed name and no exception covers
        ProbeCase.Deny("connect4 203.0.113.7 7070", "203.0.113.7:7070"),
        ProbeCase.Deny("connect4 203.0.113.10 7070", "203.0.113.10:7070"),   // yahoo.com's, but not looked up yet
        ProbeCase.Deny("connect4 203.0.113.99 7070", "203.0.113.99:7070"),
        ProbeCase.Deny("connect6 ::ffff:203.0.113.7 7070", "203.0.113.7:7070"),
        ProbeCase.Deny("connect6 2001:db8::7 7070", "[2001:db8::7]:7070"),
        ProbeCase.Deny("connect6 2001:db8:2::5 7070", "[2001:db8:2::5]:7070"),
        ProbeCase.Deny("__connect 203.0.113.7 7070", "203.0.113.7:7070"),
        ProbeCase.Deny("fastopen 203.0.113.7 7070", "203.0.113.7:7070"),
        // non-blocking connect: EINPROGRESS stays EINPROGRESS
        ProbeCase.Allowed("nonblock4 203.0.113.77 7070", "result=-1 errno=115 so_error=0"),
        ProbeCase.Allowed("nonblock4 127.0.0.1 7070"),
        ProbeCase.Deny("nonblock4 203.0.113.7 7070", "203.0.113.7:7070"),
        // datagrams
        ProbeCase.Allowed("udp4 203.0.113.77 9999 allowed-udp4", "result=12 errno=0"),
        ProbeCase.Allowed("udp4 127.0.0.1 9999 allowed-loopback", "result=16 errno=0"),
        ProbeCase.Allowed("udp6 2001:db8:1::5 9999 allowed-udp6", "result=12 errno=0"),
        ProbeCase.Allowed("udp6 ::ffff:203.0.113.77 9999 allowed-mapped", "result=14 errno=0"),
        ProbeCase.Allowed("sendmsg4 198.51.100.5 9999 allowed-sendmsg", "result=15 errno=0"),
        ProbeCase.Allowed("unspec4 203.0.113.77 9999 allowed-unspec"),
        ProbeCase.Deny("udp4 203.0.113.7 9999 denied-udp4", "203.0.113.7:9999"),
        ProbeCase.Deny("udp6 2001:db8::7 9999 denied-udp6", "[2001:db8::7]:9999"),
        ProbeCase.Deny("udp6 ::ffff:203.0.113.7 9999 denied-mapped", "203.0.113.7:9999"),
        ProbeCase.Deny("sendmsg4 203.0.113.7 9999 denied-sendmsg", "203.0.113.7:9999"),
        ProbeCase.Deny("unspec4 203.0.113.7 9999 denied-unspec", "203.0.113.7:9999"),
        // a batch stops at its first denied message; the next call, starting there, is denied
        new("sendmmsg4 batch 127.0.0.1:9999 203.0.113.77:9999 203.0.113.7:9999 127.0.0.1:9999", true,
            "result=2 errno=0 then=-1 then_errno=1", "203.0.113.7:9999"),
        ProbeCase.Deny("sendmmsg4 first 203.0.113.7:9999 127.0.0.1:9999", "203.0.113.7:9999"),
        // a connected datagram socket is judged at connect; its sends are not judged again
        ProbeCase.Allowed("udpconnected 203.0.113.77 9999 connected-udp", "result=0 errno=0 send=13 send_errno=0"),
        ProbeCase.Deny("udpconnected 203.0.113.7 9999 never-sent", "203.0.113.7:9999"),
        // TCP ignores a send's address: nothing to judge
        ProbeCase.Allowed("tcpsendto 127.0.0.1 7070 203.0.113.7", "result=0 errno=0 sendto=1 sendto_errno=0"),
        // bad arguments get the kernel's answer
        ProbeCase.Allowed("connectnull", "result=-1 errno=14"),
        ProbeCase.Allowed("connectbad", "result=-1 errno=14"),
        ProbeCase.Allowed("connectshort 203.0.113.7", "result=-1 errno=22"),
        ProbeCase.Allowed("connectlong 203.0.113.7", "result=-1 errno=22"),
        // lookups of allowed names, and connects to what they returned
        ProbeCase.Allowed("gai yahoo.com", "status=0 addrs=203.0.113.10"),
        ProbeCase.Allowed("connect4 203.0.113.10 7070 after-lookup", Hello + "203.0.113.10"),
        ProbeCase.Allowed("gai_connect WWW.Yahoo.COM 7070", "status=0 addrs=203.0.113.11 connect=0 connect_errno=0 reply=hello 203.0.113.11"),
        ProbeCase.Allowed("gai s3.us-east-1.amazonaws.com", "status=0 addrs=203.0.113.20"),
        ProbeCase.Allowed("connect4 203.0.113.20 7070", Hello + "203.0.113.20"),
        ProbeCase.Allowed("gai s3.cn-north-1.amazonaws.com.cn", "status=0 addrs=203.0.113.23"),
        ProbeCase.Allowed("gai sub.wild.example", "status=0 addrs=203.0.113.30"),
        ProbeCase.Allowed("gai v6.yahoo.com", "status=0 addrs=2001:db8::10"),
        ProbeCase.Allowed("connect6 2001:db8::10 7070", Hello + "2001:db8::10"),
        ProbeCase.Allowed("gai_connect api.dns.yahoo.com 7070", "status=0 addrs=203.0.113.40 connect=0 connect_errno=0 reply=hello 203.0.113.40"),
        ProbeCase.Allowed("gai localhost", "status=0"),
        // look-alikes and other names: denied by name, before any resolver sees them
        ProbeCase.Deny("gai evil.example", "evil.example", NetProbe.EaiFail),
        ProbeCase.Deny("gai_connect notyahoo.com 7070", "notyahoo.com", NetProbe.EaiFail),
        ProbeCase.Deny("gai yahoo.com.evil.net", "yahoo.com.evil.net", NetProbe.EaiFail),
        ProbeCase.Deny("gai yahoo.co", "yahoo.co", NetProbe.EaiFail),
        ProbeCase.Deny("gai aws.evil.example", "aws.evil.example", NetProbe.EaiFail),
        ProbeCase.Deny("gai amazonaws.com.evil.example", "amazonaws.com.evil.example", NetProbe.EaiFail),
        ProbeCase.Deny("gai wild.example", "wild.example", NetProbe.EaiFail),
        ProbeCase.Deny("gai pinned.example", "pinned.example", NetProbe.EaiFail),
        ProbeCase.Deny("gai_connect exfil.dns.evil.example 7070", "exfil.dns.evil.example", NetProbe.EaiFail),
        ProbeCase.Deny("gai secret-0123456789.evil.example", "secret-0123456789.evil.example", NetProbe.EaiFail),
        ProbeCase.Deny("gai_connect evil6.example 7070", "evil6.example", NetProbe.EaiFail),
        // numeric hosts never reach a resolver: let through, the connect is judged by address
        ProbeCase.Allowed("gai 203.0.113.7", "status=0 addrs=203.0.113.7"),
        ProbeCase.Allowed("gai 0xcb.0.0x71.7", "status=0 addrs=203.0.113.7"),
        ProbeCase.Allowed("gai 2001:db8::7", "status=0 addrs=2001:db8::7"),
        new("gai_connect 203.0.113.7 7070", true, "status=0 addrs=203.0.113.7 connect=-1 connect_errno=1", "203.0.113.7:7070"),
        ProbeCase.Allowed("gainum evil.example", "status=-2"),
        // the gethostbyname family
        ProbeCase.Allowed("ghbn www.yahoo.com", "errno=0 addrs=203.0.113.11"),
        ProbeCase.Allowed("ghbn2 v6.yahoo.com 6", "errno=0 addrs=2001:db8::10"),
        ProbeCase.Allowed("ghbnr yahoo.com", "addrs=203.0.113.10"),
        ProbeCase.Allowed("ghbn2r s3.us-east-1.amazonaws.com 4", "addrs=203.0.113.20"),
        ProbeCase.Allowed("ghbn 203.0.113.7", "result=hostent h_errno=0 errno=0 addrs=203.0.113.7"),
        ProbeCase.Deny("connect4 203.0.113.15 7070", "203.0.113.15:7070"),
        ProbeCase.Allowed("ghbn_connect mail.yahoo.com 7070", "addrs=203.0.113.15 connect=0 connect_errno=0 reply=hello 203.0.113.15"),
        ProbeCase.Deny("ghbn evil.example", "evil.example", "result=NULL h_errno=3 errno=1 addrs="),
        ProbeCase.Deny("ghbn2 evil6.example 6", "evil6.example", "result=NULL h_errno=3 errno=1 addrs="),
        ProbeCase.Deny("ghbnr notyahoo.com", "notyahoo.com", "return=1 result=NULL h_errnop=3"),
        ProbeCase.Deny("ghbn2r yahoo.com.evil.net 4", "yahoo.com.evil.net", "return=1 result=NULL h_errnop=3"),
        ProbeCase.Deny("ghbn 0x7f.1", "0x7f.1", "result=NULL h_errno=3 errno=1 addrs="),   // not numeric to gethostbyname: NSS would see it
    ];

    private static NamespaceRun Probe(Sandbox box, string? policy, bool preload = true, IDictionary<string, string?>? env = null) =>
        NetNamespace.Run(box, policy, NetProbe.Exe.Value, Cases.Select(c => c.Command), preload, env);

    [NamespaceFact]
    public void Block_mode_lets_through_only_exceptions_loopback_and_what_allowed_names_resolved_to()
    {
        using var box = new Sandbox();
        var run = Probe(box, NetNamespace.BlockPolicy);
        Assert.True(run.Result.ExitCode == 0, run.ToString());
        var failures = new List<string>();
        foreach (var c in Cases)
        {
            var line = run.Line(c.Command);
            if (!line.Contains(c.Expect, StringComparison.Ordinal)) failures.Add($"{c.Command}: expected \"{c.Expect}\" in \"{line}\"");
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures) + "\n" + run);
        NetNamespace.EventsHaveSeedSchema(run);
        Assert.All(run.Result.Events, e => Assert.Equal("block", e.Str("action")));
        NetNamespace.SameEvents(Cases.Where(c => c.Denied).Select(c => c.Event!), run.Events(), run);

        // what arrived: every allowed datagram, no denied one, and no query for a denied name
        var udp = run.ServerLog.Where(l => l.StartsWith("udp ")).Select(l => l[4..]).ToHashSet();
        foreach (var p in new[] { "allowed-udp4", "allowed-loopback", "allowed-udp6", "allowed-mapped", "allowed-sendmsg", "allowed-unspec", "batch-0", "batch-1", "connected-udp" })
            Assert.True(udp.Contains(p), $"{p} did not arrive\n{run}");
        Assert.Empty(udp.Where(p => p.StartsWith("denied") || p.StartsWith("never") || p is "batch-2" or "batch-3" || p.StartsWith("first")));
        Assert.Equal(["api.dns.yahoo.com"], run.DnsQueries.Distinct().ToArray());
        // the denied connects never reached a server
        var tcp = run.ServerLog.Where(l => l.StartsWith("tcp ")).Select(l => l.Split(' ')[1]).ToHashSet();
        foreach (var denied in new[] { "203.0.113.99", "2001:db8::7", "2001:db8:2::5" }) Assert.DoesNotContain(denied, tcp);
    }

    [NamespaceFact]
    public void Allowed_calls_behave_exactly_as_without_the_library()
    {
        using var box = new Sandbox();
        var plain = Probe(box, null, preload: false);
        var block = Probe(box, NetNamespace.BlockPolicy);
        var allow = Probe(box, NetNamespace.Policy("allow"));
        var differences = new List<string>();
        foreach (var c in Cases)
        {
            var reference = plain.Line(c.Command);
            if (allow.Line(c.Command) != reference) differences.Add($"allow: {c.Command}\n  without: {reference}\n  with:    {allow.Line(c.Command)}");
            if (!c.Denied && block.Line(c.Command) != reference) differences.Add($"block: {c.Command}\n  without: {reference}\n  with:    {block.Line(c.Command)}");
        }
        Assert.True(differences.Count == 0, string.Join('\n', differences) + "\n--- without\n" + plain.Result.Stdout);
        Assert.Empty(allow.Result.Events);
        Assert.Equal("", allow.Result.Stderr);
    }

    [NamespaceFact]
    public void Alert_mode_connects_everything_and_reports_each_new_destination_once()
    {
        using var box = new Sandbox();
        var plain = Probe(box, null, preload: false);
        var alert = Probe(box, NetNamespace.AlertPolicy);
        foreach (var c in Cases) Assert.Equal(plain.Line(c.Command), alert.Line(c.Command));
        NetNamespace.EventsHaveSeedSchema(alert);
        Assert.All(alert.Result.Events, e => Assert.Equal("alert", e.Str("action")));
        var events = alert.Events();
        Assert.True(events.Length == events.Distinct().Count(), $"a destination was reported twice:\n{string.Join('\n', events)}");
        // every destination block mode denies is reported, by name where a lookup named it
        string[] expected =
        [
            "203.0.113.7:7070", "203.0.113.10:7070", "203.0.113.99:7070", "[2001:db8::7]:7070", "[2001:db8:2::5]:7070",
            "203.0.113.7:9999", "[2001:db8::7]:9999", "203.0.113.15:7070",
            "evil.example", "notyahoo.com", "yahoo.com.evil.net", "yahoo.co", "aws.evil.example", "amazonaws.com.evil.example",
            "wild.example", "pinned.example", "exfil.dns.evil.example", "secret-0123456789.evil.example", "evil6.example", "0x7f.1",
            // connects to what a not-allowed name resolved to are reported with the name (evil6.example's address was reported before its lookup)
            "notyahoo.com (203.0.113.12):7070", "exfil.dns.evil.example (203.0.113.41):7070",
        ];
        NetNamespace.SameEvents(expected, events, alert);
        // alert lets the names through to the resolver
        Assert.Contains("exfil.dns.evil.example", alert.DnsQueries);
        Assert.Contains("secret-0123456789.evil.example", alert.DnsQueries);
    }

    /// <summary>Lookups that glibc makes past getaddrinfo's hook (getaddrinfo_a) and the resolver's query interface.</summary>
    public static readonly ProbeCase[] ResolverCases =
    [
        ProbeCase.Deny("connect4 203.0.113.15 7070", "203.0.113.15:7070"),
        new("gaia mail.yahoo.com evil.example 203.0.113.99", true,
            "result=0 mail.yahoo.com=0/203.0.113.15 evil.example=-4/- 203.0.113.99=0/203.0.113.99", "evil.example"),
        ProbeCase.Allowed("connect4 203.0.113.15 7070 after-getaddrinfo_a", Hello + "203.0.113.15"),
        ProbeCase.Allowed("gaianowait sub.wild.example 7070", "result=0 status=0 connect=0 connect_errno=0 reply=hello 203.0.113.30"),
        ProbeCase.Deny("gaianowait wild.example 7070", "wild.example", "result=0 status=-4"),
        ProbeCase.Allowed("resq api.dns.yahoo.com", "result=answer h_errno=0"),
        ProbeCase.Deny("resq exfil.dns.evil.example", "exfil.dns.evil.example", "result=-1 h_errno=3"),
        ProbeCase.Deny("ress exfil.dns.evil.example", "exfil.dns.evil.example", "result=-1 h_errno=3"),
        ProbeCase.Allowed("resqd api dns.yahoo.com", "result=answer h_errno=0"),
        ProbeCase.Deny("resqd exfil dns.evil.example", "exfil.dns.evil.example", "result=-1 h_errno=3"),
        ProbeCase.Allowed("resnq api.dns.yahoo.com", "result=answer h_errno=0 state_h_errno=0"),
        ProbeCase.Deny("resnq exfil.dns.evil.example", "exfil.dns.evil.example", "result=-1 h_errno=3 state_h_errno=3"),
        ProbeCase.Allowed("ressend api.dns.yahoo.com", "result=answer h_errno=0"),
        ProbeCase.Deny("ressend exfil.dns.evil.example", "exfil.dns.evil.example", "result=-1 h_errno=3"),
        ProbeCase.Deny("resq 203.0.113.7", "203.0.113.7", "result=-1 h_errno=3"),   // res_query sends any text as a name
    ];

    [NamespaceFact]
    public void Asynchronous_lookups_and_the_resolver_query_interface_are_judged_by_name()
    {
        using var box = new Sandbox();
        var commands = ResolverCases.Select(c => c.Command).ToArray();
        var plain = NetNamespace.Run(box, null, NetProbe.Exe.Value, commands, preload: false);
        var block = NetNamespace.Run(box, NetNamespace.BlockPolicy, NetProbe.Exe.Value, commands);
        var alert = NetNamespace.Run(box, NetNamespace.AlertPolicy, NetProbe.Exe.Value, commands);
        var failures = new List<string>();
        foreach (var c in ResolverCases)
        {
            var line = block.Line(c.Command);
            if (!line.Contains(c.Expect, StringComparison.Ordinal)) failures.Add($"block {c.Command}: expected \"{c.Expect}\" in \"{line}\"");
            if (!c.Denied && line != plain.Line(c.Command)) failures.Add($"block {c.Command}: \"{line}\" differs from \"{plain.Line(c.Command)}\"");
            if (alert.Line(c.Command) != plain.Line(c.Command)) failures.Add($"alert {c.Command}: \"{alert.Line(c.Command)}\" differs from \"{plain.Line(c.Command)}\"");
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures) + "\n--- block\n" + block + "\n--- without\n" + plain.Result.Stdout);
        NetNamespace.EventsHaveSeedSchema(block);
        NetNamespace.SameEvents(ResolverCases.Where(c => c.Denied).Select(c => c.Event!), block.Events("block"), block);
        // the names the block run denied never reached the nameserver; without the library and in alert they do
        Assert.Equal(["api.dns.yahoo.com"], block.DnsQueries.Distinct().ToArray());
        Assert.Contains("exfil.dns.evil.example", plain.DnsQueries);
        Assert.Contains("exfil.dns.evil.example", alert.DnsQueries);
    }

    [NamespaceFact]
    public void The_namespace_resolves_through_files_and_its_own_DNS_server_and_has_no_route_out()
    {
        using var box = new Sandbox();
        var run = NetNamespace.Run(box, null, Machine.Bash.Value,
            ["-c", "grep '^hosts:' /etc/nsswitch.conf; cat /etc/resolv.conf; getent hosts evil.example; getent ahostsv4 api.dns.yahoo.com | head -1; " +
                   "ip -o link | awk '{print $2}'; ip route get 192.0.2.1 2>&1; ip -6 route get 2001:db9::1 2>&1; true"], preload: false);
        var o = run.Result.Stdout;
        Assert.Contains("hosts: files dns", o);
        Assert.Contains("nameserver 203.0.113.53", o);
        Assert.Contains("203.0.113.7     evil.example", o);
        Assert.Contains("203.0.113.40    STREAM api.dns.yahoo.com", o);
        Assert.Equal(["lo:"], o.Split('\n').Where(l => l.EndsWith(':') && !l.Contains(' ')).ToArray());
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(o, "Network is unreachable").Count);
        Assert.Contains("api.dns.yahoo.com", run.DnsQueries);
    }
}
