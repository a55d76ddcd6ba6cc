using System.Text.Json;
using IronFunction.Cli.Lambda;
using IronFunction.Tests.EndToEnd;

namespace IronFunction.Tests.Lambda;

// End-to-end tests of read_handler (SPEC §5) for Java, .NET and Ruby inside the local Lambda: small runtimes
// of the tests' own (tests/lambda/java/Bootstrap.java, tests/lambda/dotnet/bootstrap, tests/lambda/ruby/bootstrap.rb)
// that load the handler during init as the real clients do — a URLClassLoader over the task root and lib/*.jar,
// an AssemblyLoadContext, require — then ask for invocations. Each handler reads its own code at init (free),
// and at every invocation tries again (denied and reported under block), reads other files, and first uses
// code the runtime loads only then (a class of the same jar, another assembly, another .rb): that must work.

/// <summary>The runtimes of these tests, built once per run into ignored bin/ directories of tests/lambda.</summary>
public static class CompiledRuntimes
{
    private static readonly string JavaDir = Path.Combine(LambdaRuntime.Handlers, "java");
    private static readonly string DotnetDir = Path.Combine(LambdaRuntime.Handlers, "dotnet");

    /// <summary>The bootstrap's classes and the handler's, compiled with javac; the handler also as a jar.</summary>
    private static readonly Lazy<string> JavaBuild = new(() =>
    {
        var bin = Path.Combine(JavaDir, "bin");
        if (Directory.Exists(bin)) Directory.Delete(bin, recursive: true);
        var classes = Path.Combine(bin, "classes");
        Run("javac", ["-d", Path.Combine(bin, "bootstrap"), Path.Combine(JavaDir, "Bootstrap.java")]);
        Run("javac", ["-d", classes, .. Directory.GetFiles(Path.Combine(JavaDir, "handler", "example"), "*.java")]);
        Run("jar", ["cf", Path.Combine(bin, "app.jar"), "-C", classes, "example"]);
        return bin;
    });

    /// <summary>dotnet build of the bootstrap and of the function (with its Lazy dependency), incremental after the first.</summary>
    private static readonly Lazy<(string Bootstrap, string Function)> DotnetBuild = new(() =>
    {
        foreach (var project in new[] { "bootstrap", "function" })
            Run("dotnet", ["build", Path.Combine(DotnetDir, project), "-c", "Release", "-nologo", "-v:q", "--disable-build-servers", "-nodeReuse:false"],
                timeoutSeconds: 300);
        return (Path.Combine(DotnetDir, "bootstrap", "bin", "Release", "net10.0"), Path.Combine(DotnetDir, "function", "bin", "Release", "net10.0"));
    });

    private static void Run(string program, IEnumerable<string> args, int timeoutSeconds = 120)
    {
        // the test host's MSBuild settings would point a nested build at the test run's own SDK state
        var env = new Dictionary<string, string?> { ["MSBuildExtensionsPath"] = null, ["MSBUILD_EXE_PATH"] = null, ["MSBuildSDKsPath"] = null };
        var result = Preloaded.RunPlain(program, args, env, cwd: LambdaRuntime.Handlers, timeoutSeconds: timeoutSeconds);
        if (result.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed:\n{result}");
    }

    /// <summary>java with class loading logged on stdout: a test can see which classes came after init.</summary>
    public static LambdaRuntime Java() =>
        new("java", Machine.Which("java"), ["-Xlog:class+load=info", "-cp", Path.Combine(JavaBuild.Value, "bootstrap"), "Bootstrap"], JavaDir, "AWS_Lambda_java17");

    public static LambdaRuntime Dotnet() =>
        new("dotnet", Machine.Which("dotnet"), [Path.Combine(DotnetBuild.Value.Bootstrap, "Bootstrap.dll")], DotnetDir, "AWS_Lambda_dotnet8");

    public static LambdaRuntime Ruby() =>
        new("ruby", RubyProgram(), [Path.Combine(LambdaRuntime.Handlers, "ruby", "bootstrap.rb")], Path.Combine(LambdaRuntime.Handlers, "ruby"), "AWS_Lambda_ruby3.3");

    /// <summary>Debian's ruby, which ./build.sh test installs; missing is a failure, not a skip.</summary>
    public static string RubyProgram()
    {
        try { return Machine.Which("ruby"); }
        catch (InvalidOperationException) { throw new InvalidOperationException("ruby is not installed: run ./build.sh test, which installs Debian's ruby"); }
    }

    /// <summary>A Java task root: the handler's classes as files under it, or in lib/app.jar beside a dependency jar.</summary>
    public static (string Dir, string Code) JavaTask(Sandbox box, bool asJar)
    {
        var dir = Path.Combine(box.Dir, "task");
        var bin = JavaBuild.Value;
        string code;
        if (asJar)
        {
            Directory.CreateDirectory(Path.Combine(dir, "lib"));
            code = Path.Combine(dir, "lib", "app.jar");
            File.Copy(Path.Combine(bin, "app.jar"), code);
            using (var dep = System.IO.Compression.ZipFile.Open(Path.Combine(dir, "lib", "dependency.jar"), System.IO.Compression.ZipArchiveMode.Create))
                dep.CreateEntry("org/dep/Dep.class");
        }
        else
        {
            Directory.CreateDirectory(Path.Combine(dir, "example"));
            foreach (var file in Directory.GetFiles(Path.Combine(bin, "classes", "example")))
                File.Copy(file, Path.Combine(dir, "example", Path.GetFileName(file)));
            code = Path.Combine(dir, "example", "Handler.class");
        }
        File.WriteAllText(Path.Combine(dir, "data.txt"), TaskRoot.Data);
        return (dir, code);
    }

    /// <summary>A .NET task root as dotnet lambda package lays it out: the function's assembly, deps.json and pdb, its dependency.</summary>
    public static (string Dir, string Code) DotnetTask(Sandbox box)
    {
        var dir = Path.Combine(box.Dir, "task");
        Directory.CreateDirectory(dir);
        foreach (var file in new[] { "Function.dll", "Function.deps.json", "Function.pdb", "Lazy.dll" })
            File.Copy(Path.Combine(DotnetBuild.Value.Function, file), Path.Combine(dir, file));
        File.WriteAllText(Path.Combine(dir, "data.txt"), TaskRoot.Data);
        return (dir, Path.Combine(dir, "Function.dll"));
    }

    public static (string Dir, string Code) RubyTask(Sandbox box)
    {
        var dir = Path.Combine(box.Dir, "task");
        Directory.CreateDirectory(dir);
        foreach (var file in new[] { "app.rb", "lazy.rb" })
            File.Copy(Path.Combine(LambdaRuntime.Handlers, "ruby", "handler", file), Path.Combine(dir, file));
        File.WriteAllText(Path.Combine(dir, "data.txt"), TaskRoot.Data);
        return (dir, Path.Combine(dir, "app.rb"));
    }

    /// <summary>The handler's answer for one invocation, each value as text.</summary>
    public static Dictionary<string, string> Answer(InvocationResult result, LambdaRun run)
    {
        Assert.False(result.IsError, $"the handler failed: {result}\n{run}");
        using var doc = JsonDocument.Parse(result.Body);
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ToString());
    }

    /// <summary>
    /// Three invocations under <paramref name="action"/>: the handler's reads of <paramref name="protectedKeys"/>
    /// are denied (block) or succeed (alert) and each is reported once, naming <paramref name="code"/> or
    /// <paramref name="companions"/>; every other answer is what <paramref name="expected"/> says.
    /// </summary>
    public static LambdaRun Check(LambdaRuntime runtime, string taskRoot, string handler, Sandbox box, string action,
        IReadOnlyDictionary<string, string> expected, string[] protectedKeys, string[] whats)
    {
        using var lambda = LocalLambda.Start(runtime, taskRoot, handler, box.Policy($$"""{"read_handler":"{{action}}"}"""),
            new Dictionary<string, string?> { ["IRON_LOG"] = "handler=debug" }, functionName: "iron-test");
        lambda.WaitUntilInitialised(timeoutSeconds: 120);
        var answers = Enumerable.Range(0, 3).Select(_ => lambda.Invoke("""{"x":1}""", timeoutSeconds: 120)).ToList();
        var run = lambda.Finish();
        foreach (var result in answers)
        {
            var answer = Answer(result, run);
            foreach (var (key, value) in expected)
                Assert.True(answer.TryGetValue(key, out var got) && got == value, $"{key}: expected \"{value}\", got \"{got}\"\n{result}\n{run}");
            foreach (var key in protectedKeys)
                Assert.True(action == "block" ? answer[key] == "denied" : answer[key].StartsWith("ok ", StringComparison.Ordinal),
                    $"{key}: {answer[key]} under {action}\n{run}");
        }
        Assert.Single(run.Diagnostics, d => d.Contains($"read_handler ({action}) armed: the runtime asked for its first invocation", StringComparison.Ordinal));
        Assert.DoesNotContain(run.Diagnostics, d => d.Contains(" WRN ", StringComparison.Ordinal) || d.Contains(" ERR ", StringComparison.Ordinal));
        Assert.True(protectedKeys.Length * 3 == run.Events.Occurrences(), $"expected {protectedKeys.Length * 3} occurrences:\n{run}");
        foreach (var e in run.Events)
        {
            EventAssert.HasSeedSchema(e);
            Assert.Equal("read_handler", e.Str("event_type"));
            Assert.Equal(action, e.Str("action"));
            Assert.Equal(runtime.Name, e.Str("process_name"));
            Assert.Contains(e.Str("what"), whats);
        }
        Assert.True(run.NextRequests == 4, $"the runtime asked {run.NextRequests} times for an invocation:\n{run}");
        return run;
    }

    /// <summary>The stdout line index of the first line that contains <paramref name="text"/>.</summary>
    public static int LineOf(LambdaRun run, string text)
    {
        var lines = run.Stdout.Split('\n');
        int i = Array.FindIndex(lines, l => l.Contains(text, StringComparison.Ordinal));
        Assert.True(i >= 0, $"no line with \"{text}\" on stdout:\n{run}");
        return i;
    }
}

public class JavaHandlerTests
{
    private const string Handler = "example.Handler::handleRequest";

    [Theory]
    [InlineData(true, "block")]
    [InlineData(false, "block")]
    [InlineData(true, "alert")]
    public void The_handlers_jar_or_class_file_is_protected_and_later_classes_still_load(bool asJar, string action)
    {
        using var box = new Sandbox();
        var (dir, code) = CompiledRuntimes.JavaTask(box, asJar);
        var size = new FileInfo(code).Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var expected = new Dictionary<string, string> { ["init_read"] = size, ["data"] = $"ok {TaskRoot.Data.Length}", ["lazy"] = "lazy ok" };
        var run = CompiledRuntimes.Check(CompiledRuntimes.Java(), dir, Handler, box, action, expected, ["self", "relative"], [code]);
        // the JVM loaded example.Lazy during the first invocation, after protection armed: from the jar it keeps open, or its own file
        Assert.True(CompiledRuntimes.LineOf(run, "example.Lazy source:") > CompiledRuntimes.LineOf(run, "invocation 1"), run.ToString());
        Assert.True(CompiledRuntimes.LineOf(run, "example.Handler source:") < CompiledRuntimes.LineOf(run, "invocation 1"), run.ToString());
        Assert.Contains(run.Diagnostics, d => d.Contains(asJar ? $"{code} holds example/Handler.class" : "handler files (Java)", StringComparison.Ordinal));
    }
}

public class DotnetHandlerTests
{
    private const string Handler = "Function::Example.Function::Handle";

    [Theory]
    [InlineData("block")]
    [InlineData("alert")]
    public void The_handlers_assembly_is_protected_and_other_assemblies_still_load(string action)
    {
        using var box = new Sandbox();
        var (dir, code) = CompiledRuntimes.DotnetTask(box);
        var size = new FileInfo(code).Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var expected = new Dictionary<string, string>
        {
            ["init_read"] = size,
            ["lazy"] = "lazy ok",
            ["pdb"] = $"ok {new FileInfo(Path.Combine(dir, "Function.pdb")).Length}",
            ["other"] = $"ok {new FileInfo(Path.Combine(dir, "Lazy.dll")).Length}",
            ["data"] = $"ok {TaskRoot.Data.Length}",
            ["trace"] = "lines", // CoreCLR still reads the .pdb for a stack trace's source lines
        };
        var run = CompiledRuntimes.Check(CompiledRuntimes.Dotnet(), dir, Handler, box, action, expected, ["self", "relative", "deps"],
            [code, Path.Combine(dir, "Function.deps.json")]);
        // CoreCLR loaded the Lazy assembly during the first invocation, after protection armed
        Assert.True(CompiledRuntimes.LineOf(run, "assembly-load Lazy") > CompiledRuntimes.LineOf(run, "invocation 1"), run.ToString());
        Assert.True(CompiledRuntimes.LineOf(run, "assembly-load Function") < CompiledRuntimes.LineOf(run, "invocation 1"), run.ToString());
    }
}

public class RubyHandlerTests
{
    [Theory]
    [InlineData("block")]
    [InlineData("alert")]
    public void The_handlers_source_is_protected_and_other_files_still_load(string action)
    {
        using var box = new Sandbox();
        var (dir, code) = CompiledRuntimes.RubyTask(box);
        var size = new FileInfo(code).Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var expected = new Dictionary<string, string> { ["init_read"] = size, ["data"] = $"ok {TaskRoot.Data.Length}", ["lazy"] = "lazy ok" };
        CompiledRuntimes.Check(CompiledRuntimes.Ruby(), dir, "app.handler", box, action, expected, ["self", "relative"], [code]);
    }
}
