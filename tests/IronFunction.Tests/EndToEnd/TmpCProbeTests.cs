using System.Text.Json;
using System.Text.RegularExpressions;

namespace IronFunction.Tests.EndToEnd;

// End-to-end tests of read_write_tmp (SPEC §2, §6, §7) through one C probe, probes/tmp_probe.c, that makes
// exactly one libc call chosen on its command line and prints "result=<ret> errno=<n>". Every hooked symbol
// of Hooks/files.symbols (chdir/fchdir as working-directory setup) is called by it; fixtures are made
// by this (unpreloaded) test process or by the probe run without the library.

/// <summary>The probe, its fixtures and the checks shared by the classes below.</summary>
public static class TmpProbe
{
    public const string BlockPolicy = """{"read_write_tmp":"block"}""";
    public const string AlertPolicy = """{"read_write_tmp":"alert"}""";
    public const string AllowPolicy = """{"read_write_tmp":"allow"}""";
    public const string Denied = "result=-1 errno=13";
    public const string DeniedNull = "result=NULL errno=13";

    /// <summary>A fixed past time for fixture files, distinct from the 1000000000 the probe's utime calls set.</summary>
    public static readonly DateTime T0 = DateTime.UnixEpoch.AddSeconds(1_500_000_000);

    private static readonly string SourcePath =
        Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", "tmp_probe.c");

    private static readonly Lazy<string> Source = new(() => File.ReadAllText(SourcePath));

    /// <summary>The probe as a plain build: no _FORTIFY_SOURCE, the _2 forms are called by name.</summary>
    public static readonly Lazy<string> Exe = new(() =>
        CProbe.Compile("tmp_probe", Source.Value, "-U_FORTIFY_SOURCE -fno-delete-null-pointer-checks -pthread"));

    /// <summary>The same source as glibc's fortified headers build it; the direct _2 calls are left out.</summary>
    public static readonly Lazy<string> Fortified = new(() =>
        CProbe.Compile("tmp_probe_fortified", Source.Value, "-O2 -D_FORTIFY_SOURCE=2 -DPROBE_FORTIFIED -pthread"));

    /// <summary>TMPDIR would add a temporary root: every run leaves it unset so that only /tmp is covered.</summary>
    public static readonly Dictionary<string, string?> Env = new() { ["TMPDIR"] = null };

    public static RunResult Run(string? policy, IEnumerable<string> args, string? cwd = null, string? exe = null) =>
        Preloaded.Run(exe ?? Exe.Value, args, policy, Env, cwd);

    public static RunResult Plain(IEnumerable<string> args, string? cwd = null, string? exe = null) =>
        Preloaded.RunPlain(exe ?? Exe.Value, args, Env, cwd);

    /// <summary>The probe's result line; the probe must have run to its end.</summary>
    public static string Line(RunResult run)
    {
        Xunit.Assert.True(run.ExitCode == 0, $"the probe did not finish normally:\n{run}");
        var line = run.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith("result=", StringComparison.Ordinal));
        Xunit.Assert.True(line != null, $"the probe printed no result line:\n{run}");
        return line!;
    }

    /// <summary>stderr holds event lines and nothing else (no diagnostics, no crash report).</summary>
    public static void StderrIsOnlyEvents(RunResult run)
    {
        foreach (var l in run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Xunit.Assert.True(l.StartsWith("{\"aws_function_info\"", StringComparison.Ordinal), $"unexpected stderr line: {l}\n{run}");
    }

    public static JsonElement SingleEvent(RunResult run, string action, string what)
    {
        Xunit.Assert.True(run.Events.Count == 1, $"expected exactly one event, got {run.Events.Count}:\n{run}");
        var e = run.Events[0];
        EventAssert.HasSeedSchema(e);
        Xunit.Assert.Equal("read_write_tmp", e.Str("event_type"));
        Xunit.Assert.Equal(action, e.Str("action"));
        Xunit.Assert.Equal(what, e.Str("what"));
        Xunit.Assert.False(string.IsNullOrWhiteSpace(e.Str("message")), "the event has no message");
        return e;
    }

    /// <summary>lstat listing of the trees (type, mode, owner, size, times, xattrs, link target, content), sorted; without the library.</summary>
    public static string[] Snap(params string[] roots)
    {
        var run = Plain(["snap", .. roots]);
        Xunit.Assert.True(run.ExitCode == 0 && run.Stderr.Length == 0, $"snap failed:\n{run}");
        // the library reads its policy file (moving its atime): not part of what a test checks
        return run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !PolicyFile.IsMatch(l))
            .Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Two listings are the same; on a difference, says which lines went and which came.</summary>
    public static void SameDisk(string[] expected, string[] actual)
    {
        var gone = expected.Except(actual).ToArray();
        var came = actual.Except(expected).ToArray();
        Xunit.Assert.True(gone.Length == 0 && came.Length == 0 && expected.Length == actual.Length,
            $"the disk differs\n--- expected only\n{string.Join('\n', gone)}\n--- actual only\n{string.Join('\n', came)}");
    }

    private static readonly Regex PolicyFile = new(@"^\d+:/policy-[0-9a-f]{8}\.json\t", RegexOptions.Compiled);
    private static readonly Regex Times = new(@"(mtime|atime)=(\d+)\.\d+", RegexOptions.Compiled);
    private static readonly Regex RandomName = new(@"tpl[A-Za-z0-9]{6}", RegexOptions.Compiled);

    /// <summary>A listing comparable across two sandboxes: their own paths, mkstemp's random names and "now" masked.</summary>
    public static string[] Normalized(string[] snap, params (string Path, string Name)[] places)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return snap.Select(line =>
        {
            foreach (var (path, name) in places) line = line.Replace(path, name, StringComparison.Ordinal);
            line = RandomName.Replace(line, "tplXXXXXX");
            return Times.Replace(line, m => Math.Abs(long.Parse(m.Groups[2].Value) - now) < 2 * 86400 ? m.Groups[1].Value + "=recent" : m.Value);
        }).Order(StringComparer.Ordinal).ToArray();
    }

    public static void WriteFile(string path, string content, UnixFileMode mode = (UnixFileMode)0b110_100_100)
    {
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, mode);
        File.SetLastWriteTimeUtc(path, T0);
        File.SetLastAccessTimeUtc(path, T0);
    }
}

/// <summary>
/// One call of one hooked function against a standard fixture. {R} is a fresh directory under /tmp,
/// {O} a directory outside it. <paramref name="What"/> is the target the block event must name.
/// </summary>
public sealed record OpCase(string Name, string Kind, string What, string[] Args)
{
    /// <summary>The function called: the first argument after the options (which come in pairs).</summary>
    public string Operation
    {
        get
        {
            int i = 0;
            while (Args[i].StartsWith("--", StringComparison.Ordinal)) i += 2;
            return Args[i];
        }
    }

    public bool NeedsXattr => Args.Any(a => a.StartsWith("{R}/x", StringComparison.Ordinal));

    public string[] Expand(string r, string o) => Args.Select(a => a.Replace("{R}", r).Replace("{O}", o)).ToArray();

    /// <summary>The /tmp names this call passes (an alert may report each of them).</summary>
    public string[] TmpPaths(string r) =>
        What == "/tmp" ? ["/tmp"] : Args.Where(a => a.Contains("{R}")).Select(a => a.Replace("{R}", r)).Append(What.Replace("{R}", r)).Distinct().ToArray();

    public string DeniedLine => Kind == "ptr" ? TmpProbe.DeniedNull : TmpProbe.Denied;

    public override string ToString() => Name;

    private static OpCase C(string name, string kind, string what, params string[] args) => new(name, kind, what, args);

    /// <summary>Every function of files.symbols except chdir/fchdir (tracking only, never denied).</summary>
    public static readonly OpCase[] All =
    [
        C("open RDONLY existing file", "fd", "{R}/f", "open", "{R}/f"),
        C("open WRONLY|TRUNC existing file", "fd", "{R}/f", "--oflags", "WRONLY|TRUNC", "open", "{R}/f"),
        C("open WRONLY|CREAT new file", "fd", "{R}/new", "--oflags", "WRONLY|CREAT", "open", "{R}/new"),
        C("open RDONLY|DIRECTORY dir", "fd", "{R}/d", "--oflags", "RDONLY|DIRECTORY", "open", "{R}/d"),
        C("open RDWR|TMPFILE in dir", "fd", "{R}/d", "--oflags", "RDWR|TMPFILE", "open", "{R}/d"),
        C("open64 WRONLY|CREAT new file", "fd", "{R}/new", "--oflags", "WRONLY|CREAT", "open64", "{R}/new"),
        C("openat WRONLY|CREAT|EXCL new file", "fd", "{R}/new", "--oflags", "WRONLY|CREAT|EXCL", "openat", "{R}/new"),
        C("openat64 WRONLY|TRUNC existing file", "fd", "{R}/f", "--oflags", "WRONLY|TRUNC", "openat64", "{R}/f"),
        C("__open_2 RDONLY existing file", "fd", "{R}/f", "__open_2", "{R}/f"),
        C("__open64_2 WRONLY|TRUNC existing file", "fd", "{R}/f", "--oflags", "WRONLY|TRUNC", "__open64_2", "{R}/f"),
        C("__openat_2 RDWR|APPEND existing file", "fd", "{R}/f", "--oflags", "RDWR|APPEND", "__openat_2", "{R}/f"),
        C("__openat64_2 RDONLY|DIRECTORY dir", "fd", "{R}/d", "--oflags", "RDONLY|DIRECTORY", "__openat64_2", "{R}/d"),
        C("creat existing file", "fd", "{R}/f", "creat", "{R}/f"),
        C("creat64 new file", "fd", "{R}/new", "creat64", "{R}/new"),
        C("fopen w existing file", "ptr", "{R}/f", "--fmode", "w", "fopen", "{R}/f"),
        C("fopen r existing file", "ptr", "{R}/f", "fopen", "{R}/f"),
        C("fopen64 a new file", "ptr", "{R}/new", "--fmode", "a", "fopen64", "{R}/new"),
        C("freopen w existing file", "ptr", "{R}/f", "--fmode", "w", "freopen", "{R}/f"),
        C("freopen64 w new file", "ptr", "{R}/new", "--fmode", "w", "freopen64", "{R}/new"),
        C("opendir", "ptr", "{R}/d", "opendir", "{R}/d"),
        C("scandir", "int", "{R}/d", "scandir", "{R}/d"),
        C("scandir64", "int", "{R}/d", "scandir64", "{R}/d"),
        C("scandirat", "int", "{R}/d", "scandirat", "{R}/d"),
        C("scandirat64", "int", "{R}/d", "scandirat64", "{R}/d"),
        C("ftw", "int", "{R}/d", "ftw", "{R}/d"),
        C("ftw64", "int", "{R}/d", "ftw64", "{R}/d"),
        C("nftw", "int", "{R}/d", "nftw", "{R}/d"),
        C("nftw64", "int", "{R}/d", "nftw64", "{R}/d"),
        C("mkdir", "int", "{R}/nd", "mkdir", "{R}/nd"),
        C("mkdirat", "int", "{R}/nd", "mkdirat", "{R}/nd"),
        C("bind AF_UNIX socket path", "int", "{R}/sock", "bind", "{R}/sock"),
        C("mkfifo", "int", "{R}/np", "mkfifo", "{R}/np"),
        C("mkfifoat", "int", "{R}/np", "mkfifoat", "{R}/np"),
        C("mknod fifo", "int", "{R}/np", "mknod", "{R}/np"),
        C("mknodat fifo", "int", "{R}/np", "mknodat", "{R}/np"),
        C("rmdir", "int", "{R}/e", "rmdir", "{R}/e"),
        C("unlink", "int", "{R}/f", "unlink", "{R}/f"),
        C("unlinkat file", "int", "{R}/f", "unlinkat", "{R}/f"),
        C("unlinkat REMOVEDIR", "int", "{R}/e", "--atflags", "REMOVEDIR", "unlinkat", "{R}/e"),
        C("remove file", "int", "{R}/f", "remove", "{R}/f"),
        C("remove dir", "int", "{R}/e", "remove", "{R}/e"),
        C("rename within /tmp", "int", "{R}/f", "rename", "{R}/f", "{R}/g"),
        C("rename into /tmp", "int", "{R}/g", "rename", "{O}/of", "{R}/g"),
        C("rename out of /tmp", "int", "{R}/f", "rename", "{R}/f", "{O}/g"),
        C("renameat", "int", "{R}/f", "renameat", "{R}/f", "{R}/g"),
        C("renameat2", "int", "{R}/f", "renameat2", "{R}/f", "{R}/g"),
        C("link within /tmp", "int", "{R}/f", "link", "{R}/f", "{R}/h"),
        C("link into /tmp", "int", "{R}/h", "link", "{O}/of", "{R}/h"),
        C("link out of /tmp", "int", "{R}/f", "link", "{R}/f", "{O}/h"),
        C("linkat", "int", "{R}/f", "linkat", "{R}/f", "{R}/h"),
        C("linkat SYMLINK_FOLLOW of a link", "int", "{R}/s", "--atflags", "SYMLINK_FOLLOW", "linkat", "{R}/s", "{R}/h"),
        C("symlink in /tmp", "int", "{R}/sl", "symlink", "f", "{R}/sl"),
        C("symlink in /tmp to outside", "int", "{R}/sl", "symlink", "{O}/of", "{R}/sl"),
        C("symlinkat", "int", "{R}/sl", "symlinkat", "f", "{R}/sl"),
        C("truncate", "int", "{R}/f", "truncate", "{R}/f"),
        C("truncate64", "int", "{R}/f", "truncate64", "{R}/f"),
        C("chmod", "int", "{R}/f", "chmod", "{R}/f"),
        C("lchmod", "int", "{R}/f", "lchmod", "{R}/f"),
        C("fchmodat", "int", "{R}/f", "fchmodat", "{R}/f"),
        C("chown", "int", "{R}/f", "chown", "{R}/f"),
        C("lchown file", "int", "{R}/f", "lchown", "{R}/f"),
        C("lchown symlink", "int", "{R}/s", "lchown", "{R}/s"),
        C("fchownat", "int", "{R}/f", "fchownat", "{R}/f"),
        C("fchownat SYMLINK_NOFOLLOW symlink", "int", "{R}/s", "--atflags", "SYMLINK_NOFOLLOW", "fchownat", "{R}/s"),
        C("utime", "int", "{R}/f", "utime", "{R}/f"),
        C("utimes", "int", "{R}/f", "utimes", "{R}/f"),
        C("lutimes", "int", "{R}/f", "lutimes", "{R}/f"),
        C("utimensat", "int", "{R}/f", "utimensat", "{R}/f"),
        C("utimensat SYMLINK_NOFOLLOW symlink", "int", "{R}/s", "--atflags", "SYMLINK_NOFOLLOW", "utimensat", "{R}/s"),
        C("futimesat", "int", "{R}/f", "futimesat", "{R}/f"),
        C("setxattr", "int", "{R}/f", "setxattr", "{R}/f"),
        C("lsetxattr", "int", "{R}/f", "lsetxattr", "{R}/f"),
        C("removexattr", "int", "{R}/x", "removexattr", "{R}/x"),
        C("lremovexattr", "int", "{R}/x", "lremovexattr", "{R}/x"),
        C("getxattr", "int", "{R}/x", "getxattr", "{R}/x"),
        C("lgetxattr", "int", "{R}/x", "lgetxattr", "{R}/x"),
        C("listxattr", "int", "{R}/x", "listxattr", "{R}/x"),
        C("llistxattr", "int", "{R}/x", "llistxattr", "{R}/x"),
        C("inotify_add_watch", "int", "{R}/d", "inotify_add_watch", "{R}/d"),
        C("bindtextdomain", "ptr", "{R}/d", "bindtextdomain", "{R}/d"),
        C("mkstemp", "fd", "{R}/tplXXXXXX", "mkstemp", "{R}/tplXXXXXX"),
        C("mkstemp64", "fd", "{R}/tplXXXXXX", "mkstemp64", "{R}/tplXXXXXX"),
        C("mkostemp", "fd", "{R}/tplXXXXXX", "mkostemp", "{R}/tplXXXXXX"),
        C("mkostemp64", "fd", "{R}/tplXXXXXX", "mkostemp64", "{R}/tplXXXXXX"),
        C("mkstemps", "fd", "{R}/tplXXXXXX.txt", "mkstemps", "{R}/tplXXXXXX.txt"),
        C("mkstemps64", "fd", "{R}/tplXXXXXX.txt", "mkstemps64", "{R}/tplXXXXXX.txt"),
        C("mkostemps", "fd", "{R}/tplXXXXXX.txt", "mkostemps", "{R}/tplXXXXXX.txt"),
        C("mkostemps64", "fd", "{R}/tplXXXXXX.txt", "mkostemps64", "{R}/tplXXXXXX.txt"),
        C("mkdtemp", "ptr", "{R}/tplXXXXXX", "mkdtemp", "{R}/tplXXXXXX"),
        C("tmpfile", "ptr", "/tmp", "tmpfile"),
        C("tmpfile64", "ptr", "/tmp", "tmpfile64"),
    ];

    public static readonly Dictionary<string, OpCase> ByName = All.ToDictionary(c => c.Name);

    public static IEnumerable<object[]> Names => All.Select(c => new object[] { c.Name });
}

/// <summary>
/// The standard fixture: in {R} (under /tmp) a file f, a directory d with a file a, an empty directory e,
/// a file x carrying the xattr user.iron, a symlink s -> f; in {O} (outside /tmp) a file of and a directory od.
/// </summary>
public sealed class OpFixture : IDisposable
{
    public Sandbox Box { get; } = new();
    public string R => Box.TmpDir;
    public string O { get; }

    public OpFixture(bool withXattr)
    {
        O = Path.Combine(Box.Dir, "o");
        Directory.CreateDirectory(O);
        TmpProbe.WriteFile(Path.Combine(R, "f"), "hello\n");
        Directory.CreateDirectory(Path.Combine(R, "d"));
        TmpProbe.WriteFile(Path.Combine(R, "d", "a"), "a\n");
        Directory.CreateDirectory(Path.Combine(R, "e"));
        TmpProbe.WriteFile(Path.Combine(R, "x"), "x\n");
        File.CreateSymbolicLink(Path.Combine(R, "s"), "f");
        TmpProbe.WriteFile(Path.Combine(O, "of"), "outside\n");
        Directory.CreateDirectory(Path.Combine(O, "od"));
        if (withXattr)
        {
            // set by the probe without the library; the test asserts it took, so removexattr has something to remove
            var set = TmpProbe.Plain(["setxattr", Path.Combine(R, "x")]);
            Xunit.Assert.Equal("result=0 errno=0", TmpProbe.Line(set));
        }
    }

    public string[] Snap() => TmpProbe.Snap(R, O);

    public string[] Normalized() => TmpProbe.Normalized(Snap(), (R, "<R>"), (O, "<O>"));

    public void Dispose() => Box.Dispose();
}

/// <summary>1. block: every hooked function denies a /tmp target with EACCES, one event, and leaves the disk as it was.</summary>
[Trait("Architecture", "arm64")] // also run on arm64 under qemu-user (Qemu.cs)
public class TmpCProbeBlockTests
{
    [Theory]
    [MemberData(nameof(OpCase.Names), MemberType = typeof(OpCase))]
    public void Every_function_is_denied_reported_and_changes_nothing(string name)
    {
        var c = OpCase.ByName[name];
        using var fx = new OpFixture(c.NeedsXattr);
        var policy = fx.Box.Policy(TmpProbe.BlockPolicy);
        var before = fx.Snap();

        var run = TmpProbe.Run(policy, c.Expand(fx.R, fx.O));

        Assert.Equal(c.DeniedLine, TmpProbe.Line(run));
        TmpProbe.SingleEvent(run, "block", c.What.Replace("{R}", fx.R));
        TmpProbe.StderrIsOnlyEvents(run);
        TmpProbe.SameDisk(before, fx.Snap());
    }

    [Fact]
    public void The_case_table_covers_every_hooked_symbol()
    {
        var listed = File.ReadAllLines(Path.Combine(Machine.RepoRoot, "src", "IronFunction", "Hooks", "files.symbols"))
            .Select(l => l.Trim()).Where(l => l.Length > 0).Except(["chdir", "fchdir", "unshare", "setns"]).Except(AliasFileProbeTests.Exercised).Except(ReachedFiles.Exercised).ToHashSet();
        var called = OpCase.All.Select(c => c.Operation).ToHashSet();
        Assert.Empty(listed.Except(called));
    }
}

/// <summary>2. alert: each call does exactly what it does without the library, and is reported.</summary>
[Trait("Architecture", "arm64")] // also run on arm64 under qemu-user (Qemu.cs)
public class TmpCProbeAlertTests
{
    [Theory]
    [MemberData(nameof(OpCase.Names), MemberType = typeof(OpCase))]
    public void Every_function_works_as_without_the_library_and_is_reported(string name)
    {
        var c = OpCase.ByName[name];
        using var fx = new OpFixture(c.NeedsXattr);
        using var reference = new OpFixture(c.NeedsXattr);
        var policy = fx.Box.Policy(TmpProbe.AlertPolicy);

        var run = TmpProbe.Run(policy, c.Expand(fx.R, fx.O));
        var plain = TmpProbe.Plain(c.Expand(reference.R, reference.O));

        Assert.Equal(TmpProbe.Line(plain), TmpProbe.Line(run));
        TmpProbe.SameDisk(reference.Normalized(), fx.Normalized());
        TmpProbe.StderrIsOnlyEvents(run);
        // a call naming two /tmp paths (rename, link) may report each of them; never anything else
        var allowed = c.TmpPaths(fx.R);
        Assert.InRange(run.Events.Count, 1, allowed.Length);
        Assert.Equal(c.What.Replace("{R}", fx.R), run.Events[0].Str("what"));
        foreach (var e in run.Events)
        {
            EventAssert.HasSeedSchema(e);
            Assert.Equal("read_write_tmp", e.Str("event_type"));
            Assert.Equal("alert", e.Str("action"));
            Assert.Contains(e.Str("what"), allowed);
        }
    }
}

/// <summary>3. allow: each call does exactly what it does without the library, silently.</summary>
[Trait("Architecture", "arm64")] // also run on arm64 under qemu-user (Qemu.cs)
public class TmpCProbeAllowTests
{
    [Theory]
    [MemberData(nameof(OpCase.Names), MemberType = typeof(OpCase))]
    public void Every_function_works_as_without_the_library_silently(string name)
    {
        var c = OpCase.ByName[name];
        using var fx = new OpFixture(c.NeedsXattr);
        using var reference = new OpFixture(c.NeedsXattr);
        var policy = fx.Box.Policy(TmpProbe.AllowPolicy);

        var run = TmpProbe.Run(policy, c.Expand(fx.R, fx.O));
        var plain = TmpProbe.Plain(c.Expand(reference.R, reference.O));

        Assert.Equal(TmpProbe.Line(plain), TmpProbe.Line(run));
        TmpProbe.SameDisk(reference.Normalized(), fx.Normalized());
        Assert.Equal("", run.Stderr);
    }
}

/// <summary>
/// 5 (part). Block mode outside /tmp: the same table with {R} moved to a directory outside /tmp behaves exactly as
/// without the library and reports nothing (tmpfile always creates in /tmp and is left out).
/// </summary>
public class TmpCProbeOutsideTests
{
    public static IEnumerable<object[]> Names =>
        OpCase.All.Where(c => c.What != "/tmp").Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void Every_function_outside_tmp_is_untouched_in_block_mode(string name) => Untouched(name);

    [Theory]
    [InlineData("open")]
    [InlineData("openat")]
    [InlineData("__open_2")]
    [InlineData("fopen")]
    public void An_allowed_open_through_a_symlink_keeps_errno(string op)
    {
        using var box = new Sandbox();
        var policy = box.Policy(TmpProbe.BlockPolicy);
        TmpProbe.WriteFile(Path.Combine(box.Dir, "f"), "hello\n");
        File.CreateSymbolicLink(Path.Combine(box.Dir, "lnk"), "f");
        string[] args = [op, Path.Combine(box.Dir, "lnk")];

        var plain = TmpProbe.Line(TmpProbe.Plain(args));
        var run = TmpProbe.Run(policy, args);

        Assert.EndsWith("errno=0", plain);
        Assert.Equal(plain, TmpProbe.Line(run));
        Assert.Equal("", run.Stderr);
    }

    private static void Untouched(string name)
    {
        var c = OpCase.ByName[name];
        using var a = new OutsideFixture(c.NeedsXattr);
        using var b = new OutsideFixture(c.NeedsXattr);
        var policy = a.Box.Policy(TmpProbe.BlockPolicy);

        var run = TmpProbe.Run(policy, c.Expand(a.R, a.O));
        var plain = TmpProbe.Plain(c.Expand(b.R, b.O));

        Assert.Equal(TmpProbe.Line(plain), TmpProbe.Line(run));
        TmpProbe.SameDisk(b.Normalized(), a.Normalized());
        Assert.Equal("", run.Stderr);
    }

    /// <summary>The standard fixture with {R} at &lt;Dir&gt;/r instead of under /tmp.</summary>
    private sealed class OutsideFixture : IDisposable
    {
        public Sandbox Box { get; } = new();
        public string R { get; }
        public string O { get; }

        public OutsideFixture(bool withXattr)
        {
            R = Path.Combine(Box.Dir, "r");
            O = Path.Combine(Box.Dir, "o");
            Directory.CreateDirectory(R);
            Directory.CreateDirectory(O);
            TmpProbe.WriteFile(Path.Combine(R, "f"), "hello\n");
            Directory.CreateDirectory(Path.Combine(R, "d"));
            TmpProbe.WriteFile(Path.Combine(R, "d", "a"), "a\n");
            Directory.CreateDirectory(Path.Combine(R, "e"));
            TmpProbe.WriteFile(Path.Combine(R, "x"), "x\n");
            File.CreateSymbolicLink(Path.Combine(R, "s"), "f");
            TmpProbe.WriteFile(Path.Combine(O, "of"), "outside\n");
            Directory.CreateDirectory(Path.Combine(O, "od"));
            if (withXattr) Assert.Equal("result=0 errno=0", TmpProbe.Line(TmpProbe.Plain(["setxattr", Path.Combine(R, "x")])));
        }

        public string[] Normalized() => TmpProbe.Normalized(TmpProbe.Snap(R, O), (R, "<R>"), (O, "<O>"));

        public void Dispose() => Box.Dispose();
    }
}

/// <summary>
/// Fixture for the spellings: T (under /tmp) holds x and sub/; D (outside) holds link -> T, flink -> T/x,
/// l1 -> l2 -> T/x, rl -> T/x as a relative path, dang -> T/newfile (dangling), plain/file, tmp/ (a directory
/// named tmp), and T/out -> D/plain/file.
/// </summary>
public sealed class SpellFixture : IDisposable
{
    public Sandbox Box { get; } = new();
    public string T => Box.TmpDir;
    public string D => Box.Dir;
    public string TName => Path.GetFileName(T);
    public string Policy { get; }

    public SpellFixture(string policyJson = TmpProbe.BlockPolicy)
    {
        Policy = Box.Policy(policyJson);
        TmpProbe.WriteFile(Path.Combine(T, "x"), "secret\n");
        Directory.CreateDirectory(Path.Combine(T, "sub"));
        File.CreateSymbolicLink(Path.Combine(D, "link"), T);
        File.CreateSymbolicLink(Path.Combine(D, "flink"), Path.Combine(T, "x"));
        File.CreateSymbolicLink(Path.Combine(D, "l2"), Path.Combine(T, "x"));
        File.CreateSymbolicLink(Path.Combine(D, "l1"), Path.Combine(D, "l2"));
        File.CreateSymbolicLink(Path.Combine(D, "rl"), Path.GetRelativePath(D, Path.Combine(T, "x")));
        File.CreateSymbolicLink(Path.Combine(D, "dang"), Path.Combine(T, "newfile"));
        Directory.CreateDirectory(Path.Combine(D, "plain"));
        Directory.CreateDirectory(Path.Combine(D, "plain-and-longer"));
        TmpProbe.WriteFile(Path.Combine(D, "plain", "file"), "plain\n");
        Directory.CreateDirectory(Path.Combine(D, "tmp"));
        File.CreateSymbolicLink(Path.Combine(T, "out"), Path.Combine(D, "plain", "file"));
    }

    public string[] Snap() => TmpProbe.Snap(T, D);

    public void Dispose() => Box.Dispose();
}

/// <summary>4. Spellings a careful attacker would try, in block mode: all denied, reported with the real /tmp target, disk unchanged.</summary>
public class TmpCProbeSpellingTests
{
    public sealed record Spelling(string Name, Func<SpellFixture, string[]> Args, Func<SpellFixture, string> What,
        Func<SpellFixture, string?>? Cwd = null, string Kind = "fd");

    private static Spelling S(string name, Func<SpellFixture, string[]> args, Func<SpellFixture, string> what,
        Func<SpellFixture, string?>? cwd = null, string kind = "fd") => new(name, args, what, cwd, kind);

    private static string X(SpellFixture f) => Path.Combine(f.T, "x");

    private static readonly Spelling[] All =
    [
        S("relative name, cwd in /tmp", f => ["open", "x"], X, f => f.T),
        S("relative tmp/..., cwd /", f => ["open", $"tmp/{f.TName}/x"], X, f => "/"),
        S("relative ../.. climbing from outside", f => ["open", Path.GetRelativePath(f.D, X(f))], X, f => f.D),
        S("doubled slashes", f => ["open", $"//tmp//{f.TName}//x"], X),
        S("dot components", f => ["open", $"/tmp/./{f.TName}/./x"], X),
        S("dot-dot from /usr", f => ["open", $"/usr/../tmp/{f.TName}/x"], X),
        S("dot-dot over a missing directory", f => ["open", $"/tmp/nonexistent/../{f.TName}/x"], X),
        // the prefilter scans 16 bytes at a time: a ".." past the first block, at two offsets 11 bytes apart
        S("dot-dot past the first 16 bytes", f => ["open", $"{f.D}/plain/../{Path.GetRelativePath(f.D, X(f))}"], X),
        S("dot-dot 11 bytes further", f => ["open", $"{f.D}/plain-and-longer/../{Path.GetRelativePath(f.D, X(f))}"], X),
        S("/tmp itself", f => ["--oflags", "RDONLY|DIRECTORY", "open", "/tmp"], f => "/tmp"),
        S("/tmp/ with a trailing slash", f => ["--oflags", "RDONLY|DIRECTORY", "open", "/tmp/"], f => "/tmp"),
        S("/tmp/. (opendir)", f => ["opendir", "/tmp/."], f => "/tmp", kind: "ptr"),
        S("/usr/.. /tmp via openat", f => ["openat", $"/usr/../tmp/{f.TName}/x"], X),
        S("directory symlink <Dir>/link/x", f => ["open", Path.Combine(f.D, "link", "x")], X),
        S("file symlink to a /tmp file", f => ["open", Path.Combine(f.D, "flink")], X),
        S("chain of two symlinks", f => ["open", Path.Combine(f.D, "l1")], X),
        S("relative symlink", f => ["open", Path.Combine(f.D, "rl")], X),
        S("fopen through a relative symlink", f => ["fopen", Path.Combine(f.D, "rl")], X, kind: "ptr"),
        S("/proc/self/cwd/x, cwd in /tmp", f => ["open", "/proc/self/cwd/x"], X, f => f.T),
        S("/proc/self/root/tmp/...", f => ["open", $"/proc/self/root/tmp/{f.TName}/x"], X),
        S("/proc/self/fd/<dir fd>/x", f => ["--rawdir", f.T, "open", "/proc/self/fd/{fd}/x"], X),
        S("/proc/self/fd/<O_PATH fd>/x", f => ["--rawpath", f.T, "open", "/proc/self/fd/{fd}/x"], X),
        S("/proc/self/fd/<fd of <Dir>/link>/x", f => ["--rawdir", Path.Combine(f.D, "link"), "open", "/proc/self/fd/{fd}/x"], X),
        S("openat on an inherited dirfd", f => ["--rawdir", f.T, "openat", "x"], X),
        S("openat64 on an inherited O_PATH dirfd", f => ["--rawpath", f.T, "openat64", "x"], X),
        S("openat ../x from an inherited dirfd in a subdirectory", f => ["--rawdir", Path.Combine(f.T, "sub"), "openat", "../x"], X),
        S("openat climbing into /tmp from an outside dirfd", f => ["--rawdir", f.D, "openat", Path.GetRelativePath(f.D, X(f))], X),
        S("openat on a dirfd opened through <Dir>/link", f => ["--rawdir", Path.Combine(f.D, "link"), "openat", "x"], X),
        S("__openat_2 on an inherited dirfd", f => ["--rawdir", f.T, "__openat_2", "x"], X),
        S("open O_DIRECTORY of <Dir>/link itself", f => ["--oflags", "RDONLY|DIRECTORY", "open", Path.Combine(f.D, "link")], f => f.T),
        S("open O_PATH of <Dir>/link itself", f => ["--oflags", "PATH|DIRECTORY", "open", Path.Combine(f.D, "link")], f => f.T),
        S("O_CREAT through a dangling symlink into /tmp", f => ["--oflags", "WRONLY|CREAT", "open", Path.Combine(f.D, "dang")],
            f => Path.Combine(f.T, "newfile")),
        S("fopen w through a dangling symlink into /tmp", f => ["--fmode", "w", "fopen", Path.Combine(f.D, "dang")],
            f => Path.Combine(f.T, "newfile"), kind: "ptr"),
        S("chdir into /tmp, then a relative open", f => ["--chdir", f.T, "open", "x"], X),
        S("chdir through <Dir>/link, then a relative open", f => ["--chdir", Path.Combine(f.D, "link"), "open", "x"], X),
        S("chdir /, then tmp/...", f => ["--chdir", "/", "open", $"tmp/{f.TName}/x"], X, f => f.D),
        S("chdir into /tmp, then ./x with creat", f => ["--chdir", f.T, "creat", "./newfile"], f => Path.Combine(f.T, "newfile")),
        S("fchdir into /tmp, then a relative open", f => ["--fchdir", f.T, "open", "x"], X),
        S("fchdir through <Dir>/link, then a relative open", f => ["--fchdir", Path.Combine(f.D, "link"), "open", "x"], X),
        S("chdir into /tmp, then /proc/self/cwd/x", f => ["--chdir", f.T, "open", "/proc/self/cwd/x"], X),
        S("relative mkstemp template, cwd in /tmp", f => ["mkstemp", "tplXXXXXX"], f => Path.Combine(f.T, "tplXXXXXX"), f => f.T),
        S("relative symlink creation, cwd in /tmp", f => ["symlink", "/etc/passwd", "ln"], f => Path.Combine(f.T, "ln"), f => f.T, "int"),
        S("mkdir through <Dir>/link", f => ["mkdir", Path.Combine(f.D, "link", "newdir")], f => Path.Combine(f.T, "newdir"), kind: "int"),
        S("unlink through <Dir>/link", f => ["unlink", Path.Combine(f.D, "link", "x")], X, kind: "int"),
        S("rename into /tmp through <Dir>/link", f => ["rename", Path.Combine(f.D, "plain", "file"), Path.Combine(f.D, "link", "stolen")],
            f => Path.Combine(f.T, "stolen"), kind: "int"),
        S("truncate through a symlink", f => ["truncate", Path.Combine(f.D, "flink")], X, kind: "int"),
        S("chmod through a symlink", f => ["chmod", Path.Combine(f.D, "flink")], X, kind: "int"),
        S("utimensat on an inherited dirfd", f => ["--rawdir", f.T, "utimensat", "x"], X, kind: "int"),
        S("unlinkat on an inherited dirfd", f => ["--rawdir", f.T, "unlinkat", "x"], X, kind: "int"),
        S("setxattr through /proc/self/root", f => ["setxattr", $"/proc/self/root/tmp/{f.TName}/x"], X, kind: "int"),
        S("opendir through <Dir>/link", f => ["opendir", Path.Combine(f.D, "link")], f => f.T, kind: "ptr"),
        S("scandirat . on an inherited dirfd", f => ["--rawdir", f.T, "scandirat", "."], f => f.T, kind: "int"),
        S("/proc/self/fd/<fd of a /tmp file> reopened for writing", f => ["--rawfile", X(f), "--oflags", "WRONLY|APPEND", "open", "/proc/self/fd/{fd}"], X),
        S("/dev/fd/<fd of a /tmp file> reopened", f => ["--rawfile", X(f), "fopen", "/dev/fd/{fd}"], X, kind: "ptr"),
        S("utimensat NULL path on an inherited /tmp dirfd", f => ["--rawdir", f.T, "utimensat", "@NULL"], f => f.T, kind: "int"),
        S("futimesat NULL path on an inherited /tmp dirfd", f => ["--rawdir", f.T, "futimesat", "@NULL"], f => f.T, kind: "int"),
        S("fchownat EMPTY_PATH on an inherited /tmp dirfd", f => ["--rawdir", f.T, "--atflags", "EMPTY_PATH", "fchownat", ""], f => f.T, kind: "int"),
        S("fchownat EMPTY_PATH on an inherited /tmp file fd", f => ["--rawfile", X(f), "--dirfd", "{fd}", "--atflags", "EMPTY_PATH", "fchownat", ""], X, kind: "int"),
        // deliberate: a link that lives in /tmp is reached through /tmp, so it is denied even though it points out
        S("symlink in /tmp pointing out of it", f => ["open", Path.Combine(f.T, "out")], f => Path.Combine(f.T, "out")),
    ];

    private static readonly Dictionary<string, Spelling> ByName = All.ToDictionary(s => s.Name);

    public static IEnumerable<object[]> Names => All.Select(s => new object[] { s.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void Every_spelling_is_denied_with_the_real_target(string name)
    {
        var s = ByName[name];
        using var f = new SpellFixture();
        var before = f.Snap();

        var run = TmpProbe.Run(f.Policy, s.Args(f), s.Cwd?.Invoke(f));

        Assert.Equal(s.Kind == "ptr" ? TmpProbe.DeniedNull : TmpProbe.Denied, TmpProbe.Line(run));
        var e = TmpProbe.SingleEvent(run, "block", s.What(f));
        Assert.True(e.Str("what") == "/tmp" || e.Str("what").StartsWith("/tmp/", StringComparison.Ordinal));
        TmpProbe.StderrIsOnlyEvents(run);
        TmpProbe.SameDisk(before, f.Snap());
    }

    [Fact]
    public void The_same_spellings_reach_the_tmp_file_without_the_library()
    {
        // the spellings are real: without the library the (reading) ones do open the /tmp file
        using var f = new SpellFixture();
        string[][] reading =
        [
            ["open", Path.Combine(f.D, "link", "x")], ["open", Path.Combine(f.D, "l1")], ["open", Path.Combine(f.D, "rl")],
            ["open", $"/proc/self/root/tmp/{f.TName}/x"], ["--rawpath", f.T, "open", "/proc/self/fd/{fd}/x"],
            ["--rawdir", Path.Combine(f.T, "sub"), "openat", "../x"], ["--fchdir", Path.Combine(f.D, "link"), "open", "x"],
        ];
        foreach (var args in reading) Assert.Equal("result=fd errno=0", TmpProbe.Line(TmpProbe.Plain(args)));
    }

    [Fact]
    public void O_CREAT_O_EXCL_on_a_dangling_symlink_into_tmp_creates_nothing()
    {
        // the kernel refuses O_CREAT|O_EXCL on any symlink (EEXIST), so nothing can be created in /tmp this way;
        // the library may answer as libc does (EEXIST, no event) or deny (EACCES with one event) — never create
        using var f = new SpellFixture();
        string[] args = ["--oflags", "WRONLY|CREAT|EXCL", "open", Path.Combine(f.D, "dang")];
        Assert.Equal("result=-1 errno=17", TmpProbe.Line(TmpProbe.Plain(args)));
        var before = f.Snap();

        var run = TmpProbe.Run(f.Policy, args);

        var line = TmpProbe.Line(run);
        if (line == TmpProbe.Denied) TmpProbe.SingleEvent(run, "block", Path.Combine(f.T, "newfile"));
        else
        {
            Assert.Equal("result=-1 errno=17", line);
            Assert.Empty(run.Events);
        }
        Assert.False(File.Exists(Path.Combine(f.T, "newfile")));
        TmpProbe.SameDisk(before, f.Snap());
    }

    [Fact]
    public void The_fortified_build_routes_open_to_the_2_forms_and_they_are_denied()
    {
        var exe = TmpProbe.Fortified.Value;
        var nm = Preloaded.RunPlain("nm", ["-u", exe]);
        Assert.Equal(0, nm.ExitCode);
        var undefined = nm.Stdout.Split('\n').Select(l => l.Trim().Split(' ').Last().Split('@')[0]).ToHashSet();
        foreach (var symbol in new[] { "__open_2", "__open64_2", "__openat_2", "__openat64_2" })
            Assert.Contains(symbol, undefined);

        using var f = new SpellFixture();
        foreach (var op in new[] { "fortify-open", "fortify-open64", "fortify-openat", "fortify-openat64" })
        {
            var run = TmpProbe.Run(f.Policy, [op, X(f)], exe: exe);
            Assert.Equal(TmpProbe.Denied, TmpProbe.Line(run));
            TmpProbe.SingleEvent(run, "block", X(f));
            // the same call outside /tmp works and is silent
            var outside = TmpProbe.Run(f.Policy, [op, Path.Combine(f.D, "plain", "file")], exe: exe);
            Assert.Equal("result=fd errno=0", TmpProbe.Line(outside));
            Assert.Equal("", outside.Stderr);
        }
        // through a relative path and an inherited dirfd too
        var relative = TmpProbe.Run(f.Policy, ["--rawdir", f.T, "fortify-openat", "x"], exe: exe);
        Assert.Equal(TmpProbe.Denied, TmpProbe.Line(relative));
        TmpProbe.SingleEvent(relative, "block", X(f));
    }
}

/// <summary>The _2 forms let O_CREAT/O_TMPFILE through unjudged: glibc itself aborts such a call before any open.</summary>
public class TmpCProbeFortifyCreateTests
{
    [Theory]
    [InlineData("__open_2", "WRONLY|CREAT")]
    [InlineData("__open64_2", "WRONLY|CREAT")]
    [InlineData("__openat_2", "WRONLY|CREAT")]
    [InlineData("__openat64_2", "RDWR|TMPFILE")]
    public void A_2_form_with_O_CREAT_aborts_as_in_libc_and_creates_nothing(string op, string flags)
    {
        using var f = new SpellFixture();
        var target = flags.Contains("TMPFILE") ? f.T : Path.Combine(f.T, "created");
        string[] args = ["--oflags", flags, op, target];
        var before = f.Snap();

        var plain = TmpProbe.Plain(args);
        var run = TmpProbe.Run(f.Policy, args);

        Assert.NotEqual(0, plain.ExitCode);
        Assert.Contains("without mode", plain.Stderr);
        Assert.Equal(plain.ExitCode, run.ExitCode);
        Assert.Contains("without mode", run.Stderr);
        Assert.DoesNotContain("result=", run.Stdout);
        TmpProbe.SameDisk(before, f.Snap());
    }
}

/// <summary>5. No false positives in block mode: look-alikes and other places behave exactly as without the library.</summary>
public class TmpCProbeLookAlikeTests
{
    [Theory]
    [InlineData("open", "/tmpfoo/x")]
    [InlineData("open", "/tmpfoo")]
    [InlineData("mkdir", "/tmpfoo/x")]
    [InlineData("unlink", "/tmpx/y")]
    [InlineData("opendir", "/tmp_/d")]
    [InlineData("open", "/tmp/../tmpfoo/x")]
    [InlineData("fopen", "/tmp.bak/x")]
    public void Look_alike_paths_fail_with_ENOENT_and_no_event(string op, string path)
    {
        using var box = new Sandbox();
        var policy = box.Policy(TmpProbe.BlockPolicy);
        var plain = TmpProbe.Line(TmpProbe.Plain([op, path]));
        Assert.EndsWith("errno=2", plain);

        var run = TmpProbe.Run(policy, [op, path]);

        Assert.Equal(plain, TmpProbe.Line(run));
        Assert.Equal("", run.Stderr);
    }

    [Fact]
    public void Var_tmp_is_not_tmp()
    {
        using var box = new Sandbox();
        var policy = box.Policy(TmpProbe.BlockPolicy);
        var file = "/var/tmp/iron-" + Guid.NewGuid().ToString("N")[..12];
        var dir = file + ".d";
        try
        {
            var runs = new (string[] Args, string Expected, Func<bool> Disk)[]
            {
                (["--oflags", "WRONLY|CREAT", "open", file], "result=fd errno=0", () => File.Exists(file)),
                (["--oflags", "WRONLY|APPEND", "openat", file], "result=fd errno=0", () => File.Exists(file)),
                (["lchmod", file], "result=0 errno=0", () => File.GetUnixFileMode(file) == (UnixFileMode)0b110_000_000),
                (["rename", file, file + ".2"], "result=0 errno=0", () => File.Exists(file + ".2") && !File.Exists(file)),
                (["link", file + ".2", file + ".3"], "result=0 errno=0", () => File.Exists(file + ".3")),
                (["unlink", file + ".2"], "result=0 errno=0", () => !File.Exists(file + ".2")),
                (["remove", file + ".3"], "result=0 errno=0", () => !File.Exists(file + ".3")),
                (["mkdir", dir], "result=0 errno=0", () => Directory.Exists(dir)),
                (["mkstemp", dir + "/tplXXXXXX"], "result=fd errno=0", () => Directory.GetFiles(dir).Length == 1),
                (["mkdtemp", dir + "/tplXXXXXX"], "result=ptr errno=0", () => Directory.GetDirectories(dir).Length == 1),
            };
            foreach (var (args, expected, disk) in runs)
            {
                var run = TmpProbe.Run(policy, args);
                Assert.Equal(expected, TmpProbe.Line(run));
                Assert.Equal("", run.Stderr);
                Assert.True(disk(), $"{string.Join(' ', args)} did not do its work");
            }
        }
        finally
        {
            foreach (var f in new[] { file, file + ".2", file + ".3" }) File.Delete(f);
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Var_tmp_is_not_tmp_for_calls_that_follow_the_last_link()
    {
        using var box = new Sandbox();
        var policy = box.Policy(TmpProbe.BlockPolicy);
        var file = "/var/tmp/iron-" + Guid.NewGuid().ToString("N")[..12];
        try
        {
            var runs = new (string[] Args, string Expected, Func<bool> Disk)[]
            {
                (["--fmode", "a", "fopen", file], "result=ptr errno=0", () => File.Exists(file)),
                (["chmod", file], "result=0 errno=0", () => File.GetUnixFileMode(file) == (UnixFileMode)0b110_000_000),
                (["utime", file], "result=0 errno=0", () => File.GetLastWriteTimeUtc(file) == DateTime.UnixEpoch.AddSeconds(1_000_000_000)),
                (["opendir", "/var/tmp"], "result=ptr errno=0", () => true),
            };
            foreach (var (args, expected, disk) in runs)
            {
                var run = TmpProbe.Run(policy, args);
                Assert.Equal(expected, TmpProbe.Line(run));
                Assert.Equal("", run.Stderr);
                Assert.True(disk(), $"{string.Join(' ', args)} did not do its work");
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_directory_named_tmp_elsewhere_is_not_tmp()
    {
        using var f = new SpellFixture();
        var inTmp = Path.Combine(f.D, "tmp");

        var absolute = TmpProbe.Run(f.Policy, ["--oflags", "WRONLY|CREAT", "open", Path.Combine(inTmp, "x")]);
        var relative = TmpProbe.Run(f.Policy, ["--oflags", "WRONLY|CREAT", "open", "tmp/y"], cwd: f.D);
        var chdir = TmpProbe.Run(f.Policy, ["--chdir", inTmp, "mkdir", "z"]);
        var dotdot = TmpProbe.Run(f.Policy, ["--chdir", inTmp, "creat", "../tmp/w"]);

        Assert.Equal("result=fd errno=0", TmpProbe.Line(absolute));
        Assert.Equal("result=fd errno=0", TmpProbe.Line(relative));
        Assert.Equal("result=0 errno=0", TmpProbe.Line(chdir));
        Assert.Equal("result=fd errno=0", TmpProbe.Line(dotdot));
        foreach (var run in new[] { absolute, relative, chdir, dotdot }) Assert.Equal("", run.Stderr);
        Assert.True(File.Exists(Path.Combine(inTmp, "x")) && File.Exists(Path.Combine(inTmp, "y")) &&
                    Directory.Exists(Path.Combine(inTmp, "z")) && File.Exists(Path.Combine(inTmp, "w")));
    }

    [Fact]
    public void TMPDIR_elsewhere_is_covered_too_and_only_when_set()
    {
        // SPEC §2: "/tmp ... (and under $TMPDIR where that resolves elsewhere)"
        using var f = new SpellFixture();
        var tmpdir = Path.Combine(f.D, "plain");
        var file = Path.Combine(tmpdir, "file");
        var env = new Dictionary<string, string?> { ["TMPDIR"] = tmpdir };

        var covered = Preloaded.Run(TmpProbe.Exe.Value, ["open", file], f.Policy, env);
        Assert.Equal(TmpProbe.Denied, TmpProbe.Line(covered));
        TmpProbe.SingleEvent(covered, "block", file);

        var uncovered = TmpProbe.Run(f.Policy, ["open", file]);
        Assert.Equal("result=fd errno=0", TmpProbe.Line(uncovered));
        Assert.Equal("", uncovered.Stderr);
    }

    [Fact]
    public void Leaving_tmp_by_chdir_ends_the_denial()
    {
        // the working directory is tracked both ways: after chdir out of /tmp a relative name is outside again
        using var f = new SpellFixture();
        TmpProbe.WriteFile(Path.Combine(f.D, "x"), "outside\n");
        var run = TmpProbe.Run(f.Policy, ["--chdir", f.D, "open", "x"], cwd: f.T);
        Assert.Equal("result=fd errno=0", TmpProbe.Line(run));
        Assert.Equal("", run.Stderr);
    }

    [Fact]
    public void A_symlink_in_tmp_that_points_out_is_denied_deliberately()
    {
        // deliberate: the name is reached through /tmp (the link itself is a /tmp file an attacker could plant or
        // swap), so the call is judged by the /tmp name and denied; the file it points to stays readable directly
        using var f = new SpellFixture();
        var run = TmpProbe.Run(f.Policy, ["open", Path.Combine(f.T, "out")]);
        Assert.Equal(TmpProbe.Denied, TmpProbe.Line(run));
        TmpProbe.SingleEvent(run, "block", Path.Combine(f.T, "out"));

        var direct = TmpProbe.Run(f.Policy, ["open", Path.Combine(f.D, "plain", "file")]);
        Assert.Equal("result=fd errno=0", TmpProbe.Line(direct));
        Assert.Equal("", direct.Stderr);
    }
}

/// <summary>6. Bad arguments get libc's own answer under the library (block mode), with no event and no crash.</summary>
[Trait("Architecture", "arm64")] // also run on arm64 under qemu-user (Qemu.cs)
public class TmpCProbeBadArgumentTests
{
    public sealed record Bad(string Name, Func<Sandbox, string[]> Args, int Errno, bool CwdInTmp = false);

    /// <summary>A path of exactly <paramref name="length"/> bytes under <paramref name="dir"/>, in components of at most 100 bytes.</summary>
    public static string PathOfLength(string dir, int length)
    {
        var path = new System.Text.StringBuilder(dir);
        while (path.Length < length)
        {
            int room = length - path.Length - 1;
            if (room <= 0) path.Append('a');
            else path.Append('/').Append('a', Math.Min(100, room));
        }
        var p = path.ToString();
        Assert.Equal(length, p.Length);
        return p;
    }

    private static readonly Bad[] All =
    [
        new("open NULL", b => ["open", "@NULL"], 14),
        new("openat NULL", b => ["openat", "@NULL"], 14),
        new("fopen NULL", b => ["fopen", "@NULL"], 14),
        new("mkdir NULL", b => ["mkdir", "@NULL"], 14),
        new("unlink NULL", b => ["unlink", "@NULL"], 14),
        new("rename NULL from", b => ["rename", "@NULL", Path.Combine(b.Dir, "y")], 14),
        new("rename NULL to", b => ["rename", Path.Combine(b.Dir, "nothing"), "@NULL"], 14),
        new("open (char*)1", b => ["open", "@ONE"], 14),
        new("openat (char*)1", b => ["openat", "@ONE"], 14),
        new("fopen (char*)1", b => ["fopen", "@ONE"], 14),
        new("mkdir (char*)1", b => ["mkdir", "@ONE"], 14),
        new("unlink (char*)1", b => ["unlink", "@ONE"], 14),
        new("rename (char*)1", b => ["rename", "@ONE", Path.Combine(b.Dir, "y")], 14),
        new("open 5000-byte path", b => ["open", PathOfLength(b.Dir, 5000)], 36),
        new("mkdir 5000-byte path", b => ["mkdir", PathOfLength(b.Dir, 5000)], 36),
        new("fopen 5000-byte path", b => ["fopen", PathOfLength(b.Dir, 5000)], 36),
        new("rename 5000-byte path", b => ["rename", PathOfLength(b.Dir, 5000), Path.Combine(b.Dir, "y")], 36),
        new("open 5000-byte path under /tmp", b => ["open", PathOfLength(b.TmpDir, 5000)], 36),
        new("open 4095-byte path", b => ["open", PathOfLength(b.Dir, 4095)], 2),
        new("unlink 4095-byte path", b => ["unlink", PathOfLength(b.Dir, 4095)], 2),
        new("open 4096-byte path", b => ["open", PathOfLength(b.Dir, 4096)], 36),
        new("openat bad dirfd", b => ["--dirfd", "9999", "openat", "x"], 9),
        new("mkdirat bad dirfd", b => ["--dirfd", "9999", "mkdirat", "x"], 9),
        new("unlinkat bad dirfd", b => ["--dirfd", "9999", "unlinkat", "x"], 9),
        new("renameat bad dirfd", b => ["--dirfd", "9999", "renameat", "x", "y"], 9),
        new("fchmodat bad dirfd", b => ["--dirfd", "9999", "fchmodat", "x"], 9),
        new("utimensat bad dirfd", b => ["--dirfd", "9999", "utimensat", "x"], 9),
        new("symlinkat bad dirfd", b => ["--dirfd", "9999", "symlinkat", "t", "x"], 9),
        new("scandirat bad dirfd", b => ["--dirfd", "9999", "scandirat", "x"], 9),
        new("open a symlink loop", b => ["open", Loop(b)], 40),
        new("fopen a symlink loop", b => ["fopen", Loop(b)], 40),
        new("chmod a symlink loop", b => ["chmod", Loop(b)], 40),
        new("open under a symlink loop", b => ["open", Loop(b) + "/x"], 40),
        new("open empty path", b => ["open", ""], 2),
        new("fopen empty path", b => ["fopen", ""], 2),
        new("mkdir empty path", b => ["mkdir", ""], 2),
        new("unlink empty path", b => ["unlink", ""], 2),
        new("rename empty path", b => ["rename", "", Path.Combine(b.Dir, "y")], 2),
        new("opendir empty path", b => ["opendir", ""], 2),
        new("truncate empty path", b => ["truncate", ""], 2),
    ];

    private static readonly Dictionary<string, Bad> ByName = All.ToDictionary(b => b.Name);

    /// <summary>&lt;Dir&gt;/loop -> loop2 -> loop: the kernel answers ELOOP.</summary>
    private static string Loop(Sandbox b)
    {
        var loop = Path.Combine(b.Dir, "loop");
        if (!Path.Exists(loop))
        {
            File.CreateSymbolicLink(loop, "loop2");
            File.CreateSymbolicLink(Path.Combine(b.Dir, "loop2"), "loop");
        }
        return loop;
    }

    public static IEnumerable<object[]> Names => All.Select(b => new object[] { b.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void Bad_arguments_get_libc_answer(string name)
    {
        var bad = ByName[name];
        using var box = new Sandbox();
        var policy = box.Policy(TmpProbe.BlockPolicy);
        var args = bad.Args(box);

        var plain = TmpProbe.Line(TmpProbe.Plain(args, box.Dir));
        var run = TmpProbe.Run(policy, args, box.Dir);

        Assert.EndsWith($"errno={bad.Errno}", plain);
        Assert.Equal(plain, TmpProbe.Line(run));
        Assert.Empty(run.Events);
        Assert.Equal("", run.Stderr);
    }

    [Theory]
    [InlineData("open")]
    [InlineData("mkdir")]
    [InlineData("unlink")]
    [InlineData("fopen")]
    public void Empty_path_with_cwd_in_tmp_gets_ENOENT(string op)
    {
        using var box = new Sandbox();
        var policy = box.Policy(TmpProbe.BlockPolicy);

        var plain = TmpProbe.Line(TmpProbe.Plain([op, ""], box.TmpDir));
        var run = TmpProbe.Run(policy, [op, ""], box.TmpDir);

        Assert.EndsWith("errno=2", plain);
        Assert.Equal(plain, TmpProbe.Line(run));
        Assert.Empty(run.Events);
        Assert.Equal("", run.Stderr);
    }
}

/// <summary>7. A broken or missing policy fails closed; an absent one means monitor mode.</summary>
public class TmpCProbePolicyTests
{
    private static void FailsClosed(SpellFixture f, string policyPath, params string[] mentioned)
    {
        var run = TmpProbe.Run(policyPath, ["open", Path.Combine(f.T, "x")]);
        Assert.Equal(TmpProbe.Denied, TmpProbe.Line(run));
        TmpProbe.SingleEvent(run, "block", Path.Combine(f.T, "x"));
        Assert.True(run.Diagnostics.Count == 1, $"expected one diagnostics line:\n{run}");
        Assert.Contains("policy error", run.Diagnostics[0]);
        foreach (var m in mentioned) Assert.Contains(m, run.Diagnostics[0]);
        // fail closed denies /tmp, not everything
        var outside = TmpProbe.Run(policyPath, ["open", Path.Combine(f.D, "plain", "file")]);
        Assert.Equal("result=fd errno=0", TmpProbe.Line(outside));
        Assert.Empty(outside.Events);
    }

    [Fact]
    public void A_misspelled_key_fails_closed()
    {
        using var f = new SpellFixture();
        FailsClosed(f, f.Box.Policy("""{"read_write_tmpp":"allow"}"""), "read_write_tmpp");
    }

    [Fact]
    public void An_unknown_action_fails_closed()
    {
        using var f = new SpellFixture();
        FailsClosed(f, f.Box.Policy("""{"read_write_tmp":"permit"}"""), "read_write_tmp", "permit");
    }

    [Fact]
    public void A_missing_policy_file_fails_closed()
    {
        using var f = new SpellFixture();
        var missing = Path.Combine(f.D, "no-such-policy.json");
        FailsClosed(f, missing, missing);
    }

    [Fact]
    public void An_unreadable_policy_file_fails_closed()
    {
        using var f = new SpellFixture();
        // a directory cannot be read as a file, whoever runs the test (root reads a mode-000 file)
        var directory = Path.Combine(f.D, "policy.json");
        Directory.CreateDirectory(directory);
        FailsClosed(f, directory, directory);
    }

    [Fact]
    public void No_policy_means_monitor_mode()
    {
        using var f = new SpellFixture();
        var file = Path.Combine(f.T, "x");
        var run = TmpProbe.Run(null, ["--oflags", "WRONLY|APPEND", "open", file]);
        Assert.Equal("result=fd errno=0", TmpProbe.Line(run));
        TmpProbe.SingleEvent(run, "alert", file);
        Assert.True(run.Diagnostics.Count == 1, $"expected one warning line:\n{run}");
        Assert.Contains("IRON_FUNCTION_POLICY", run.Diagnostics[0]);
        Assert.DoesNotContain("policy error", run.Diagnostics[0]);
    }
}

/// <summary>8. Many threads: every allowed open works, every /tmp open is denied, nothing crashes.</summary>
public class TmpCProbeThreadTests
{
    [Fact]
    public void Eight_threads_open_and_are_denied_correctly()
    {
        using var f = new SpellFixture();
        var outside = Path.Combine(f.D, "plain", "file");
        var tmp = Path.Combine(f.T, "x");

        var run = TmpProbe.Run(f.Policy, ["threads", outside, tmp]);

        Assert.Equal("result=0 errno=0 ok=16000 denied=800 wrong=0", TmpProbe.Line(run));
        TmpProbe.StderrIsOnlyEvents(run);
        // identical repeats may be coalesced, so the count of lines is bounded, not fixed
        Assert.InRange(run.Events.Count, 1, 800);
        foreach (var e in run.Events)
        {
            EventAssert.HasSeedSchema(e);
            Assert.Equal("block", e.Str("action"));
            Assert.Equal(tmp, e.Str("what"));
        }
    }
}
