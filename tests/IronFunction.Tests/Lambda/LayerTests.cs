using System.IO.Compression;
using IronFunction.Tests.EndToEnd;

namespace IronFunction.Tests.Lambda;

// SPEC §9: the Lambda layer. iron-function layer (what ./build.sh layer runs) packs the
// library, the exec wrapper, a policy and a manifest; the zip is extracted as Lambda extracts layers (into /opt, here a
// directory of the sandbox) and a real runtime is started the way a managed runtime's bootstrap starts it
// when AWS_LAMBDA_EXEC_WRAPPER is set: the bootstrap execs the wrapper with the runtime's command line.
public class LayerTests
{
    private static RunResult Pack(string policy, string zip) => Cli.IronTool.Run(["layer", "--policy", policy, "-o", zip]);

    /// <summary>Packs a layer with the policy and extracts it into the sandbox's opt/; the wrapper's path.</summary>
    private static string Install(Sandbox box, string policyJson)
    {
        var zip = Path.Combine(box.Dir, "layer.zip");
        var packed = Pack(box.Policy(policyJson), zip);
        Assert.True(packed.ExitCode == 0, packed.ToString());
        var opt = Path.Combine(box.Dir, "opt");
        ZipFile.ExtractToDirectory(zip, opt);
        var wrapper = Path.Combine(opt, "iron-function", "wrapper");
        // a process the test host forks meanwhile (parallel tests) holds the just-written file open until its exec:
        // executing it fails with ETXTBSY until then, as a runtime's bootstrap would here; wait that out
        for (int i = 0; i < 100 && Preloaded.RunPlain(wrapper, ["/bin/true"]).ExitCode != 0; i++) Thread.Sleep(20);
        return wrapper;
    }

    [Fact]
    public void The_zip_holds_the_library_its_log_image_the_wrapper_and_the_policy()
    {
        using var box = new Sandbox();
        var wrapper = Install(box, HandlerRuns.Block);
        var dir = Path.GetDirectoryName(wrapper)!;
        Assert.Equal(["lib_iron_function.so", "lib_iron_function_log.so", "manifest.json", "policy.json", "wrapper"],
            Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        // the manifest: the library's digest as sha256sum gives it, and the newest glibc symbol version it needs
        using var manifest = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")));
        var m = manifest.RootElement;
        Assert.Equal("x86_64", m.Str("architecture"));
        Assert.Equal(Preloaded.RunPlain("sha256sum", [Machine.Library]).Stdout.Split(' ')[0], m.Str("library_sha256"));
        var logImage = Path.Combine(Path.GetDirectoryName(Machine.Library)!, "lib_iron_function_log.so");
        var glibc = new[] { Machine.Library, logImage }.SelectMany(f => Preloaded.RunPlain("objdump", ["-T", f]).Stdout.Split('\n'))
            .SelectMany(l => System.Text.RegularExpressions.Regex.Matches(l, @"GLIBC_([0-9.]+)").Select(x => Version.Parse(x.Groups[1].Value)))
            .Max();
        Assert.Equal($"GLIBC_{glibc}", m.Str("glibc_required"));
        Assert.Equal(Preloaded.RunPlain(Cli.IronTool.Path, ["--version"]).Stdout.Trim(), $"iron-function {m.Str("version")}");
        Assert.Equal(File.ReadAllBytes(Machine.Library), File.ReadAllBytes(Path.Combine(dir, "lib_iron_function.so")));
        Assert.Equal(File.ReadAllBytes(logImage), File.ReadAllBytes(Path.Combine(dir, "lib_iron_function_log.so")));
        Assert.Equal(HandlerRuns.Block, File.ReadAllText(Path.Combine(dir, "policy.json")));
        Assert.True(File.GetUnixFileMode(wrapper).HasFlag(UnixFileMode.UserExecute), "the wrapper lost its execute bit");
    }

    [Theory]
    [InlineData("python")]
    [InlineData("node")]
    public void A_function_started_through_the_wrapper_runs_under_the_layer_s_policy(string name)
    {
        using var box = new Sandbox();
        var (runtime, root, file, how, denied) = name == "python"
            ? (LambdaRuntime.Python(), TaskRoot.Python(box), "app.py", "open", "errno 13")
            : (LambdaRuntime.Node(), TaskRoot.Node(box), "app.mjs", "readFileSync", "errno EACCES");
        var wrapper = Install(box, HandlerRuns.Block);
        using var lambda = LocalLambda.Start(runtime, root.Dir, "app.handler", null, preload: false, execWrapper: wrapper);
        lambda.WaitUntilInitialised();
        var answer = lambda.Invoke(HandlerRuns.Event([new Read("self", file, how)]));
        var run = lambda.Finish();
        Assert.Equal(denied, HandlerRuns.Results(answer, run)["self"]);
        Assert.Equal(root.HandlerLength, HandlerRuns.InitRead(answer)); // the import, before protection armed
        var e = Assert.Single(run.Events);
        Assert.Equal(["read_handler", "block", root.Handler], new[] { e.Str("event_type"), e.Str("action"), e.Str("what") });
        Assert.Empty(run.Diagnostics);
    }

    [Fact]
    public void The_function_s_own_IRON_FUNCTION_POLICY_takes_precedence_over_the_layer_s()
    {
        using var box = new Sandbox();
        var root = TaskRoot.Python(box);
        var wrapper = Install(box, HandlerRuns.Block);
        var own = box.Policy(HandlerRuns.Allow);
        using var lambda = LocalLambda.Start(LambdaRuntime.Python(), root.Dir, "app.handler", null, preload: false,
            execWrapper: wrapper, env: new Dictionary<string, string?> { ["IRON_FUNCTION_POLICY"] = own });
        lambda.WaitUntilInitialised();
        var answer = lambda.Invoke(HandlerRuns.Event([new Read("self", "app.py", "open")]));
        var run = lambda.Finish();
        Assert.Equal($"ok {root.HandlerLength}", HandlerRuns.Results(answer, run)["self"]);
        Assert.Empty(run.Events);
    }

    [Fact]
    public void The_repository_s_default_policy_is_packed_and_only_alerts()
    {
        using var box = new Sandbox();
        var policy = Path.Combine(Machine.RepoRoot, "layer", "policy.json");
        var packed = Pack(policy, Path.Combine(box.Dir, "layer.zip"));
        Assert.True(packed.ExitCode == 0, packed.ToString());
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(policy));
        var actions = doc.RootElement.EnumerateObject()
            .Select(p => p.Value.ValueKind == System.Text.Json.JsonValueKind.Object ? p.Value.GetProperty("action").GetString() : p.Value.GetString());
        Assert.All(actions, a => Assert.Equal("alert", a));
        Assert.Equal(4, actions.Count());
    }

    [Fact]
    public void A_policy_the_library_refuses_is_not_packed()
    {
        using var box = new Sandbox();
        var zip = Path.Combine(box.Dir, "layer.zip");
        var policy = box.Policy("""{"read_handler":"blok"}""");
        var packed = Pack(policy, zip);
        Assert.Equal(1, packed.ExitCode);
        Assert.Contains($"policy error in {policy}: unknown action \"blok\" for \"read_handler\"", packed.Stderr);
        Assert.False(File.Exists(zip));
    }

    [Fact]
    public void An_arm64_layer_needs_the_arm64_library()
    {
        using var box = new Sandbox();
        var zip = Path.Combine(box.Dir, "layer.zip");
        var arm = Path.Combine(Machine.RepoRoot, "dist", "linux-arm64", "lib_iron_function.so");
        var packed = Cli.IronTool.Run(["layer", "--arch", "arm64", "-o", zip]);
        if (File.Exists(arm))
        {
            Assert.True(packed.ExitCode == 0, packed.ToString());
            return;
        }
        Assert.Equal(1, packed.ExitCode);
        Assert.Equal($"iron-function: no arm64 library at {arm}: build it first (./build.sh --arch arm64 build)", packed.Stderr.Trim());
        Assert.False(File.Exists(zip));
    }
}
