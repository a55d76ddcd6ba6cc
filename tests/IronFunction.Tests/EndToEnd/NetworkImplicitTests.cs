using System.Net;
using System.Net.Sockets;

namespace IronFunction.Tests.EndToEnd;

// outbound_connectivity's always-allowed destinations (SPEC §4): the Lambda Runtime API, the api_endpoint host, the
// machine's own host name; alert mode's once-per-destination reporting across fork; a JVM. Then loopback-only checks
// that need no namespace (and so run without root too): only loopback is ever contacted there.

public class NetworkImplicitTests
{
    private static NamespaceRun Probe(Sandbox box, string policy, IDictionary<string, string?>? env, params string[] commands) =>
        NetNamespace.Run(box, policy, NetProbe.Exe.Value, commands, env: env);

    [NamespaceFact]
    public void The_Runtime_API_address_and_the_api_endpoint_host_are_allowed()
    {
        using var box = new Sandbox();
        var policy = NetNamespace.Policy("block", "[]", """, "api_endpoint": "http://events.example:8080/iron" """);
        var env = new Dictionary<string, string?> { ["AWS_LAMBDA_RUNTIME_API"] = "203.0.113.60:9001" };
        var run = Probe(box, policy, env,
            "connect4 203.0.113.60 7070", "gai runtime.example", "connect4 203.0.113.61 7070", "gai events.example",
            "connect4 203.0.113.61 7070 after-lookup", "gai sub.events.example", "gai example", $"gai {Environment.MachineName}",
            "connect4 203.0.113.7 7070");
        Assert.StartsWith("result=0 errno=0 reply=hello 203.0.113.60", run.Line("connect4 203.0.113.60 7070"));
        Assert.Equal(NetProbe.EaiFail, run.Line("gai runtime.example"));   // the Runtime API is an address here, not a name
        Assert.Equal(NetProbe.EPERM, run.Line("connect4 203.0.113.61 7070"));
        Assert.Equal("status=0 addrs=203.0.113.61", run.Line("gai events.example"));
        Assert.StartsWith("result=0 errno=0 reply=hello 203.0.113.61", run.Line("connect4 203.0.113.61 7070 after-lookup"));
        Assert.Equal(NetProbe.EaiFail, run.Line("gai sub.events.example"));  // the endpoint's host only, not its subdomains
        Assert.Equal(NetProbe.EaiFail, run.Line("gai example"));
        // the host name is looked up like without the library (here the namespace's DNS server does not know it)
        Assert.Equal("status=-2", run.Line($"gai {Environment.MachineName}"));
        Assert.Contains(Environment.MachineName, run.DnsQueries);
        Assert.Equal(NetProbe.EPERM, run.Line("connect4 203.0.113.7 7070"));
        NetNamespace.SameEvents(["runtime.example", "203.0.113.61:7070", "sub.events.example", "example", "203.0.113.7:7070"], run.Events("block"), run);
    }

    [NamespaceFact]
    public void A_Runtime_API_given_by_name_is_resolved_at_start_and_an_IPv6_api_endpoint_is_allowed()
    {
        using var box = new Sandbox();
        var policy = NetNamespace.Policy("block", "[]", """, "api_endpoint": "https://[2001:db8::7]:8443/iron" """);
        var env = new Dictionary<string, string?> { ["AWS_LAMBDA_RUNTIME_API"] = "runtime.example:9001" };
        var run = Probe(box, policy, env,
            "connect4 203.0.113.60 7070", "gai RUNTIME.example.", "gai x.runtime.example", "connect6 2001:db8::7 7070", "connect4 203.0.113.7 7070");
        Assert.StartsWith("result=0 errno=0 reply=hello 203.0.113.60", run.Line("connect4 203.0.113.60 7070"));
        Assert.StartsWith("status=", run.Line("gai RUNTIME.example."));
        Assert.NotEqual(NetProbe.EaiFail, run.Line("gai RUNTIME.example."));
        Assert.Equal(NetProbe.EaiFail, run.Line("gai x.runtime.example"));
        Assert.StartsWith("result=0 errno=0 reply=hello 2001:db8::7", run.Line("connect6 2001:db8::7 7070"));
        Assert.Equal(NetProbe.EPERM, run.Line("connect4 203.0.113.7 7070"));
        NetNamespace.SameEvents(["x.runtime.example", "203.0.113.7:7070"], run.Events("block"), run);
    }

    [NamespaceFact]
    public void Alert_mode_reports_each_destination_once_per_process_and_a_forked_child_reports_its_own()
    {
        using var box = new Sandbox();
        var script = box.File("fork.py", """
            import os, socket, sys
            def hit(port=7070):
                with socket.create_connection(("203.0.113.7", port), timeout=5) as c:
                    return c.recv(100).decode().strip()
            print("parent", hit(), hit(), hit(), flush=True)
            pid = os.fork()
            if pid == 0:
                print("child", hit(), hit(), flush=True)
                os._exit(0)
            os.waitpid(pid, 0)
            print("parent-again", hit(), hit(), flush=True)
            """);
        var run = NetNamespace.Run(box, NetNamespace.AlertPolicy, Machine.Python.Value, [script]);
        Assert.Contains("parent hello 203.0.113.7 hello 203.0.113.7 hello 203.0.113.7", run.Result.Stdout);
        Assert.Contains("child hello 203.0.113.7 hello 203.0.113.7", run.Result.Stdout);
        Assert.Contains("parent-again hello 203.0.113.7 hello 203.0.113.7", run.Result.Stdout);
        var events = run.Result.Events.Select(e => (What: e.Str("what"), Pid: e.Str("process_id"))).ToArray();
        Assert.True(events.Length == 2, string.Join('\n', events));
        Assert.All(events, e => Assert.Equal("203.0.113.7:7070", e.What));
        Assert.NotEqual(events[0].Pid, events[1].Pid);
    }

    /// <summary>
    /// CPython's own regression tests of its network modules talk to servers they start on loopback: under block
    /// with no exception at all they must pass as without the library, and nothing may be denied. In the
    /// namespace, so that a test that tried an outside address could not reach one.
    /// </summary>
    [NamespaceFact]
    public void CPython_network_regression_tests_pass_under_block_with_loopback_only()
    {
        using var box = new Sandbox();
        string[] suites = ["test_httplib", "test_urllib2_localnet", "test_xmlrpc", "test_wsgiref", "test_asyncio.test_sock_lowlevel"];
        var run = NetNamespace.Run(box, """{"outbound_connectivity": "block"}""", Machine.Python.Value, ["-m", "test", .. suites],
            timeoutSeconds: 600);
        Assert.True(run.Result.ExitCode == 0, run.ToString());
        Assert.Contains("== Tests result: SUCCESS ==", run.Result.Stdout);
        Assert.Contains($"All {suites.Length} tests OK.", run.Result.Stdout);
        Assert.Empty(run.Result.Events);
        Assert.Empty(run.Result.Diagnostics);
    }

    private const string JavaProbe = """
        import java.io.InputStream;
        import java.net.*;

        public class Probe {
            static void run(String name, java.util.concurrent.Callable<String> f) {
                try { System.out.println("case=" + name + " ok " + f.call()); }
                catch (Exception e) { System.out.println("case=" + name + " err " + e.getClass().getSimpleName() + ": " + e.getMessage()); }
            }
            static String greet(String host) throws Exception {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(host, 7070), 5000);
                    return new String(s.getInputStream().readAllBytes()).trim();
                }
            }
            public static void main(String[] args) {
                run("socket-allowed", () -> greet("www.yahoo.com"));
                run("socket-evil-name", () -> greet("yahoo.com.evil.net"));
                run("socket-evil-ip", () -> greet("203.0.113.7"));
                run("socket-cidr", () -> greet("198.51.100.5"));
                run("lookup-aws", () -> InetAddress.getByName("s3.us-east-1.amazonaws.com").getHostAddress());
                run("url-allowed", () -> { try (InputStream in = new URL("http://yahoo.com:8080/").openStream()) { return new String(in.readAllBytes()).trim(); } });
                run("url-evil", () -> { try (InputStream in = new URL("http://notyahoo.com:8080/").openStream()) { return new String(in.readAllBytes()).trim(); } });
            }
        }
        """;

    [NamespaceFact(Program = "java")]
    public void Java_sockets_lookups_and_URLs()
    {
        using var box = new Sandbox();
        var source = box.File("Probe.java", JavaProbe);
        var run = NetNamespace.Run(box, NetNamespace.BlockPolicy, "java", ["-XX:-UsePerfData", source], timeoutSeconds: 180);
        Assert.Equal("ok hello 203.0.113.11", run.Case("socket-allowed"));
        Assert.StartsWith("err UnknownHostException", run.Case("socket-evil-name"));
        Assert.Equal("err SocketException: Operation not permitted", run.Case("socket-evil-ip"));
        Assert.Equal("ok hello 198.51.100.5", run.Case("socket-cidr"));
        Assert.Equal("ok 203.0.113.20", run.Case("lookup-aws"));
        Assert.Equal("ok hello 203.0.113.10", run.Case("url-allowed"));
        Assert.StartsWith("err UnknownHostException", run.Case("url-evil"));
        var events = run.Events("block");
        foreach (var e in new[] { "yahoo.com.evil.net", "203.0.113.7:7070", "notyahoo.com" }) Assert.Contains(e, events);
        Assert.Empty(events.Except(["yahoo.com.evil.net", "203.0.113.7:7070", "notyahoo.com"]));
    }
}

/// <summary>Loopback only, no namespace: these run without root too.</summary>
public sealed class NetworkLoopbackTests : IDisposable
{
    private readonly Socket _tcp = new(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
    private readonly Socket _unix = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly Socket _udp = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly Sandbox _box = new();
    private readonly int _port, _closedPort, _udpPort;
    private readonly string _unixPath;

    public NetworkLoopbackTests()
    {
        // one dual-stack listener answers on 127.0.0.1 and ::1 alike
        _tcp.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        _tcp.Listen(64);
        _port = ((IPEndPoint)_tcp.LocalEndPoint!).Port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _closedPort = ((IPEndPoint)probe.LocalEndPoint!).Port; // bound, never listening: connects are refused
        }
        _udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _udpPort = ((IPEndPoint)_udp.LocalEndPoint!).Port;
        _unixPath = Path.Combine(_box.Dir, "s.sock");
        _unix.Bind(new UnixDomainSocketEndPoint(_unixPath));
        _unix.Listen(16);
        Serve(_tcp);
        Serve(_unix);
    }

    private static void Serve(Socket listener) => Task.Run(async () =>
    {
        while (true)
        {
            Socket c;
            try { c = await listener.AcceptAsync(); } catch { return; }
            using (c)
            {
                var local = c.LocalEndPoint is IPEndPoint ip ? (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address).ToString() : "unix";
                try { c.Send(System.Text.Encoding.ASCII.GetBytes($"hello {local}\n")); } catch (SocketException) { }
            }
        }
    });

    public void Dispose()
    {
        _tcp.Dispose();
        _unix.Dispose();
        _udp.Dispose();
        _box.Dispose();
    }

    private string[] Commands =>
    [
        $"connect4 127.0.0.1 {_port}", $"connect6 ::1 {_port}", $"connect6 ::ffff:127.0.0.1 {_port}", $"__connect 127.0.0.1 {_port}",
        $"connect4 127.0.0.1 {_closedPort}", $"nonblock4 127.0.0.1 {_port}", $"udp4 127.0.0.1 {_udpPort} loopback-datagram",
        $"sendmsg4 127.0.0.1 {_udpPort} loopback-sendmsg", $"unix {_unixPath}", "connectnull", "connectshort 127.0.0.1",
    ];

    [Fact]
    public void Block_without_exceptions_leaves_loopback_and_unix_sockets_exactly_as_they_are()
    {
        var plain = Preloaded.RunPlain(NetProbe.Exe.Value, Commands);
        var block = Preloaded.Run(NetProbe.Exe.Value, Commands, _box.Policy("""{"outbound_connectivity": "block"}"""));
        Assert.Equal(0, plain.ExitCode);
        Assert.Equal(plain.Stdout, block.Stdout);
        Assert.Contains($"connect4 127.0.0.1 {_port} => result=0 errno=0 reply=hello 127.0.0.1", block.Stdout);
        Assert.Contains($"connect6 ::1 {_port} => result=0 errno=0 reply=hello ::1", block.Stdout);
        Assert.Contains($"connect4 127.0.0.1 {_closedPort} => result=-1 errno=111", block.Stdout);
        Assert.Contains($"unix {_unixPath} => result=0 errno=0 reply=hello unix", block.Stdout);
        Assert.Equal("", block.Stderr);
    }

    [Fact]
    public void Monitor_mode_reports_nothing_for_loopback()
    {
        var run = Preloaded.Run(NetProbe.Exe.Value, Commands, null);
        Assert.Equal(Preloaded.RunPlain(NetProbe.Exe.Value, Commands).Stdout, run.Stdout);
        Assert.Empty(run.Events);
    }

    [Fact]
    public void The_network_debug_log_names_the_rule_in_force()
    {
        var run = Preloaded.Run(NetProbe.Exe.Value, [$"connect4 127.0.0.1 {_port}"],
            _box.Policy("""{"outbound_connectivity": {"action": "block", "exceptions": ["aws", "*.Example.com", "10.0.0.0/8"]}, "api_endpoint": "https://events.example.net/x"}"""),
            new Dictionary<string, string?> { ["IRON_LOG"] = "network=debug", ["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:9001" });
        var line = Assert.Single(run.Diagnostics, d => d.Contains("[network]"));
        Assert.Contains("outbound_connectivity=block", line);
        Assert.Contains("amazonaws.com", line);
        Assert.Contains("subdomains-of=[example.com]", line);
        Assert.Contains("events.example.net", line);
        Assert.Contains($"{Environment.MachineName}", line);
    }
}
