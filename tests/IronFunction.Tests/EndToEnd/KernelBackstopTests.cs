using System.Diagnostics;

namespace IronFunction.Tests.EndToEnd;

// The kernel backstops (docs/kernel-backstops.md): what the libc layer cannot see (raw system calls, io_uring, a
// statically linked child, another thread's raw read) is stopped by a Landlock layer with "kernel": true, and is as
// before without it; ptrace and friends are denied by create_child_process's seccomp filter; the state that decides
// whether a hook judges cannot be written from the process. One C probe, probes/backstop_probe.c.

public static class Backstop
{
    public const string TmpKernel = """{"read_write_tmp":{"action":"block","kernel":true}}""";
    public const string TmpPlain = """{"read_write_tmp":"block"}""";
    public const string HandlerKernel = """{"read_handler":{"action":"block","kernel":true}}""";
    public const string Created = "result=fd errno=0";
    public const string Denied = "result=-1 errno=13";

    private static string ProbeSource(string name) =>
        File.ReadAllText(Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes", name));

    public static readonly Lazy<string> Probe = new(() => CProbe.Compile("backstop_probe", ProbeSource("backstop_probe.c"), "-pthread -ldl"));
    public static readonly Lazy<string> StaticWriter = new(() => CProbe.Compile("static_writer", ProbeSource("static_writer.c"), "-static"));

    public static RunResult Run(Sandbox box, string policy, params string[] args) =>
        Preloaded.Run(Probe.Value, args, box.Policy(policy), TmpProbe.Env);

    public static string Line(RunResult run) => TmpProbe.Line(run);

    /// <summary>No warning, no error: the backstop asked for is in force.</summary>
    public static void NoDiagnostics(RunResult run) =>
        Assert.True(run.Diagnostics.Count == 0, $"unexpected diagnostics:\n{run}");
}

public class TmpKernelBackstopTests
{
    [Theory]
    [InlineData("raw-openat")]
    [InlineData("raw-open")]
    [InlineData("uring")]
    public void A_raw_create_in_tmp_fails_with_the_kernel_backstop_and_nothing_is_created(string how)
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "x");
        var run = Backstop.Run(box, Backstop.TmpKernel, how, target);
        Assert.Equal(Backstop.Denied, Backstop.Line(run));
        Assert.False(File.Exists(target), "the file was created");
        Backstop.NoDiagnostics(run);
    }

    [Theory]
    [InlineData("raw-openat")]
    [InlineData("raw-open")]
    [InlineData("uring")]
    public void Without_the_key_a_raw_create_is_as_before(string how)
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "x");
        var run = Backstop.Run(box, Backstop.TmpPlain, how, target);
        Assert.Equal(Backstop.Created, Backstop.Line(run));
        Assert.True(File.Exists(target));
    }

    [Fact]
    public void Everything_outside_tmp_is_kept()
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.Dir, "x");
        var run = Backstop.Run(box, Backstop.TmpKernel, "raw-openat", target);
        Assert.Equal(Backstop.Created, Backstop.Line(run));
        Assert.True(File.Exists(target));
        // listing / needs a right on / itself: granted (READ_DIR only)
        var ls = Preloaded.Run(Machine.Python.Value, ["-c", "import os; print(len(os.listdir('/')) > 3, len(os.listdir('/usr')) > 3)"],
            box.Policy(Backstop.TmpKernel), TmpProbe.Env);
        Assert.True(ls.ExitCode == 0, ls.ToString());
        Assert.Equal("True True", ls.Stdout.Trim());
    }

    [Theory]
    [InlineData(Backstop.TmpKernel, false)]
    [InlineData(Backstop.TmpPlain, true)]
    public void A_statically_linked_child_cannot_write_tmp_with_the_kernel_backstop(string policy, bool created)
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "x");
        var run = Backstop.Run(box, policy, "spawn", Backstop.StaticWriter.Value, target);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(created ? Backstop.Created : Backstop.Denied, run.Stdout);
        Assert.Contains("exit=0", run.Stdout);
        Assert.Equal(created, File.Exists(target));
    }

    [Theory]
    [InlineData(Backstop.TmpKernel, 257, false)]
    [InlineData(Backstop.TmpKernel, 2, false)]
    [InlineData(Backstop.TmpPlain, 257, true)]
    [InlineData(Backstop.TmpPlain, 2, true)]
    public void Python_ctypes_raw_syscalls(string policy, int syscall, bool created)
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "x");
        var call = syscall == 257 ? $"s(257, -100, b'{target}', 0o101, 0o644)" : $"s(2, b'{target}', 0o101, 0o644)";
        var script = $"import ctypes\ns = ctypes.CDLL(None, use_errno=True).syscall\nr = {call}\nprint(r >= 0, ctypes.get_errno())";
        var run = Preloaded.Run(Machine.Python.Value, ["-c", script], box.Policy(policy), TmpProbe.Env);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(created ? "True 0" : "False 13", run.Stdout.Trim());
        Assert.Equal(created, File.Exists(target));
    }

    [Fact]
    public void Kernel_outside_block_is_one_warning_and_changes_nothing()
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "x");
        var run = Backstop.Run(box, """{"read_write_tmp":{"action":"alert","kernel":true}}""", "raw-openat", target);
        Assert.Equal(Backstop.Created, Backstop.Line(run));
        Assert.True(File.Exists(target));
        var warning = Assert.Single(run.Diagnostics);
        Assert.Contains("\"kernel\": true applies in block mode only", warning);
    }
}

public class HandlerKernelBackstopTests : IDisposable
{
    private readonly System.Net.Sockets.TcpListener _api = new(System.Net.IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();

    public HandlerKernelBackstopTests()
    {
        _api.Start();
        _ = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var client = await _api.AcceptTcpClientAsync(_stop.Token);
                    _ = Task.Run(async () => { using (client) while (await client.GetStream().ReadAsync(buffer, _stop.Token) > 0) { } });
                }
                catch (Exception) { return; }
            }
        });
    }

    public void Dispose()
    {
        _stop.Cancel();
        _api.Stop();
    }

    private string Port => ((System.Net.IPEndPoint)_api.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [InlineData(Backstop.HandlerKernel, Backstop.Denied)]
    [InlineData("""{"read_handler":"block"}""", "result=fd errno=0")]
    public void A_thread_started_before_arming_cannot_read_the_handler_with_a_raw_call(string policy, string expected)
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var run = Preloaded.Run(Backstop.Probe.Value, ["thread-read", Port, root.Handler], box.Policy(policy),
            root.Env(runtimeApi: $"127.0.0.1:{Port}"), cwd: root.Dir);
        Assert.Equal(expected, Backstop.Line(run));
        Backstop.NoDiagnostics(run);
    }

    [Fact]
    public void Other_files_of_the_task_root_stay_readable_and_the_handler_does_not()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var data = Backstop.Line(Preloaded.Run(Backstop.Probe.Value, ["raw-read", Path.Combine(root.Dir, "data.txt")],
            box.Policy(Backstop.HandlerKernel), root.Env(), cwd: root.Dir));
        var handler = Backstop.Line(Preloaded.Run(Backstop.Probe.Value, ["raw-read", root.Handler],
            box.Policy(Backstop.HandlerKernel), root.Env(), cwd: root.Dir));
        var pyc = Backstop.Line(Preloaded.Run(Backstop.Probe.Value, ["raw-read", root.Pycache],
            box.Policy(Backstop.HandlerKernel), root.Env(), cwd: root.Dir));
        Assert.Equal(("result=fd errno=0", Backstop.Denied, Backstop.Denied), (data, handler, pyc));
    }
}

public class PtraceBackstopTests
{
    [Theory]
    [InlineData("""{"create_child_process":"block"}""", "result=-1 errno=1")]
    [InlineData("""{"create_child_process":"alert"}""", "result=0 errno=0")]
    public void A_protected_process_cannot_ptrace_a_sibling_in_block_mode(string policy, string attach)
    {
        using var box = new Sandbox();
        using var sibling = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        try
        {
            var run = Backstop.Run(box, policy, "ptrace", sibling.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(lines.Length == 3, run.ToString());
            Assert.Equal(attach, lines[0]);
            if (attach == "result=-1 errno=1")
            {
                Assert.Equal("result=-1 errno=1", lines[1]); // PTRACE_SEIZE
                Assert.Equal("result=-1 errno=1", lines[2]); // process_vm_writev
            }
        }
        finally
        {
            sibling.Kill();
        }
    }
}

public class LockedStateTests
{
    /// <summary>
    /// The review's attack: an export whose first instruction is cmpb $0, flag(%rip) leads to a byte of the library's state;
    /// write 0 there, then open sys.argv[1] for writing. The review used open's (the ready flag); open is C now
    /// (file_prefilter.c) and creat is still a generated trampoline. dlopen's leads to the switch that drops RTLD_DEEPBIND.
    /// </summary>
    private static string Attack(string export) => $$"""
        import ctypes, os, sys
        libc = ctypes.CDLL(None)
        code = ctypes.cast(libc.{{export}}, ctypes.POINTER(ctypes.c_ubyte))
        assert code[0] == 0x80 and code[1] == 0x3d, '{{export}} does not start with cmpb'
        disp = int.from_bytes(bytes(code[i] for i in range(2, 6)), 'little', signed=True)
        flag = ctypes.cast(libc.{{export}}, ctypes.c_void_p).value + 7 + disp
        print('flag', ctypes.c_ubyte.from_address(flag).value, flush=True)
        ctypes.memmove(flag, b'\0', 1)
        print('written', flush=True)
        try:
            os.close(os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY))
            print('created', flush=True)
        except OSError as e:
            print('errno', e.errno, flush=True)
        """;

    [Theory]
    [InlineData("creat")]  // the ready flag
    [InlineData("dlopen")] // the RTLD_DEEPBIND switch
    public void Writing_the_librarys_state_from_Python_faults_and_switches_nothing_off(string export)
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "x");
        var run = Preloaded.Run(Machine.Python.Value, ["-c", Attack(export), target], box.Policy(Backstop.TmpPlain), TmpProbe.Env);
        Assert.StartsWith("flag 1", run.Stdout);
        Assert.DoesNotContain("written", run.Stdout);
        Assert.False(File.Exists(target), "judging was switched off");
        // the page is read-only: the write faults
        Assert.True(run.ExitCode is 139 or -11 or 128 + 11, run.ToString());
    }

    [Theory]
    [InlineData(Backstop.TmpPlain)]
    [InlineData("""{"read_write_tmp":"alert"}""")]
    public void Opening_proc_self_mem_for_writing_is_judged(string policy)
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.Dir, "x");
        var run = Backstop.Run(box, policy, "flag-off", target);
        bool block = policy == Backstop.TmpPlain;
        // alert lets the open through, and the kernel writes through read-only pages: only block keeps the flag
        Assert.Contains(block ? "flag=1 mem=0 wrote=-1" : "mem=1 wrote=1", run.Stdout);
        Assert.Contains(run.Events, e => e.Str("what") == "/proc/self/mem" && e.Str("action") == (block ? "block" : "alert"));
    }
}
