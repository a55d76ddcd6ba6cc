namespace IronFunction.Tests.EndToEnd;

// outbound_connectivity end to end inside real runtimes: CPython (socket, urllib), Node.js (net, http, fetch,
// dns.lookup, dns.resolve), bash's /dev/tcp and curl. Each runs a script that tries one thing per case and prints
// "case=<name> ok <what the server said>" or "case=<name> err <the error the runtime reported>", inside the test's
// own network namespace (NetNamespace). Block runs are checked case by case; alert and allow runs must print
// exactly what a run without the library prints.

public class NetworkRuntimeTests
{
    private const string PythonScript = """
        import socket, sys, urllib.request

        def case(name, fn):
            try:
                result = fn()
                print(f"case={name} ok {result}")
            except urllib.error.URLError as e:
                print(f"case={name} err URLError {type(e.reason).__name__} {getattr(e.reason, 'errno', None)}")
            except OSError as e:
                print(f"case={name} err {type(e).__name__} {e.errno}")
            sys.stdout.flush()

        def tcp(host, port=7070):
            with socket.create_connection((host, port), timeout=5) as c:
                return c.recv(100).decode().strip()

        def tcp6(address, port=7070):
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as c:
                c.settimeout(5)
                c.connect((address, port))
                return c.recv(100).decode().strip()

        def udp(address, text):
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                return s.sendto(text.encode(), (address, 9999))

        def http(url):
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read().decode().strip()

        case("ip-unresolved", lambda: tcp("203.0.113.10"))
        case("name-allowed", lambda: tcp("yahoo.com"))
        case("ip-after-lookup", lambda: tcp("203.0.113.10"))
        case("subdomain", lambda: tcp("www.yahoo.com"))
        case("case", lambda: tcp("MAIL.Yahoo.COM"))
        case("case-and-dot", lambda: tcp("API.DNS.YAHOO.COM."))
        case("aws", lambda: tcp("s3.us-east-1.amazonaws.com"))
        case("wildcard", lambda: tcp("sub.wild.example"))
        case("name-v6", lambda: tcp("v6.yahoo.com"))
        case("dns-only-name", lambda: tcp("api.dns.yahoo.com"))
        case("lookalike-prefix", lambda: tcp("notyahoo.com"))
        case("lookalike-suffix", lambda: tcp("yahoo.com.evil.net"))
        case("lookalike-aws", lambda: tcp("aws.evil.example"))
        case("wildcard-apex", lambda: tcp("wild.example"))
        case("evil-name", lambda: tcp("evil.example"))
        case("evil-ip", lambda: tcp("203.0.113.7"))
        case("evil-v6", lambda: tcp6("2001:db8::7"))
        case("evil-mapped", lambda: tcp6("::ffff:203.0.113.7"))
        case("ip-exception", lambda: tcp("203.0.113.77"))
        case("ip-exception-mapped", lambda: tcp6("::ffff:203.0.113.77"))
        case("cidr", lambda: tcp("198.51.100.5"))
        case("cidr6", lambda: tcp6("2001:db8:1::5"))
        case("loopback", lambda: tcp("127.0.0.1"))
        case("loopback6", lambda: tcp6("::1"))
        case("localhost", lambda: tcp("localhost"))
        case("urllib-allowed", lambda: http("http://www.yahoo.com:8080/"))
        case("urllib-evil", lambda: http("http://evil.example:8080/"))
        case("urllib-evil-ip", lambda: http("http://203.0.113.7:8080/"))
        case("gethostbyname_ex-allowed", lambda: socket.gethostbyname_ex("s3.us-east-1.amazonaws.com")[2])
        case("gethostbyname_ex-evil", lambda: socket.gethostbyname_ex("evil.example")[2])
        case("getaddrinfo-evil", lambda: socket.getaddrinfo("exfil.dns.evil.example", 80)[0][4][0])
        case("udp-allowed", lambda: udp("203.0.113.77", "py-allowed"))
        case("udp-evil", lambda: udp("203.0.113.7", "py-denied"))
        case("udp-evil-v6", lambda: udp("2001:db8::7", "py-denied6"))
        """;

    /// <summary>What each Python case prints in block mode.</summary>
    private static readonly (string Case, string Line, string? Event)[] PythonBlock =
    [
        ("ip-unresolved", "err PermissionError 1", "203.0.113.10:7070"),
        ("name-allowed", "ok hello 203.0.113.10", null),
        ("ip-after-lookup", "ok hello 203.0.113.10", null),
        ("subdomain", "ok hello 203.0.113.11", null),
        ("case", "ok hello 203.0.113.15", null),
        ("case-and-dot", "ok hello 203.0.113.40", null),
        ("aws", "ok hello 203.0.113.20", null),
        ("wildcard", "ok hello 203.0.113.30", null),
        ("name-v6", "ok hello 2001:db8::10", null),
        ("dns-only-name", "ok hello 203.0.113.40", null),
        ("lookalike-prefix", "err gaierror -4", "notyahoo.com"),
        ("lookalike-suffix", "err gaierror -4", "yahoo.com.evil.net"),
        ("lookalike-aws", "err gaierror -4", "aws.evil.example"),
        ("wildcard-apex", "err gaierror -4", "wild.example"),
        ("evil-name", "err gaierror -4", "evil.example"),
        ("evil-ip", "err PermissionError 1", "203.0.113.7:7070"),
        ("evil-v6", "err PermissionError 1", "[2001:db8::7]:7070"),
        ("evil-mapped", "err PermissionError 1", "203.0.113.7:7070"),
        ("ip-exception", "ok hello 203.0.113.77", null),
        ("ip-exception-mapped", "ok hello 203.0.113.77", null),
        ("cidr", "ok hello 198.51.100.5", null),
        ("cidr6", "ok hello 2001:db8:1::5", null),
        ("loopback", "ok hello 127.0.0.1", null),
        ("loopback6", "ok hello ::1", null),
        ("localhost", "ok hello ", null),
        ("urllib-allowed", "ok hello 203.0.113.11", null),
        ("urllib-evil", "err URLError gaierror -4", "evil.example"),
        ("urllib-evil-ip", "err URLError PermissionError 1", "203.0.113.7:8080"),
        ("gethostbyname_ex-allowed", "ok ['203.0.113.20']", null),
        ("gethostbyname_ex-evil", "err gaierror -4", "evil.example"),   // CPython resolves through getaddrinfo first
        ("getaddrinfo-evil", "err gaierror -4", "exfil.dns.evil.example"),
        ("udp-allowed", "ok 10", null),
        ("udp-evil", "err PermissionError 1", "203.0.113.7:9999"),
        ("udp-evil-v6", "err PermissionError 1", "[2001:db8::7]:9999"),
    ];

    private static void AssertCases(NamespaceRun run, IEnumerable<(string Case, string Line, string? Event)> cases)
    {
        var failures = cases.Where(c => !run.Case(c.Case).StartsWith(c.Line, StringComparison.Ordinal))
            .Select(c => $"{c.Case}: expected \"{c.Line}\", got \"{run.Case(c.Case)}\"").ToList();
        Assert.True(failures.Count == 0, string.Join('\n', failures) + "\n" + run);
    }

    /// <summary>Every case line of two runs is the same.</summary>
    private static void SameCases(NamespaceRun expected, NamespaceRun actual)
    {
        static string[] Lines(NamespaceRun r) => r.Result.Stdout.Split('\n').Where(l => l.StartsWith("case=")).ToArray();
        Assert.True(Lines(expected).Length > 0, expected.ToString());
        Assert.Equal(Lines(expected), Lines(actual));
    }

    [NamespaceFact]
    public void Python_block_lets_only_exceptions_through_and_denies_every_look_alike()
    {
        using var box = new Sandbox();
        var script = box.File("probe.py", PythonScript);
        var run = NetNamespace.Run(box, NetNamespace.BlockPolicy, Machine.Python.Value, [script]);
        AssertCases(run, PythonBlock);
        NetNamespace.EventsHaveSeedSchema(run);
        NetNamespace.SameEvents(PythonBlock.Where(c => c.Event != null).Select(c => c.Event!), run.Events("block"), run);
        Assert.Contains("udp py-allowed", run.ServerLog);
        Assert.DoesNotContain(run.ServerLog, l => l.Contains("py-denied"));
        Assert.Equal(["API.DNS.YAHOO.COM", "api.dns.yahoo.com"], run.DnsQueries.Distinct().Order(StringComparer.Ordinal).ToArray());
    }

    [NamespaceFact]
    public void Python_alert_and_allow_behave_as_without_the_library_and_alert_reports_each_destination_once()
    {
        using var box = new Sandbox();
        var script = box.File("probe.py", PythonScript);
        var plain = NetNamespace.Run(box, null, Machine.Python.Value, [script], preload: false);
        var alert = NetNamespace.Run(box, NetNamespace.AlertPolicy, Machine.Python.Value, [script]);
        var allow = NetNamespace.Run(box, NetNamespace.Policy("allow"), Machine.Python.Value, [script]);
        SameCases(plain, alert);
        SameCases(plain, allow);
        Assert.Empty(allow.Result.Events);
        NetNamespace.EventsHaveSeedSchema(alert);
        string[] expected =
        [
            "203.0.113.10:7070", "notyahoo.com", "notyahoo.com (203.0.113.12):7070", "yahoo.com.evil.net",
            "yahoo.com.evil.net (203.0.113.13):7070", "aws.evil.example", "aws.evil.example (203.0.113.21):7070",
            "wild.example", "wild.example (203.0.113.31):7070", "evil.example", "evil.example (203.0.113.7):7070",
            "[2001:db8::7]:7070", "evil.example (203.0.113.7):8080", "exfil.dns.evil.example", "evil.example (203.0.113.7):9999",
            "[2001:db8::7]:9999",
        ];
        NetNamespace.SameEvents(expected, alert.Events("alert"), alert);
    }

    [NamespaceFact]
    public void Python_threads_looking_up_and_connecting_at_once_get_the_same_answers()
    {
        using var box = new Sandbox();
        var script = box.File("threads.py", """
            import collections, socket, threading
            hosts = ["yahoo.com", "www.yahoo.com", "mail.yahoo.com", "s3.us-east-1.amazonaws.com", "sub.wild.example",
                     "evil.example", "notyahoo.com", "203.0.113.99", "203.0.113.77"]
            results = collections.Counter()
            lock = threading.Lock()
            def work(seed):
                for i in range(30):
                    host = hosts[(seed * 7 + i) % len(hosts)]
                    try:
                        with socket.create_connection((host, 7070), timeout=5) as c:
                            outcome = "ok " + c.recv(100).decode().strip()
                    except OSError as e:
                        outcome = f"err {type(e).__name__} {e.errno}"
                    with lock:
                        results[f"{host} {outcome}"] += 1
            threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
            for t in threads: t.start()
            for t in threads: t.join()
            for k in sorted(results): print(k, results[k])
            """);
        var run = NetNamespace.Run(box, NetNamespace.BlockPolicy, Machine.Python.Value, [script]);
        var lines = run.Result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // every host always got the same answer, whatever the other threads were doing
        Assert.Equal(
        [
            "203.0.113.77 ok hello 203.0.113.77", "203.0.113.99 err PermissionError 1", "evil.example err gaierror -4",
            "mail.yahoo.com ok hello 203.0.113.15", "notyahoo.com err gaierror -4", "s3.us-east-1.amazonaws.com ok hello 203.0.113.20",
            "sub.wild.example ok hello 203.0.113.30", "www.yahoo.com ok hello 203.0.113.11", "yahoo.com ok hello 203.0.113.10",
        ], lines.Select(l => l[..l.LastIndexOf(' ')]).ToArray());
        Assert.Equal(16 * 30, lines.Sum(l => int.Parse(l.Split(' ')[^1])));
        Assert.All(run.Events("block"), w => Assert.Contains(w, new[] { "evil.example", "notyahoo.com", "203.0.113.99:7070" }));
    }

    private const string NodeScript = """
        const net = require('net'), http = require('http'), dns = require('dns');
        const out = (name, status, detail) => console.log(`case=${name} ${status} ${detail}`);
        const tcp = (name, host, family) => new Promise(resolve => {
          const s = net.connect({ host, port: 7070, family });
          s.on('data', d => { out(name, 'ok', d.toString().trim()); s.destroy(); resolve(); });
          s.on('error', e => { out(name, 'err', e.code); resolve(); });
        });
        const get = (name, url) => new Promise(resolve => {
          http.get(url, r => { let b = ''; r.on('data', d => b += d); r.on('end', () => { out(name, 'ok', b.trim()); resolve(); }); })
              .on('error', e => { out(name, 'err', e.code); resolve(); });
        });
        const lookup = (name, host) => new Promise(resolve =>
          dns.lookup(host, { all: true }, (e, a) => { out(name, e ? 'err' : 'ok', e ? e.code : a.map(x => x.address).join(',')); resolve(); }));
        const resolve4 = (name, host) => new Promise(resolve =>
          dns.resolve4(host, (e, a) => { out(name, e ? 'err' : 'ok', e ? e.code : a.join(',')); resolve(); }));
        const fetchText = async (name, url) => {
          try { out(name, 'ok', (await (await fetch(url)).text()).trim()); }
          catch (e) { out(name, 'err', (e.cause && e.cause.code) || e.message); }
        };
        (async () => {
          await tcp('net-allowed', 'yahoo.com');
          await tcp('net-after-lookup', '203.0.113.10');
          await tcp('net-unresolved', '203.0.113.11');
          await tcp('net-evil-name', 'evil.example');
          await tcp('net-evil-ip', '203.0.113.7');
          await tcp('net-lookalike', 'notyahoo.com');
          await tcp('net-v6-allowed', 'v6.yahoo.com');
          await tcp('net-evil-v6', '2001:db8::7');
          await tcp('net-cidr', '198.51.100.5');
          await tcp('net-loopback', '127.0.0.1');
          await get('http-allowed', 'http://www.yahoo.com:8080/');
          await get('http-aws', 'http://s3.us-east-1.amazonaws.com:8080/');
          await get('http-evil', 'http://yahoo.com.evil.net:8080/');
          await fetchText('fetch-allowed', 'http://sub.wild.example:8080/');
          await fetchText('fetch-evil', 'http://aws.evil.example:8080/');
          await lookup('lookup-allowed', 'mail.yahoo.com');
          await lookup('lookup-evil', 'exfil.dns.evil.example');
          await resolve4('resolve4', 'api.dns.yahoo.com');
        })();
        """;

    private static readonly (string Case, string Line, string? Event)[] NodeBlock =
    [
        ("net-allowed", "ok hello 203.0.113.10", null),
        ("net-after-lookup", "ok hello 203.0.113.10", null),
        ("net-unresolved", "err EPERM", "203.0.113.11:7070"),
        ("net-evil-name", "err EAI_FAIL", "evil.example"),
        ("net-evil-ip", "err EPERM", "203.0.113.7:7070"),
        ("net-lookalike", "err EAI_FAIL", "notyahoo.com"),
        ("net-v6-allowed", "ok hello 2001:db8::10", null),
        ("net-evil-v6", "err EPERM", "[2001:db8::7]:7070"),
        ("net-cidr", "ok hello 198.51.100.5", null),
        ("net-loopback", "ok hello 127.0.0.1", null),
        ("http-allowed", "ok hello 203.0.113.11", null),
        ("http-aws", "ok hello 203.0.113.20", null),
        ("http-evil", "err EAI_FAIL", "yahoo.com.evil.net"),
        ("fetch-allowed", "ok hello 203.0.113.30", null),
        ("fetch-evil", "err EAI_FAIL", "aws.evil.example"),
        ("lookup-allowed", "ok 203.0.113.15", null),
        ("lookup-evil", "err EAI_FAIL", "exfil.dns.evil.example"),
        // c-ares talks to the nameserver itself: its address is not an exception, so the query never leaves
        ("resolve4", "err ECONNREFUSED", "203.0.113.53:53"),
    ];

    [NamespaceFact]
    public void Node_block_lets_only_exceptions_through_and_denies_every_look_alike()
    {
        using var box = new Sandbox();
        var script = box.File("probe.js", NodeScript);
        var run = NetNamespace.Run(box, NetNamespace.BlockPolicy, Machine.Node.Value, [script]);
        AssertCases(run, NodeBlock);
        NetNamespace.EventsHaveSeedSchema(run);
        // a program may retry a denied destination (c-ares tries its server again): each must be reported at least once
        var events = run.Events("block");
        foreach (var e in NodeBlock.Where(c => c.Event != null).Select(c => c.Event!)) Assert.Contains(e, events);
        Assert.Empty(events.Except(NodeBlock.Select(c => c.Event)));
        Assert.DoesNotContain("exfil.dns.evil.example", run.DnsQueries);
        Assert.DoesNotContain("api.dns.yahoo.com", run.DnsQueries);
    }

    [NamespaceFact]
    public void Node_alert_and_allow_behave_as_without_the_library()
    {
        using var box = new Sandbox();
        var script = box.File("probe.js", NodeScript);
        var plain = NetNamespace.Run(box, null, Machine.Node.Value, [script], preload: false);
        var alert = NetNamespace.Run(box, NetNamespace.AlertPolicy, Machine.Node.Value, [script]);
        var allow = NetNamespace.Run(box, NetNamespace.Policy("allow"), Machine.Node.Value, [script]);
        SameCases(plain, alert);
        SameCases(plain, allow);
        Assert.Equal("ok 203.0.113.40", alert.Case("resolve4"));
        Assert.Empty(allow.Result.Events);
        var events = alert.Events("alert");
        Assert.True(events.Length == events.Distinct().Count(), string.Join('\n', events));
        foreach (var e in new[] { "203.0.113.11:7070", "evil.example", "evil.example (203.0.113.7):7070", "notyahoo.com",
                     "notyahoo.com (203.0.113.12):7070", "[2001:db8::7]:7070", "yahoo.com.evil.net", "aws.evil.example",
                     "exfil.dns.evil.example", "203.0.113.53:53" })
            Assert.Contains(e, events);
    }

    private const string ShellScript = """
        for t in yahoo.com www.yahoo.com evil.example notyahoo.com 203.0.113.7 203.0.113.77 2001:db8::7 127.0.0.1; do
          if exec 3<>/dev/tcp/$t/7070; then read -r line <&3; exec 3>&-; echo "case=devtcp-$t ok $line"; else echo "case=devtcp-$t err"; fi
        done
        if command -v curl >/dev/null; then
          for u in yahoo.com s3.us-east-1.amazonaws.com yahoo.com.evil.net 203.0.113.7 198.51.100.5; do
            body=$(curl -sS --max-time 5 "http://$u:8080/"); rc=$?
            if [ $rc = 0 ]; then echo "case=curl-$u ok $body"; else echo "case=curl-$u err $rc"; fi
          done
        fi
        """;

    [NamespaceFact]
    public void Bash_dev_tcp_and_curl()
    {
        using var box = new Sandbox();
        var script = box.File("probe.sh", ShellScript);
        var run = NetNamespace.Run(box, NetNamespace.BlockPolicy, Machine.Bash.Value, [script]);
        var cases = new List<(string, string, string?)>
        {
            ("devtcp-yahoo.com", "ok hello 203.0.113.10", null),
            ("devtcp-www.yahoo.com", "ok hello 203.0.113.11", null),
            ("devtcp-evil.example", "err", "evil.example"),
            ("devtcp-notyahoo.com", "err", "notyahoo.com"),
            ("devtcp-203.0.113.7", "err", "203.0.113.7:7070"),
            ("devtcp-203.0.113.77", "ok hello 203.0.113.77", null),
            ("devtcp-2001:db8::7", "err", "[2001:db8::7]:7070"),
            ("devtcp-127.0.0.1", "ok hello 127.0.0.1", null),
        };
        bool curl = run.Result.Stdout.Contains("case=curl-");
        if (curl)
            cases.AddRange(
            [
                ("curl-yahoo.com", "ok hello 203.0.113.10", null),
                ("curl-s3.us-east-1.amazonaws.com", "ok hello 203.0.113.20", null),
                ("curl-yahoo.com.evil.net", "err 6", "yahoo.com.evil.net"),   // CURLE_COULDNT_RESOLVE_HOST
                ("curl-203.0.113.7", "err 7", "203.0.113.7:8080"),           // CURLE_COULDNT_CONNECT
                ("curl-198.51.100.5", "ok hello 198.51.100.5", null),
            ]);
        AssertCases(run, cases);
        NetNamespace.EventsHaveSeedSchema(run);
        var events = run.Events("block");
        foreach (var (_, _, e) in cases) if (e != null) Assert.Contains(e, events);
        Assert.Empty(events.Except(cases.Select(c => c.Item3)));
        // the same script without the library reaches everything
        var plain = NetNamespace.Run(box, null, Machine.Bash.Value, [script], preload: false);
        Assert.Equal("ok hello 203.0.113.7", plain.Case("devtcp-evil.example"));
        var alert = NetNamespace.Run(box, NetNamespace.AlertPolicy, Machine.Bash.Value, [script]);
        SameCases(plain, alert);
    }
}
