using IronFunction.Tests.EndToEnd;

namespace IronFunction.Tests.Cli;

// ./build.sh demo's own program (demo/demo.py) through the built tool, inside the tests' network namespace: its
// exit status, its table (each control stops an attempt, named by its policy key), the function's result, and
// that nothing went out: no name was looked up and no connection reached any server.
public sealed class DemoTests
{
    private static readonly string Demo = Path.Combine(Machine.RepoRoot, "demo", "demo.py");

    [NamespaceFact]
    public void EachControlStopsAnAttemptAndTheRealWorkStillRuns()
    {
        using var box = new Sandbox();
        var run = NetNamespace.Run(box, null, Machine.Python.Value, [Demo, IronTool.Path], preload: false);
        var r = run.Result;
        Assert.True(r.ExitCode == 0, run.ToString());
        var rows = IronTool.Lines(r.Stdout);
        foreach (var key in new[] { "read_write_tmp", "read_handler", "create_child_process", "outbound_connectivity" })
            Assert.Contains(rows, l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"  {key} +blocked \(E[A-Z_]+\) +block "));
        Assert.Contains(rows, l => l.StartsWith("calls the pricing service on loopback ") && l.Contains(" allowed "));
        Assert.Contains("the function's result (its real work still ran): {\"order\": \"A-1001\", \"total\": 21.0, \"currency\": \"EUR\"}", r.Stdout);
        Assert.Contains("\"exceptions\": [\"exfil.example.net\", \"198.51.100.23\", \"169.254.169.254\"]", r.Stdout);
        Assert.Contains("every attempt ended as the policy says", r.Stdout);
        // denied inside the process: no query reached the namespace's nameserver, no connection any server
        Assert.Empty(run.DnsQueries);
        Assert.DoesNotContain(run.ServerLog, l => l.StartsWith("tcp "));
        Assert.False(File.Exists("/tmp/dropper.sh"));
    }

    [NamespaceFact]
    public void AnAttemptThatDoesNotEndAsThePolicySaysFailsTheDemo()
    {
        // the tool, except that invoke runs without the demo's policy (the layer's own alert policy applies): check
        // still says block, so the demo must see the attempts go through and fail
        using var box = new Sandbox();
        var tool = box.File("tool.sh", $$"""
            #!/bin/sh
            if [ "$1" = invoke ]; then
              shift; set -- invoke $(for a in "$@"; do printf '%s\n' "$a"; done | grep -v -x -e --policy -e '.*/policy.json')
            fi
            exec "{{IronTool.Path}}" "$@"
            """);
        File.SetUnixFileMode(tool, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var run = NetNamespace.Run(box, null, Machine.Python.Value, [Demo, tool], preload: false);
        Assert.True(run.Result.ExitCode == 1, run.ToString());
        Assert.Contains("iron-function demo: FAILED: writes a dropper to /tmp: allowed with an event, the policy says block", run.Result.Stderr);
        try { File.Delete("/tmp/dropper.sh"); } catch (IOException) { }
    }
}
