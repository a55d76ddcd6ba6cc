using System.Runtime.Versioning;
using System.Text.Json;

namespace IronFunction.Tests.EndToEnd;

// create_child_process (SPEC §3, §7) inside real runtimes: CPython, Node.js, bash and Java start programs their own
// ways (vfork, fork, posix_spawn, system, popen, ctypes straight into libc). Each script prints one
// "case=NAME ..." line per way; the programs started create marker files in the test's directory.

[SupportedOSPlatform("linux")]
public class ProcessRuntimeTests
{
    private static RunResult RunIn(Sandbox box, string program, string[] args, string? policyJson, int timeoutSeconds = 120) =>
        Preloaded.Run(program, args, policyJson == null ? null : box.Policy(policyJson), RuntimeRuns.Env(), box.Dir, timeoutSeconds: timeoutSeconds);

    private static List<JsonElement> ProcessEvents(RunResult run) => ProcessProbe.ProcessEvents(run);

    /// <summary>The create_child_process events a given process reported, by what; all in the seed schema with the action.</summary>
    private static string[] WhatsOf(RunResult run, string action, string pid)
    {
        foreach (var e in ProcessEvents(run))
        {
            EventAssert.HasSeedSchema(e);
            Assert.Equal(action, e.Str("action"));
        }
        return ProcessEvents(run).Where(e => e.Str("process_id") == pid).Select(e => e.Str("what")).Order(StringComparer.Ordinal).ToArray();
    }

    private static string Line(RunResult run, string prefix) =>
        run.Stdout.Split('\n').SingleOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))
        ?? throw new Xunit.Sdk.XunitException($"no line starting with {prefix}:\n{run}");

    // ------------------------------------------------------------------------------------------------
    // CPython
    // ------------------------------------------------------------------------------------------------

    private const string PythonScript = """"
        import concurrent.futures, ctypes, os, subprocess, sys, threading

        M = sys.argv[1]  # marker prefix: every program started creates M.<case>
        libc = ctypes.CDLL(None, use_errno=True)
        print(f"pid={os.getpid()} exe={os.path.realpath('/proc/self/exe')}", flush=True)

        def case(name, fn):
            try:
                print(f"case={name} ok {fn()!r}", flush=True)
            except OSError as e:
                print(f"case={name} errno={e.errno}", flush=True)

        def fork_exec():
            pid = os.fork()
            if pid == 0:
                try:
                    os.execv("/usr/bin/touch", ["touch", M + ".fork"])
                finally:
                    os._exit(127)
            return os.waitpid(pid, 0)[1]

        def ctypes_fork_execv():
            pid = libc.fork()
            if pid < 0:
                raise OSError(ctypes.get_errno(), "fork")
            if pid == 0:
                argv = (ctypes.c_char_p * 3)(b"touch", (M + ".ctypes").encode(), None)
                libc.execv(b"/usr/bin/touch", argv)
                os._exit(127)
            return os.waitpid(pid, 0)[1]

        def threads():
            out = []
            ts = [threading.Thread(target=lambda i=i: out.append(i * i)) for i in range(8)]
            [t.start() for t in ts]
            [t.join() for t in ts]
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                return sorted(out) + list(pool.map(lambda x: x + 1, range(4)))

        case("subprocess_run", lambda: subprocess.run(["touch", M + ".run"]).returncode)
        case("subprocess_shell", lambda: subprocess.run(f"echo x > {M}.shell", shell=True).returncode)
        case("os_system", lambda: os.system(f"echo x > {M}.system"))
        case("os_popen", lambda: os.popen(f"echo x > {M}.popen").close())
        case("os_posix_spawn", lambda: os.waitpid(os.posix_spawn("/usr/bin/touch", ["touch", M + ".spawn"], dict(os.environ)), 0)[1])
        case("os_fork_execv", fork_exec)
        case("ctypes_fork_execv", ctypes_fork_execv)
        case("threads", threads)
        """";

    private static readonly string[] PythonCases =
        ["subprocess_run", "subprocess_shell", "os_system", "os_popen", "os_posix_spawn", "os_fork_execv", "ctypes_fork_execv"];

    private static RunResult RunPython(Sandbox box, string? policyJson) =>
        RunIn(box, Machine.Python.Value, [box.File("probe.py", PythonScript), Path.Combine(box.Dir, "m")], policyJson);

    [Fact]
    public void Python_block_denies_every_way_to_start_a_program_and_threads_still_work()
    {
        using var box = new Sandbox();
        var run = RunPython(box, ProcessProbe.Block);
        Assert.True(run.ExitCode == 0, run.ToString());
        var cases = RuntimeRuns.Cases(run);
        foreach (var name in PythonCases.Where(c => c != "os_system"))
            Assert.Equal("errno=1", RuntimeRuns.Case(cases, name, run));
        Assert.Equal("ok -1", RuntimeRuns.Case(cases, "os_system", run)); // system() itself answers -1 (errno EPERM)
        Assert.Equal("ok [0, 1, 4, 9, 16, 25, 36, 49, 1, 2, 3, 4]", RuntimeRuns.Case(cases, "threads", run));
        Assert.Empty(Directory.GetFiles(box.Dir, "m.*"));
        var pid = Line(run, "pid=").Split(' ')[0][4..];
        var exe = Line(run, "pid=").Split(' ')[1][4..];
        // each call refused once: subprocess (run, shell, popen) tries vfork, then fork when vfork fails; os.fork;
        // the fork of ctypes; system; posix_spawn
        Assert.Equal(
            Enumerable.Repeat(exe, 8).Append("/bin/sh -c " + ProcessProbe.Quoted($"echo x > {box.Dir}/m.system")).Append("/usr/bin/touch").Order(StringComparer.Ordinal),
            WhatsOf(run, "block", pid));
        // fork and vfork of the same program are one key for the summing up of repeats: the first refusal is subprocess's vfork
        Assert.StartsWith("vfork by ", ProcessEvents(run).First(e => e.Str("process_id") == pid).Str("message"));
        Assert.Equal(ProcessEvents(run).Count, WhatsOf(run, "block", pid).Length);
        RuntimeRuns.StderrIsOnlyEvents(run);
    }

    [Fact]
    public void Python_alert_starts_everything_and_reports_each_start_once()
    {
        using var plainBox = new Sandbox();
        using var box = new Sandbox();
        var plain = RunPython(plainBox, null);
        var run = RunPython(box, ProcessProbe.Alert);

        Assert.True(run.ExitCode == 0, run.ToString());
        var cases = RuntimeRuns.Cases(run);
        foreach (var name in PythonCases)
            Assert.Equal(RuntimeRuns.Case(RuntimeRuns.Cases(plain), name, plain), RuntimeRuns.Case(cases, name, run));
        Assert.Equal(
            ["m.ctypes", "m.fork", "m.popen", "m.run", "m.shell", "m.spawn", "m.system"],
            Directory.GetFiles(box.Dir, "m.*").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray());

        var pid = Line(run, "pid=").Split(' ')[0][4..];
        var exe = Line(run, "pid=").Split(' ')[1][4..];
        string Sh(string c) => "/bin/sh -c " + ProcessProbe.Quoted($"echo x > {box.Dir}/m.{c}");
        // once each, by Python: the vfork+exec of subprocess named by its program, system, posix_spawn, the two forks
        Assert.Equal(
            new[] { ProcessProbe.TouchOnPath.Value, Sh("shell"), Sh("system"), Sh("popen"), "/usr/bin/touch", exe, exe }.Order(StringComparer.Ordinal),
            WhatsOf(run, "alert", pid));
        // and the forked children's own execs, once each
        var children = ProcessEvents(run).Where(e => e.Str("process_id") != pid).ToList();
        Assert.Equal(["/usr/bin/touch", "/usr/bin/touch"], children.Select(e => e.Str("what")).ToArray());
        RuntimeRuns.StderrIsOnlyEvents(run);
    }

    [Fact]
    public void Python_subprocess_with_an_empty_environment_still_protects_the_child()
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "from-child");
        const string script = """
            import subprocess, sys
            r = subprocess.run(["/bin/sh", "-c", f"echo x > {sys.argv[1]}; echo rc=$?"], env={}, capture_output=True, text=True)
            print(r.stdout.strip())
            sys.stderr.write(r.stderr)
            print(subprocess.run(["/usr/bin/env"], env={}, capture_output=True, text=True).stdout.strip().replace("\n", " "))
            """;
        var policy = box.Policy("""{"create_child_process":"alert","read_write_tmp":"block"}""");
        var run = Preloaded.Run(Machine.Python.Value, ["-c", script, target], policy, RuntimeRuns.Env(), box.Dir);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches("^rc=[1-9]", run.Stdout);
        Assert.Contains($"LD_PRELOAD={Machine.Library} IRON_FUNCTION_POLICY={policy}", run.Stdout);
        Assert.False(File.Exists(target));
        var denied = Assert.Single(run.Events, e => e.Str("event_type") == "read_write_tmp");
        Assert.Equal(target, denied.Str("what"));
        Assert.Equal("block", denied.Str("action"));
    }

    [Fact]
    public void Python_without_a_policy_reports_starts_in_monitor_mode()
    {
        using var box = new Sandbox();
        var run = Preloaded.Run(Machine.Python.Value, ["-c", "import subprocess; subprocess.run(['true'])"], null, RuntimeRuns.Env(), box.Dir);
        Assert.True(run.ExitCode == 0, run.ToString());
        var e = Assert.Single(ProcessEvents(run));
        Assert.Equal("alert", e.Str("action"));
        Assert.EndsWith("/true", e.Str("what"));
    }

    // ------------------------------------------------------------------------------------------------
    // Node.js
    // ------------------------------------------------------------------------------------------------

    private const string NodeScript = """
        const cp = require("child_process");
        const { Worker } = require("worker_threads");
        const M = process.argv[2];
        console.log(`pid=${process.pid}`);
        const seen = {};
        const show = (name, err) => {
          if (seen[name]) return;
          seen[name] = true;
          console.log(`case=${name} ${err ? "error=" + err.code : "ok"}`);
        };
        try { cp.execSync(`echo x > ${M}.execSync`); show("execSync"); } catch (e) { show("execSync", e); }
        // a child's events go to the child's stderr: inherited here, and exec's captured one is passed on
        const r = cp.spawnSync("/usr/bin/touch", [M + ".spawnSync"], { stdio: "inherit" });
        show("spawnSync", r.error);
        const worker = new Worker("require('worker_threads').parentPort.postMessage(6 * 7)", { eval: true });
        worker.on("message", (m) => console.log(`case=worker ok ${m}`));
        // the asynchronous forms throw at once for EPERM (node's choice), else call back
        const spawn = () => {
          try {
            const child = cp.spawn("/usr/bin/touch", [M + ".spawn"], { stdio: "inherit" });
            child.on("error", (e) => show("spawn", e));
            child.on("exit", (code) => show("spawn", code === 0 ? null : { code: "exit" + code }));
          } catch (e) { show("spawn", e); }
        };
        try {
          cp.exec(`echo x > ${M}.exec`, (err, out, errOut) => { process.stderr.write(errOut); show("exec", err); spawn(); });
        } catch (e) { show("exec", e); spawn(); }
        """;

    private static RunResult RunNode(Sandbox box, string? policyJson) =>
        RunIn(box, Machine.Node.Value, [box.File("probe.js", NodeScript), Path.Combine(box.Dir, "m")], policyJson);

    [Fact]
    public void Node_block_denies_child_process_sync_and_async_and_worker_threads_still_work()
    {
        using var box = new Sandbox();
        var run = RunNode(box, ProcessProbe.Block);
        Assert.True(run.ExitCode == 0, run.ToString());
        var cases = RuntimeRuns.Cases(run);
        foreach (var name in new[] { "execSync", "spawnSync", "exec", "spawn" })
            Assert.Equal("error=EPERM", RuntimeRuns.Case(cases, name, run));
        Assert.Equal("ok 42", RuntimeRuns.Case(cases, "worker", run));
        Assert.Empty(Directory.GetFiles(box.Dir, "m.*"));
        // libuv forks, then execs in the child: the fork is what is refused, once per attempt
        var pid = Line(run, "pid=")[4..];
        var node = Path.GetFullPath(new FileInfo(Machine.Node.Value).ResolveLinkTarget(true)?.FullName ?? Machine.Node.Value);
        Assert.Equal([node, node, node, node], WhatsOf(run, "block", pid));
        RuntimeRuns.StderrIsOnlyEvents(run);
    }

    [Fact]
    public void Node_starts_in_block_mode_with_no_output_of_the_library()
    {
        using var box = new Sandbox();
        var run = RunIn(box, Machine.Node.Value, ["-e", "0"], ProcessProbe.Block);
        Assert.Equal(0, run.ExitCode);
        Assert.Equal("", run.Stdout);
        Assert.Equal("", run.Stderr);
    }

    [Fact]
    public void Node_alert_starts_everything_and_reports_the_fork_and_the_child_s_exec()
    {
        using var box = new Sandbox();
        var run = RunNode(box, ProcessProbe.Alert);
        Assert.True(run.ExitCode == 0, run.ToString());
        var cases = RuntimeRuns.Cases(run);
        foreach (var name in new[] { "execSync", "spawnSync", "exec", "spawn" })
            Assert.Equal("ok", RuntimeRuns.Case(cases, name, run));
        Assert.Equal(["m.exec", "m.execSync", "m.spawn", "m.spawnSync"],
            Directory.GetFiles(box.Dir, "m.*").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray());
        var pid = Line(run, "pid=")[4..];
        var node = WhatsOf(run, "alert", pid);
        Assert.Equal(4, node.Length); // one fork per start
        string Sh(string c) => "/bin/sh -c " + ProcessProbe.Quoted($"echo x > {box.Dir}/m.{c}");
        var children = ProcessEvents(run).Where(e => e.Str("process_id") != pid).Select(e => e.Str("what")).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { Sh("execSync"), Sh("exec"), "/usr/bin/touch", "/usr/bin/touch" }.Order(StringComparer.Ordinal), children);
        RuntimeRuns.StderrIsOnlyEvents(run);
    }

    // ------------------------------------------------------------------------------------------------
    // bash
    // ------------------------------------------------------------------------------------------------

    [Fact]
    public void Bash_block_runs_builtins_and_cannot_start_a_command()
    {
        using var box = new Sandbox();
        var marker = Path.Combine(box.Dir, "m");
        var run = RunIn(box, Machine.Bash.Value, ["-c", $"echo builtin-ok; /usr/bin/touch {marker}; echo after"], ProcessProbe.Block);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Equal("builtin-ok\n", run.Stdout);
        Assert.Contains("fork: Operation not permitted", run.Stderr);
        Assert.False(File.Exists(marker));
        var e = Assert.Single(ProcessEvents(run));
        Assert.Equal("block", e.Str("action"));
        Assert.Equal(Machine.Bash.Value, e.Str("what"));

        // a lone command is exec'd in place of the shell
        var exec = RunIn(box, Machine.Bash.Value, ["-c", $"/usr/bin/touch {marker}"], ProcessProbe.Block);
        Assert.Equal(126, exec.ExitCode);
        Assert.Contains("/usr/bin/touch: Operation not permitted", exec.Stderr);
        Assert.Equal(["/usr/bin/touch"], ProcessProbe.Whats(exec, "block"));
        Assert.False(File.Exists(marker));
    }

    /// <summary>
    /// bash defines its own getenv and setenv over its shell variables. The library sets UV_USE_IO_URING at start,
    /// before bash has imported its environment: through bash's setenv that hid every other variable from the
    /// library's later reads, and bash's children lost IRON_FUNCTION_POLICY (they ran in monitor mode).
    /// </summary>
    [Fact]
    public void Bash_s_own_environment_functions_do_not_hide_the_policy_from_its_children()
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "from-grandchild");
        var policy = box.Policy("""{"read_write_tmp":"block"}""");
        var run = Preloaded.Run(Machine.Bash.Value, ["-c", $"/usr/bin/env; {Machine.Bash.Value} -c 'echo x > {target}'"],
            Path.GetFileName(policy), RuntimeRuns.Env(), box.Dir);
        Assert.Contains($"IRON_FUNCTION_POLICY={policy}", run.Stdout.Split('\n'));
        Assert.Contains("UV_USE_IO_URING=0", run.Stdout.Split('\n'));
        Assert.DoesNotContain("IRON_FUNCTION_POLICY is not set", run.Stderr);
        Assert.Contains($"{target}: Permission denied", run.Stderr);
        Assert.False(File.Exists(target));
        var denied = Assert.Single(run.Events);
        Assert.Equal(["read_write_tmp", "block", target], new[] { denied.Str("event_type"), denied.Str("action"), denied.Str("what") });
    }

    [Fact]
    public void Bash_alert_runs_commands_and_reports_each_fork_and_exec()
    {
        using var box = new Sandbox();
        var run = RunIn(box, Machine.Bash.Value, ["-c", $"/usr/bin/touch {box.Dir}/m1; /usr/bin/touch {box.Dir}/m2; echo done"], ProcessProbe.Alert);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("done\n", run.Stdout);
        Assert.True(File.Exists(Path.Combine(box.Dir, "m1")) && File.Exists(Path.Combine(box.Dir, "m2")));
        Assert.Equal(new[] { Machine.Bash.Value, Machine.Bash.Value, "/usr/bin/touch", "/usr/bin/touch" }.Order(StringComparer.Ordinal),
            ProcessProbe.Whats(run, "alert"));
        RuntimeRuns.StderrIsOnlyEvents(run);
    }

    // ------------------------------------------------------------------------------------------------
    // Java
    // ------------------------------------------------------------------------------------------------

    private const string JavaProbe = """
        public class Probe {
            public static void main(String[] a) throws Exception {
                try {
                    // inherited stderr: the spawn helper's own events are written there
                    Process p = new ProcessBuilder("/usr/bin/touch", a[0]).inheritIO().start();
                    System.out.println("case=start ok " + p.waitFor());
                } catch (java.io.IOException e) {
                    System.out.println("case=start denied " + e.getMessage());
                }
            }
        }
        """;

    [FactWhenProgramOnPath("java")]
    public void Java_ProcessBuilder_is_denied_in_block_mode_and_reported_in_alert_mode()
    {
        using var box = new Sandbox();
        var source = box.File("Probe.java", JavaProbe);
        var java = Machine.Which("java");
        var marker = Path.Combine(box.Dir, "m");

        var blocked = RunIn(box, java, [source, marker], ProcessProbe.Block, timeoutSeconds: 300);
        Assert.Contains("case=start denied", blocked.Stdout);
        Assert.Contains("error=1, Operation not permitted", blocked.Stdout);
        Assert.False(File.Exists(marker));
        Assert.Single(ProcessEvents(blocked)); // posix_spawn of its spawn helper

        var alert = RunIn(box, java, [source, marker], ProcessProbe.Alert, timeoutSeconds: 300);
        Assert.Contains("case=start ok 0", alert.Stdout);
        Assert.True(File.Exists(marker));
        // Java posix_spawns its helper, which execs the program: each reported once, by the process that did it
        Assert.Contains(ProcessProbe.Whats(alert, "alert"), w => w.EndsWith("/jspawnhelper", StringComparison.Ordinal));
        Assert.Contains("/usr/bin/touch", ProcessProbe.Whats(alert, "alert"));
        Assert.Equal(2, ProcessEvents(alert).Count);
    }
}
