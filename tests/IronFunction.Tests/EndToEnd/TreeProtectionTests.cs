using IronFunction.Tests.Lambda;

namespace IronFunction.Tests.EndToEnd;

// What a protected process hands down, tried as an attacker inside the function would (SPEC §3, §5, §7):
// a handler reopened through a descriptor that reads nothing, the environment's own strings rewritten in
// place before a child starts, a loader variable that makes a child refuse the library, and a policy file
// swapped after the first process read it. The probe is probes/tree_probe.c.

public static class TreeProbe
{
    private static readonly string Dir = Path.Combine(Machine.RepoRoot, "tests", "IronFunction.Tests", "EndToEnd", "probes");

    public static readonly Lazy<string> Exe = new(() => CProbe.Compile("tree_probe", File.ReadAllText(Path.Combine(Dir, "tree_probe.c"))));

    /// <summary>An LD_AUDIT module that refuses to load any object named like this library (la_objsearch returns NULL).</summary>
    public static readonly Lazy<string> RefusingAudit = new(() => CProbe.Compile("refuse_preload_audit", """
        #define _GNU_SOURCE
        #include <link.h>
        #include <stdint.h>
        #include <string.h>
        unsigned int la_version(unsigned int version) { (void)version; return LAV_CURRENT; }
        char *la_objsearch(const char *name, uintptr_t *cookie, unsigned int flag)
        {
            (void)cookie; (void)flag;
            return strstr(name, "lib_iron_function") ? NULL : (char *)name;
        }
        """, "-shared -fPIC"));

    /// <summary>The last "result=…" line a program printed (the child's, when the probe execs another).</summary>
    public static string Line(RunResult run) =>
        run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.Contains("result=")) ?? $"(no result)\n{run}";
}

public class HandlerReopenTests
{
    private const string Source = "def handler(event, context):     return 'secret logic' ";

    [Fact]
    public void Freopen_NULL_of_a_path_only_descriptor_of_the_handler_is_denied_and_reported()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var run = Preloaded.Run(TreeProbe.Exe.Value, ["reopen", "app.py"], box.Policy(HandlerRuns.Block), root.Env(), cwd: root.Dir);
        Assert.Equal("result=NULL errno=13", TreeProbe.Line(run));
        var e = Assert.Single(run.Events);
        Assert.Equal("read_handler", e.Str("event_type"));
        Assert.Equal("block", e.Str("action"));
        Assert.Equal(root.Handler, e.Str("what"));
        Assert.Contains("freopen", e.Str("message"));
    }

    [Theory]
    [InlineData("alert", 1)]
    [InlineData("allow", 0)]
    public void Freopen_NULL_reads_as_before_in_alert_and_allow(string action, int events)
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var run = Preloaded.Run(TreeProbe.Exe.Value, ["reopen", "app.py"], box.Policy($$"""{"read_handler":"{{action}}"}"""), root.Env(), cwd: root.Dir);
        Assert.Equal($"result=ok read={Source}", TreeProbe.Line(run));
        Assert.Equal(events, run.Events.Count);
    }

    [Fact]
    public void Freopen_NULL_through_ctypes_in_Python_is_denied()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        const string script = """
            import ctypes, os
            libc = ctypes.CDLL(None, use_errno=True)
            libc.fdopen.restype = ctypes.c_void_p
            libc.fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
            libc.freopen.restype = ctypes.c_void_p
            libc.freopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p]
            f = libc.fdopen(os.open("app.py", os.O_PATH), b"r")
            g = libc.freopen(None, b"r", f)
            print("result=NULL errno=%d" % ctypes.get_errno() if not g else "result=ok")
            """;
        var run = Preloaded.Run(Machine.Python.Value, ["-c", script], box.Policy(HandlerRuns.Block), root.Env(), cwd: root.Dir);
        Assert.Equal("result=NULL errno=13", TreeProbe.Line(run));
        Assert.Contains(run.Events, e => e.Str("event_type") == "read_handler" && e.Str("what") == root.Handler);
    }
}

public class HandlerInheritanceTests
{
    [Fact]
    public void A_child_keeps_the_handler_protected_when_the_parent_rewrote_HANDLER_in_place()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var probe = TreeProbe.Exe.Value;
        var run = Preloaded.Run(probe, ["rewrite", "_HANDLER", "x.handler", "--", probe, "read", "app.py"],
            box.Policy(HandlerRuns.Block), root.Env(), cwd: root.Dir);
        Assert.Equal("result=NULL errno=13", TreeProbe.Line(run));
        Assert.Equal(root.Handler, Assert.Single(run.Events).Str("what"));
    }

    [Fact]
    public void A_child_keeps_the_handler_protected_when_the_parent_rewrote_LAMBDA_TASK_ROOT_in_place()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var probe = TreeProbe.Exe.Value;
        // same length or shorter: an existing directory with no app.py in it
        var elsewhere = Path.Combine(box.Dir, "e");
        Directory.CreateDirectory(elsewhere);
        var run = Preloaded.Run(probe, ["rewrite", "LAMBDA_TASK_ROOT", elsewhere, "--", probe, "read", root.Handler],
            box.Policy(HandlerRuns.Block), root.Env(), cwd: root.Dir);
        Assert.Equal("result=NULL errno=13", TreeProbe.Line(run));
        Assert.Equal(root.Handler, Assert.Single(run.Events).Str("what"));
    }

    [Fact]
    public void A_child_in_Lambda_is_armed_when_the_parent_rewrote_the_loaded_flag_in_place()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var probe = TreeProbe.Exe.Value;
        // in Lambda (a Runtime API is named) the parent is armed because it was started by an armed process
        var run = Preloaded.Run(probe, ["rewrite", "IRON_FUNCTION_HANDLER_LOADED", "0", "--", probe, "read", "app.py"],
            box.Policy(HandlerRuns.Block), root.Env(runtimeApi: "127.0.0.1:9", loaded: "1"), cwd: root.Dir);
        Assert.Equal("result=NULL errno=13", TreeProbe.Line(run));
        Assert.Equal(root.Handler, Assert.Single(run.Events).Str("what"));
    }

    [Fact]
    public void A_Python_child_keeps_the_handler_protected_when_the_parent_rewrote_HANDLER_in_place()
    {
        using var box = new Sandbox();
        var root = new ProbeTaskRoot(box);
        var script = $$"""
            import ctypes, subprocess, sys
            libc = ctypes.CDLL(None)
            libc.getenv.restype = ctypes.c_void_p
            p = libc.getenv(b"_HANDLER")
            ctypes.memmove(p, b"x.handler\0", 10)
            # env=None: the child gets this process's own environment, rewritten above
            out = subprocess.run([sys.executable, "-c", "open('app.py').read(); print('result=ok')"], capture_output=True, text=True)
            print(out.stdout.strip() or "result=denied " + out.stderr.strip().splitlines()[-1])
            """;
        var run = Preloaded.Run(Machine.Python.Value, ["-c", script], box.Policy(HandlerRuns.Block), root.Env(), cwd: root.Dir);
        Assert.StartsWith("result=denied PermissionError", TreeProbe.Line(run));
    }
}

public class ChildrenKeepTheLibraryTests
{
    private const string TmpBlockProcessAlert = """{"read_write_tmp":"block","create_child_process":"alert"}""";

    [Fact]
    public void A_child_started_with_an_LD_AUDIT_module_that_refuses_the_library_is_protected_anyway()
    {
        using var box = new Sandbox();
        var probe = TreeProbe.Exe.Value;
        var target = Path.Combine(box.TmpDir, "dropped");
        var run = Preloaded.Run(probe, ["setenv", "LD_AUDIT", TreeProbe.RefusingAudit.Value, "--", probe, "create", target],
            box.Policy(TmpBlockProcessAlert), TmpProbe.Env, cwd: box.Dir);
        Assert.Equal("result=-1 errno=13", TreeProbe.Line(run));
        Assert.False(File.Exists(target), run.ToString());
        Assert.Contains(run.Events, e => e.Str("event_type") == "read_write_tmp" && e.Str("action") == "block" && e.Str("what") == target);
    }

    [Fact]
    public void Without_the_library_the_audit_module_does_refuse_it()
    {
        // the attack itself, shown once: a process that is not protected hands LD_AUDIT on and the child runs bare
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "dropped");
        var run = Preloaded.RunPlain(TreeProbe.Exe.Value, ["create", target], new Dictionary<string, string?>
        {
            ["LD_PRELOAD"] = Machine.Library, ["IRON_FUNCTION_POLICY"] = box.Policy(TmpBlockProcessAlert),
            ["LD_AUDIT"] = TreeProbe.RefusingAudit.Value, ["TMPDIR"] = null,
        });
        Assert.Equal("result=0 errno=0", TreeProbe.Line(run));
        Assert.True(File.Exists(target));
    }

    [Fact]
    public void A_Python_child_given_LD_AUDIT_in_its_environment_is_protected_anyway()
    {
        using var box = new Sandbox();
        var target = Path.Combine(box.TmpDir, "dropped");
        const string script = """
            import os, subprocess, sys
            env = dict(os.environ, LD_AUDIT=sys.argv[1])
            out = subprocess.run([sys.executable, "-c", "import sys; open(sys.argv[1], 'w')", sys.argv[2]], env=env, capture_output=True, text=True)
            print("result=ok" if out.returncode == 0 else "result=denied " + out.stderr.strip().splitlines()[-1])
            """;
        var run = Preloaded.Run(Machine.Python.Value, ["-c", script, TreeProbe.RefusingAudit.Value, target],
            box.Policy(TmpBlockProcessAlert), TmpProbe.Env, cwd: box.Dir);
        Assert.StartsWith("result=denied PermissionError", TreeProbe.Line(run));
        Assert.False(File.Exists(target));
    }

    [Fact]
    public void A_child_whose_policy_file_was_swapped_after_its_parent_read_it_fails_closed()
    {
        using var box = new Sandbox();
        var probe = TreeProbe.Exe.Value;
        var policy = box.Policy(TmpBlockProcessAlert);
        var target = Path.Combine(box.TmpDir, "dropped");
        var run = Preloaded.Run(probe, ["overwrite", policy, """{"read_write_tmp":"allow"}""", "--", probe, "create", target],
            policy, TmpProbe.Env, cwd: box.Dir);
        Assert.Equal("result=-1 errno=13", TreeProbe.Line(run));
        Assert.False(File.Exists(target), run.ToString());
        var line = Assert.Single(run.Diagnostics, d => d.Contains("policy error", StringComparison.Ordinal));
        Assert.Contains($"policy error in {policy}: the file changed after the process that started this one read it; enforcing block on all four controls", line);
    }

    [Fact]
    public void A_child_whose_policy_file_is_unchanged_runs_under_it()
    {
        using var box = new Sandbox();
        var probe = TreeProbe.Exe.Value;
        var policy = box.Policy("""{"read_write_tmp":"allow","create_child_process":"alert"}""");
        var target = Path.Combine(box.TmpDir, "written");
        // the same bytes written again: the file is rewritten, its content is what the parent read
        var run = Preloaded.Run(probe, ["overwrite", policy, """{"read_write_tmp":"allow","create_child_process":"alert"}""", "--", probe, "create", target],
            policy, TmpProbe.Env, cwd: box.Dir);
        Assert.Equal("result=0 errno=0", TreeProbe.Line(run));
        Assert.True(File.Exists(target));
        Assert.DoesNotContain(run.Diagnostics, d => d.Contains("policy error", StringComparison.Ordinal));
    }
}
