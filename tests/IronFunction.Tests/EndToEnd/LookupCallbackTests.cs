namespace IronFunction.Tests.EndToEnd;

// SPEC §7: every way to reach a hooked function reaches the hook. probes/lookup_probe.c reaches open, getaddrinfo,
// connect and posix_spawn through dlvsym, dlsym on the libc handle, RTLD_NEXT from a module dlopen'ed after start
// (probes/lookup_module.c), and calls them from inside ftw, nftw and scandir callbacks; Python does the same
// through ctypes. Each runs in the network namespace (NetNamespace) in block, alert and allow, and without the
// library: what was written, resolved, connected and started is read from the disk and the servers' log.

public static class LookupProbe
{
    private static string Source(string file) =>
        File.ReadAllText(Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", file));

    public static readonly Lazy<string> Exe = new(() => CProbe.Compile("lookup_probe", Source("lookup_probe.c")));
    public static readonly Lazy<string> Dep = new(() => CProbe.Compile("lookup_dep", Source("lookup_dep.c"), "-shared -fPIC"));
    public static readonly Lazy<string> Module = new(() => CProbe.Compile("lookup_module", Source("lookup_module.c"), $"-shared -fPIC -Wl,--no-as-needed {Dep.Value}"));
    public static readonly Lazy<string> Deep = new(() => CProbe.Compile("lookup_deep", Source("lookup_deep.c"), "-shared -fPIC"));
    public static readonly Lazy<string> Interposer = new(() => CProbe.Compile("lookup_interposer", Source("lookup_interposer.c"), "-shared -fPIC"));

    public static readonly string[] Ways = ["direct", "vsym", "noload", "next", "nextv", "nftw", "ftw", "filter", "filterat", "compare", "mopen"];

    /// <summary>A module dlopen'ed with RTLD_DEEPBIND: where a control blocks, the flag is dropped; elsewhere it stands (README, limits).</summary>
    public static readonly string[] BlockWays = [.. Ways, "deep"];

    /// <summary>A destination of its own per way: alert reports each destination once.</summary>
    public static readonly string[] Destinations =
        ["203.0.113.7", "203.0.113.12", "203.0.113.13", "203.0.113.14", "203.0.113.21", "203.0.113.22", "203.0.113.31", "203.0.113.99", "203.0.113.60", "203.0.113.61", "203.0.113.15", "203.0.113.41"];

    public static string Policy(string action) => NetNamespace.Policy(action, extra:
        $$""", "read_write_tmp": "{{action}}", "read_handler": "{{action}}", "create_child_process": "{{action}}" """);

    /// <summary>The handler (app.py under the task root), protected from the start outside Lambda.</summary>
    public static Dictionary<string, string?> Env(Sandbox box)
    {
        box.File("app.py", "def handler(event, context): return 'secret'\n");
        return new()
        {
            ["LOOKUP_MODULE"] = Module.Value, ["LOOKUP_DEEP"] = Deep.Value, ["_HANDLER"] = "app.handler", ["LAMBDA_TASK_ROOT"] = box.Dir,
            ["AWS_LAMBDA_RUNTIME_API"] = null, ["TMPDIR"] = null,
        };
    }
}

public class LookupCallbackTests
{
    private sealed record Case(string Way, string Op, string Command, string Denied, string? EventType, string? What);

    private static List<Case> Cases(Sandbox box, string[] ways) => ways.SelectMany((way, i) => new Case[]
    {
        new(way, "open", $"{way} open {box.TmpDir}/{way}-open", "result=-1 errno=13", "read_write_tmp", $"{box.TmpDir}/{way}-open"),
        new(way, "read", $"{way} read {box.Dir}/app.py", "result=-1 errno=13", "read_handler", null),
        new(way, "gai", $"{way} gai {way}.dns.evil.example", "status=-4 address=-", "outbound_connectivity", $"{way}.dns.evil.example"),
        new(way, "connect", $"{way} connect {LookupProbe.Destinations[i]} 7070", "result=-1 errno=1", "outbound_connectivity", $"{LookupProbe.Destinations[i]}:7070"),
        new(way, "spawn", $"{way} spawn /usr/bin/touch {box.Dir}/{way}-spawned", "result=1 exit=-1", "create_child_process", null),
    }).ToList();

    private static string Line(NamespaceRun run, Case c) =>
        c.Way is "nftw" or "ftw" or "filter" or "filterat" or "compare" ? run.Line(c.Command).Replace(" walk=0", "") : run.Line(c.Command);

    private static int Occurrences(NamespaceRun run, string type, string action) =>
        run.Result.Events.Where(e => e.Str("event_type") == type && e.Str("action") == action).Sum(e => e.Occurrences());

    private static NamespaceRun Probe(Sandbox box, string[] ways, string? policy, bool preload = true) =>
        NetNamespace.Run(box, policy, LookupProbe.Exe.Value, Cases(box, ways).Select(c => c.Command), preload, LookupProbe.Env(box));

    private static void Clean(Sandbox box)
    {
        foreach (var f in Directory.GetFiles(box.TmpDir)) File.Delete(f);
        foreach (var f in Directory.GetFiles(box.Dir, "*-spawned")) File.Delete(f);
    }

    [NamespaceFact]
    public void Block_denies_every_way_to_the_hooked_functions_and_reports_each()
    {
        using var box = new Sandbox();
        var cases = Cases(box, LookupProbe.BlockWays);
        var run = Probe(box, LookupProbe.BlockWays, LookupProbe.Policy("block"));
        Assert.True(run.Result.ExitCode == 0, run.ToString());
        var failures = cases.Where(c => Line(run, c) != c.Denied).Select(c => $"{c.Command}: \"{Line(run, c)}\", expected \"{c.Denied}\"").ToList();
        Assert.True(failures.Count == 0, string.Join('\n', failures) + "\n" + run);
        // nothing was created, resolved, connected or started
        Assert.Empty(Directory.GetFiles(box.TmpDir));
        Assert.Empty(Directory.GetFiles(box.Dir, "*-spawned"));
        Assert.DoesNotContain(run.DnsQueries, q => q.EndsWith(".dns.evil.example", StringComparison.Ordinal));
        var tcp = run.ServerLog.Where(l => l.StartsWith("tcp ")).Select(l => l.Split(' ')[1]).ToHashSet();
        Assert.Empty(tcp.Intersect(LookupProbe.Destinations));
        // one event per denied call
        foreach (var type in new[] { "read_write_tmp", "read_handler", "outbound_connectivity", "create_child_process" })
            Assert.True(Occurrences(run, type, "block") == cases.Count(c => c.EventType == type),
                $"{type}: {Occurrences(run, type, "block")} events for {cases.Count(c => c.EventType == type)} denied calls\n{run}");
        Assert.All(run.Result.Events, e => Assert.Equal("block", e.Str("action")));
        NetNamespace.SameEvents(cases.Where(c => c.EventType == "outbound_connectivity").Select(c => c.What!), run.Events("block"), run);
    }

    [NamespaceFact]
    public void Alert_lets_every_way_through_and_reports_each_and_allow_is_silent()
    {
        using var box = new Sandbox();
        var cases = Cases(box, LookupProbe.Ways);
        var plain = Probe(box, LookupProbe.Ways, null, preload: false);
        Assert.Equal(LookupProbe.Ways.Length, Directory.GetFiles(box.TmpDir).Length);
        Clean(box);
        var alert = Probe(box, LookupProbe.Ways, LookupProbe.Policy("alert"));
        Assert.Equal(LookupProbe.Ways.Length, Directory.GetFiles(box.TmpDir).Length);
        Assert.Equal(LookupProbe.Ways.Length, Directory.GetFiles(box.Dir, "*-spawned").Length);
        Clean(box);
        var allow = Probe(box, LookupProbe.BlockWays, LookupProbe.Policy("allow"));
        Assert.Equal(LookupProbe.BlockWays.Length, Directory.GetFiles(box.TmpDir).Length);
        Assert.Equal(LookupProbe.BlockWays.Length, Directory.GetFiles(box.Dir, "*-spawned").Length);
        var differences = new List<string>();
        foreach (var c in cases)
        {
            var reference = Line(plain, c);
            if (c.Op != "read" && reference == c.Denied) differences.Add($"without the library: {c.Command} => {reference}");
            if (Line(alert, c) != reference) differences.Add($"alert: {c.Command}\n  without: {reference}\n  with:    {Line(alert, c)}");
            if (Line(allow, c) != reference) differences.Add($"allow: {c.Command}\n  without: {reference}\n  with:    {Line(allow, c)}");
        }
        Assert.True(differences.Count == 0, string.Join('\n', differences) + "\n--- without\n" + plain.Result.Stdout);
        // every name reached the nameserver, every destination its server
        foreach (var w in LookupProbe.Ways) Assert.Contains($"{w}.dns.evil.example", alert.DnsQueries);
        var tcp = alert.ServerLog.Where(l => l.StartsWith("tcp ")).Select(l => l.Split(' ')[1]).ToHashSet();
        foreach (var d in LookupProbe.Destinations.Take(LookupProbe.Ways.Length)) Assert.True(tcp.Contains(d), $"{d} never connected\n{alert}");
        // each call reported
        Assert.All(alert.Result.Events, e => Assert.Equal("alert", e.Str("action")));
        var tmp = alert.Result.Events.Where(e => e.Str("event_type") == "read_write_tmp").Select(e => e.Str("what")).ToHashSet();
        foreach (var c in cases.Where(c => c.EventType == "read_write_tmp")) Assert.True(tmp.Contains(c.What!), $"no event for {c.Command}\n{alert}");
        NetNamespace.SameEvents(cases.Where(c => c.EventType == "outbound_connectivity").Select(c => c.What!), alert.Events("alert"), alert);
        Assert.True(Occurrences(alert, "read_handler", "alert") >= 1, alert.ToString());
        Assert.True(Occurrences(alert, "create_child_process", "alert") >= LookupProbe.Ways.Length, alert.ToString());
        Assert.Empty(allow.Result.Events);
        Assert.Equal("", allow.Result.Stderr);
    }

    private const string PythonScript = """
        import ctypes, os, socket, struct, sys
        tmp, handler = sys.argv[1], sys.argv[2]
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        def show(name, result):
            print(f"case={name} result={result} errno={ctypes.get_errno()}", flush=True)
            ctypes.set_errno(0)
        def sockaddr(ip, port):
            return struct.pack("=HH4s8x", socket.AF_INET, socket.htons(port), socket.inet_aton(ip))
        # functions of the libc handle, as ctypes finds them
        show("open", 0 if libc.open(f"{tmp}/py-open".encode(), os.O_WRONLY | os.O_CREAT, 0o600) >= 0 else -1)
        show("read", 0 if libc.open(handler.encode(), os.O_RDONLY) >= 0 else -1)
        res = ctypes.c_void_p()
        show("gai", libc.getaddrinfo(b"py.dns.evil.example", b"7070", None, ctypes.byref(res)))
        s = socket.socket()
        show("connect", libc.connect(s.fileno(), sockaddr("203.0.113.7", 7070), 16))
        s.close()
        # dlvsym through ctypes: the oldest open
        libc.dlvsym.restype = ctypes.c_void_p
        vopen = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, use_errno=True)(
            libc.dlvsym(None, b"open", b"GLIBC_2.2.5"))
        show("dlvsym", 0 if vopen(f"{tmp}/py-dlvsym".encode(), os.O_WRONLY | os.O_CREAT, 0o600) >= 0 else -1)
        # Python code inside an nftw callback
        seen = []
        def walked(path, st, kind, ftw):
            if seen: return 0
            seen.append(1)
            for name, call in [("cb-open", lambda: os.close(os.open(f"{tmp}/py-cb", os.O_WRONLY | os.O_CREAT))),
                               ("cb-read", lambda: open(handler).read()),
                               ("cb-gai", lambda: socket.getaddrinfo("pycb.dns.evil.example", 7070, socket.AF_INET)),
                               ("cb-connect", lambda: socket.create_connection(("203.0.113.12", 7070), timeout=5).close())]:
                try:
                    call()
                    print(f"case={name} ok", flush=True)
                except OSError as e:
                    print(f"case={name} {type(e).__name__} {e.errno}", flush=True)
            return 0
        cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)(walked)
        show("nftw", libc.nftw(b".", cb, 4, 1))
        """;

    [NamespaceFact]
    public void Python_ctypes_reaches_the_hooks_through_the_libc_handle_dlvsym_and_nftw_callbacks()
    {
        using var box = new Sandbox();
        var script = box.File("lookups.py", PythonScript);
        var env = LookupProbe.Env(box);
        string[] args = [script, box.TmpDir, Path.Combine(box.Dir, "app.py")];
        var plain = NetNamespace.Run(box, null, Machine.Python.Value, args, preload: false, env);
        Assert.Equal(3, Directory.GetFiles(box.TmpDir).Length);
        Clean(box);
        var block = NetNamespace.Run(box, LookupProbe.Policy("block"), Machine.Python.Value, args, env: env);
        Assert.Empty(Directory.GetFiles(box.TmpDir));
        Assert.DoesNotContain("py.dns.evil.example", block.DnsQueries);
        Assert.DoesNotContain("pycb.dns.evil.example", block.DnsQueries);
        Assert.DoesNotContain(block.ServerLog, l => l.StartsWith("tcp 203.0.113.7 ") || l.StartsWith("tcp 203.0.113.12 "));
        var expected = new Dictionary<string, string>
        {
            ["open"] = "result=-1 errno=13", ["read"] = "result=-1 errno=13", ["gai"] = "result=-4 errno=0",
            ["connect"] = "result=-1 errno=1", ["dlvsym"] = "result=-1 errno=13", ["nftw"] = "result=0 errno=0",
            ["cb-open"] = "PermissionError 13", ["cb-read"] = "PermissionError 13", ["cb-connect"] = "PermissionError 1",
        };
        foreach (var (name, line) in expected) Assert.True(block.Case(name) == line, $"{name}: {block.Case(name)}\n{block}");
        Assert.StartsWith("gaierror", block.Case("cb-gai"));
        string[] whats = [$"{box.TmpDir}/py-open", $"{box.TmpDir}/py-dlvsym", $"{box.TmpDir}/py-cb", "py.dns.evil.example",
            "pycb.dns.evil.example", "203.0.113.7:7070", "203.0.113.12:7070"];
        var reported = block.Result.Events.Select(e => e.Str("what")).ToHashSet();
        foreach (var w in whats) Assert.True(reported.Contains(w), $"no event for {w}\n{block}");
        Assert.Equal(2, Occurrences(block, "read_handler", "block"));

        var alert = NetNamespace.Run(box, LookupProbe.Policy("alert"), Machine.Python.Value, args, env: env);
        Assert.Equal(3, Directory.GetFiles(box.TmpDir).Length);
        Clean(box);
        var allow = NetNamespace.Run(box, LookupProbe.Policy("allow"), Machine.Python.Value, args, env: env);
        Assert.Equal(3, Directory.GetFiles(box.TmpDir).Length);
        foreach (var name in expected.Keys.Append("cb-gai"))
        {
            Assert.Equal(plain.Case(name), alert.Case(name));
            Assert.Equal(plain.Case(name), allow.Case(name));
        }
        reported = alert.Result.Events.Where(e => e.Str("action") == "alert").Select(e => e.Str("what")).ToHashSet();
        foreach (var w in whats) Assert.True(reported.Contains(w), $"no event for {w}\n{alert}");
        Assert.Contains("pycb.dns.evil.example", alert.DnsQueries);
        Assert.Empty(allow.Result.Events);
    }

    [Fact]
    public void A_callback_of_a_walk_that_changes_directory_is_judged_where_the_walk_really_is()
    {
        // nftw with FTW_CHDIR moves the working directory with libc's internal fchdir: here through a link into /tmp
        using var box = new Sandbox();
        var root = Directory.CreateDirectory(Path.Combine(box.Dir, "walked")).FullName;
        File.CreateSymbolicLink(Path.Combine(root, "into-tmp"), box.TmpDir);
        File.WriteAllText(Path.Combine(box.TmpDir, "existing"), "");
        var made = Path.Combine(box.TmpDir, "made");
        // a relative root: judging it reads (and keeps) the working directory before the walk moves it
        string[] commands = ["chdirwalk walked open made"];
        var block = Preloaded.Run(LookupProbe.Exe.Value, commands, box.Policy(TmpProbe.BlockPolicy), LookupProbe.Env(box), cwd: box.Dir);
        Assert.Contains($"{commands[0]} => result=-1 errno=13 walk=0", block.Stdout);
        Assert.False(File.Exists(made), block.ToString());
        TmpProbe.SingleEvent(block, "block", made);
        var allow = Preloaded.Run(LookupProbe.Exe.Value, commands, box.Policy(TmpProbe.AllowPolicy), LookupProbe.Env(box), cwd: box.Dir);
        Assert.Contains($"{commands[0]} => result=0 errno=0 walk=0", allow.Stdout);
        Assert.True(File.Exists(made), allow.ToString());
        Assert.Empty(allow.Events);
    }

    [Fact]
    public void A_second_interposer_after_the_library_chains_on_with_RTLD_NEXT()
    {
        using var box = new Sandbox();
        var env = LookupProbe.Env(box);
        env["LD_PRELOAD"] = Machine.Library + ":" + LookupProbe.Interposer.Value;
        // loopback connects (refused: nobody listens on these ports) reach the library's hook, the interposer, libc
        string[] ways = ["direct", "noload", "next", "nextv", "nftw"];
        string[] commands = [.. ways.Select((w, i) => $"{w} connect 127.0.0.1 {i + 1}"),
            $"direct open {box.TmpDir}/direct", $"vsym open {box.TmpDir}/vsym", $"next open {box.TmpDir}/next"];
        foreach (var policy in new[] { LookupProbe.Policy("block"), LookupProbe.Policy("allow") })
        {
            var run = Preloaded.Run(LookupProbe.Exe.Value, commands, box.Policy(policy), env, cwd: box.Dir);
            Assert.True(run.ExitCode == 0, run.ToString());
            var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            for (int i = 0; i < ways.Length; i++)
            {
                // once each, in order: no loop, no call that skipped the interposer
                Assert.True(lines.Count(l => l == $"interposer connect {i + 1}") == 1, run.ToString());
                Assert.Contains($"{commands[i]} => result=-1 errno=111", run.Stdout);
            }
            if (policy.Contains("block"))
            {
                foreach (var c in commands.Skip(ways.Length)) Assert.Contains($"{c} => result=-1 errno=13", run.Stdout);
                Assert.Empty(Directory.GetFiles(box.TmpDir));
                Assert.Equal(3, run.Events.Count);
            }
            else Assert.Empty(run.Events);
        }
    }

    [Fact]
    public void Lookups_of_names_the_library_does_not_hook_are_libc_s_answers()
    {
        using var box = new Sandbox();
        var env = LookupProbe.Env(box);
        string[] commands = ["same getpid", "same strlen", "same pthread_create", "same no_such_symbol_anywhere", "nextdep"];
        var plain = Preloaded.RunPlain(LookupProbe.Exe.Value, commands, env, box.Dir);
        Assert.Contains("same getpid => found=1 default=handle:1 next=handle:1 module_next=handle:1", plain.Stdout);
        Assert.Contains("nextdep => value=42", plain.Stdout);
        foreach (var policy in new[] { LookupProbe.Policy("block"), LookupProbe.Policy("allow") })
        {
            var run = Preloaded.Run(LookupProbe.Exe.Value, commands, box.Policy(policy), env, cwd: box.Dir);
            Assert.Equal(plain.Stdout, run.Stdout);
            Assert.Empty(run.Events);
        }
    }
}
