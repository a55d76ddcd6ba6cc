using System.Text.RegularExpressions;
using IronFunction.Tests.Lambda;

namespace IronFunction.Tests.EndToEnd;

// What the library judges is what the kernel uses (SPEC §7): another thread changing the path's bytes, swapping a link
// or the working directory between the judgement and the call, and a thread with a working directory of its own.
// probes/race_probe.c races a flipper thread against the calls for a bounded time; a race that is lost shows as a file
// under /tmp or the handler's bytes read, which the probe counts and these tests check on disk.

/// <summary>The race probe and its runs.</summary>
public static class RaceProbe
{
    public const int Tries = 100000;
    public const int Milliseconds = 3000;

    public static readonly Lazy<string> Exe = new(() => CProbe.Compile("race_probe",
        File.ReadAllText(Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", "race_probe.c")),
        "-pthread -Wno-format-truncation"));

    /// <summary>The probe's counters line ("landed=0 created=12 calls=20000") as numbers; the probe must have finished.</summary>
    public static Dictionary<string, int> Counters(RunResult run)
    {
        Assert.True(run.ExitCode == 0, $"the probe did not finish normally:\n{run}");
        var line = run.Stdout.Split('\n').LastOrDefault(l => l.Contains("calls=", StringComparison.Ordinal));
        Assert.True(line != null, $"no counters:\n{run}");
        return Regex.Matches(line!, @"(\w+)=(-?\d+)").ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value));
    }

    public static void NoDiagnostics(RunResult run) =>
        Assert.True(run.Diagnostics.Count == 0, $"the library logged:\n{string.Join('\n', run.Diagnostics)}");
}

public class PathRaceTests
{
    [Theory]
    [InlineData("bytes")]      // "/tmp_/x" <-> "/tmp//x" in the caller's buffer
    [InlineData("link-dir")]   // a directory link swapped between a safe directory and /tmp
    [InlineData("link-last")]  // the followed last component swapped between a safe file and one in /tmp
    [InlineData("link-appear")] // the followed last component absent when judged, then a link into /tmp
    [InlineData("cwd")]        // the working directory flipped between a safe directory and /tmp
    public void Creating_calls_never_land_in_tmp_whatever_another_thread_changes(string kind)
    {
        using var box = new Sandbox();
        var run = Preloaded.Run(RaceProbe.Exe.Value,
            ["create", kind, box.Dir, box.TmpDir, RaceProbe.Tries.ToString(), RaceProbe.Milliseconds.ToString()],
            box.Policy(TmpProbe.BlockPolicy), TmpProbe.Env);
        var counters = RaceProbe.Counters(run);
        Assert.True(counters["calls"] > 0, run.ToString());
        Assert.Equal(0, counters["landed"]);
        Assert.Empty(Directory.GetFileSystemEntries(box.TmpDir));
        // the /tmp side of the race was met, and every time it was judged so
        Assert.NotEmpty(run.Events);
        foreach (var e in run.Events)
        {
            Assert.Equal("block", e.Str("action"));
            Assert.StartsWith(box.TmpDir, e.Str("what"));
        }
        RaceProbe.NoDiagnostics(run);
    }

    [Theory]
    [InlineData("cwd", "alert")]
    [InlineData("link-dir", "alert")]
    [InlineData("cwd", "allow")]
    public void Alert_reports_what_lands_and_allow_stays_silent(string kind, string action)
    {
        using var box = new Sandbox();
        var run = Preloaded.Run(RaceProbe.Exe.Value,
            ["create", kind, box.Dir, box.TmpDir, "4000", "1000"],
            box.Policy($$"""{"read_write_tmp":"{{action}}"}"""), TmpProbe.Env);
        var counters = RaceProbe.Counters(run);
        RaceProbe.NoDiagnostics(run);
        if (action == "allow") { Assert.Empty(run.Events); return; }
        // whatever landed in /tmp was let through and reported
        if (counters["landed"] > 0) Assert.NotEmpty(run.Events);
        foreach (var e in run.Events)
        {
            Assert.Equal("alert", e.Str("action"));
            Assert.StartsWith(box.TmpDir, e.Str("what"));
        }
    }

    [Fact]
    public void A_call_on_a_descriptor_acts_on_the_file_judged_whatever_is_dup2ed_onto_it()
    {
        using var box = new Sandbox();
        var safe = Path.Combine(box.Dir, "f");
        var inTmp = Path.Combine(box.TmpDir, "f");
        TmpProbe.WriteFile(safe, "safe\n");
        TmpProbe.WriteFile(inTmp, "tmp\n");
        var run = Preloaded.Run(RaceProbe.Exe.Value,
            ["descriptor", safe, inTmp, RaceProbe.Tries.ToString(), RaceProbe.Milliseconds.ToString()],
            box.Policy(TmpProbe.BlockPolicy), TmpProbe.Env);
        Assert.Equal(0, RaceProbe.Counters(run)["landed"]);
        Assert.Equal(TmpProbe.T0, File.GetLastWriteTimeUtc(inTmp));
        Assert.NotEmpty(run.Events);
        RaceProbe.NoDiagnostics(run);
    }

    [Theory]
    [InlineData("bytes")]      // "app.pz" <-> "app.py"
    [InlineData("link-dir")]   // <box>/lnk/app.py, lnk swapped between a look-alike directory and the task root
    [InlineData("link-last")]  // <box>/lnk swapped between a look-alike app.py and the handler
    [InlineData("link-appear")] // <box>/lnk absent when judged, then a link to the handler
    [InlineData("cwd")]        // "app.py" with the working directory flipped between the look-alike and the task root
    public void Reading_calls_never_reach_the_handler_whatever_another_thread_changes(string kind)
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var elsewhere = Path.Combine(box.Dir, "elsewhere");
        File.WriteAllText(Path.Combine(root.Dir, "app.pz"), "look-alike\n");
        File.WriteAllText(Path.Combine(elsewhere, "app.py"), "look-alike\n");
        var run = Preloaded.Run(RaceProbe.Exe.Value,
            ["read", kind, root.Dir, elsewhere, RaceProbe.Tries.ToString(), RaceProbe.Milliseconds.ToString()],
            box.Policy(HandlerRuns.Block), root.Env(), cwd: box.Dir);
        var counters = RaceProbe.Counters(run);
        Assert.True(counters["calls"] > 0, run.ToString());
        Assert.Equal(0, counters["leaked"]);
        Assert.False(File.Exists(Path.Combine(box.Dir, "copy.py")));
        Assert.Equal(ProbeTaskRoot.Source, File.ReadAllText(root.Handler));
        foreach (var e in run.Events)
        {
            Assert.Equal("read_handler", e.Str("event_type"));
            Assert.Equal(root.Handler, e.Str("what"));
        }
        RaceProbe.NoDiagnostics(run);
    }
}

/// <summary>
/// A thread that unshared its filesystem context (unshare(CLONE_FS)) has a working directory of its own: its relative
/// paths are judged against it, even after another thread's relative call read the process's directory again.
/// </summary>
public class PerThreadWorkingDirectoryTests
{
    [Theory]
    [InlineData("open")]
    [InlineData("fopen")]
    [InlineData("mkdir")]
    [InlineData("symlink")]
    public void Block_judges_a_threads_relative_path_against_its_own_directory(string call)
    {
        using var box = new Sandbox();
        var run = Preloaded.Run(RaceProbe.Exe.Value, ["thread-cwd", box.Dir, box.TmpDir, call],
            box.Policy(TmpProbe.BlockPolicy), TmpProbe.Env);
        Assert.Equal("result=-1 errno=13", TmpProbe.Line(run));
        TmpProbe.SingleEvent(run, "block", Path.Combine(box.TmpDir, "f"));
        Assert.Empty(Directory.GetFileSystemEntries(box.TmpDir));
        Assert.True(File.Exists(Path.Combine(box.Dir, "probe-main")), "the main thread's own relative call was let through");
    }

    [Theory]
    [InlineData("alert")]
    [InlineData("allow")]
    public void Alert_reports_the_threads_real_target_and_allow_is_silent(string action)
    {
        using var box = new Sandbox();
        var run = Preloaded.Run(RaceProbe.Exe.Value, ["thread-cwd", box.Dir, box.TmpDir, "open"],
            box.Policy($$"""{"read_write_tmp":"{{action}}"}"""), TmpProbe.Env);
        Assert.Equal("result=0 errno=0", TmpProbe.Line(run));
        Assert.True(File.Exists(Path.Combine(box.TmpDir, "f")));
        if (action == "alert") TmpProbe.SingleEvent(run, "alert", Path.Combine(box.TmpDir, "f"));
        else Assert.Empty(run.Events);
        TmpProbe.StderrIsOnlyEvents(run);
    }

    private const string PythonThread = """
        import ctypes, os, sys, threading
        libc = ctypes.CDLL(None, use_errno=True)
        CLONE_FS = 0x200
        safe, tmp = sys.argv[1], sys.argv[2]
        os.chdir(safe)
        ready, go = threading.Event(), threading.Event()
        result = {}
        def own():
            if libc.unshare(CLONE_FS) != 0:
                result["r"] = "unshare-failed %d" % ctypes.get_errno(); ready.set(); return
            os.chdir(tmp)
            ready.set(); go.wait()
            try:
                os.close(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644)); result["r"] = "created"
            except OSError as e:
                result["r"] = "errno=%d" % e.errno
        t = threading.Thread(target=own); t.start()
        ready.wait()
        os.close(os.open("py-main", os.O_WRONLY | os.O_CREAT, 0o644))
        go.set(); t.join()
        print(result["r"])
        """;

    [Theory]
    [InlineData("block", "errno=13")]
    [InlineData("alert", "created")]
    [InlineData("allow", "created")]
    public void Python_threads_with_their_own_directory_through_ctypes(string action, string expected)
    {
        using var box = new Sandbox();
        var script = box.File("own_cwd.py", PythonThread);
        var run = Preloaded.Run(Machine.Python.Value, [script, box.Dir, box.TmpDir],
            box.Policy($$"""{"read_write_tmp":"{{action}}"}"""), TmpProbe.Env, cwd: box.Dir);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(expected, run.Stdout.Trim());
        Assert.Equal(action != "block", File.Exists(Path.Combine(box.TmpDir, "f")));
        if (action == "allow") Assert.Empty(run.Events);
        else TmpProbe.SingleEvent(run, action, Path.Combine(box.TmpDir, "f"));
    }
}

/// <summary>A path judged lexically by one rule is still judged where it really leads by the others.</summary>
public class LexicalThenRealTargetTests
{
    [Theory]
    [InlineData("open")]
    [InlineData("fopen")]
    [InlineData("openat")]
    public void A_tmp_link_to_the_handler_is_reported_as_tmp_and_denied_as_the_handler(string call)
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var link = Path.Combine(box.TmpDir, "h.py");
        File.CreateSymbolicLink(link, root.Handler);
        var run = Preloaded.Run(TmpProbe.Exe.Value, [call, link],
            box.Policy("""{"read_write_tmp":"alert","read_handler":"block"}"""), root.Env(), cwd: root.Dir);
        Assert.Equal(call == "fopen" ? "result=NULL errno=13" : "result=-1 errno=13", TmpProbe.Line(run));
        Assert.Contains(run.Events, e => e.Str("event_type") == "read_write_tmp" && e.Str("action") == "alert" && e.Str("what") == link);
        Assert.Contains(run.Events, e => e.Str("event_type") == "read_handler" && e.Str("action") == "block" && e.Str("what") == root.Handler);
    }
}
