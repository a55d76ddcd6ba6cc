using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace IronFunction.Tests.EndToEnd;

// End-to-end tests of read_write_tmp (SPEC §2, §6, §7) inside real runtimes: CPython, Node.js, bash and the
// programs it starts, a JVM and CoreCLR. Each runtime runs a script (written into the sandbox at test time)
// that tries one operation per case and prints one line per case ("case=<name> ok ..." or the error it got);
// the test asserts each case's line, the events on stderr (matched by "what"), and the disk afterwards,
// read by this unpreloaded test process. Alert and allow runs are compared with a run without the library
// in a sandbox prepared the same way; the scripts print <T> and <D> for the sandbox's two directories so
// that the outputs of different sandboxes compare equal.

/// <summary>A [Fact] that is skipped, with the reason, when a program is not on PATH.</summary>
public sealed class FactWhenProgramOnPathAttribute : FactAttribute
{
    public FactWhenProgramOnPathAttribute(string program)
    {
        if (!RuntimeRuns.OnPath(program)) Skip = $"{program} is not on PATH on this machine";
    }
}

/// <summary>One expected report: the case that causes it and the "what" it names.</summary>
/// <param name="Times">How many events name it in block mode; null: at least one (a program may retry another way).</param>
/// <param name="BlockOnly">Only block mode causes it (a fallback that runs because the first attempt was denied).</param>
public sealed record ExpectedEvent(string Case, string What, Func<string, bool> Matches, int? Times = 1, bool BlockOnly = false)
{
    public static ExpectedEvent Exact(string @case, string what, int? times = 1, bool blockOnly = false) =>
        new(@case, what, w => w == what, times, blockOnly);

    public static ExpectedEvent Prefix(string @case, string prefix, int? times = 1, bool blockOnly = false) =>
        new(@case, prefix + "*", w => w.StartsWith(prefix, StringComparison.Ordinal), times, blockOnly);

    public static ExpectedEvent AnyOf(string @case, params string[] whats) =>
        new(@case, string.Join(" or ", whats), whats.Contains);

    public override string ToString() => $"{Case}: {What}";
}

/// <summary>What the runtime tests share: policies, environment, the per-case output, events and disk state.</summary>
[SupportedOSPlatform("linux")]
public static class RuntimeRuns
{
    public const string Block = """{"read_write_tmp":"block"}""";
    public const string Alert = """{"read_write_tmp":"alert"}""";
    public const string Allow = """{"read_write_tmp":"allow"}""";

    /// <summary>
    /// $TMPDIR would add a temporary root (SPEC §2) and would move tempfile/os.tmpdir/bash here-documents:
    /// every run leaves the variables unset so that only /tmp is the temporary directory.
    /// </summary>
    public static Dictionary<string, string?> Env(params (string Key, string? Value)[] extra)
    {
        var env = new Dictionary<string, string?> { ["TMPDIR"] = null, ["TMP"] = null, ["TEMP"] = null };
        foreach (var (k, v) in extra) env[k] = v;
        return env;
    }

    public static bool OnPath(string program)
    {
        try { Machine.Which(program); return true; }
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>The "case=NAME rest" lines of a run, by name; every name must appear once.</summary>
    public static Dictionary<string, string> Cases(RunResult run)
    {
        var cases = new Dictionary<string, string>();
        foreach (var line in run.Stdout.Split('\n'))
        {
            var m = Regex.Match(line, @"^case=(\S+) ?(.*)$");
            if (!m.Success) continue;
            Assert.False(cases.ContainsKey(m.Groups[1].Value), $"case {m.Groups[1].Value} printed twice:\n{run}");
            cases[m.Groups[1].Value] = m.Groups[2].Value;
        }
        return cases;
    }

    public static string Case(Dictionary<string, string> cases, string name, RunResult run)
    {
        Assert.True(cases.TryGetValue(name, out var line), $"the script printed no line for case {name}:\n{run}");
        return line!;
    }

    /// <summary>stderr holds event lines and nothing else: no diagnostics, no warning, no crash report.</summary>
    public static void StderrIsOnlyEvents(RunResult run)
    {
        foreach (var line in run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Assert.True(line.StartsWith("{\"aws_function_info\"", StringComparison.Ordinal), $"unexpected stderr line: {line}\n{run}");
        Assert.Empty(run.Diagnostics);
    }

    /// <summary>
    /// Every event is a read_write_tmp event of <paramref name="action"/> in the seed schema. Each expected
    /// report is there (block: exactly Times times; alert: at least once). <paramref name="exhaustive"/>:
    /// no event names anything that was not expected.
    /// </summary>
    public static void AssertEvents(RunResult run, string action, IReadOnlyList<ExpectedEvent> expected, bool exhaustive)
    {
        foreach (var e in run.Events)
        {
            EventAssert.HasSeedSchema(e);
            Assert.Equal("read_write_tmp", e.Str("event_type"));
            Assert.Equal(action, e.Str("action"));
            Assert.True(e.Str("what") == "/tmp" || e.Str("what").StartsWith("/tmp/", StringComparison.Ordinal),
                $"an event names a path outside /tmp: {e}");
        }
        var whats = run.Events.Select(e => e.Str("what")).ToList();
        var all = string.Join("\n  ", whats);
        foreach (var x in expected)
        {
            if (action == "block" || !x.BlockOnly)
            {
                int n = whats.Count(x.Matches);
                if (action == "block" && x.Times is int times)
                    Assert.True(n == times, $"case {x.Case}: expected {times} {action} event(s) naming {x.What}, got {n}; events:\n  {all}");
                else
                    Assert.True(n >= 1, $"case {x.Case}: expected a {action} event naming {x.What}; events:\n  {all}");
            }
        }
        if (exhaustive)
            foreach (var w in whats)
                Assert.True(expected.Any(x => x.Matches(w)), $"unexpected event naming {w}; events:\n  {all}");
    }

    /// <summary>
    /// A description of every entry under <paramref name="root"/> (type, mode, size, content hash, link
    /// target; with <paramref name="times"/> also the modification time), without following links.
    /// Paths inside the sandbox are written as &lt;T&gt; and &lt;D&gt; so that two sandboxes compare.
    /// The sandbox's policy files are left out.
    /// </summary>
    public static SortedDictionary<string, string> Disk(string root, Sandbox box, bool times)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        string Norm(string s) => s.Replace(box.TmpDir, "<T>").Replace(box.Dir, "<D>");
        void Walk(string dir)
        {
            foreach (var path in Directory.EnumerateFileSystemEntries(dir))
            {
                var name = Path.GetFileName(path);
                if (name.StartsWith("policy-", StringComparison.Ordinal) && name.EndsWith(".json", StringComparison.Ordinal)) continue;
                var rel = Path.GetRelativePath(root, path);
                var info = new FileInfo(path);
                var stamp = times ? $" mtime={info.LastWriteTimeUtc.Ticks}" : "";
                if (info.LinkTarget is { } target)
                    result[rel] = "link -> " + Norm(target);
                else if (Directory.Exists(path))
                {
                    result[rel] = $"dir mode={File.GetUnixFileMode(path)}{stamp}";
                    Walk(path);
                }
                else if (File.Exists(path))
                {
                    var hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)))[..16];
                    result[rel] = $"file mode={File.GetUnixFileMode(path)} size={info.Length} sha={hash}{stamp}";
                }
                else result[rel] = "other";
            }
        }
        Walk(root);
        return result;
    }

    /// <summary>Writes a file and gives it a fixed past time, so that a change of time shows.</summary>
    public static void Fixture(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        File.SetLastWriteTimeUtc(path, DateTime.UnixEpoch.AddSeconds(1_500_000_000));
    }
}

[SupportedOSPlatform("linux")]
public class TmpRuntimeTests
{
    // ------------------------------------------------------------------------------------------------
    // CPython
    // ------------------------------------------------------------------------------------------------

    private const string PythonScript = """"
        import json, os, pathlib, shutil, sys, tempfile

        T, D = sys.argv[1], sys.argv[2]  # the sandbox's directory under /tmp, and its directory outside /tmp

        def show(value):
            return json.dumps(str(value).replace(T, "<T>").replace(D, "<D>"))

        def case(name, fn):
            try:
                detail = fn()
                print(f"case={name} ok" + ("" if detail is None else " " + show(detail)), flush=True)
            except OSError as e:
                print(f"case={name} errno={e.errno} {type(e).__name__}", flush=True)
            except Exception as e:
                print(f"case={name} exception {type(e).__name__}: {show(e)}", flush=True)

        def write(path):
            with open(path, "w") as f:
                f.write("new")

        def read(path):
            with open(path) as f:
                return f.read()

        def os_open_creat():
            os.close(os.open(T + "/new_os_open", os.O_CREAT | os.O_WRONLY, 0o600))

        def os_open_dirfd():
            # opening /tmp itself would be denied: the directory fd is "/" and the path "tmp/..."
            root = os.open("/", os.O_RDONLY)
            try:
                os.close(os.open(T.lstrip("/") + "/new_dirfd", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=root))
            finally:
                os.close(root)

        def scandir():
            with os.scandir(T + "/dir_scan") as entries:
                return ",".join(sorted(e.name for e in entries))

        def chdir_relative():
            old = os.getcwd()
            os.chdir("/tmp")
            try:
                write(os.path.relpath(T + "/new_chdir", "/tmp"))
            finally:
                os.chdir(old)

        def mkstemp(dir, prefix="tmp"):
            fd, name = tempfile.mkstemp(dir=dir, prefix=prefix)
            os.close(fd)
            os.unlink(name)
            return "dir=" + os.path.dirname(name)

        def mkdtemp(dir, prefix="tmp"):
            name = tempfile.mkdtemp(dir=dir, prefix=prefix)
            os.rmdir(name)
            return "dir=" + os.path.dirname(name)

        def temporary_file(dir, prefix="tmp"):
            with tempfile.TemporaryFile(dir=dir, prefix=prefix) as f:
                f.write(b"x")

        def named_temporary_file(dir, prefix="tmp"):
            with tempfile.NamedTemporaryFile(dir=dir, prefix=prefix) as f:
                f.write(b"x")
                return "dir=" + os.path.dirname(f.name)

        def gettempdir_write():
            name = os.path.join(tempfile.gettempdir(), "iron-function-gettempdir-%d" % os.getpid())
            write(name)
            os.unlink(name)
            return "dir=" + os.path.dirname(name)

        case("open_w", lambda: write(T + "/new_open_w"))
        case("open_r", lambda: read(T + "/existing_open_r"))
        case("os_open_creat", os_open_creat)
        case("os_open_dirfd", os_open_dirfd)
        case("pathlib_write", lambda: pathlib.Path(T + "/new_pathlib").write_text("new"))
        case("pathlib_read", lambda: pathlib.Path(T + "/existing_pathlib_r").read_text())
        case("listdir_tmp", lambda: os.listdir("/tmp") and None)
        case("listdir", lambda: ",".join(sorted(os.listdir(T + "/dir_list"))))
        case("scandir", scandir)
        case("mkdir", lambda: os.mkdir(T + "/new_dir"))
        case("remove", lambda: os.remove(T + "/victim_remove"))
        case("unlink", lambda: os.unlink(T + "/victim_unlink"))
        case("rmdir", lambda: os.rmdir(T + "/victim_dir"))
        case("rename_into", lambda: os.rename(D + "/outside_mv", T + "/new_renamed_in"))
        case("rename_out", lambda: os.rename(T + "/existing_mv", D + "/renamed_out"))
        case("rename_within", lambda: os.rename(T + "/existing_rename", T + "/new_renamed"))
        case("symlink", lambda: os.symlink(D + "/outside_src", T + "/new_symlink"))
        case("link", lambda: os.link(T + "/existing_link", T + "/new_hardlink"))
        case("link_out", lambda: os.link(T + "/existing_link_out", D + "/hardlink_out"))
        case("chmod", lambda: os.chmod(T + "/existing_chmod", 0o600))
        case("utime", lambda: os.utime(T + "/existing_utime", (0, 0)))
        case("truncate", lambda: os.truncate(T + "/existing_truncate", 0))
        case("shutil_copy", lambda: shutil.copy(D + "/outside_src", T + "/new_copy"))
        case("mkstemp_dir", lambda: mkstemp(T, "mkstemp_"))
        case("mkdtemp_dir", lambda: mkdtemp(T, "mkdtemp_"))
        case("temporaryfile_dir", lambda: temporary_file(T, "tf_"))
        case("namedtemporaryfile_dir", lambda: named_temporary_file(T, "ntf_"))
        case("chdir_relative", chdir_relative)
        case("via_link_read", lambda: read(D + "/link_to_tmp_file"))
        case("via_link_write", lambda: write(D + "/link_to_tmp_dir/new_via_link"))
        case("dotdot", lambda: write(D + "/../../../../../.." + T + "/new_dotdot"))
        # the default temporary directory, chosen once by tempfile on first use
        case("gettempdir", lambda: "dir=" + tempfile.gettempdir())
        case("gettempdir_write", gettempdir_write)
        case("mkstemp", lambda: mkstemp(None))
        case("mkdtemp", lambda: mkdtemp(None))
        case("temporaryfile", lambda: temporary_file(None))
        case("namedtemporaryfile", lambda: named_temporary_file(None))
        case("outside", lambda: write(D + "/outside_new") or read(D + "/outside_new"))
        """";

    /// <summary>The cases that touch /tmp explicitly; in block mode each prints "errno=13 PermissionError".</summary>
    private static readonly string[] PythonDeniedCases =
    [
        "open_w", "open_r", "os_open_creat", "os_open_dirfd", "pathlib_write", "pathlib_read", "listdir_tmp", "listdir",
        "scandir", "mkdir", "remove", "unlink", "rmdir", "rename_into", "rename_out", "rename_within", "symlink", "link",
        "link_out", "chmod", "utime", "truncate", "shutil_copy", "mkstemp_dir", "mkdtemp_dir", "temporaryfile_dir",
        "namedtemporaryfile_dir", "chdir_relative", "via_link_read", "via_link_write", "dotdot",
    ];

    private static List<ExpectedEvent> PythonEvents(string t) =>
    [
        ExpectedEvent.Exact("open_w", t + "/new_open_w"),
        ExpectedEvent.Exact("open_r", t + "/existing_open_r"),
        ExpectedEvent.Exact("os_open_creat", t + "/new_os_open"),
        ExpectedEvent.Exact("os_open_dirfd", t + "/new_dirfd"),
        ExpectedEvent.Exact("pathlib_write", t + "/new_pathlib"),
        ExpectedEvent.Exact("pathlib_read", t + "/existing_pathlib_r"),
        ExpectedEvent.Exact("listdir_tmp", "/tmp"),
        ExpectedEvent.Exact("listdir", t + "/dir_list"),
        ExpectedEvent.Exact("scandir", t + "/dir_scan"),
        ExpectedEvent.Exact("mkdir", t + "/new_dir"),
        ExpectedEvent.Exact("remove", t + "/victim_remove"),
        ExpectedEvent.Exact("unlink", t + "/victim_unlink"),
        ExpectedEvent.Exact("rmdir", t + "/victim_dir"),
        ExpectedEvent.Exact("rename_into", t + "/new_renamed_in"),
        ExpectedEvent.Exact("rename_out", t + "/existing_mv"),
        ExpectedEvent.AnyOf("rename_within", t + "/existing_rename", t + "/new_renamed"),
        ExpectedEvent.Exact("symlink", t + "/new_symlink"),
        ExpectedEvent.AnyOf("link", t + "/existing_link", t + "/new_hardlink"),
        ExpectedEvent.Exact("link_out", t + "/existing_link_out"),
        ExpectedEvent.Exact("chmod", t + "/existing_chmod"),
        ExpectedEvent.Exact("utime", t + "/existing_utime"),
        ExpectedEvent.Exact("truncate", t + "/existing_truncate"),
        ExpectedEvent.Exact("shutil_copy", t + "/new_copy"),
        ExpectedEvent.Prefix("mkstemp_dir", t + "/mkstemp_"),
        ExpectedEvent.Prefix("mkdtemp_dir", t + "/mkdtemp_"),
        // TemporaryFile first opens the directory itself with O_TMPFILE; when that fails with an OSError
        // it falls back to mkstemp in the same directory, which is denied too and raised
        ExpectedEvent.Exact("temporaryfile_dir", t),
        ExpectedEvent.Prefix("temporaryfile_dir", t + "/tf_", blockOnly: true),
        ExpectedEvent.Prefix("namedtemporaryfile_dir", t + "/ntf_"),
        ExpectedEvent.Exact("chdir_relative", t + "/new_chdir"),
        ExpectedEvent.Exact("via_link_read", t + "/via_link_target"),
        ExpectedEvent.Exact("via_link_write", t + "/new_via_link"),
        ExpectedEvent.Exact("dotdot", t + "/new_dotdot"),
        // tempfile._get_default_tempdir tries one random name per candidate directory: /tmp/<8 chars>
        new ExpectedEvent("gettempdir", "/tmp/<8 random characters>", w => Regex.IsMatch(w, "^/tmp/[a-z0-9_]{8}$")),
    ];

    private static void PythonFixtures(Sandbox box)
    {
        string t = box.TmpDir, d = box.Dir;
        foreach (var name in new[]
                 {
                     "existing_open_r", "existing_pathlib_r", "victim_remove", "victim_unlink", "existing_mv", "existing_rename",
                     "existing_link", "existing_link_out", "existing_chmod", "existing_utime", "existing_truncate", "via_link_target",
                 })
            RuntimeRuns.Fixture(Path.Combine(t, name), $"content of {name}\n");
        File.SetUnixFileMode(Path.Combine(t, "existing_chmod"),
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        RuntimeRuns.Fixture(Path.Combine(t, "dir_list", "a"), "");
        RuntimeRuns.Fixture(Path.Combine(t, "dir_list", "b"), "");
        RuntimeRuns.Fixture(Path.Combine(t, "dir_scan", "c"), "");
        Directory.CreateDirectory(Path.Combine(t, "victim_dir"));
        RuntimeRuns.Fixture(Path.Combine(d, "outside_mv"), "outside\n");
        RuntimeRuns.Fixture(Path.Combine(d, "outside_src"), "source\n");
        // links outside /tmp that lead into it
        File.CreateSymbolicLink(Path.Combine(d, "link_to_tmp_file"), Path.Combine(t, "via_link_target"));
        Directory.CreateSymbolicLink(Path.Combine(d, "link_to_tmp_dir"), t);
        box.File("probe.py", PythonScript);
    }

    private static RunResult RunPython(Sandbox box, string? policyJson)
    {
        var args = new[] { Path.Combine(box.Dir, "probe.py"), box.TmpDir, box.Dir };
        return policyJson == null
            ? Preloaded.RunPlain(Machine.Python.Value, args, RuntimeRuns.Env(), box.Dir)
            : Preloaded.Run(Machine.Python.Value, args, box.Policy(policyJson), RuntimeRuns.Env(), box.Dir);
    }

    /// <summary>
    /// Where tempfile.gettempdir() lands when every name under /tmp is denied: its candidates after /tmp
    /// are /var/tmp, /usr/tmp and the working directory, the first where it can create a file. With none,
    /// tempfile raises FileNotFoundError "No usable temporary directory found" (as in Lambda, where only
    /// /tmp is writable); null here.
    /// </summary>
    private static string? DefaultTempDirWithoutTmp(string cwd)
    {
        foreach (var dir in new[] { "/var/tmp", "/usr/tmp", cwd })
        {
            if (!Directory.Exists(dir)) continue;
            try
            {
                using (File.Create(Path.Combine(dir, "iron-tempdir-probe-" + Guid.NewGuid().ToString("N")), 1, FileOptions.DeleteOnClose)) { }
                return dir;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return null;
    }

    [Fact]
    public void Python_block_denies_every_tmp_operation_with_PermissionError_reports_it_and_leaves_the_disk_unchanged()
    {
        using var box = new Sandbox();
        PythonFixtures(box);
        var tmpBefore = RuntimeRuns.Disk(box.TmpDir, box, times: true);
        var dirBefore = RuntimeRuns.Disk(box.Dir, box, times: true);

        var run = RunPython(box, RuntimeRuns.Block);

        Assert.True(run.ExitCode == 0, run.ToString());
        RuntimeRuns.StderrIsOnlyEvents(run);
        var cases = RuntimeRuns.Cases(run);
        foreach (var name in PythonDeniedCases)
            Assert.True(RuntimeRuns.Case(cases, name, run) == "errno=13 PermissionError", $"case {name}: {cases[name]}\n{run}");

        // With every name under /tmp denied, tempfile does not fail here: _get_default_tempdir's probe of
        // /tmp gets PermissionError, which makes it try the next candidate, and /var/tmp (not covered by
        // read_write_tmp, SPEC §2) is writable on this machine. In Lambda, where nothing but /tmp is
        // writable, it would raise FileNotFoundError("No usable temporary directory found ...").
        var fallback = DefaultTempDirWithoutTmp(box.Dir);
        if (fallback != null)
        {
            var shown = JsonSerializer.Serialize("dir=" + fallback.Replace(box.Dir, "<D>"));
            foreach (var name in new[] { "gettempdir", "gettempdir_write", "mkstemp", "mkdtemp", "namedtemporaryfile" })
                Assert.True(RuntimeRuns.Case(cases, name, run) == "ok " + shown, $"case {name}: {cases[name]}\n{run}");
            Assert.Equal("ok", RuntimeRuns.Case(cases, "temporaryfile", run));
        }
        else
        {
            foreach (var name in new[] { "gettempdir", "gettempdir_write", "mkstemp", "mkdtemp", "temporaryfile", "namedtemporaryfile" })
                Assert.StartsWith("exception FileNotFoundError", RuntimeRuns.Case(cases, name, run));
        }
        Assert.Equal("ok \"new\"", RuntimeRuns.Case(cases, "outside", run));

        // one block event per denied call, and none for anything else
        RuntimeRuns.AssertEvents(run, "block", PythonEvents(box.TmpDir), exhaustive: true);

        // nothing under /tmp changed: no file made, read times aside nothing touched, modes and times kept
        Assert.Equal(tmpBefore, RuntimeRuns.Disk(box.TmpDir, box, times: true));
        var dirAfter = RuntimeRuns.Disk(box.Dir, box, times: true);
        Assert.True(dirAfter.Remove("outside_new"), "the write outside /tmp did not happen");
        Assert.Equal(dirBefore, dirAfter);
    }

    [Fact]
    public void Python_alert_lets_every_operation_through_as_without_the_library_and_reports_it()
    {
        using var plainBox = new Sandbox();
        using var box = new Sandbox();
        PythonFixtures(plainBox);
        PythonFixtures(box);

        var plain = RunPython(plainBox, null);
        var alert = RunPython(box, RuntimeRuns.Alert);

        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.DoesNotContain("errno=", plain.Stdout); // every case works without the library
        Assert.Equal(PythonDeniedCases.Length + 7, RuntimeRuns.Cases(plain).Count);
        Assert.True(alert.ExitCode == 0, alert.ToString());
        Assert.Equal(plain.Stdout, alert.Stdout);
        RuntimeRuns.StderrIsOnlyEvents(alert);
        RuntimeRuns.AssertEvents(alert, "alert", PythonEvents(box.TmpDir), exhaustive: false);
        Assert.Equal(RuntimeRuns.Disk(plainBox.TmpDir, plainBox, times: false), RuntimeRuns.Disk(box.TmpDir, box, times: false));
        Assert.Equal(RuntimeRuns.Disk(plainBox.Dir, plainBox, times: false), RuntimeRuns.Disk(box.Dir, box, times: false));
    }

    [Fact]
    public void Python_allow_is_silent_and_behaves_as_without_the_library()
    {
        using var plainBox = new Sandbox();
        using var box = new Sandbox();
        PythonFixtures(plainBox);
        PythonFixtures(box);

        var plain = RunPython(plainBox, null);
        var allow = RunPython(box, RuntimeRuns.Allow);

        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.DoesNotContain("errno=", plain.Stdout);
        Assert.Equal(plain.ExitCode, allow.ExitCode);
        Assert.Equal(plain.Stdout, allow.Stdout);
        Assert.Equal(plain.Stderr, allow.Stderr);
        Assert.Empty(allow.Events);
        Assert.Empty(allow.Diagnostics);
        Assert.Equal(RuntimeRuns.Disk(plainBox.TmpDir, plainBox, times: false), RuntimeRuns.Disk(box.TmpDir, box, times: false));
        Assert.Equal(RuntimeRuns.Disk(plainBox.Dir, plainBox, times: false), RuntimeRuns.Disk(box.Dir, box, times: false));
    }

    /// <summary>
    /// bind() of an AF_UNIX socket creates a file (a socket inode) at its path; SPEC §2 covers every entry
    /// point that creates a file under /tmp (mknod/mkfifo, which can make the same kind of inode, are judged).
    /// </summary>
    [Fact]
    public void Python_block_denies_binding_a_unix_socket_under_tmp()
    {
        using var box = new Sandbox();
        var socketPath = Path.Combine(box.TmpDir, "sock");
        box.File("bind.py", """
            import socket, sys
            s = socket.socket(socket.AF_UNIX)
            try:
                s.bind(sys.argv[1])
                print("bound")
            except OSError as e:
                print("errno=%d" % e.errno)
            """);
        var run = Preloaded.Run(Machine.Python.Value, [Path.Combine(box.Dir, "bind.py"), socketPath],
            box.Policy(RuntimeRuns.Block), RuntimeRuns.Env(), box.Dir);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("errno=13", run.Stdout.Trim());
        Assert.False(File.Exists(socketPath) || Directory.Exists(socketPath) || new FileInfo(socketPath).Exists);
        RuntimeRuns.AssertEvents(run, "block", [ExpectedEvent.Exact("bind", socketPath)], exhaustive: true);
    }

    // ------------------------------------------------------------------------------------------------
    // Node.js
    // ------------------------------------------------------------------------------------------------

    private const string NodeScript = """"
        const fs = require("fs"), os = require("os"), path = require("path");
        const [T, D] = process.argv.slice(2);
        const show = (v) => (v === undefined ? "" : " " + JSON.stringify(String(v).split(T).join("<T>").split(D).join("<D>")));
        const report = (name, err, detail) =>
          console.log(err ? `case=${name} error=${err.code} errno=${err.errno}` : `case=${name} ok${show(detail)}`);
        function sync(name, fn) {
          let detail;
          try { detail = fn(); } catch (e) { return report(name, e); }
          report(name, null, detail);
        }
        function callback(name, start) {
          return new Promise((resolve) => {
            let reported = false;
            start((err, detail) => {
              if (reported) return;
              reported = true;
              report(name, err, detail);
              resolve();
            });
          });
        }
        async function promise(name, fn) {
          let detail;
          try { detail = await fn(); } catch (e) { return report(name, e); }
          report(name, null, detail);
        }
        function mkdtemp() {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iron-mkdtemp-"));
          fs.rmdirSync(dir);
          return path.dirname(dir);
        }

        (async () => {
          sync("writeFileSync", () => fs.writeFileSync(T + "/new_writeFileSync", "new"));
          sync("readFileSync", () => fs.readFileSync(T + "/existing_readFileSync", "utf8"));
          sync("openSync", () => fs.closeSync(fs.openSync(T + "/new_openSync", "w")));
          sync("mkdirSync", () => fs.mkdirSync(T + "/new_mkdirSync"));
          sync("readdirSync", () => fs.readdirSync(T + "/dir_readdirSync").sort().join(","));
          sync("rmSync", () => fs.rmSync(T + "/victim_rmSync"));
          sync("renameSync", () => fs.renameSync(T + "/existing_renameSync", T + "/new_renamed"));
          sync("symlinkSync", () => fs.symlinkSync(D + "/outside_src", T + "/new_symlinkSync"));
          sync("mkdtempSync", mkdtemp);
          sync("copyFileSync", () => fs.copyFileSync(D + "/outside_src", T + "/new_copyFileSync"));
          // the asynchronous forms run on libuv's thread pool (or io_uring, when libuv uses it)
          await callback("open", (cb) => fs.open(T + "/new_open", "w", (err, fd) => (err ? cb(err) : fs.close(fd, cb))));
          await callback("writeFile", (cb) => fs.writeFile(T + "/new_writeFile", "new", cb));
          await callback("readFile", (cb) => fs.readFile(T + "/existing_readFile", "utf8", cb));
          await promise("promises_writeFile", () => fs.promises.writeFile(T + "/new_promises_writeFile", "new"));
          await promise("promises_readFile", () => fs.promises.readFile(T + "/existing_promises_readFile", "utf8"));
          await callback("createWriteStream", (cb) => {
            const stream = fs.createWriteStream(T + "/new_createWriteStream");
            stream.on("error", cb);
            stream.on("close", () => cb(null));
            stream.end("new");
          });
          sync("outside", () => { fs.writeFileSync(D + "/outside_new", "new"); return fs.readFileSync(D + "/outside_new", "utf8"); });
        })();
        """";

    private static readonly string[] NodeSyncCases =
        ["writeFileSync", "readFileSync", "openSync", "mkdirSync", "readdirSync", "rmSync", "renameSync", "symlinkSync", "mkdtempSync", "copyFileSync"];

    private static readonly string[] NodeAsyncCases =
        ["open", "writeFile", "readFile", "promises_writeFile", "promises_readFile", "createWriteStream"];

    private static List<ExpectedEvent> NodeEvents(string t, IEnumerable<string> cases)
    {
        var all = new List<ExpectedEvent>
        {
            ExpectedEvent.Exact("writeFileSync", t + "/new_writeFileSync"),
            ExpectedEvent.Exact("readFileSync", t + "/existing_readFileSync"),
            ExpectedEvent.Exact("openSync", t + "/new_openSync"),
            ExpectedEvent.Exact("mkdirSync", t + "/new_mkdirSync"),
            ExpectedEvent.Exact("readdirSync", t + "/dir_readdirSync"),
            ExpectedEvent.Exact("rmSync", t + "/victim_rmSync"),
            ExpectedEvent.AnyOf("renameSync", t + "/existing_renameSync", t + "/new_renamed"),
            ExpectedEvent.Exact("symlinkSync", t + "/new_symlinkSync"),
            // mkdtemp is judged by its template (os.tmpdir() is /tmp with TMPDIR unset)
            ExpectedEvent.Prefix("mkdtempSync", "/tmp/iron-mkdtemp-"),
            ExpectedEvent.Exact("copyFileSync", t + "/new_copyFileSync"),
            ExpectedEvent.Exact("open", t + "/new_open"),
            ExpectedEvent.Exact("writeFile", t + "/new_writeFile"),
            ExpectedEvent.Exact("readFile", t + "/existing_readFile"),
            ExpectedEvent.Exact("promises_writeFile", t + "/new_promises_writeFile"),
            ExpectedEvent.Exact("promises_readFile", t + "/existing_promises_readFile"),
            ExpectedEvent.Exact("createWriteStream", t + "/new_createWriteStream"),
        };
        var wanted = cases.ToHashSet();
        return all.Where(e => wanted.Contains(e.Case)).ToList();
    }

    private static void NodeFixtures(Sandbox box)
    {
        foreach (var name in new[] { "existing_readFileSync", "victim_rmSync", "existing_renameSync", "existing_readFile", "existing_promises_readFile" })
            RuntimeRuns.Fixture(Path.Combine(box.TmpDir, name), $"content of {name}\n");
        RuntimeRuns.Fixture(Path.Combine(box.TmpDir, "dir_readdirSync", "a"), "");
        RuntimeRuns.Fixture(Path.Combine(box.TmpDir, "dir_readdirSync", "b"), "");
        RuntimeRuns.Fixture(Path.Combine(box.Dir, "outside_src"), "source\n");
        box.File("probe.js", NodeScript);
    }

    private static RunResult RunNode(Sandbox box, string? policyJson, params (string, string?)[] env)
    {
        var args = new[] { Path.Combine(box.Dir, "probe.js"), box.TmpDir, box.Dir };
        return policyJson == null
            ? Preloaded.RunPlain(Machine.Node.Value, args, RuntimeRuns.Env(env), box.Dir)
            : Preloaded.Run(Machine.Node.Value, args, box.Policy(policyJson), RuntimeRuns.Env(env), box.Dir);
    }

    private static void AssertNodeBlocked(Sandbox box, RunResult run, string[] cases, SortedDictionary<string, string> tmpBefore)
    {
        Assert.True(run.ExitCode == 0, run.ToString());
        RuntimeRuns.StderrIsOnlyEvents(run);
        var lines = RuntimeRuns.Cases(run);
        foreach (var name in cases)
            Assert.True(RuntimeRuns.Case(lines, name, run) == "error=EACCES errno=-13", $"case {name}: {lines[name]}\n{run}");
        Assert.Equal("ok \"new\"", RuntimeRuns.Case(lines, "outside", run));
        RuntimeRuns.AssertEvents(run, "block", NodeEvents(box.TmpDir, cases), exhaustive: true);
        Assert.Equal(tmpBefore, RuntimeRuns.Disk(box.TmpDir, box, times: true));
    }

    [Fact]
    public void Node_block_denies_sync_and_async_fs_calls_with_EACCES_reports_them_and_leaves_the_disk_unchanged()
    {
        // UV_USE_IO_URING unset: libuv's default. In this Node (20.x, libuv 1.46 as patched by Node) io_uring
        // is off unless UV_USE_IO_URING=1, so the asynchronous calls run open()/rename()/... on the thread pool
        // through libc and are judged like the synchronous ones. See the io_uring test below for the opposite.
        using var box = new Sandbox();
        NodeFixtures(box);
        var tmpBefore = RuntimeRuns.Disk(box.TmpDir, box, times: true);
        var run = RunNode(box, RuntimeRuns.Block, ("UV_USE_IO_URING", null));
        AssertNodeBlocked(box, run, [.. NodeSyncCases, .. NodeAsyncCases], tmpBefore);
        Assert.Equal("new", File.ReadAllText(Path.Combine(box.Dir, "outside_new")));
    }

    [Fact]
    public void Node_block_still_denies_async_fs_calls_with_io_uring_explicitly_disabled()
    {
        using var box = new Sandbox();
        NodeFixtures(box);
        var tmpBefore = RuntimeRuns.Disk(box.TmpDir, box, times: true);
        var run = RunNode(box, RuntimeRuns.Block, ("UV_USE_IO_URING", "0"));
        AssertNodeBlocked(box, run, [.. NodeSyncCases, .. NodeAsyncCases], tmpBefore);
    }

    /// <summary>
    /// With UV_USE_IO_URING=1 in its environment, libuv would submit the asynchronous file operations to the
    /// kernel through io_uring, where no libc call is made and no hook runs. Function code can arrange this for
    /// a child (spawn with {env: {...process.env, UV_USE_IO_URING: "1"}}); the library sets it back to 0 at
    /// start whenever read_write_tmp is not allow.
    /// </summary>
    [Fact]
    public void Node_block_denies_async_fs_calls_even_with_io_uring_enabled()
    {
        using var box = new Sandbox();
        NodeFixtures(box);
        var tmpBefore = RuntimeRuns.Disk(box.TmpDir, box, times: true);
        var run = RunNode(box, RuntimeRuns.Block, ("UV_USE_IO_URING", "1"));
        AssertNodeBlocked(box, run, [.. NodeSyncCases, .. NodeAsyncCases], tmpBefore);
    }

    [Fact]
    public void Node_alert_lets_every_call_through_as_without_the_library_and_reports_it()
    {
        using var plainBox = new Sandbox();
        using var box = new Sandbox();
        NodeFixtures(plainBox);
        NodeFixtures(box);

        var plain = RunNode(plainBox, null);
        var alert = RunNode(box, RuntimeRuns.Alert);

        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.DoesNotContain("error=", plain.Stdout);
        Assert.Equal(NodeSyncCases.Length + NodeAsyncCases.Length + 1, RuntimeRuns.Cases(plain).Count);
        Assert.True(alert.ExitCode == 0, alert.ToString());
        Assert.Equal(plain.Stdout, alert.Stdout);
        RuntimeRuns.StderrIsOnlyEvents(alert);
        RuntimeRuns.AssertEvents(alert, "alert", NodeEvents(box.TmpDir, [.. NodeSyncCases, .. NodeAsyncCases]), exhaustive: false);
        Assert.Equal(RuntimeRuns.Disk(plainBox.TmpDir, plainBox, times: false), RuntimeRuns.Disk(box.TmpDir, box, times: false));
        Assert.Equal(RuntimeRuns.Disk(plainBox.Dir, plainBox, times: false), RuntimeRuns.Disk(box.Dir, box, times: false));
    }

    [Fact]
    public void Node_allow_is_silent_and_behaves_as_without_the_library()
    {
        using var plainBox = new Sandbox();
        using var box = new Sandbox();
        NodeFixtures(plainBox);
        NodeFixtures(box);

        var plain = RunNode(plainBox, null);
        var allow = RunNode(box, RuntimeRuns.Allow);

        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.DoesNotContain("error=", plain.Stdout);
        Assert.Equal(plain.ExitCode, allow.ExitCode);
        Assert.Equal(plain.Stdout, allow.Stdout);
        Assert.Equal(plain.Stderr, allow.Stderr);
        Assert.Empty(allow.Events);
        Assert.Empty(allow.Diagnostics);
        Assert.Equal(RuntimeRuns.Disk(plainBox.TmpDir, plainBox, times: false), RuntimeRuns.Disk(box.TmpDir, box, times: false));
        Assert.Equal(RuntimeRuns.Disk(plainBox.Dir, plainBox, times: false), RuntimeRuns.Disk(box.Dir, box, times: false));
    }

    // ------------------------------------------------------------------------------------------------
    // bash and the programs it starts
    // ------------------------------------------------------------------------------------------------

    // Each case runs in a command substitution; its stdout is printed on the case's line, its stderr
    // (the shell's and the programs' messages, and the events) follows a "=== case=NAME" marker on stderr.
    private const string BashScript = """"
        set -o pipefail
        T=$1 D=$2
        r() {
          local name=$1 out rc
          echo "=== case=$name" >&2
          out=$(eval "$2")
          rc=$?
          echo "case=$name rc=$rc out=$(printf '%s' "$out" | tr '\n' '|')"
        }
        r redirect 'echo x > "$T/new_redirect"'
        r cat 'cat "$T/existing"'
        r ls 'ls "$T/dir"'
        r touch 'touch "$T/new_touch"'
        r mkdir 'mkdir "$T/new_mkdir"'
        r rm 'rm -f "$T/victim"'
        r mv 'mv "$T/mv_src" "$D/moved"'
        r cp 'cp "$D/outside" "$T/new_cp"'
        r exec3 'exec 3>"$T/new_exec3" && echo written >&3'
        r devfd_stdout 'echo to-dev-fd-1 > /dev/fd/1'
        r procsub 'cat <(echo from-process-substitution)'
        r herestring 'cat <<< here-string'
        r heredoc 'cat <<END
        a small here-document
        END'
        r heredoc_big 'cat <<END | wc -c
        $(head -c 200000 /dev/zero | tr "\0" a)
        END'
        r outside 'echo hi > "$D/x" && cat "$D/x"'
        """";

    private static readonly string[] BashDeniedCases = ["redirect", "cat", "ls", "touch", "mkdir", "rm", "mv", "cp", "exec3", "heredoc_big"];

    private static List<ExpectedEvent> BashEvents(string t) =>
    [
        ExpectedEvent.Exact("redirect", t + "/new_redirect"),
        ExpectedEvent.Exact("cat", t + "/existing"),
        ExpectedEvent.Exact("ls", t + "/dir"),
        // touch tries open(O_CREAT) and then utimensat; cp tries open and then openat: both are reported
        ExpectedEvent.Exact("touch", t + "/new_touch", times: null),
        ExpectedEvent.Exact("mkdir", t + "/new_mkdir"),
        ExpectedEvent.Exact("rm", t + "/victim"),
        ExpectedEvent.Exact("mv", t + "/mv_src"),
        ExpectedEvent.Exact("cp", t + "/new_cp", times: null),
        ExpectedEvent.Exact("exec3", t + "/new_exec3"),
        // bash 5.2 makes a here-document's temporary file with mkstemp("$TMPDIR/sh-thd.XXXXXX"), /tmp when unset
        ExpectedEvent.Prefix("heredoc_big", "/tmp/sh-thd"),
    ];

    private static void BashFixtures(Sandbox box)
    {
        RuntimeRuns.Fixture(Path.Combine(box.TmpDir, "existing"), "secret\n");
        RuntimeRuns.Fixture(Path.Combine(box.TmpDir, "victim"), "victim\n");
        RuntimeRuns.Fixture(Path.Combine(box.TmpDir, "mv_src"), "move me\n");
        RuntimeRuns.Fixture(Path.Combine(box.TmpDir, "dir", "a"), "");
        RuntimeRuns.Fixture(Path.Combine(box.Dir, "outside"), "outside\n");
        box.File("probe.sh", BashScript);
    }

    private static RunResult RunBash(Sandbox box, string? policyJson)
    {
        var args = new[] { Path.Combine(box.Dir, "probe.sh"), box.TmpDir, box.Dir };
        return policyJson == null
            ? Preloaded.RunPlain(Machine.Bash.Value, args, RuntimeRuns.Env(), box.Dir)
            : Preloaded.Run(Machine.Bash.Value, args, box.Policy(policyJson), RuntimeRuns.Env(), box.Dir);
    }

    /// <summary>stderr after each "=== case=NAME" marker, by name.</summary>
    private static Dictionary<string, string> StderrByCase(RunResult run)
    {
        var result = new Dictionary<string, string>();
        foreach (Match m in Regex.Matches(run.Stderr, @"^=== case=(\S+)\n(.*?)(?=^=== case=|\z)", RegexOptions.Multiline | RegexOptions.Singleline))
            result[m.Groups[1].Value] = m.Groups[2].Value;
        return result;
    }

    [Fact]
    public void Bash_block_denies_tmp_access_by_the_shell_and_by_the_programs_it_starts()
    {
        using var box = new Sandbox();
        BashFixtures(box);
        var tmpBefore = RuntimeRuns.Disk(box.TmpDir, box, times: true);

        var run = RunBash(box, RuntimeRuns.Block);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Empty(run.Diagnostics);
        var cases = RuntimeRuns.Cases(run);
        var stderr = StderrByCase(run);
        foreach (var name in BashDeniedCases)
        {
            Assert.Matches("^rc=[1-9]", RuntimeRuns.Case(cases, name, run));
            Assert.True(stderr.TryGetValue(name, out var err) && err.Contains("Permission denied"),
                $"case {name}: no \"Permission denied\" on stderr:\n{run}");
        }
        // the shell's own redirections: bash prints "<path>: Permission denied"
        Assert.Contains($"{box.TmpDir}/new_redirect: Permission denied", stderr["redirect"]);
        Assert.Contains($"{box.TmpDir}/new_exec3: Permission denied", stderr["exec3"]);
        // child processes inherit LD_PRELOAD and IRON_FUNCTION_POLICY: their own calls are denied and reported by them
        Assert.Contains("cannot open directory", stderr["ls"]);
        Assert.Contains(run.Events, e => e.Str("what") == box.TmpDir + "/dir" && e.Str("process_name") == "ls");
        Assert.Contains(run.Events, e => e.Str("what") == box.TmpDir + "/existing" && e.Str("process_name") == "cat");
        Assert.DoesNotContain("secret", run.Stdout);

        // /dev/fd, process substitution and here-strings use pipes, not files under /tmp
        Assert.Equal("rc=0 out=to-dev-fd-1", cases["devfd_stdout"]);
        Assert.Equal("rc=0 out=from-process-substitution", cases["procsub"]);
        Assert.Equal("rc=0 out=here-string", cases["herestring"]);
        // Here-documents: bash 5.2 writes a here-document smaller than the pipe capacity into a pipe, so a
        // small one works in block mode; a larger one goes to a temporary file made with mkstemp under
        // $TMPDIR or /tmp, which is denied: bash prints "cannot create temp file for here-document:
        // Permission denied" and does not run the command (wc counts 0 bytes; pipefail gives cat's status 1).
        Assert.Equal("rc=0 out=a small here-document", cases["heredoc"]);
        Assert.Equal("rc=1 out=0", cases["heredoc_big"]);
        Assert.Contains("cannot create temp file for here-document: Permission denied", stderr["heredoc_big"]);

        // ordinary work outside /tmp is unaffected
        Assert.Equal("rc=0 out=hi", cases["outside"]);
        Assert.Equal("hi\n", File.ReadAllText(Path.Combine(box.Dir, "x")));

        RuntimeRuns.AssertEvents(run, "block", BashEvents(box.TmpDir), exhaustive: true);
        Assert.Equal(tmpBefore, RuntimeRuns.Disk(box.TmpDir, box, times: true));
        Assert.False(File.Exists(Path.Combine(box.Dir, "moved")));
    }

    [Fact]
    public void Bash_alert_and_allow_behave_as_without_the_library()
    {
        using var plainBox = new Sandbox();
        using var alertBox = new Sandbox();
        using var allowBox = new Sandbox();
        BashFixtures(plainBox);
        BashFixtures(alertBox);
        BashFixtures(allowBox);

        var plain = RunBash(plainBox, null);
        var alert = RunBash(alertBox, RuntimeRuns.Alert);
        var allow = RunBash(allowBox, RuntimeRuns.Allow);

        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.DoesNotContain("rc=1", plain.Stdout);
        Assert.Contains("case=heredoc_big rc=0 out=200001", plain.Stdout);
        Assert.Equal(15, RuntimeRuns.Cases(plain).Count);

        Assert.True(alert.ExitCode == 0, alert.ToString());
        Assert.Equal(plain.Stdout, alert.Stdout);
        Assert.Empty(alert.Diagnostics);
        RuntimeRuns.AssertEvents(alert, "alert", BashEvents(alertBox.TmpDir), exhaustive: false);
        Assert.Equal(RuntimeRuns.Disk(plainBox.TmpDir, plainBox, times: false), RuntimeRuns.Disk(alertBox.TmpDir, alertBox, times: false));
        Assert.Equal(RuntimeRuns.Disk(plainBox.Dir, plainBox, times: false), RuntimeRuns.Disk(alertBox.Dir, alertBox, times: false));

        Assert.True(allow.ExitCode == 0, allow.ToString());
        Assert.Equal(plain.Stdout, allow.Stdout);
        Assert.Equal(plain.Stderr, allow.Stderr);
        Assert.Empty(allow.Events);
        Assert.Empty(allow.Diagnostics);
        Assert.Equal(RuntimeRuns.Disk(plainBox.TmpDir, plainBox, times: false), RuntimeRuns.Disk(allowBox.TmpDir, allowBox, times: false));
    }

    [Fact]
    public void Bash_block_denies_reopening_an_inherited_tmp_descriptor_through_dev_fd_but_not_using_it()
    {
        // An unprotected parent shell opens fd 5 on a /tmp file and starts a protected bash. Using the
        // inherited descriptor opens nothing; reopening it by name (/dev/fd/5, a magic link to the /tmp
        // file) is an open of that file, judged by where the link leads (SPEC §2).
        using var box = new Sandbox();
        var file = Path.Combine(box.TmpDir, "inherited");
        RuntimeRuns.Fixture(file, "inherited secret\n");
        const string script = """
            exec 5<"$FILE"
            LD_PRELOAD="$IRON_LIB" IRON_FUNCTION_POLICY="$IRON_POLICY" "$BASH" -c '
              cat /dev/fd/5; echo "reopen rc=$?"
              cat <&5; echo "inherited rc=$?"'
            """;
        var run = Preloaded.RunPlain(Machine.Bash.Value, ["-c", script], RuntimeRuns.Env(
            ("FILE", file), ("IRON_LIB", Machine.Library), ("IRON_POLICY", box.Policy(RuntimeRuns.Block))), box.Dir);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("reopen rc=1\ninherited secret\ninherited rc=0\n", run.Stdout);
        Assert.Contains("/dev/fd/5: Permission denied", run.Stderr);
        RuntimeRuns.AssertEvents(run, "block", [ExpectedEvent.Exact("reopen", file)], exhaustive: true);
    }

    // ------------------------------------------------------------------------------------------------
    // Java
    // ------------------------------------------------------------------------------------------------

    private const string JavaProbe = """"
        import java.io.FileInputStream;
        import java.nio.file.Files;
        import java.nio.file.Path;

        public class Probe {
            interface Case { String run() throws Exception; }
            static String t, d;
            static String show(String s) { return s.replace(t, "<T>").replace(d, "<D>"); }
            static void run(String name, Case c) {
                try {
                    String detail = c.run();
                    System.out.println("case=" + name + " ok" + (detail == null ? "" : " " + show(detail)));
                } catch (Exception e) {
                    System.out.println("case=" + name + " " + e.getClass().getName() + ": " + show(String.valueOf(e.getMessage())));
                }
            }
            public static void main(String[] args) {
                t = args[0];
                d = args[1];
                run("writeString", () -> { Files.writeString(Path.of(t, "new_writeString"), "new"); return null; });
                run("fileInputStream", () -> {
                    try (var in = new FileInputStream(t + "/existing")) { return new String(in.readAllBytes()).trim(); }
                });
                run("outside", () -> { Files.writeString(Path.of(d, "outside_new"), "new"); return Files.readString(Path.of(d, "outside_new")); });
            }
        }
        """";

    private static RunResult RunJava(Sandbox box, string? policyJson, params string[] jvmOptions)
    {
        RuntimeRuns.Fixture(Path.Combine(box.TmpDir, "existing"), "java secret\n");
        box.File("Probe.java", JavaProbe);
        // source-file mode: the launcher compiles Probe.java in memory and runs it
        var args = jvmOptions.Concat([Path.Combine(box.Dir, "Probe.java"), box.TmpDir, box.Dir]).ToArray();
        return policyJson == null
            ? Preloaded.RunPlain("java", args, RuntimeRuns.Env(), box.Dir, timeoutSeconds: 120)
            : Preloaded.Run("java", args, box.Policy(policyJson), RuntimeRuns.Env(), box.Dir, timeoutSeconds: 120);
    }

    private static void AssertJavaBlocked(Sandbox box, RunResult run)
    {
        Assert.True(run.ExitCode == 0, run.ToString());
        RuntimeRuns.StderrIsOnlyEvents(run);
        var cases = RuntimeRuns.Cases(run);
        Assert.Equal("java.nio.file.AccessDeniedException: <T>/new_writeString", RuntimeRuns.Case(cases, "writeString", run));
        Assert.Equal("java.io.FileNotFoundException: <T>/existing (Permission denied)", RuntimeRuns.Case(cases, "fileInputStream", run));
        Assert.Equal("ok new", RuntimeRuns.Case(cases, "outside", run));
        Assert.False(File.Exists(Path.Combine(box.TmpDir, "new_writeString")));
    }

    [FactWhenProgramOnPath("java")]
    public void Java_block_denies_tmp_files_and_the_JVM_runs_on_without_its_perf_data_file()
    {
        // The JVM keeps its performance counters (jps/jstat) in a file under /tmp/hsperfdata_<user>. In block
        // mode opening and making that directory are denied and reported; HotSpot then keeps the counters in
        // ordinary memory, prints nothing and runs normally (only jps/jstat cannot see the process).
        using var box = new Sandbox();
        var run = RunJava(box, RuntimeRuns.Block);
        AssertJavaBlocked(box, run);
        RuntimeRuns.AssertEvents(run, "block",
        [
            ExpectedEvent.Exact("writeString", box.TmpDir + "/new_writeString"),
            ExpectedEvent.Exact("fileInputStream", box.TmpDir + "/existing"),
            ExpectedEvent.Prefix("hsperfdata", "/tmp/hsperfdata_", times: null),
        ], exhaustive: true);
    }

    [FactWhenProgramOnPath("java")]
    public void Java_block_with_perf_data_off_reports_only_the_programs_own_tmp_access()
    {
        using var box = new Sandbox();
        var run = RunJava(box, RuntimeRuns.Block, "-XX:-UsePerfData");
        AssertJavaBlocked(box, run);
        RuntimeRuns.AssertEvents(run, "block",
        [
            ExpectedEvent.Exact("writeString", box.TmpDir + "/new_writeString"),
            ExpectedEvent.Exact("fileInputStream", box.TmpDir + "/existing"),
        ], exhaustive: true);
    }

    [FactWhenProgramOnPath("java")]
    public void Java_alert_works_and_reports_and_allow_works_silently()
    {
        using var alertBox = new Sandbox();
        using var allowBox = new Sandbox();
        using var plainBox = new Sandbox();
        var plain = RunJava(plainBox, null, "-XX:-UsePerfData");
        var alert = RunJava(alertBox, RuntimeRuns.Alert, "-XX:-UsePerfData");
        var allow = RunJava(allowBox, RuntimeRuns.Allow);

        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Equal("case=writeString ok\ncase=fileInputStream ok java secret\ncase=outside ok new\n", plain.Stdout);

        Assert.True(alert.ExitCode == 0, alert.ToString());
        Assert.Equal(plain.Stdout, alert.Stdout);
        RuntimeRuns.StderrIsOnlyEvents(alert);
        RuntimeRuns.AssertEvents(alert, "alert",
        [
            ExpectedEvent.Exact("writeString", alertBox.TmpDir + "/new_writeString"),
            ExpectedEvent.Exact("fileInputStream", alertBox.TmpDir + "/existing"),
        ], exhaustive: true);
        Assert.Equal("new", File.ReadAllText(Path.Combine(alertBox.TmpDir, "new_writeString")));

        // allow, with the JVM's perf data file in /tmp as usual
        Assert.True(allow.ExitCode == 0, allow.ToString());
        Assert.Equal(plain.Stdout, allow.Stdout);
        Assert.Equal("", allow.Stderr);
        Assert.Empty(allow.Events);
        Assert.Equal("new", File.ReadAllText(Path.Combine(allowBox.TmpDir, "new_writeString")));
    }

    // ------------------------------------------------------------------------------------------------
    // .NET (CoreCLR)
    // ------------------------------------------------------------------------------------------------

    // `dotnet --list-sdks` is answered by the native host alone; `dotnet --version` and `dotnet --info` start
    // CoreCLR and run the SDK's dotnet.dll, a managed program.

    [Fact]
    public void Dotnet_runs_under_the_preload_with_allow_as_without_it()
    {
        using var box = new Sandbox();
        var policy = box.Policy(RuntimeRuns.Allow);
        foreach (var args in new[] { new[] { "--version" }, ["--list-sdks"], ["--info"] })
        {
            var plain = Preloaded.RunPlain("dotnet", args, RuntimeRuns.Env(), box.Dir, timeoutSeconds: 120);
            var allow = Preloaded.Run("dotnet", args, policy, RuntimeRuns.Env(), box.Dir, timeoutSeconds: 120);
            Assert.True(plain.ExitCode == 0, plain.ToString());
            Assert.True(allow.ExitCode == 0, allow.ToString());
            Assert.Equal(plain.Stdout, allow.Stdout);
            Assert.Equal(plain.Stderr, allow.Stderr);
            Assert.Empty(allow.Events);
            Assert.Empty(allow.Diagnostics);
        }
    }

    [Fact]
    public void Dotnet_block_CoreCLR_runs_without_its_debugger_pipe_and_diagnostic_socket_in_tmp()
    {
        // At start CoreCLR makes its debugger transport FIFOs (/tmp/clr-debug-pipe-<pid>-<time>-in/out) and its
        // diagnostic IPC socket (/tmp/dotnet-diagnostic-<pid>-<time>-socket). In block mode the unlink/mkfifo
        // calls are denied and reported; the runtime goes on without a debugger or diagnostics channel.
        // (The socket itself is made by bind(), which is not judged: see the skipped bind test above. It is
        // left behind because its unlink at exit is denied; this test removes it.)
        using var box = new Sandbox();
        var plain = Preloaded.RunPlain("dotnet", ["--version"], RuntimeRuns.Env(), box.Dir, timeoutSeconds: 120);
        var run = Preloaded.Run("dotnet", ["--version"], box.Policy(RuntimeRuns.Block), RuntimeRuns.Env(), box.Dir, timeoutSeconds: 120);
        try
        {
            Assert.True(plain.ExitCode == 0, plain.ToString());
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal(plain.Stdout, run.Stdout);
            RuntimeRuns.StderrIsOnlyEvents(run);
            var pid = Assert.Single(run.Events.Select(e => e.Str("process_id")).Distinct());
            RuntimeRuns.AssertEvents(run, "block",
            [
                ExpectedEvent.Prefix("debugger pipe", $"/tmp/clr-debug-pipe-{pid}-", times: null),
                ExpectedEvent.Prefix("diagnostic socket", $"/tmp/dotnet-diagnostic-{pid}-", times: null),
            ], exhaustive: true);
            Assert.Empty(Directory.GetFiles("/tmp", $"clr-debug-pipe-{pid}-*"));
        }
        finally
        {
            foreach (var pid in run.Events.Select(e => e.Str("process_id")).Distinct())
                foreach (var stale in Directory.GetFiles("/tmp", $"dotnet-diagnostic-{pid}-*"))
                    File.Delete(stale);
        }
    }

    [Fact]
    public void Dotnet_block_with_diagnostics_off_touches_nothing_in_tmp()
    {
        using var box = new Sandbox();
        var plain = Preloaded.RunPlain("dotnet", ["--version"], RuntimeRuns.Env(), box.Dir, timeoutSeconds: 120);
        var run = Preloaded.Run("dotnet", ["--version"], box.Policy(RuntimeRuns.Block),
            RuntimeRuns.Env(("DOTNET_EnableDiagnostics", "0")), box.Dir, timeoutSeconds: 120);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(plain.Stdout, run.Stdout);
        Assert.Equal("", run.Stderr);
        Assert.Empty(run.Events);
    }

    [Fact]
    public void Dotnet_info_in_block_mode_fails_because_the_SDK_makes_a_temporary_directory()
    {
        // `dotnet --info` is not read-only: to print the workload version the SDK calls
        // Directory.CreateTempSubdirectory() (mkdtemp("/tmp/XXXXXX")). In block mode that is denied and the
        // SDK dies with UnauthorizedAccessException after printing its first lines: the documented behaviour
        // of a program that needs /tmp under read_write_tmp=block, not a crash of the runtime.
        using var box = new Sandbox();
        var run = Preloaded.Run("dotnet", ["--info"], box.Policy(RuntimeRuns.Block),
            RuntimeRuns.Env(("DOTNET_EnableDiagnostics", "0")), box.Dir, timeoutSeconds: 120);
        Assert.NotEqual(0, run.ExitCode);
        Assert.StartsWith(".NET SDK:", run.Stdout);
        Assert.Contains("System.UnauthorizedAccessException", run.Stderr);
        Assert.Contains("CreateTempSubdirectory", run.Stderr);
        Assert.Empty(run.Diagnostics);
        RuntimeRuns.AssertEvents(run, "block", [ExpectedEvent.Prefix("mkdtemp", "/tmp/", times: null)], exhaustive: true);
        Assert.Contains(run.Events, e => e.Str("message").Contains("mkdtemp"));
    }
}
