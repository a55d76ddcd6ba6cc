using System.Text.RegularExpressions;
using IronFunction.Tests.Lambda;

namespace IronFunction.Tests.EndToEnd;

// SPEC §6: event lines go to the log stream, the first protected process's stderr as it was at start, never
// into a descendant's own stderr, which its parent may be reading. A program's own output is the same with
// or without the library. The parents here capture their child's stderr the usual ways: Python's
// capture_output, a shell's 2>&1 | …, a C pipe and dup2; the events must reach the first process's stderr.

public class LogStreamTests
{
    private const string EveryAlert =
        """{"read_write_tmp":"alert","create_child_process":"alert","outbound_connectivity":"alert","read_handler":"alert"}""";
    private const string TmpBlockRestAlert =
        """{"read_write_tmp":"block","create_child_process":"alert","outbound_connectivity":"alert","read_handler":"alert"}""";

    private static IEnumerable<System.Text.Json.JsonElement> TmpEvents(RunResult run, string path) =>
        run.Events.Where(e => e.Str("event_type") == "read_write_tmp" && e.Str("what") == path);

    private const string PythonParent = """
        import subprocess, sys
        out = subprocess.run([sys.executable, "-c", "import sys\ntry:\n    open(sys.argv[1], 'w')\nexcept OSError as e:\n    print('denied', e.errno)\nsys.stderr.write('child-own-line\\n')", sys.argv[1]], capture_output=True)
        print("captured-stderr=" + repr(out.stderr))
        print("captured-stdout=" + repr(out.stdout))
        """;

    [Theory]
    [InlineData(EveryAlert, "alert", "b''")]
    [InlineData(TmpBlockRestAlert, "block", "b'denied 13\\n'")]
    public void A_Python_parent_capturing_its_child_s_stderr_gets_only_the_child_s_own_bytes(string policy, string action, string stdout)
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "x");
        var run = Preloaded.Run(Machine.Python.Value, ["-c", PythonParent, target], box.Policy(policy), TmpProbe.Env, cwd: box.Dir);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("captured-stderr=b'child-own-line\\n'", run.Stdout);
        Assert.Contains($"captured-stdout={stdout}", run.Stdout);
        var e = Assert.Single(TmpEvents(run, target));
        Assert.Equal(action, e.Str("action"));
        // the child's event, on the first process's stream
        Assert.NotEqual(e.Str("process_id"), run.Events.First(x => x.Str("event_type") == "create_child_process").Str("process_id"));
    }

    [Theory]
    [InlineData(EveryAlert, "program-output\n")]
    [InlineData(TmpBlockRestAlert, "denied 13\n")]
    public void A_shell_pipeline_with_2_into_1_carries_only_the_program_s_output(string policy, string output)
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "x");
        var program = $"try:\n    open('{target}', 'w'); print('program-output')\nexcept OSError as e:\n    print('denied', e.errno)";
        var run = Preloaded.Run(Machine.Bash.Value, ["-c", "\"$PY\" -c \"$PROGRAM\" 2>&1 | cat"], box.Policy(policy),
            new Dictionary<string, string?> { ["PY"] = Machine.Python.Value, ["PROGRAM"] = program, ["TMPDIR"] = null }, cwd: box.Dir);
        Assert.Equal(output, run.Stdout);
        Assert.Single(TmpEvents(run, target));
    }

    [Theory]
    [InlineData(EveryAlert)]
    [InlineData(TmpBlockRestAlert)]
    public void A_C_parent_with_a_pipe_and_dup2_captures_nothing_of_the_library(string policy)
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "x");
        var probe = TreeProbe.Exe.Value;
        var run = Preloaded.Run(probe, ["capture", probe, "create", target], box.Policy(policy), TmpProbe.Env, cwd: box.Dir);
        Assert.Contains("captured=\n", run.Stdout);
        Assert.Single(TmpEvents(run, target));
    }

    [Fact]
    public void A_forked_child_without_exec_reports_to_the_first_process_s_stream()
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "x");
        var run = Preloaded.Run(TreeProbe.Exe.Value, ["fork-capture", target], box.Policy(TmpBlockRestAlert), TmpProbe.Env, cwd: box.Dir);
        Assert.Contains("child result=-1 errno=13", run.Stdout);
        Assert.Contains("captured=\n", run.Stdout);
        Assert.Single(TmpEvents(run, target));
    }

    [Fact]
    public void Every_occurrence_in_a_child_is_counted_once_on_the_stream()
    {
        using var box = new Sandbox();
        const string script = """
            import subprocess, sys
            child = "import sys\nfor i in range(300):\n    open(sys.argv[1] + str(i % 3), 'w')"
            out = subprocess.run([sys.executable, "-c", child, sys.argv[1]], capture_output=True)
            print("captured-stderr=" + repr(out.stderr))
            """;
        var prefix = Path.Combine(box.TmpDir, "f");
        var run = Preloaded.Run(Machine.Python.Value, ["-c", script, prefix], box.Policy(EveryAlert), TmpProbe.Env, cwd: box.Dir);
        Assert.Contains("captured-stderr=b''", run.Stdout);
        var occurrences = run.Events.Where(e => e.Str("event_type") == "read_write_tmp" && e.Str("what").StartsWith(prefix, StringComparison.Ordinal))
            .Sum(e => e.Occurrences());
        Assert.Equal(300, occurrences);
    }

    [Fact]
    public void When_the_first_process_is_gone_a_child_reports_on_its_own_stderr_and_says_so()
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "x");
        var own = Path.Combine(box.Dir, "child-stderr");
        // the shell starts a child that outlives it, with a stderr of its own, then exits at once
        var script = $"(sleep 0.5; \"$PY\" -c \"open('{target}', 'w')\" 2>'{own}') & exit 0";
        var run = Preloaded.Run(Machine.Bash.Value, ["-c", script], box.Policy(EveryAlert),
            new Dictionary<string, string?> { ["PY"] = Machine.Python.Value, ["TMPDIR"] = null }, cwd: box.Dir);
        Assert.True(run.ExitCode == 0, run.ToString());
        for (int i = 0; i < 100 && !(File.Exists(own) && File.ReadAllText(own).Contains(target, StringComparison.Ordinal)); i++) Thread.Sleep(100);
        var lines = File.ReadAllLines(own);
        Assert.Matches(@"^iron-function WRN \[events\] the log stream of process \d+ cannot be reached; this process's events and messages go to its own stderr$", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("{\"aws_function_info\"", StringComparison.Ordinal) && l.Contains(target, StringComparison.Ordinal));
        Assert.Empty(TmpEvents(run, target));
    }

    [Fact]
    public void A_child_that_writes_to_the_first_process_s_own_stderr_writes_its_lines_itself_in_order()
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "x");
        // cat reports its error in several writes: an event line from elsewhere must not land inside it
        var script = $"\"$PY\" -c \"open('{target}', 'w')\" ; cat '{target}-missing'";
        var run = Preloaded.Run(Machine.Bash.Value, ["-c", script], box.Policy(TmpBlockRestAlert),
            new Dictionary<string, string?> { ["PY"] = Machine.Python.Value, ["TMPDIR"] = null }, cwd: box.Dir);
        Assert.Single(TmpEvents(run, target));
        Assert.Single(TmpEvents(run, target + "-missing"));
        Assert.Contains($"cat: {target}-missing: Permission denied\n", run.Stderr);
    }

    [Fact]
    public void The_library_s_own_messages_take_the_same_route()
    {
        using var box = new Sandbox();
        const string script = """
            import subprocess, sys
            out = subprocess.run([sys.executable, "-c", "pass"], capture_output=True)
            print("captured-stderr=" + repr(out.stderr))
            """;
        var run = Preloaded.Run(Machine.Python.Value, ["-c", script], box.Policy(EveryAlert),
            new Dictionary<string, string?> { ["IRON_LOG"] = "debug", ["TMPDIR"] = null }, cwd: box.Dir);
        Assert.Contains("captured-stderr=b''", run.Stdout);
        // the child's own debug lines reached the first process's stderr
        var pids = run.Diagnostics.Count(d => d.Contains("[policy]", StringComparison.Ordinal));
        Assert.True(pids >= 2, run.ToString());
    }

    [Fact]
    public void In_the_local_Lambda_a_handler_s_captured_subprocess_output_is_clean_and_the_event_is_in_the_runtime_log()
    {
        using var box = new Sandbox();
        var root = Path.Combine(box.Dir, "task");
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(root, "app.py"), """
            import json, subprocess, sys

            def handler(event, context):
                out = subprocess.run(["python3", "-c", 'open("/tmp/iron-log-stream-x", "w")'], capture_output=True)
                return {"stderr": out.stderr.decode(), "code": out.returncode}
            """);
        using var lambda = LocalLambda.Start(LambdaRuntime.Python(), root, "app.handler", box.Policy(EveryAlert),
            new Dictionary<string, string?> { ["PATH"] = Path.GetDirectoryName(Machine.Python.Value) + ":/usr/bin:/bin" });
        var result = lambda.Invoke("{}");
        var run = lambda.Finish();
        Assert.False(result.IsError, $"{result}\n{run}");
        Assert.Equal("""{"stderr": "", "code": 0}""", result.Body);
        Assert.Contains(run.Events, e => e.Str("event_type") == "read_write_tmp" && e.Str("what") == "/tmp/iron-log-stream-x");
        try { File.Delete("/tmp/iron-log-stream-x"); } catch (IOException) { }
    }

    [Fact]
    public void Under_aws_lambda_ric_a_handler_s_captured_subprocess_output_is_clean_and_the_event_is_in_the_runtime_log()
    {
        using var box = new Sandbox();
        var root = Path.Combine(box.Dir, "task");
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(root, "app.mjs"), """
            import { spawnSync } from "node:child_process";

            export const handler = async () => {
                const out = spawnSync(process.env.IRON_TEST_PYTHON, ["-c", 'open("/tmp/iron-log-stream-node", "w")']);
                return { stderr: out.stderr.toString(), code: out.status };
            };
            """);
        using var lambda = LocalLambda.Start(LambdaRuntime.Node(), root, "app.handler", box.Policy(EveryAlert),
            new Dictionary<string, string?> { ["IRON_TEST_PYTHON"] = Machine.Python.Value });
        var result = lambda.Invoke("{}");
        var run = lambda.Finish();
        Assert.False(result.IsError, $"{result}\n{run}");
        Assert.Equal("""{"stderr":"","code":0}""", result.Body);
        Assert.Contains(run.Events, e => e.Str("event_type") == "read_write_tmp" && e.Str("what") == "/tmp/iron-log-stream-node");
        try { File.Delete("/tmp/iron-log-stream-node"); } catch (IOException) { }
    }
}

/// <summary>SPEC §7: a child forked from a thread other than the initial one ends as without the library.</summary>
public class ForkFromAThreadTests
{
    [Theory]
    [InlineData("""{"create_child_process":"alert"}""")]
    [InlineData("""{"read_write_tmp":"alert","create_child_process":"alert","outbound_connectivity":"alert","read_handler":"alert"}""")]
    public void A_child_forked_from_a_thread_exits_normally_when_that_thread_ends(string policy)
    {
        // the child's only thread ends through its thread start routine, whose exit(0) comes after the thread's
        // own destructors: the runtime has let go of it by then (entering it there aborted the child)
        const string script = """
            import os, threading
            def work():
                pid = os.fork()
                if pid != 0:
                    print("child-status", os.waitpid(pid, 0)[1])
            t = threading.Thread(target=work)
            t.start()
            t.join()
            """;
        using var box = new Sandbox();
        var run = Preloaded.Run(Machine.Python.Value, ["-X", "faulthandler", "-c", script], box.Policy(policy), cwd: box.Dir);
        Assert.Contains("child-status 0", run.Stdout);
        Assert.DoesNotContain("Fatal Python error", run.Stderr);
    }
}
