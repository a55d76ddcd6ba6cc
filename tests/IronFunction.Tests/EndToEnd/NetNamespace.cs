using System.Text.Json;

namespace IronFunction.Tests.EndToEnd;

// The outbound_connectivity end-to-end tests never send anything to an address outside this machine. Each
// run happens inside a network and mount namespace of its own (unshare -n -m, which needs root): there the
// only interface is lo, with outside-looking addresses from the documentation ranges (203.0.113.0/24,
// 198.51.100.0/24, 2001:db8::/32) added to it, a hosts file bind-mounted over /etc/hosts names them, the
// only nameserver is a small DNS server on one of them, and real servers (netns/servers.py, run without the
// library) answer on all of them and log what arrives. The namespace has no route anywhere else.

/// <summary>A [Fact] that is skipped, with the reason, unless the tests run as root (CI does).</summary>
public sealed class NamespaceFactAttribute : FactAttribute
{
    public NamespaceFactAttribute()
    {
        if (!NetNamespace.IsRoot) Skip = NetNamespace.SkipReason;
    }

    /// <summary>A program the test needs besides the namespace: skipped, with the reason, when it is not on PATH.</summary>
    public string? Program
    {
        get => null;
        init
        {
            if (Skip == null && value != null && !RuntimeRuns.OnPath(value)) Skip = $"{value} is not on PATH on this machine";
        }
    }
}

/// <summary>A [Theory] skipped, with the reason, unless the tests run as root: as <see cref="NamespaceFactAttribute"/>.</summary>
public sealed class NamespaceTheoryAttribute : TheoryAttribute
{
    public NamespaceTheoryAttribute()
    {
        if (!NetNamespace.IsRoot) Skip = NetNamespace.SkipReason;
    }
}

/// <summary>What a run inside the namespace did: the program's result and the servers' log.</summary>
public sealed record NamespaceRun(RunResult Result, string[] ServerLog)
{
    /// <summary>The probe's line for a command ("&lt;command&gt; => ...").</summary>
    public string Line(string command)
    {
        var prefix = command + " => ";
        var line = Result.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        Assert.True(line != null, $"no line for \"{command}\":\n{this}");
        return line![prefix.Length..];
    }

    /// <summary>A "case=NAME ..." line of a runtime script, without its prefix.</summary>
    public string Case(string name)
    {
        var prefix = $"case={name} ";
        var line = Result.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        Assert.True(line != null, $"no line for case {name}:\n{this}");
        return line![prefix.Length..];
    }

    /// <summary>The destinations reported, one entry per occurrence (identical repeats arrive coalesced with repeat_count).</summary>
    public string[] Events(string? action = null) => Result.Events
        .Where(e => e.Str("event_type") == "outbound_connectivity" && (action == null || e.Str("action") == action))
        .SelectMany(e => Enumerable.Repeat(e.Str("what"), e.Occurrences())).ToArray();

    public string[] DnsQueries => ServerLog.Where(l => l.StartsWith("dns ")).Select(l => l.Split(' ')[1]).ToArray();

    public override string ToString() => $"{Result}\n--- server log\n{string.Join('\n', ServerLog)}";
}

public static class NetNamespace
{
    public const string SkipReason =
        "needs root: the network tests run inside a network namespace of their own (unshare -n -m), which only root can " +
        "create; without one they could only reach loopback, and no test sends anything to a real outside address";

    public static bool IsRoot => Environment.IsPrivilegedProcess;

    /// <summary>Addresses on the namespace's lo and the names the hosts file gives them.</summary>
    public static readonly (string Address, string Names)[] Addresses =
    [
        ("203.0.113.7", "evil.example"),
        ("203.0.113.10", "yahoo.com"),
        ("203.0.113.11", "www.yahoo.com"),
        ("203.0.113.12", "notyahoo.com"),
        ("203.0.113.13", "yahoo.com.evil.net"),
        ("203.0.113.14", "yahoo.co"),
        ("203.0.113.15", "mail.yahoo.com"),
        ("203.0.113.20", "s3.us-east-1.amazonaws.com"),
        ("203.0.113.21", "aws.evil.example"),
        ("203.0.113.22", "amazonaws.com.evil.example"),
        ("203.0.113.23", "s3.cn-north-1.amazonaws.com.cn"),
        ("203.0.113.30", "sub.wild.example"),
        ("203.0.113.31", "wild.example"),
        ("203.0.113.40", ""),            // api.dns.yahoo.com, answered by the DNS server only
        ("203.0.113.41", ""),            // exfil.dns.evil.example, answered by the DNS server only
        ("203.0.113.53", "ns.example"),  // the nameserver
        ("203.0.113.60", "runtime.example"),
        ("203.0.113.61", "events.example"),
        ("203.0.113.77", "pinned.example"),
        ("203.0.113.99", ""),            // nobody's name
        ("198.51.100.5", "cidr.example"),
        ("2001:db8::7", "evil6.example"),
        ("2001:db8::10", "v6.yahoo.com"),
        ("2001:db8:1::5", "cidr6.example"),
        ("2001:db8:2::5", "outside6.example"),
    ];

    /// <summary>The exceptions the block and alert runs use.</summary>
    public const string Exceptions = """["aws", "yahoo.com", "*.wild.example", "203.0.113.77", "198.51.100.0/24", "2001:db8:1::/48"]""";

    public static string Policy(string action, string exceptions = Exceptions, string extra = "") =>
        $$"""{"outbound_connectivity": {"action": "{{action}}", "exceptions": {{exceptions}}}{{extra}}}""";

    public static readonly string BlockPolicy = Policy("block");
    public static readonly string AlertPolicy = Policy("alert");

    private static readonly string Servers = Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "netns", "servers.py");

    private const string Script = """
        set -eu
        D="$1"; shift
        export IRON_NS_DIR="$D"
        preload="${IRON_NS_PRELOAD:-}"; policy="${IRON_NS_POLICY-unset}"; python="$IRON_NS_PYTHON"; servers="$IRON_NS_SERVERS"
        unset IRON_NS_PRELOAD IRON_NS_POLICY IRON_NS_PYTHON IRON_NS_SERVERS
        ip link set lo up
        while read -r a; do
          case "$a" in *:*) ip -6 addr add "$a/128" dev lo nodad ;; ?*) ip addr add "$a/32" dev lo ;; esac
        done < "$D/addresses"
        mount --bind "$D/hosts" /etc/hosts
        mount --bind "$D/resolv.conf" /etc/resolv.conf
        mount --bind "$D/nsswitch.conf" /etc/nsswitch.conf
        "$python" "$servers" "$D/server.log" "$D/ready" "$D/unix.sock" 2>"$D/server.err" &
        server=$!
        trap 'kill $server 2>/dev/null || true' EXIT
        for i in $(seq 400); do [ -e "$D/ready" ] && break; sleep 0.05; done
        [ -e "$D/ready" ] || { echo "the servers did not start:" >&2; cat "$D/server.err" >&2; exit 97; }
        set +e
        if [ -n "$preload" ]; then
          if [ "$policy" = unset ]; then LD_PRELOAD="$preload" "$@"; else LD_PRELOAD="$preload" IRON_FUNCTION_POLICY="$policy" "$@"; fi
        else
          "$@"
        fi
        rc=$?
        exit $rc
        """;

    /// <summary>
    /// Runs a program inside a fresh namespace. <paramref name="policyJson"/> null with <paramref name="preload"/>
    /// leaves IRON_FUNCTION_POLICY unset (monitor mode); <paramref name="preload"/> false runs without the library.
    /// </summary>
    public static NamespaceRun Run(Sandbox box, string? policyJson, string program, IEnumerable<string> args, bool preload = true,
        IDictionary<string, string?>? env = null, int timeoutSeconds = 120)
    {
        if (!IsRoot) throw new InvalidOperationException(SkipReason);
        var dir = Path.Combine(box.Dir, "ns-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        File.WriteAllLines(Path.Combine(dir, "addresses"), Addresses.Select(a => a.Address));
        File.WriteAllLines(Path.Combine(dir, "hosts"),
            new[] { "127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback" }
                .Concat(Addresses.Where(a => a.Names.Length > 0).Select(a => $"{a.Address} {a.Names}")));
        File.WriteAllText(Path.Combine(dir, "resolv.conf"), "nameserver 203.0.113.53\noptions timeout:2 attempts:1\n");
        File.WriteAllText(Path.Combine(dir, "nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\nservices: files\nprotocols: files\n");
        File.WriteAllText(Path.Combine(dir, "server.log"), "");
        var script = Path.Combine(dir, "run.sh");
        File.WriteAllText(script, Script);
        var vars = new Dictionary<string, string?>
        {
            ["IRON_NS_PYTHON"] = Machine.Python.Value,
            ["IRON_NS_SERVERS"] = Servers,
            ["IRON_NS_PRELOAD"] = preload ? Machine.Library : null,
            ["IRON_NS_POLICY"] = preload && policyJson != null ? box.Policy(policyJson) : null,
        };
        if (env != null) foreach (var (k, v) in env) vars[k] = v;
        var result = Preloaded.RunPlain("unshare", ["-n", "-m", Machine.Bash.Value, script, dir, program, .. args], vars,
            cwd: box.Dir, timeoutSeconds: timeoutSeconds);
        Assert.True(result.ExitCode != 97, $"the namespace did not come up:\n{result}");
        return new NamespaceRun(result, File.ReadAllLines(Path.Combine(dir, "server.log")));
    }

    /// <summary>Each event of the run has the seed schema and names outbound_connectivity.</summary>
    public static void EventsHaveSeedSchema(NamespaceRun run)
    {
        foreach (var e in run.Result.Events)
        {
            EventAssert.HasSeedSchema(e);
            Assert.Equal("outbound_connectivity", e.Str("event_type"));
            Assert.False(string.IsNullOrWhiteSpace(e.Str("message")));
        }
    }

    /// <summary>The multiset of "what"s equals the expected one: nothing missing, nothing extra.</summary>
    public static void SameEvents(IEnumerable<string> expected, IEnumerable<string> actual, NamespaceRun run)
    {
        var e = expected.Order(StringComparer.Ordinal).ToArray();
        var a = actual.Order(StringComparer.Ordinal).ToArray();
        Assert.True(e.SequenceEqual(a),
            $"events differ\n--- expected\n{string.Join('\n', e)}\n--- actual\n{string.Join('\n', a)}\n{run}");
    }
}
