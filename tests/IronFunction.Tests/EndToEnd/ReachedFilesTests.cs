using IronFunction.Tests.Lambda;

namespace IronFunction.Tests.EndToEnd;

// read_write_tmp on glibc functions that reach files on the caller's behalf through internal calls no public hook
// sees (SPEC §2): posix_spawn's file actions, the program an exec or a spawn runs, fts, glob, dlopen/dlmopen. One C
// probe (probes/reach_probe.c) makes one call; each case runs in block (denied, nothing created, read or listed, one
// event), alert (as without the library, reported) and allow (as without the library, silent).

/// <summary>The probe and the fixture shared by the classes below.</summary>
public static class ReachedFiles
{
    /// <summary>files.symbols names these tests call (TmpCProbeTests' table leaves them to this class).</summary>
    public static readonly string[] Exercised =
        ["fts_open", "fts64_open", "fts_read", "fts64_read", "fts_children", "fts64_children", "glob", "glob64"];

    private static readonly string ProbeDir = Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes");

    public static readonly Lazy<string> Exe = new(() =>
        CProbe.Compile("reach_probe", File.ReadAllText(Path.Combine(ProbeDir, "reach_probe.c"))));

    /// <summary>A program printing "ran": compiled, so that only the exec reads it (a script would be read by its interpreter).</summary>
    public static readonly Lazy<string> Program = new(() =>
        CProbe.Compile("reach_prog", "#include <stdio.h>\nint main(void) { puts(\"ran\"); return 0; }\n"));

    /// <summary>A shared object whose probe_value() is 42.</summary>
    public static readonly Lazy<string> Library = new(() =>
        CProbe.Compile("reach_lib", "int probe_value(void) { return 42; }\n", "-shared -fPIC"));

    public static RunResult Run(string? policy, IEnumerable<string> args, IDictionary<string, string?>? env = null, string? cwd = null)
    {
        var vars = new Dictionary<string, string?>(TmpProbe.Env);
        if (env != null) foreach (var (k, v) in env) vars[k] = v;
        return Preloaded.Run(Exe.Value, args, policy, vars, cwd);
    }

    public static RunResult Plain(IEnumerable<string> args, IDictionary<string, string?>? env = null)
    {
        var vars = new Dictionary<string, string?>(TmpProbe.Env);
        if (env != null) foreach (var (k, v) in env) vars[k] = v;
        return Preloaded.RunPlain(Exe.Value, args, vars);
    }
}

/// <summary>
/// {R} (under /tmp): d/a, d/sub/b, d/libx.so, d/prog (a program printing "ran"); {O} (outside): tree/f and tree/link -> {R}/d.
/// </summary>
public sealed class ReachFixture : IDisposable
{
    public Sandbox Box { get; } = new();
    public string R => Box.TmpDir;
    public string O => Box.Dir;

    public ReachFixture()
    {
        Directory.CreateDirectory(Path.Combine(R, "d", "sub"));
        File.WriteAllText(Path.Combine(R, "d", "a"), "secret a\n");
        File.WriteAllText(Path.Combine(R, "d", "sub", "b"), "b\n");
        File.Copy(ReachedFiles.Library.Value, Path.Combine(R, "d", "libx.so"));
        File.Copy(ReachedFiles.Program.Value, Path.Combine(R, "d", "prog"));
        Directory.CreateDirectory(Path.Combine(O, "tree"));
        File.WriteAllText(Path.Combine(O, "tree", "f"), "f\n");
        File.CreateSymbolicLink(Path.Combine(O, "tree", "link"), Path.Combine(R, "d"));
    }

    /// <summary>Every name under {R}, with its content: what a call created, changed or removed shows here.</summary>
    public string[] Tmp() => Directory.EnumerateFileSystemEntries(R, "*", SearchOption.AllDirectories)
        .Select(p => p[R.Length..] + (File.Exists(p) ? "=" + File.ReadAllText(p) : "/")).Order(StringComparer.Ordinal).ToArray();

    public void Dispose() => Box.Dispose();
}

/// <summary>One call. Blocked: its denied line and the target the event names. Allowed: what its output must show.</summary>
public sealed record ReachCase(string Name, string[] Args, string Blocked, string What, string AllowedShows, string? LibraryPath = null)
{
    public string[] Expand(ReachFixture fx) => Args.Select(a => a.Replace("{R}", fx.R).Replace("{O}", fx.O)).ToArray();

    public Dictionary<string, string?>? Env(ReachFixture fx) =>
        LibraryPath == null ? null : new() { ["LD_LIBRARY_PATH"] = LibraryPath.Replace("{R}", fx.R), ["PATH"] = LibraryPath.Replace("{R}", fx.R) + ":/usr/bin:/bin" };

    public override string ToString() => Name;

    private const string SpawnDenied = "result=13 errno=13 child=-1", Denied = "result=-1 errno=13", DeniedNull = "result=NULL errno=13";

    public static readonly ReachCase[] All =
    [
        new("posix_spawn addopen creates a file", ["spawn_open", "{R}/x", "WRONLY|CREAT|TRUNC"], SpawnDenied, "{R}/x", "child=0"),
        new("posix_spawnp addopen creates a file", ["spawnp_open", "{R}/x", "WRONLY|CREAT|TRUNC"], SpawnDenied, "{R}/x", "child=0"),
        new("posix_spawn addopen appends to a file", ["spawn_open", "{R}/d/a", "WRONLY|APPEND"], SpawnDenied, "{R}/d/a", "child=0"),
        new("posix_spawn addchdir_np then a relative addopen", ["spawn_open", "x", "WRONLY|CREAT|TRUNC", "{R}"], SpawnDenied, "{R}/x", "child=0"),
        new("posix_spawn addchdir_np relative to an earlier one", ["spawn_open", "../x", "WRONLY|CREAT|TRUNC", "{R}/d"], SpawnDenied, "{R}/x", "child=0"),
        new("posix_spawn addfchdir_np then a relative addopen", ["spawn_fchdir_open", "{R}", "x", "WRONLY|CREAT|TRUNC"], SpawnDenied, "{R}/x", "child=0"),
        new("posix_spawn addopen reads a file", ["spawn_read", "{R}/d/a"], SpawnDenied, "{R}/d/a", "secret a"),
        new("posix_spawn of a program in /tmp", ["spawn", "{R}/d/prog"], SpawnDenied, "{R}/d/prog", "ran"),
        new("execv of a program in /tmp", ["execv", "{R}/d/prog"], Denied, "{R}/d/prog", "ran"),
        new("execvp of a program found in /tmp through PATH", ["execvp", "prog"], Denied, "{R}/d/prog", "ran", LibraryPath: "{R}/d"),
        new("fts_open of a /tmp directory", ["fts", "{R}/d"], DeniedNull, "{R}/d", "seen {R}/d/sub/b"),
        new("fts64_open of a /tmp directory", ["fts64", "{R}/d"], DeniedNull, "{R}/d", "seen {R}/d/sub/b"),
        new("fts_read into /tmp through a link (FTS_LOGICAL)", ["fts", "{O}/tree", "LOGICAL"], "result=ptr errno=0 listed=3 unread=1", "{R}/d", "seen {O}/tree/link/sub/b"),
        new("fts64_read into /tmp through a link (FTS_LOGICAL)", ["fts64", "{O}/tree", "LOGICAL"], "result=ptr errno=0 listed=3 unread=1", "{R}/d", "seen {O}/tree/link/sub/b"),
        new("fts_children of a /tmp directory", ["fts_children", "{O}/tree", "LOGICAL"], "result=NULL errno=13 listed=0", "{R}/d", "listed=4"),
        new("fts64_children of a /tmp directory", ["fts64_children", "{O}/tree", "LOGICAL"], "result=NULL errno=13 listed=0", "{R}/d", "listed=4"),
        new("glob of a /tmp directory", ["glob", "{R}/d/*"], "result=3 errno=13 listed=0", "{R}/d", "match {R}/d/a"),
        new("glob with GLOB_ERR", ["glob", "{R}/d/*", "ERR"], "result=2 errno=13 listed=0", "{R}/d", "match {R}/d/a"),
        new("glob64 of a /tmp directory", ["glob64", "{R}/d/*"], "result=3 errno=13 listed=0", "{R}/d", "match {R}/d/a"),
        new("glob with the wildcard in a directory", ["glob", "{R}/*/a"], "result=3 errno=13 listed=0", "{R}", "match {R}/d/a"),
        new("dlopen of a library in /tmp", ["dlopen", "{R}/d/libx.so"], DeniedNull, "{R}/d/libx.so", "value=42"),
        new("dlmopen of a library in /tmp", ["dlmopen", "{R}/d/libx.so"], DeniedNull, "{R}/d/libx.so", "value=42"),
        new("dlopen of a bare name found through LD_LIBRARY_PATH in /tmp", ["dlopen", "libx.so"], DeniedNull, "{R}/d/libx.so", "value=42", LibraryPath: "{R}/d"),
    ];

    public static readonly Dictionary<string, ReachCase> ByName = All.ToDictionary(c => c.Name);
    public static IEnumerable<object[]> Names => All.Select(c => new object[] { c.Name });
}

public class ReachedFilesTests
{
    private static string Line(RunResult run) => TmpProbe.Line(run);

    [Theory]
    [MemberData(nameof(ReachCase.Names), MemberType = typeof(ReachCase))]
    public void Block_denies_changes_nothing_and_reports(string name)
    {
        var c = ReachCase.ByName[name];
        using var fx = new ReachFixture();
        var before = fx.Tmp();

        var run = ReachedFiles.Run(fx.Box.Policy(TmpProbe.BlockPolicy), c.Expand(fx), c.Env(fx));

        Assert.Equal(c.Blocked, Line(run));
        Assert.DoesNotContain(c.AllowedShows.Replace("{R}", fx.R).Replace("{O}", fx.O), run.Stdout);
        TmpProbe.SingleEvent(run, "block", c.What.Replace("{R}", fx.R));
        TmpProbe.StderrIsOnlyEvents(run);
        Assert.Equal(before, fx.Tmp());
    }

    [Theory]
    [MemberData(nameof(ReachCase.Names), MemberType = typeof(ReachCase))]
    public void Alert_works_as_without_the_library_and_reports(string name)
    {
        var c = ReachCase.ByName[name];
        using var fx = new ReachFixture();
        using var reference = new ReachFixture();

        var run = ReachedFiles.Run(fx.Box.Policy(TmpProbe.AlertPolicy), c.Expand(fx), c.Env(fx));
        var plain = ReachedFiles.Plain(c.Expand(reference), c.Env(reference));

        Assert.Equal(Relative(plain.Stdout, reference), Relative(run.Stdout, fx));
        Assert.Contains(c.AllowedShows.Replace("{R}", fx.R).Replace("{O}", fx.O), run.Stdout);
        Assert.Equal(reference.Tmp(), fx.Tmp());
        TmpProbe.StderrIsOnlyEvents(run);
        Assert.NotEmpty(run.Events);
        Assert.All(run.Events, e =>
        {
            Assert.Equal("read_write_tmp", e.Str("event_type"));
            Assert.Equal("alert", e.Str("action"));
            Assert.StartsWith(fx.R, e.Str("what"));
        });
        Assert.Contains(run.Events, e => e.Str("what") == c.What.Replace("{R}", fx.R));
    }

    [Theory]
    [MemberData(nameof(ReachCase.Names), MemberType = typeof(ReachCase))]
    public void Allow_works_as_without_the_library_silently(string name)
    {
        var c = ReachCase.ByName[name];
        using var fx = new ReachFixture();
        using var reference = new ReachFixture();

        var run = ReachedFiles.Run(fx.Box.Policy(TmpProbe.AllowPolicy), c.Expand(fx), c.Env(fx));
        var plain = ReachedFiles.Plain(c.Expand(reference), c.Env(reference));

        Assert.Equal(Relative(plain.Stdout, reference), Relative(run.Stdout, fx));
        Assert.Equal(reference.Tmp(), fx.Tmp());
        Assert.Empty(run.Events);
        Assert.True(run.Stderr.Length == 0, run.ToString());
    }

    /// <summary>Output with the fixture's own places masked, comparable across two fixtures.</summary>
    private static string Relative(string stdout, ReachFixture fx) => stdout.Replace(fx.R, "{R}").Replace(fx.O, "{O}");

    [Fact]
    public void A_file_action_outside_tmp_is_left_alone()
    {
        using var fx = new ReachFixture();
        var target = Path.Combine(fx.O, "out");
        var run = ReachedFiles.Run(fx.Box.Policy(TmpProbe.BlockPolicy), ["spawn_open", target, "WRONLY|CREAT|TRUNC"]);
        Assert.Equal("result=0 errno=0 child=0", Line(run));
        Assert.Equal("written\n", File.ReadAllText(target));
        Assert.Empty(run.Events);
    }

    [Fact]
    public void A_spawn_file_action_reading_the_handler_is_a_read_of_its_source()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var run = Preloaded.Run(ReachedFiles.Exe.Value, ["spawn_read", "app.py"], box.Policy(HandlerRuns.Block), root.Env(), cwd: root.Dir);
        Assert.Equal("result=13 errno=13 child=-1", Line(run));
        Assert.DoesNotContain("secret logic", run.Stdout);
        var e = Assert.Single(run.Events);
        Assert.Equal("read_handler", e.Str("event_type"));
        Assert.Equal(root.Handler, e.Str("what"));
    }

    [Fact]
    public void A_dlopen_from_the_task_root_is_not_a_read_of_the_handler()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        File.Copy(ReachedFiles.Library.Value, Path.Combine(root.Dir, "libdep.so"));
        var run = Preloaded.Run(ReachedFiles.Exe.Value, ["dlopen", Path.Combine(root.Dir, "libdep.so")], box.Policy(HandlerRuns.Block), root.Env(), cwd: root.Dir);
        Assert.Equal("result=ptr errno=0 value=42", Line(run));
        Assert.Empty(run.Events);
    }
}

/// <summary>The same gaps through CPython: os.posix_spawn's file actions, ctypes' dlopen, and libc's glob through ctypes.</summary>
public class ReachedFilesPythonTests
{
    private const string Script = """
        import ctypes, os, sys
        op, arg = sys.argv[1], sys.argv[2]
        try:
            if op == "spawn":
                pid = os.posix_spawn("/bin/echo", ["echo", "written"], os.environ,
                                     file_actions=[(os.POSIX_SPAWN_OPEN, 1, arg, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)])
                print("ok", os.waitpid(pid, 0)[1])
            elif op == "dlopen":
                print("ok", ctypes.CDLL(arg).probe_value())
            elif op == "glob":
                libc = ctypes.CDLL(None, use_errno=True)
                buf = ctypes.create_string_buffer(256)
                r = libc.glob(arg.encode(), 0, None, buf)
                count = ctypes.c_size_t.from_buffer(buf).value if r == 0 else 0
                print("ok" if r == 0 else "failed", r, count)
        except OSError as e:
            print("denied", e.errno)
        """;

    public static TheoryData<string, string, string, string> Cases() => new()
    {
        // op, argument, what block prints, what alert and allow print
        { "spawn", "{R}/x", "denied 13", "ok 0" },
        { "dlopen", "{R}/d/libx.so", "denied None", "ok 42" },
        { "glob", "{R}/d/*", "failed 3 0", "ok 0 4" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Block_alert_allow(string op, string argument, string blocked, string allowed)
    {
        foreach (var (policy, action) in new[] { (TmpProbe.BlockPolicy, "block"), (TmpProbe.AlertPolicy, "alert"), (TmpProbe.AllowPolicy, "") })
        {
            using var fx = new ReachFixture();
            var before = fx.Tmp();
            var script = fx.Box.File("reach.py", Script);
            var run = Preloaded.Run(Machine.Python.Value, [script, op, argument.Replace("{R}", fx.R)], fx.Box.Policy(policy), TmpProbe.Env);
            string expected = action == "block" ? blocked : allowed;
            Assert.True(run.Stdout.Trim() == expected, $"{action}: expected {expected}\n{run}");
            if (action == "") Assert.Empty(run.Events);
            else Assert.Contains(run.Events, e => e.Str("event_type") == "read_write_tmp" && e.Str("action") == action && e.Str("what").StartsWith(fx.R, StringComparison.Ordinal));
            if (action == "block")
            {
                Assert.Equal(before, fx.Tmp());
                Assert.DoesNotContain(run.Events, e => e.Str("action") != "block");
            }
            else if (op == "spawn") Assert.Equal("written\n", File.ReadAllText(Path.Combine(fx.R, "x")));
        }
    }
}
