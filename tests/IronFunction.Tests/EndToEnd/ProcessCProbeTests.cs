using System.Text.Json;

namespace IronFunction.Tests.EndToEnd;

// End-to-end tests of create_child_process (SPEC §3, §6, §7) through one C probe, probes/process_probe.c, that
// makes exactly one process call chosen on its command line, through libc or as a raw system call, and prints
// "result=<ret> errno=<n>" and the started child's "status=<exit code>". Every function of
// Hooks/process.symbols is called by it. What a started program did is seen on disk: it is /usr/bin/touch
// (or a shell) creating a marker file in the test's own directory.

/// <summary>The probe, its runs and the checks shared by the classes below.</summary>
public static class ProcessProbe
{
    public const string Block = """{"create_child_process":"block"}""";
    public const string Alert = """{"create_child_process":"alert"}""";
    public const string Allow = """{"create_child_process":"allow"}""";

    public const string Touch = "/usr/bin/touch";

    private static readonly string SourcePath =
        Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", "process_probe.c");

    public static readonly Lazy<string> Exe = new(() => CProbe.Compile("process_probe", File.ReadAllText(SourcePath), "-pthread"));

    /// <summary>Where a PATH search for touch lands (execvp and the others name what they found).</summary>
    public static readonly Lazy<string> TouchOnPath = new(() => SearchPath("touch"));

    public static RunResult Run(string? policy, IEnumerable<string> args, IDictionary<string, string?>? env = null, int timeoutSeconds = 60) =>
        Preloaded.Run(Exe.Value, args, policy, env, timeoutSeconds: timeoutSeconds);

    public static RunResult Plain(IEnumerable<string> args) => Preloaded.RunPlain(Exe.Value, args);

    public static string SearchPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/bin:/usr/bin").Split(':'))
        {
            var candidate = Path.Combine(dir.Length == 0 ? "." : dir, name);
            if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        }
        throw new InvalidOperationException($"{name} is not on PATH");
    }

    /// <summary>The lines the probe printed (result=, status=, out=, ...), in order.</summary>
    public static string[] Lines(RunResult run) => run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public static List<JsonElement> ProcessEvents(RunResult run) =>
        run.Events.Where(e => e.Str("event_type") == "create_child_process")
            .SelectMany(e => Enumerable.Repeat(e, e.Occurrences())).ToList(); // a line summing up repeats, once per occurrence

    /// <summary>The create_child_process events, in the seed schema with the given action; their <c>what</c>s, sorted.</summary>
    public static string[] Whats(RunResult run, string action)
    {
        var events = ProcessEvents(run);
        foreach (var e in events)
        {
            EventAssert.HasSeedSchema(e);
            Assert.Equal(action, e.Str("action"));
            Assert.False(string.IsNullOrWhiteSpace(e.Str("message")), $"an event without a message: {e}");
        }
        return events.Select(e => e.Str("what")).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>stderr holds event lines and nothing else: no diagnostics, no crash report.</summary>
    public static void StderrIsOnlyEvents(RunResult run)
    {
        foreach (var l in run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Assert.True(l.StartsWith("{\"aws_function_info\"", StringComparison.Ordinal), $"unexpected stderr line: {l}\n{run}");
    }

    public static string Quoted(string command) => "\"" + command.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}

/// <summary>
/// One row per libc entry point: how the probe calls it, what its denial looks like in that function's own
/// convention, what the event names and, in alert mode, which events the whole run produces.
/// </summary>
public sealed record ProcessCall(string Op, bool Search, string Denied, string Kind)
{
    public override string ToString() => Op;

    /// <summary>exec: the probe becomes the program. spawn: it starts it and waits. fork: its child execs it. vfork: the same, sharing memory. shell: a command line.</summary>
    public static readonly ProcessCall[] All =
    [
        new("execve", false, "result=-1 errno=1", "exec"),
        new("execv", false, "result=-1 errno=1", "exec"),
        new("execvp", true, "result=-1 errno=1", "exec"),
        new("execvpe", true, "result=-1 errno=1", "exec"),
        new("execl", false, "result=-1 errno=1", "exec"),
        new("execlp", true, "result=-1 errno=1", "exec"),
        new("execle", false, "result=-1 errno=1", "exec"),
        new("fexecve", false, "result=-1 errno=1", "exec"),
        new("execveat", false, "result=-1 errno=1", "exec"),
        new("execveat_empty", false, "result=-1 errno=1", "exec"),
        // posix_spawn returns the error number itself
        new("posix_spawn", false, "result=1 errno=0", "spawn"),
        new("posix_spawnp", true, "result=1 errno=0", "spawn"),
        new("fork", false, "result=-1 errno=1", "fork"),
        new("_Fork", false, "result=-1 errno=1", "fork"),
        new("__fork", false, "result=-1 errno=1", "fork"),
        new("clone", false, "result=-1 errno=1", "fork"),
        new("vfork", false, "result=-1 errno=1", "vfork"),
        new("clone_vfork", false, "result=-1 errno=1", "vfork"),
        new("system", false, "result=-1 errno=1", "shell"),
        new("popen", false, "result=NULL errno=1", "shell"),
    ];

    /// <summary>Test data: the operation names (the rows are looked up with <see cref="Of"/>).</summary>
    public static IEnumerable<object[]> Rows => All.Select(c => new object[] { c.Op });

    /// <summary>The rows whose started program qemu-user runs as a kernel would (all of them outside the arm64 pass).</summary>
    public static IEnumerable<object[]> RowsThatStart => All.Where(c => !Machine.Arm64 || !Qemu.CannotStart.ContainsKey(c.Op)).Select(c => new object[] { c.Op });

    public static ProcessCall Of(string op) => All.Single(c => c.Op == op);

    /// <summary>The probe's arguments: the operation and what it starts, which creates <paramref name="marker"/>.</summary>
    public string[] Args(string marker) => Kind == "shell"
        ? [Op, $"echo ran > {marker}"]
        : [Op, Search ? "touch" : ProcessProbe.Touch, marker];

    /// <summary>The program an exec-like call names, as the library resolves it.</summary>
    public string Program => Search ? ProcessProbe.TouchOnPath.Value
        : Op is "fexecve" or "execveat" or "execveat_empty" ? Path.GetFullPath(new FileInfo(ProcessProbe.Touch).ResolveLinkTarget(true)?.FullName ?? ProcessProbe.Touch)
        : ProcessProbe.Touch;

    /// <summary>What the event of this call names in block mode.</summary>
    public string BlockedWhat(string marker) => Kind switch
    {
        "fork" or "vfork" => ProcessProbe.Exe.Value,
        "shell" => "/bin/sh -c " + ProcessProbe.Quoted($"echo ran > {marker}"),
        _ => Program,
    };

    /// <summary>Every event of the run in alert mode: the call once; fork's child then reports its own exec.</summary>
    public string[] AlertWhats(string marker) => (Kind switch
    {
        "fork" => new[] { ProcessProbe.Exe.Value, ProcessProbe.Touch },
        "vfork" => [ProcessProbe.Touch],
        "shell" => ["/bin/sh -c " + ProcessProbe.Quoted($"echo ran > {marker}")],
        _ => [Program],
    }).Order(StringComparer.Ordinal).ToArray();

    /// <summary>What the probe prints when the call goes through (an exec replaces it: touch prints nothing).</summary>
    public string[] Allowed => Kind == "exec" ? []
        : Op == "popen" ? ["result=ptr errno=0", "status=0"]
        : ["result=0 errno=0", "status=0"];
}

/// <summary>1. Block: no listed function starts anything; the call fails with EPERM its own way; one event names what was refused.</summary>
[Trait("Architecture", "arm64")] // also run on arm64 under qemu-user (Qemu.cs)
public class ProcessCProbeBlockTests
{
    [Theory]
    [MemberData(nameof(ProcessCall.Rows), MemberType = typeof(ProcessCall))]
    public void Every_function_is_denied_and_reported_once(string op)
    {
        var call = ProcessCall.Of(op);
        using var box = new Sandbox();
        var marker = Path.Combine(box.Dir, "ran");
        var run = ProcessProbe.Run(box.Policy(ProcessProbe.Block), call.Args(marker));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal([call.Denied], ProcessProbe.Lines(run));
        Assert.False(File.Exists(marker), $"{call.Op} started the program:\n{run}");
        Assert.Equal([call.BlockedWhat(marker)], ProcessProbe.Whats(run, "block"));
        ProcessProbe.StderrIsOnlyEvents(run);
    }

    /// <summary>
    /// A relative program is named from the working directory of the moment. With read_write_tmp allow the file
    /// hooks (chdir among them) go straight to libc, so the directory cannot be cached from an earlier call.
    /// </summary>
    [Theory]
    [InlineData("""{"create_child_process":"block"}""")]
    [InlineData("""{"create_child_process":"block","read_write_tmp":"block"}""")]
    public void A_relative_program_is_named_from_the_current_directory_after_a_chdir(string policy)
    {
        using var box = new Sandbox();
        var sub = Directory.CreateDirectory(Path.Combine(box.Dir, "sub")).FullName;
        var run = Preloaded.Run(ProcessProbe.Exe.Value, ["chdir_execv", sub, "prog"], box.Policy(policy), cwd: box.Dir);
        Assert.Equal(["result=-1 errno=1", "result=-1 errno=1"], ProcessProbe.Lines(run));
        Assert.Equal([Path.Combine(box.Dir, "prog"), Path.Combine(sub, "prog")],
            ProcessProbe.ProcessEvents(run).Select(e => e.Str("what")).ToArray());
    }

    [Fact]
    public void System_NULL_says_no_shell_is_available()
    {
        using var box = new Sandbox();
        var run = ProcessProbe.Run(box.Policy(ProcessProbe.Block), ["system_null"]);
        Assert.Equal(["result=0 errno=1"], ProcessProbe.Lines(run));
        Assert.Equal(["/bin/sh -c \"exit 0\""], ProcessProbe.Whats(run, "block"));
    }

    [NotUnderQemuTheory(Qemu.NoSeccomp)]
    [InlineData("raw_fork", "result=-1 errno=1")]
    [InlineData("raw_vfork", "result=-1 errno=1")]
    [InlineData("raw_clone", "result=-1 errno=1")]
    [InlineData("raw_execve", "result=-1 errno=1")]
    [InlineData("raw_execveat", "result=-1 errno=1")]
    [InlineData("raw_clone3", "result=-1 errno=38")] // ENOSYS: libc falls back to clone, whose flags the filter reads
    public void Raw_system_calls_are_stopped_by_the_kernel(string op, string expected)
    {
        using var box = new Sandbox();
        var marker = Path.Combine(box.Dir, "ran");
        var run = ProcessProbe.Run(box.Policy(ProcessProbe.Block), [op, ProcessProbe.Touch, marker]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal([expected], ProcessProbe.Lines(run));
        Assert.False(File.Exists(marker), $"{op} started the program:\n{run}");
        // the kernel answers; no libc function was called, so nothing is reported
        Assert.Empty(run.Events);
        Assert.Equal("", run.Stderr);
    }

    [Fact]
    public void Threads_are_not_affected()
    {
        using var box = new Sandbox();
        var policy = box.Policy(ProcessProbe.Block);
        var threads = ProcessProbe.Run(policy, ["threads"]);
        Assert.Equal(["threads created=8 joined=8"], ProcessProbe.Lines(threads));
        var clone = ProcessProbe.Run(policy, ["clone_thread"]);
        Assert.Equal(["result=0 errno=0", "thread ran=1"], ProcessProbe.Lines(clone));
        Assert.Empty(threads.Events);
        Assert.Empty(clone.Events);
    }

    [NotUnderQemuFact(Qemu.NoSeccomp)]
    public void The_kernel_filter_is_in_force_in_block_mode_only()
    {
        using var box = new Sandbox();
        Assert.Equal(["NoNewPrivs=1", "Seccomp=2"], ProcessProbe.Lines(ProcessProbe.Run(box.Policy(ProcessProbe.Block), ["status"])));
        Assert.Equal(["NoNewPrivs=0", "Seccomp=0"], ProcessProbe.Lines(ProcessProbe.Run(box.Policy(ProcessProbe.Alert), ["status"])));
        Assert.Equal(["NoNewPrivs=0", "Seccomp=0"], ProcessProbe.Lines(ProcessProbe.Run(box.Policy(ProcessProbe.Allow), ["status"])));
        // a policy error fails closed: block, with the filter
        Assert.Equal(["NoNewPrivs=1", "Seccomp=2"], ProcessProbe.Lines(ProcessProbe.Run(box.Policy("""{"create_child_process":"blok"}"""), ["status"])));
    }

    /// <summary>
    /// A kernel that refuses the filter: a launcher (run without the library) makes seccomp() and
    /// prctl(PR_SET_SECCOMP) fail with EINVAL, as a kernel without CONFIG_SECCOMP_FILTER does, then execs the probe
    /// with the library. One warning line; raw system calls get through; libc calls are still denied.
    /// </summary>
    [NotUnderQemuFact(Qemu.NoSeccomp)]
    public void A_kernel_that_refuses_the_filter_gets_one_warning_and_libc_still_enforces()
    {
        using var box = new Sandbox();
        var launcher = CProbe.Compile("no_seccomp_launcher", NoSeccompLauncher);
        var marker = Path.Combine(box.Dir, "ran");
        RunResult Launch(params string[] args) => Preloaded.RunPlain(launcher, [ProcessProbe.Exe.Value, .. args], new Dictionary<string, string?>
        {
            ["IRON_TEST_PRELOAD"] = Machine.Library, ["IRON_FUNCTION_POLICY"] = box.Policy(ProcessProbe.Block),
        });

        var raw = Launch("raw_fork");
        Assert.Equal(["result=0 errno=0", "status=7"], ProcessProbe.Lines(raw));
        Assert.True(raw.Diagnostics.Count == 1, $"expected one warning line:\n{raw}");
        Assert.Contains("WRN", raw.Diagnostics[0]);
        Assert.Contains("refused", raw.Diagnostics[0]);

        var libc = Launch("fork", ProcessProbe.Touch, marker);
        Assert.Equal(["result=-1 errno=1"], ProcessProbe.Lines(libc));
        Assert.Equal([ProcessProbe.Exe.Value], ProcessProbe.Whats(libc, "block"));
        Assert.False(File.Exists(marker));
    }

    private const string NoSeccompLauncher = """
        #define _GNU_SOURCE
        #include <errno.h>
        #include <linux/filter.h>
        #include <linux/seccomp.h>
        #include <stddef.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <sys/prctl.h>
        #include <sys/syscall.h>
        #include <unistd.h>
        /* launcher <program> <args>: program runs with LD_PRELOAD=$IRON_TEST_PRELOAD where installing a
           seccomp filter fails with EINVAL */
        int main(int argc, char **argv)
        {
            struct sock_filter f[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_seccomp, 3, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prctl, 0, 3),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_SECCOMP, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            };
            struct sock_fprog prog = { sizeof f / sizeof f[0], f };
            if (argc < 2 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
            { perror("launcher"); return 2; }
            setenv("LD_PRELOAD", getenv("IRON_TEST_PRELOAD"), 1);
            execv(argv[1], argv + 1);
            perror("execv");
            return 2;
        }
        """;
}

/// <summary>2. Alert: every function works as without the library, and each start is reported exactly once.</summary>
[Trait("Architecture", "arm64")] // also run on arm64 under qemu-user (Qemu.cs)
public class ProcessCProbeAlertTests
{
    [Theory]
    [MemberData(nameof(ProcessCall.RowsThatStart), MemberType = typeof(ProcessCall))]
    public void Every_function_works_and_is_reported_once(string op)
    {
        var call = ProcessCall.Of(op);
        using var box = new Sandbox();
        var marker = Path.Combine(box.Dir, "ran");
        var run = ProcessProbe.Run(box.Policy(ProcessProbe.Alert), call.Args(marker));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(call.Allowed, ProcessProbe.Lines(run));
        Assert.True(File.Exists(marker), $"{call.Op} did not start the program:\n{run}");
        // not once per layer: posix_spawn, system and popen exec inside libc; vfork's child is reported by its parent
        Assert.Equal(call.AlertWhats(marker), ProcessProbe.Whats(run, "alert"));
        ProcessProbe.StderrIsOnlyEvents(run);
    }

    [Fact]
    public void A_fork_is_reported_by_the_parent_and_the_exec_by_the_child()
    {
        using var box = new Sandbox();
        var marker = Path.Combine(box.Dir, "ran");
        var run = ProcessProbe.Run(box.Policy(ProcessProbe.Alert), ["fork", ProcessProbe.Touch, marker]);
        var events = ProcessProbe.ProcessEvents(run);
        Assert.Equal(2, events.Count);
        var fork = events.Single(e => e.Str("what") == ProcessProbe.Exe.Value);
        var exec = events.Single(e => e.Str("what") == ProcessProbe.Touch);
        Assert.NotEqual(fork.Str("process_id"), exec.Str("process_id"));
        Assert.StartsWith("fork by ", fork.Str("message"));
        Assert.StartsWith("execve of /usr/bin/touch", exec.Str("message"));
        // the child's event is written by the native judge from the template: the same schema and identity
        Assert.Equal(fork.Str("process_name"), exec.Str("process_name"));
        Assert.Equal(fork.Str("process_command"), exec.Str("process_command"));
        Assert.Equal(fork.Str("user_id"), exec.Str("user_id"));
        Assert.Equal(fork.GetProperty("aws_function_info").ToString(), exec.GetProperty("aws_function_info").ToString());
    }

    [NotUnderQemuFact(Qemu.VforkIsFork)]
    public void A_vfork_child_is_reported_once_by_its_parent_naming_the_program()
    {
        using var box = new Sandbox();
        var marker = Path.Combine(box.Dir, "ran");
        var run = ProcessProbe.Run(box.Policy(ProcessProbe.Alert), ["vfork", ProcessProbe.Touch, marker]);
        var e = Assert.Single(ProcessProbe.ProcessEvents(run));
        Assert.Equal(ProcessProbe.Touch, e.Str("what"));
        Assert.Matches(@"^vfork\+execve of /usr/bin/touch \(touch \S+\) in child \d+ was allowed and reported", e.Str("message"));
    }

    [Fact]
    public void A_vfork_child_that_executes_nothing_is_reported_as_the_vfork()
    {
        using var box = new Sandbox();
        var run = ProcessProbe.Run(box.Policy(ProcessProbe.Alert), ["vfork"]);
        Assert.Equal(["result=0 errno=0", "status=7"], ProcessProbe.Lines(run));
        Assert.Equal([ProcessProbe.Exe.Value], ProcessProbe.Whats(run, "alert"));
    }

    [Fact]
    public void An_exec_of_a_missing_file_starts_nothing_and_is_not_reported()
    {
        using var box = new Sandbox();
        var run = ProcessProbe.Run(box.Policy(ProcessProbe.Alert), ["execvp", "no-such-program-here"]);
        Assert.Equal(["result=-1 errno=2"], ProcessProbe.Lines(run));
        Assert.Empty(run.Events);
    }

    [Fact]
    public void A_shell_s_command_line_is_named()
    {
        using var box = new Sandbox();
        var marker = Path.Combine(box.Dir, "ran");
        var run = ProcessProbe.Run(box.Policy(ProcessProbe.Alert), ["execve", "/bin/sh", "-c", $"echo ran > {marker}"]);
        Assert.Equal(["/bin/sh -c " + ProcessProbe.Quoted($"echo ran > {marker}")], ProcessProbe.Whats(run, "alert"));
        Assert.True(File.Exists(marker));
    }

    [Fact]
    public void Raw_system_calls_are_not_seen_outside_block_mode()
    {
        // the limit of LD_PRELOAD the kernel filter covers in block mode: here they run, unreported
        using var box = new Sandbox();
        var marker = Path.Combine(box.Dir, "ran");
        var run = ProcessProbe.Run(box.Policy(ProcessProbe.Alert), ["raw_execve", ProcessProbe.Touch, marker]);
        Assert.True(File.Exists(marker), run.ToString());
        Assert.Empty(run.Events);
    }
}

/// <summary>3. Allow: silent, and the same as without the library.</summary>
[Trait("Architecture", "arm64")] // also run on arm64 under qemu-user (Qemu.cs)
public class ProcessCProbeAllowTests
{
    [Theory]
    [MemberData(nameof(ProcessCall.RowsThatStart), MemberType = typeof(ProcessCall))]
    public void Every_function_behaves_as_without_the_library(string op)
    {
        var call = ProcessCall.Of(op);
        using var plainBox = new Sandbox();
        using var box = new Sandbox();
        var plain = Preloaded.RunPlain(ProcessProbe.Exe.Value, call.Args(Path.Combine(plainBox.Dir, "ran")));
        var allow = ProcessProbe.Run(box.Policy(ProcessProbe.Allow), call.Args(Path.Combine(box.Dir, "ran")));

        Assert.Equal(call.Allowed, ProcessProbe.Lines(plain));
        Assert.Equal(ProcessProbe.Lines(plain), ProcessProbe.Lines(allow));
        Assert.Equal(plain.ExitCode, allow.ExitCode);
        Assert.True(File.Exists(Path.Combine(box.Dir, "ran")));
        Assert.Equal("", allow.Stderr);
    }
}

/// <summary>4. Protection follows the process tree: a new program keeps the library and the policy.</summary>
public class ProcessCProbeEnvironmentTests
{
    private static readonly string[] EnvpCalls = ["execve", "execvpe", "execle", "fexecve", "execveat", "posix_spawn", "posix_spawnp", "fork", "vfork", "clone_vfork"];

    /// <summary>The new program's environment; the log stream's name (the first process's pid and a random part) as <see cref="Stream"/>.</summary>
    private static string[] EnvOutput(RunResult run) =>
        ProcessProbe.Lines(run).Where(l => !l.StartsWith("result=", StringComparison.Ordinal) && !l.StartsWith("status=", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.IsMatch(l, "^IRON_FUNCTION_LOG_STREAM=[0-9]+/[0-9a-f]{16}/[0-9]+[.][0-9]+$") ? Stream : l).ToArray();

    /// <summary>IRON_FUNCTION_LOG_STREAM, which names where every process of the tree writes its event lines.</summary>
    private const string Stream = "IRON_FUNCTION_LOG_STREAM=<first process>";

    /// <summary>IRON_FUNCTION_POLICY_SHA256 as a new program gets it: the policy bytes its parent read.</summary>
    private static string Digest(string policy) =>
        "IRON_FUNCTION_POLICY_SHA256=" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(policy))).ToLowerInvariant();

    private static string[] Args(string op, string env) =>
        ["--env", env, op, op is "execvpe" or "posix_spawnp" ? "env" : "/usr/bin/env"];

    [Theory]
    [MemberData(nameof(EnvpCallRows))]
    public void An_empty_environment_gets_the_library_and_the_policy(string op)
    {
        using var box = new Sandbox();
        var policy = box.Policy(ProcessProbe.Alert);
        var run = ProcessProbe.Run(policy, Args(op, "empty"));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal([$"LD_PRELOAD={Machine.Library}", $"IRON_FUNCTION_POLICY={policy}", Digest(policy), Stream], EnvOutput(run));
    }

    public static IEnumerable<object[]> EnvpCallRows => EnvpCalls.Select(c => new object[] { c });

    [Fact]
    public void A_NULL_environment_is_an_empty_one_and_gets_them_too()
    {
        using var box = new Sandbox();
        var policy = box.Policy(ProcessProbe.Alert);
        var run = ProcessProbe.Run(policy, Args("execve", "null"));
        Assert.Equal([$"LD_PRELOAD={Machine.Library}", $"IRON_FUNCTION_POLICY={policy}", Digest(policy), Stream], EnvOutput(run));
    }

    [Fact]
    public void The_caller_s_preloads_are_kept_behind_the_library_and_another_policy_is_replaced()
    {
        using var box = new Sandbox();
        var policy = box.Policy(ProcessProbe.Alert);
        var other = FindLibm();
        var run = ProcessProbe.Run(policy, Args("execve", $"custom:A=1,LD_PRELOAD={other},IRON_FUNCTION_POLICY=/elsewhere/allow.json,B=2"));
        Assert.Equal(["A=1", "B=2", $"LD_PRELOAD={Machine.Library}:{other}", $"IRON_FUNCTION_POLICY={policy}", Digest(policy), Stream], EnvOutput(run));
    }

    [Fact]
    public void An_environment_that_already_carries_them_passes_untouched()
    {
        using var box = new Sandbox();
        var policy = box.Policy(ProcessProbe.Alert);
        // a process below the first one: it passes on the stream it was given
        const string stream = "IRON_FUNCTION_LOG_STREAM=1/0123456789abcdef/1.2";
        var run = Preloaded.Run(ProcessProbe.Exe.Value, Args("execve", $"custom:IRON_FUNCTION_POLICY={policy},Z=1,{Digest(policy)},{stream},LD_PRELOAD={Machine.Library}"),
            policy, new Dictionary<string, string?> { ["IRON_FUNCTION_LOG_STREAM"] = "1/0123456789abcdef/1.2" });
        Assert.Equal([$"IRON_FUNCTION_POLICY={policy}", "Z=1", Digest(policy), Stream, $"LD_PRELOAD={Machine.Library}"], EnvOutput(run));
    }

    [Fact]
    public void A_relative_policy_path_is_passed_on_absolute()
    {
        using var box = new Sandbox();
        var policy = box.Policy(ProcessProbe.Alert);
        var run = Preloaded.Run(ProcessProbe.Exe.Value, Args("execve", "empty"), Path.GetFileName(policy), cwd: box.Dir);
        Assert.Equal([$"LD_PRELOAD={Machine.Library}", $"IRON_FUNCTION_POLICY={policy}", Digest(policy), Stream], EnvOutput(run));
    }

    [Fact]
    public void With_another_control_active_the_environment_is_protected_even_when_this_one_is_allow()
    {
        using var box = new Sandbox();
        var policy = box.Policy("""{"create_child_process":"allow","read_write_tmp":"block"}""");
        var run = ProcessProbe.Run(policy, Args("execve", "empty"));
        // the child's own library adds UV_USE_IO_URING=0 at its start, as read_write_tmp is block there too
        Assert.Equal([$"LD_PRELOAD={Machine.Library}", $"IRON_FUNCTION_POLICY={policy}", Digest(policy), Stream, "UV_USE_IO_URING=0"], EnvOutput(run));
        Assert.Empty(run.Events);
    }

    [Fact]
    public void With_every_control_allow_environments_pass_untouched()
    {
        using var box = new Sandbox();
        var policy = box.Policy("""{"create_child_process":"allow","read_write_tmp":"allow","outbound_connectivity":"allow","read_handler":"allow"}""");
        Assert.Empty(EnvOutput(ProcessProbe.Run(policy, Args("execve", "empty"))));
        Assert.Equal(["A=1"], EnvOutput(ProcessProbe.Run(policy, Args("fork", "custom:A=1"))));
    }

    /// <summary>SPEC §3 "must show": a child started in alert mode with an empty environment is still protected by the other controls.</summary>
    [Theory]
    [InlineData("execve")]
    [InlineData("fork")]
    [InlineData("vfork")]
    [InlineData("posix_spawn")]
    public void A_child_started_with_an_empty_environment_is_still_protected(string op)
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "written-by-child");
        var run = ProcessProbe.Run(box.Policy("""{"create_child_process":"alert","read_write_tmp":"block"}"""),
            ["--env", "empty", op, "/bin/sh", "-c", $"echo x > {target}; echo rc=$?"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(ProcessProbe.Lines(run), l => l.StartsWith("rc=", StringComparison.Ordinal) && l != "rc=0");
        Assert.False(File.Exists(target), $"the child wrote {target}:\n{run}");
        var denied = Assert.Single(run.Events, e => e.Str("event_type") == "read_write_tmp");
        Assert.Equal("block", denied.Str("action"));
        Assert.Equal(target, denied.Str("what"));
        Assert.Equal("sh", denied.Str("process_name"));
    }

    private static string FindLibm()
    {
        foreach (var candidate in new[] { "/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib64/libm.so.6", "/usr/lib64/libm.so.6" })
            if (File.Exists(candidate)) return candidate;
        throw new InvalidOperationException("no libm.so.6 to preload");
    }
}

/// <summary>5. The host stays safe: fork+exec storms with threads inside hooks, vfork children calling hooks.</summary>
public class ProcessCProbeHostSafetyTests
{
    /// <summary>
    /// 200 fork/vfork+exec while 4 threads open a /tmp file in alert mode (every open is an event, so the
    /// runtime allocates and collects all along). A forked child is a copy of the runtime as those threads left it,
    /// mid-collection at times: the library never enters it there. No hang, every start works, and the starts are
    /// reported exactly once each: 100 forks, the 100 execs of their children, 100 vfork+execs (identical repeats
    /// are summed up on one line, counted as the occurrences it stands for).
    /// </summary>
    [Fact]
    public void Fork_and_exec_storm_while_threads_are_inside_hooks()
    {
        using var box = new Sandbox();
        var file = Path.Combine(box.TmpDir, "hammered");
        File.WriteAllText(file, "x");
        var run = ProcessProbe.Run(box.Policy("""{"create_child_process":"alert","read_write_tmp":"alert"}"""),
            ["stress", "200", file, "/bin/true"], timeoutSeconds: 600);
        Assert.True(run.ExitCode == 0, run.ToString());
        var line = Assert.Single(ProcessProbe.Lines(run));
        Assert.StartsWith("stress ok=200 failed=0 opens=yes process_events=", line);
        // the probe counted what reached its pipe; repeats still being summed up go out at exit, to the real stderr
        Assert.Equal(300, int.Parse(line[(line.LastIndexOf('=') + 1)..], System.Globalization.CultureInfo.InvariantCulture) + ProcessProbe.ProcessEvents(run).Count);
    }

    [Fact]
    public void Fork_and_exec_storm_with_every_control_allow()
    {
        using var box = new Sandbox();
        var file = Path.Combine(box.TmpDir, "hammered");
        File.WriteAllText(file, "x");
        var run = ProcessProbe.Run(box.Policy("""{"create_child_process":"allow","read_write_tmp":"allow"}"""),
            ["stress", "200", file, "/bin/true"], timeoutSeconds: 600);
        Assert.Equal(["stress ok=200 failed=0 opens=yes process_events=0"], ProcessProbe.Lines(run));
    }

    /// <summary>
    /// A vfork child changes directory and opens a file before it execs. It runs on its parent's memory: what the
    /// library caches (the working directory) must be the parent's afterwards, so the parent's next relative open
    /// is judged against its own directory.
    /// </summary>
    [Theory]
    [InlineData("""{"read_write_tmp":"block"}""", "child_open=13")]
    [InlineData("""{"read_write_tmp":"alert","create_child_process":"alert"}""", "child_open=0")]
    [InlineData("""{"read_write_tmp":"allow","create_child_process":"allow"}""", "child_open=0")]
    public void A_vfork_child_calling_hooked_functions_leaves_the_parent_intact(string policyJson, string childOpen)
    {
        using var box = new Sandbox();
        File.WriteAllText(Path.Combine(box.TmpDir, "file"), "in tmp");
        File.WriteAllText(Path.Combine(box.Dir, "relative-after-vfork"), "outside tmp");
        var run = Preloaded.Run(ProcessProbe.Exe.Value, ["vfork_hooks", box.TmpDir, "file", "/bin/true"], box.Policy(policyJson), cwd: box.Dir);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(["result=0 errno=0", "status=0", $"{childOpen} cwd_kept=1 parent_relative_open_errno=0"], ProcessProbe.Lines(run));
        ProcessProbe.StderrIsOnlyEvents(run);
        Assert.DoesNotContain(run.Events, e => e.Str("what").EndsWith("relative-after-vfork", StringComparison.Ordinal));
    }
}

/// <summary>6. The native glue writes the process functions itself: it must know every one the list names.</summary>
public class ProcessGlueTests
{
    [Fact]
    public void Every_process_symbol_has_its_own_wrapper_in_the_glue()
    {
        var hooks = Path.Combine(Machine.RepoRoot, "src", "IronFunction", "Hooks");
        var glue = File.ReadAllText(Path.Combine(Machine.RepoRoot, "src", "IronFunction", "Native", "glue", "glue.h"));
        var listed = File.ReadAllLines(Path.Combine(hooks, "process.symbols")).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        Assert.NotEmpty(listed);
        // a process name without IRON_OWN_<name> would get the generic trampoline, straight into its judge
        foreach (var name in listed)
            Assert.True(glue.Contains($"#define IRON_OWN_{name} ~, 1", StringComparison.Ordinal), $"{name} has no wrapper of its own in the glue (glue.h)");
        var own = System.Text.RegularExpressions.Regex.Matches(glue, @"#define IRON_OWN_(\w+) ~, 1").Select(m => m.Groups[1].Value);
        // and the walkers that call the caller back (Native/glue/callbacks.c), and the open family (Native/glue/file_prefilter.c)
        string[] walkers = ["ftw", "ftw64", "nftw", "nftw64", "scandir", "scandir64", "scandirat", "scandirat64",
            "fts_open", "fts64_open", "fts_read", "fts64_read", "fts_children", "fts64_children", "glob", "glob64"];
        string[] opens = ["open", "open64", "openat", "openat64"];
        Assert.Equal(listed.Concat(walkers).Concat(opens).Order(StringComparer.Ordinal), own.Order(StringComparer.Ordinal));
    }
}
