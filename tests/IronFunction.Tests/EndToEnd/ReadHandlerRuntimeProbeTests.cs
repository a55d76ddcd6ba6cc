using System.IO.Compression;
using IronFunction.Tests.Lambda;

namespace IronFunction.Tests.EndToEnd;

// read_handler outside Lambda (armed at once) for each runtime's handler files (SPEC §5): AWS_EXECUTION_ENV, or
// the handler's shape, decides which files of the task root are the handler. The C probe (probes/tmp_probe.c)
// opens one path; the runtime's own file API where one is at hand (Ruby, a shell for a custom runtime).

/// <summary>A task root with the files of one runtime's function, and the variables that name its handler.</summary>
public sealed class RuntimeTaskRoot
{
    public string Dir { get; }
    private readonly Dictionary<string, string?> _env;

    public RuntimeTaskRoot(Sandbox box, string? executionEnv, string handler, params string[] files)
    {
        Dir = System.IO.Path.Combine(box.Dir, "task");
        Directory.CreateDirectory(Dir);
        foreach (var file in files) Write(file, "content of " + file + "\n");
        _env = new()
        {
            ["TMPDIR"] = null,
            ["_HANDLER"] = handler,
            ["LAMBDA_TASK_ROOT"] = Dir,
            ["AWS_EXECUTION_ENV"] = executionEnv,
            ["AWS_LAMBDA_RUNTIME_API"] = null,
        };
    }

    public string Path(string relative) => System.IO.Path.Combine(Dir, relative);

    public void Write(string relative, string content)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path(relative))!);
        File.WriteAllText(Path(relative), content);
    }

    /// <summary>A real zip (as a jar) holding the entries, at <paramref name="relative"/>.</summary>
    public void Jar(string relative, params string[] entries)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path(relative))!);
        using var jar = ZipFile.Open(Path(relative), ZipArchiveMode.Create);
        foreach (var entry in entries)
            using (var s = jar.CreateEntry(entry).Open()) s.Write("cafebabe"u8);
    }

    public Dictionary<string, string?> Env(params (string Key, string? Value)[] more)
    {
        var env = new Dictionary<string, string?>(_env);
        foreach (var (k, v) in more) env[k] = v;
        return env;
    }

    /// <summary>The probe opens <paramref name="relative"/> under block: denied and reported, or opened and silent.</summary>
    public void AssertOpen(Sandbox box, string relative, bool denied)
    {
        var run = Preloaded.Run(TmpProbe.Exe.Value, ["open", relative], box.Policy(HandlerRuns.Block), Env(), cwd: Dir);
        if (denied)
        {
            Assert.True(TmpProbe.Line(run) == "result=-1 errno=13", $"{relative} was not denied:\n{run}");
            var e = Assert.Single(run.Events);
            Assert.Equal("read_handler", e.Str("event_type"));
            Assert.Equal(Path(relative), e.Str("what"));
        }
        else
        {
            Assert.True(TmpProbe.Line(run) == "result=fd errno=0", $"{relative} was denied:\n{run}");
            Assert.Empty(run.Events);
        }
        Assert.Empty(run.Diagnostics);
    }
}

public class ReadHandlerRuntimeProbeTests
{
    [Theory]
    [InlineData("AWS_Lambda_java21")]
    [InlineData(null)] // no execution environment: the shape pkg.Class::method is Java's
    public void Java_the_handlers_class_file(string? env)
    {
        using var box = new Sandbox();
        var root = new RuntimeTaskRoot(box, env, "example.Handler::handleRequest",
            "example/Handler.class", "example/Lazy.class", "example/Handler$1.class", "example.py", "lib/notes.txt");
        root.Jar("lib/dependency.jar", "org/dep/Dep.class");
        root.AssertOpen(box, "example/Handler.class", denied: true);
        foreach (var other in new[] { "example/Lazy.class", "example/Handler$1.class", "lib/dependency.jar", "example.py" })
            root.AssertOpen(box, other, denied: false);
    }

    [Theory]
    [InlineData("AWS_Lambda_java21", "example.Handler::handleRequest")]
    [InlineData("AWS_Lambda_java17", "example.Handler")] // a RequestHandler: the class alone
    [InlineData(null, "example.Handler::handleRequest")]
    public void Java_the_jar_under_lib_that_holds_the_class(string? env, string handler)
    {
        using var box = new Sandbox();
        var root = new RuntimeTaskRoot(box, env, handler);
        root.Jar("lib/a-dependency.jar", "org/dep/Dep.class");
        root.Jar("lib/function.jar", "example/Handler.class", "example/Lazy.class");
        root.Jar("lib/z-other.jar", "example/Handler.class"); // later on the class path: never loaded from
        root.AssertOpen(box, "lib/function.jar", denied: true);
        root.AssertOpen(box, "lib/a-dependency.jar", denied: false);
        root.AssertOpen(box, "lib/z-other.jar", denied: false);
    }

    [Theory]
    [InlineData("AWS_Lambda_dotnet8", "Orders::Orders.Function::Handler")]
    [InlineData(null, "Orders::Orders.Function::Handler")]
    [InlineData("AWS_Lambda_dotnet8", "Orders")] // an executable assembly
    public void Dotnet_the_handlers_assembly_and_its_companions(string? env, string handler)
    {
        using var box = new Sandbox();
        var root = new RuntimeTaskRoot(box, env, handler, "Orders.dll", "Orders.deps.json", "Orders.runtimeconfig.json", "Orders.pdb",
            "Newtonsoft.Json.dll", "Orders.Core.dll", "appsettings.json");
        foreach (var code in new[] { "Orders.dll", "Orders.deps.json", "Orders.runtimeconfig.json" })
            root.AssertOpen(box, code, denied: true);
        foreach (var other in new[] { "Orders.pdb", "Newtonsoft.Json.dll", "Orders.Core.dll", "appsettings.json" })
            root.AssertOpen(box, other, denied: false);
    }

    [Theory]
    [InlineData("lambda_function.lambda_handler", "lambda_function.rb")]
    [InlineData("lambda_function.LambdaFunctions::Handler.process", "lambda_function.rb")]
    [InlineData("src/app.handler", "src/app.rb")]
    public void Ruby_the_handlers_source(string handler, string file)
    {
        using var box = new Sandbox();
        // a same-named asset of another language is not Ruby's handler (without the runtime known, it would count)
        var asset = System.IO.Path.ChangeExtension(file, ".js");
        var root = new RuntimeTaskRoot(box, "AWS_Lambda_ruby3.3", handler, file, asset, "lib/helper.rb", "Gemfile");
        root.AssertOpen(box, file, denied: true);
        root.AssertOpen(box, asset, denied: false);
        root.AssertOpen(box, "lib/helper.rb", denied: false);
        root.AssertOpen(box, "Gemfile", denied: false);

        // Ruby's own File.read gets EACCES, and reading another file still works
        var script = $"begin; File.read('{file}'); puts 'read'; rescue Errno::EACCES; puts 'denied'; end; puts File.read('Gemfile').bytesize";
        var run = Preloaded.Run(CompiledRuntimes.RubyProgram(), ["-e", script], box.Policy(HandlerRuns.Block), root.Env(), cwd: root.Dir);
        Assert.True(run.Stdout == $"denied\n{File.ReadAllText(root.Path("Gemfile")).Length}\n", run.ToString());
        Assert.Equal(root.Path(file), Assert.Single(run.Events).Str("what"));
    }

    [Fact]
    public void A_custom_runtime_its_bootstrap_and_the_file_the_handler_names()
    {
        using var box = new Sandbox();
        var root = new RuntimeTaskRoot(box, null, "function.handler", "bootstrap", "function.sh", "vendor/jq", "data.json");
        root.AssertOpen(box, "bootstrap", denied: true);
        root.AssertOpen(box, "function.sh", denied: true);
        root.AssertOpen(box, "vendor/jq", denied: false);
        root.AssertOpen(box, "data.json", denied: false);

        var run = Preloaded.Run(Machine.Bash.Value, ["-c", "cat bootstrap; echo \"cat $?\"; cat data.json"], box.Policy(HandlerRuns.Block), root.Env(), cwd: root.Dir);
        Assert.True(run.Stdout == "cat 1\ncontent of data.json\n", run.ToString());
        Assert.Equal(root.Path("bootstrap"), Assert.Single(run.Events).Str("what"));
    }

    [Fact]
    public void A_managed_runtime_has_no_bootstrap_of_its_own()
    {
        // with AWS_EXECUTION_ENV the runtime is Lambda's: a file named bootstrap is just another file
        using var box = new Sandbox();
        var root = new RuntimeTaskRoot(box, "AWS_Lambda_python3.12", "app.handler", "app.py", "bootstrap", "app.js");
        root.AssertOpen(box, "app.py", denied: true);
        root.AssertOpen(box, "bootstrap", denied: false);
        root.AssertOpen(box, "app.js", denied: false);
    }
}

/// <summary>A handler that names no file of its runtime is one warning line on stderr at start, never an event, never repeated by children.</summary>
public class HandlerWarningTests
{
    private const string Warning = "names no file of the";

    [Theory]
    [InlineData("AWS_Lambda_java21", "example.Missing::handleRequest", "Java runtime")]
    [InlineData("AWS_Lambda_dotnet8", "Missing::Ns.Type::Method", ".NET runtime")]
    [InlineData("AWS_Lambda_ruby3.3", "missing.handler", "Ruby runtime")]
    [InlineData("AWS_Lambda_python3.12", "missing.handler", "Python runtime")]
    [InlineData("AWS_Lambda_java21", "::handleRequest", "Java runtime")]
    [InlineData(null, "missing.handler", "custom runtime")]
    [InlineData(null, "Missing::Ns.Type::Method", ".NET handler")]
    public void Exactly_one_warning_line_in_a_process_tree(string? env, string handler, string runtime)
    {
        using var box = new Sandbox();
        var root = new RuntimeTaskRoot(box, env, handler, "app.py", "lib/other.jar", "Other.dll");
        // the function's process starts two children, each with the library
        var run = Preloaded.Run(Machine.Bash.Value, ["-c", "/bin/true; /bin/cat app.py > /dev/null; echo done"],
            box.Policy(HandlerRuns.Block), root.Env(), cwd: root.Dir);
        Assert.True(run.ExitCode == 0 && run.Stdout == "done\n", run.ToString());
        var warnings = run.Stderr.Split('\n').Where(l => l.Contains(Warning, StringComparison.Ordinal)).ToList();
        var line = Assert.Single(warnings);
        Assert.StartsWith("iron-function WRN [handler]", line);
        Assert.Contains($"\"{handler}\"", line);
        Assert.Contains(runtime, line);
        Assert.Contains(root.Dir, line);
        Assert.Empty(run.Events);
    }

    [Theory]
    [InlineData("AWS_Lambda_java21", "example.Handler::handleRequest")]
    [InlineData("AWS_Lambda_dotnet8", "Orders::Orders.Function::Handler")]
    [InlineData(null, "function.handler")]
    [InlineData("AWS_Lambda_python3.12", "app.handler")]
    public void A_handler_that_names_a_file_is_silent(string? env, string handler)
    {
        using var box = new Sandbox();
        var root = new RuntimeTaskRoot(box, env, handler, "app.py", "Orders.dll", "bootstrap");
        root.Jar("lib/function.jar", "example/Handler.class");
        var run = Preloaded.Run(Machine.Bash.Value, ["-c", "echo done"], box.Policy(HandlerRuns.Block), root.Env(), cwd: root.Dir);
        Assert.True(run.Stdout == "done\n", run.ToString());
        Assert.Empty(run.Diagnostics);
    }

    [Fact]
    public void Allow_does_not_look()
    {
        using var box = new Sandbox();
        var root = new RuntimeTaskRoot(box, "AWS_Lambda_java21", "example.Missing::handleRequest");
        var run = Preloaded.Run(Machine.Bash.Value, ["-c", "echo done"], box.Policy(HandlerRuns.Allow), root.Env(), cwd: root.Dir);
        Assert.Empty(run.Diagnostics);
    }
}
