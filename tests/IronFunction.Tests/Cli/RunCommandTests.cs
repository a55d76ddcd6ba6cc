using IronFunction.Tests.EndToEnd;

namespace IronFunction.Tests.Cli;

// iron-function run: a real program under the library as the layer's wrapper preloads it; its exit code passes
// through, its events pass through on stderr, and the summary counts each occurrence under its policy key.
public sealed class RunCommandTests
{
    private const string Writer = """
        import sys
        path = sys.argv[1]
        for i in range(3):
            try:
                open(path, "w").close()
                print("written")
            except OSError as e:
                print("errno", e.errno)
        sys.exit(7)
        """;

    [Fact]
    public void BlockedProgramKeepsItsExitCodeAndTheSummaryCountsEachAttempt()
    {
        using var box = new Sandbox();
        var script = box.File("writer.py", Writer);
        var target = Path.Combine(box.TmpDir, "dropper");
        var policy = box.Policy("""{"read_write_tmp": "block"}""");
        var r = IronTool.Run(["run", "--policy", policy, "--", Machine.Python.Value, script, target], env: RuntimeRuns.Env());
        Assert.True(r.ExitCode == 7, r.ToString());
        Assert.Equal(["errno 13", "errno 13", "errno 13"], IronTool.Lines(r.Stdout));
        Assert.False(File.Exists(target));
        // the events passed through, and the summary line names the control
        Assert.Equal(3, r.Events.Where(e => e.Str("what") == target).Occurrences());
        Assert.Contains("iron-function: run summary: 3 blocked, 0 alerted", r.Stderr);
        Assert.Matches($@"\n  read_write_tmp +blocked +3×  {System.Text.RegularExpressions.Regex.Escape(target)}\n", r.Stderr);
    }

    [Fact]
    public void WithoutAPolicyTheLibraryMonitors()
    {
        using var box = new Sandbox();
        var script = box.File("writer.py", Writer);
        var target = Path.Combine(box.TmpDir, "dropper");
        var events = Path.Combine(box.Dir, "events.log");
        var r = IronTool.Run(["run", "--events", events, "--json", Machine.Python.Value, script, target], env: RuntimeRuns.Env());
        Assert.True(r.ExitCode == 7, r.ToString());
        Assert.Equal(["written", "written", "written"], IronTool.Lines(r.Stdout));
        Assert.True(File.Exists(target));
        Assert.Contains(r.Diagnostics, d => d.Contains("every control runs in alert mode"));
        var summary = IronTool.Lines(r.Stderr).Last();
        using var doc = System.Text.Json.JsonDocument.Parse(summary);
        Assert.Equal(0, doc.RootElement.GetProperty("blocked").GetInt32());
        Assert.True(doc.RootElement.GetProperty("alerted").GetInt32() >= 1, summary);
        Assert.Contains(doc.RootElement.GetProperty("events").EnumerateArray(),
            e => e.Str("event_type") == "read_write_tmp" && e.Str("action") == "alert" && e.Str("what") == target);
        // --events holds exactly the event lines
        var lines = File.ReadAllLines(events);
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.StartsWith("{\"aws_function_info\"", l));
    }

    [Fact]
    public void ACommandThatCannotStartIs127()
    {
        var r = IronTool.Run(["run", "--", "/nonexistent/program"]);
        Assert.Equal(127, r.ExitCode);
        Assert.Contains("iron-function: cannot run /nonexistent/program", r.Stderr);
    }

    [Fact]
    public void TheLibraryComesFirstInLdPreload()
    {
        using var box = new Sandbox();
        var r = IronTool.Run(["run", "--", "/bin/sh", "-c", "echo \"$LD_PRELOAD|$IRON_FUNCTION_POLICY\""],
            env: new Dictionary<string, string?> { ["LD_PRELOAD"] = "libother.so", ["IRON_FUNCTION_POLICY"] = "/leaked.json" });
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal($"{Machine.Library}:libother.so|", r.Stdout.Trim());
    }
}
