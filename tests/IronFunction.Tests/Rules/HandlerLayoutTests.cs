using System.IO.Compression;
using System.Text;
using IronFunction.Lifecycle;
using IronFunction.Rules;

namespace IronFunction.Tests.Rules;

public class HandlerLayoutTests
{
    private static HandlerFiles Derive(string executionEnv, string handler) =>
        HandlerFiles.Derive(handler, ["/var/task"], "/", HandlerLayout.RuntimeOf(executionEnv));

    private static bool Covers(HandlerFiles files, string path) => files.Covers(Encoding.UTF8.GetBytes(path));

    [Theory]
    [InlineData("AWS_Lambda_python3.12", HandlerRuntime.Python)]
    [InlineData("AWS_Lambda_python3.9", HandlerRuntime.Python)]
    [InlineData("AWS_Lambda_nodejs22.x", HandlerRuntime.Node)]
    [InlineData("AWS_Lambda_ruby3.3", HandlerRuntime.Ruby)]
    [InlineData("AWS_Lambda_java21", HandlerRuntime.Java)]
    [InlineData("AWS_Lambda_java8.al2", HandlerRuntime.Java)]
    [InlineData("AWS_Lambda_dotnet8", HandlerRuntime.DotNet)]
    [InlineData("AWS_Lambda_dotnet10", HandlerRuntime.DotNet)]
    [InlineData(null, HandlerRuntime.Unknown)]
    [InlineData("", HandlerRuntime.Unknown)]
    [InlineData("AWS_Lambda_rapid", HandlerRuntime.Unknown)]
    [InlineData("aws_lambda_java21", HandlerRuntime.Unknown)]
    [InlineData("java21", HandlerRuntime.Unknown)]
    public void The_execution_environment_names_the_runtime(string? env, HandlerRuntime expected)
    {
        Assert.Equal(expected, HandlerLayout.RuntimeOf(env));
    }

    [Theory]
    [InlineData("example.Handler::handleRequest", HandlerRuntime.Java)]
    [InlineData("Handler::handleRequest", HandlerRuntime.Java)]
    [InlineData("Orders::Orders.Function::Handler", HandlerRuntime.DotNet)]
    [InlineData("Orders.Api::Orders.Api.Function::FunctionHandlerAsync", HandlerRuntime.DotNet)]
    [InlineData("lambda_function.LambdaFunctions::Handler.process", HandlerRuntime.Unknown)] // Ruby
    [InlineData("app.handler", HandlerRuntime.Unknown)]
    [InlineData("example.Handler", HandlerRuntime.Unknown)]
    [InlineData("a::b::c::d", HandlerRuntime.Unknown)]
    public void Without_it_the_shape_decides(string handler, HandlerRuntime expected)
    {
        Assert.Equal(expected, HandlerLayout.ShapeOf(handler));
    }

    [Theory]
    // Java: pkg.Class::method, pkg.Class (a RequestHandler), nested classes, the default package
    [InlineData("AWS_Lambda_java21", "example.Handler::handleRequest", "/var/task/example/Handler.class")]
    [InlineData("AWS_Lambda_java21", "example.Handler", "/var/task/example/Handler.class")]
    [InlineData("AWS_Lambda_java17", "com.acme.orders.Outer$Inner::handle", "/var/task/com/acme/orders/Outer$Inner.class")]
    [InlineData("AWS_Lambda_java11", "Handler::handleRequest", "/var/task/Handler.class")]
    // .NET: Assembly::Namespace.Type::Method, and an executable assembly's bare name
    [InlineData("AWS_Lambda_dotnet8", "Orders::Orders.Function::Handler", "/var/task/Orders.dll")]
    [InlineData("AWS_Lambda_dotnet8", "Orders::Orders.Function::Handler", "/var/task/Orders.deps.json")]
    [InlineData("AWS_Lambda_dotnet8", "Orders::Orders.Function::Handler", "/var/task/Orders.runtimeconfig.json")]
    [InlineData("AWS_Lambda_dotnet8", "Orders.Api::Orders.Api.Function::Handler", "/var/task/Orders.Api.dll")]
    [InlineData("AWS_Lambda_dotnet8", "Orders", "/var/task/Orders.dll")]
    // Ruby: file.method, dir/file.method, file.Module::Class.method
    [InlineData("AWS_Lambda_ruby3.3", "lambda_function.lambda_handler", "/var/task/lambda_function.rb")]
    [InlineData("AWS_Lambda_ruby3.3", "src/app.handler", "/var/task/src/app.rb")]
    [InlineData("AWS_Lambda_ruby3.2", "lambda_function.LambdaFunctions::Handler.process", "/var/task/lambda_function.rb")]
    // Python and Node.js as before
    [InlineData("AWS_Lambda_python3.12", "pkg.app.handler", "/var/task/pkg/app.py")]
    [InlineData("AWS_Lambda_python3.12", "app.handler", "/var/task/__pycache__/app.cpython-312.pyc")]
    [InlineData("AWS_Lambda_nodejs22.x", "src/app.handler", "/var/task/src/app.mjs")]
    [InlineData("AWS_Lambda_nodejs22.x", "index.handler", "/var/task/index")]
    // custom runtimes: the bootstrap, and what the handler names in any shape
    [InlineData(null, "function.handler", "/var/task/bootstrap")]
    [InlineData(null, "function.handler", "/var/task/function.sh")]
    [InlineData(null, "function.handler", "/var/task/function.py")]
    [InlineData(null, "example.Handler::handleRequest", "/var/task/example/Handler.class")]
    [InlineData(null, "example.Handler::handleRequest", "/var/task/bootstrap")]
    [InlineData(null, "Orders::Orders.Function::Handler", "/var/task/Orders.dll")]
    [InlineData(null, "lambda_function.LambdaFunctions::Handler.process", "/var/task/lambda_function.rb")]
    [InlineData("AWS_Lambda_rapid", "app.handler", "/var/task/bootstrap")]
    public void Each_runtime_covers_its_handler_files(string? env, string handler, string path)
    {
        Assert.True(Covers(Derive(env!, handler), path), $"{env} {handler} should cover {path}:\n{string.Join('\n', Derive(env!, handler).Files)}");
    }

    [Theory]
    // what Java must load again after init, or is another class
    [InlineData("AWS_Lambda_java21", "example.Handler::handleRequest", "/var/task/example/Lazy.class")]
    [InlineData("AWS_Lambda_java21", "example.Handler::handleRequest", "/var/task/example/Handler$1.class")]
    [InlineData("AWS_Lambda_java21", "example.Handler::handleRequest", "/var/task/example.py")]
    [InlineData("AWS_Lambda_java21", "example.Handler::handleRequest", "/var/task/example.js")]
    [InlineData("AWS_Lambda_java21", "example.Handler::handleRequest", "/var/task/bootstrap")]
    // the .NET symbols CoreCLR opens lazily for stack traces, other assemblies, and no Python reading of the string
    [InlineData("AWS_Lambda_dotnet8", "Orders::Orders.Function::Handler", "/var/task/Orders.pdb")]
    [InlineData("AWS_Lambda_dotnet8", "Orders::Orders.Function::Handler", "/var/task/Newtonsoft.Json.dll")]
    [InlineData("AWS_Lambda_dotnet8", "Orders::Orders.Function::Handler", "/var/task/Orders::Orders.py")]
    [InlineData("AWS_Lambda_dotnet8", "Orders::Orders.Function::Handler", "/var/task/Orders.Function.dll")]
    // Ruby is .rb only, Python .py only, Node.js its own extensions
    [InlineData("AWS_Lambda_ruby3.3", "lambda_function.lambda_handler", "/var/task/lambda_function.py")]
    [InlineData("AWS_Lambda_ruby3.3", "lambda_function.lambda_handler", "/var/task/lambda_function.js")]
    [InlineData("AWS_Lambda_python3.12", "app.handler", "/var/task/app.js")]
    [InlineData("AWS_Lambda_python3.12", "app.handler", "/var/task/bootstrap")]
    [InlineData("AWS_Lambda_nodejs22.x", "app.handler", "/var/task/app.py")]
    [InlineData("AWS_Lambda_nodejs22.x", "app.handler", "/var/task/app.rb")]
    // nothing outside the task root, whatever the handler says
    [InlineData("AWS_Lambda_dotnet8", "../etc/passwd::X::Y", "/var/etc/passwd.dll")]
    [InlineData("AWS_Lambda_java21", "..::handle", "/var/.class")]
    public void Each_runtime_leaves_other_files_alone(string? env, string handler, string path)
    {
        Assert.False(Covers(Derive(env!, handler), path), $"{env} {handler} should not cover {path}");
    }

    [Theory]
    [InlineData("AWS_Lambda_java21", "::handleRequest")]
    [InlineData("AWS_Lambda_java21", "example..Handler::handle")]
    [InlineData("AWS_Lambda_java21", "a/b.Handler::handle")]
    [InlineData("AWS_Lambda_dotnet8", "::Orders.Function::Handler")]
    [InlineData("AWS_Lambda_dotnet8", "dir/Orders::Orders.Function::Handler")]
    [InlineData("AWS_Lambda_ruby3.3", "handler")]
    [InlineData("AWS_Lambda_python3.12", "handler")]
    public void A_handler_its_runtime_cannot_read_names_nothing(string env, string handler)
    {
        Assert.True(Derive(env, handler).IsEmpty);
    }

    [Theory]
    [InlineData("AWS_Lambda_java21", "example.Handler::handleRequest", "example/Handler.class")]
    [InlineData("AWS_Lambda_java21", "example.Handler", "example/Handler.class")]
    [InlineData(null, "example.Handler::handleRequest", "example/Handler.class")]
    [InlineData(null, "example.Handler", null)]
    [InlineData("AWS_Lambda_python3.12", "example.Handler", null)]
    [InlineData("AWS_Lambda_dotnet8", "Orders::Orders.Function::Handler", null)]
    public void The_java_class_entry_is_looked_for_in_jars(string? env, string handler, string? entry)
    {
        Assert.Equal(entry, HandlerLayout.JavaClassEntry(HandlerLayout.RuntimeOf(env), handler));
    }
}

/// <summary>The central directory reader on real archives: System.IO.Compression's, the JDK's jar tool, zip64, prepended data, garbage.</summary>
public class ZipDirectoryTests
{
    private static byte[] Zip(IEnumerable<string> names, string comment = "", bool zip64 = false)
    {
        using var memory = new MemoryStream();
        using (var archive = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            archive.Comment = comment;
            foreach (var name in names)
            {
                using var s = archive.CreateEntry(name).Open();
                s.Write("x"u8);
            }
        }
        return memory.ToArray();
    }

    private static bool Contains(byte[] zip, string entry)
    {
        var tail = zip.AsSpan(Math.Max(0, zip.Length - ZipDirectory.TailLength));
        var where = ZipDirectory.Locate(tail, zip.Length);
        if (where is { NeedsZip64End: true } z) where = ZipDirectory.LocateZip64(zip.AsSpan((int)z.Zip64EndOffset), z.Zip64EndOffset);
        return where is { } w && ZipDirectory.Contains(zip.AsSpan((int)w.Offset, (int)w.Size), Encoding.UTF8.GetBytes(entry));
    }

    [Fact]
    public void Finds_exact_entries_only()
    {
        var zip = Zip(["META-INF/MANIFEST.MF", "example/", "example/Handler.class", "example/Lazy.class"]);
        Assert.True(Contains(zip, "example/Handler.class"));
        Assert.True(Contains(zip, "example/Lazy.class"));
        Assert.False(Contains(zip, "example/Handler"));
        Assert.False(Contains(zip, "example/Handler.class.bak"));
        Assert.False(Contains(zip, "Handler.class"));
        Assert.False(Contains(zip, "EXAMPLE/Handler.class"));
    }

    [Fact]
    public void A_comment_that_looks_like_an_end_record_does_not_mislead()
    {
        // a comment holding the end signature: only the record whose comment reaches the end of the file counts
        var fake = Encoding.Latin1.GetString([0x50, 0x4b, 0x05, 0x06, .. new byte[18]]);
        var zip = Zip(["example/Handler.class"], comment: "x" + fake + "y");
        Assert.True(Contains(zip, "example/Handler.class"));
    }

    [Fact]
    public void More_than_65535_entries_is_zip64()
    {
        var names = Enumerable.Range(0, 65_540).Select(i => $"p/C{i}.class").ToList();
        var zip = Zip(names);
        Assert.True(ZipDirectory.Locate(zip.AsSpan(zip.Length - ZipDirectory.TailLength), zip.Length)!.Value.NeedsZip64End);
        Assert.True(Contains(zip, "p/C65539.class"));
        Assert.True(Contains(zip, "p/C0.class"));
        Assert.False(Contains(zip, "p/C65540.class"));
    }

    [Fact]
    public void Data_prepended_to_the_archive_is_allowed_for()
    {
        var zip = Zip(["example/Handler.class"]);
        byte[] prefixed = [.. Encoding.ASCII.GetBytes("#!/bin/sh\nexec java -jar \"$0\"\n"), .. zip];
        Assert.True(Contains(prefixed, "example/Handler.class"));
    }

    [Fact]
    public void Anything_else_is_not_found_and_never_throws()
    {
        var zip = Zip(["example/Handler.class"]);
        var random = new Random(18);
        for (int i = 0; i < 2000; i++)
        {
            var bytes = (byte[])zip.Clone();
            for (int k = 0; k < 1 + i % 5; k++) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            var cut = bytes[..random.Next(bytes.Length + 1)];
            _ = Contains(cut, "example/Handler.class"); // any answer, no exception
        }
        Assert.False(Contains([], "a"));
        Assert.False(Contains("not a zip at all"u8.ToArray(), "a"));
    }
}

/// <summary>The jar lookup on real files, as the Lambda Java client's class loader orders them.</summary>
public class HandlerLocatorTests : IDisposable
{
    private readonly EndToEnd.Sandbox _box = new();
    private string _root => _box.Dir;

    public void Dispose() => _box.Dispose();

    private string Jar(string relative, params string[] entries)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var archive = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var e in entries) archive.CreateEntry(e);
        return path;
    }

    [Fact]
    public void The_first_jar_of_lib_in_ordinal_order_that_holds_the_class()
    {
        Jar("lib/a-dependency.jar", "org/dep/Dep.class");
        var app = Jar("lib/app.jar", "example/Handler.class", "example/Lazy.class");
        Jar("lib/z-shaded.jar", "example/Handler.class");
        Assert.Equal(app, HandlerLocator.JarHolding(_root, "example/Handler.class"));
        Assert.Null(HandlerLocator.JarHolding(_root, "example/Missing.class"));
    }

    [Fact]
    public void The_task_roots_own_class_file_comes_first()
    {
        Jar("lib/app.jar", "example/Handler.class");
        Directory.CreateDirectory(Path.Combine(_root, "example"));
        File.WriteAllText(Path.Combine(_root, "example", "Handler.class"), "class");
        Assert.Null(HandlerLocator.JarHolding(_root, "example/Handler.class"));
    }

    [Fact]
    public void A_jar_in_the_task_root_itself_after_lib()
    {
        var top = Jar("function.jar", "example/Handler.class");
        Assert.Equal(top, HandlerLocator.JarHolding(_root, "example/Handler.class"));
        var lib = Jar("lib/function.jar", "example/Handler.class");
        Assert.Equal(lib, HandlerLocator.JarHolding(_root, "example/Handler.class"));
    }

    [Fact]
    public void A_jar_the_jdk_wrote_is_read_too()
    {
        var classes = Path.Combine(_root, "classes", "example");
        Directory.CreateDirectory(classes);
        File.WriteAllText(Path.Combine(classes, "Handler.class"), "class");
        Directory.CreateDirectory(Path.Combine(_root, "lib"));
        var jar = Path.Combine(_root, "lib", "app.jar");
        var run = EndToEnd.Preloaded.RunPlain("jar", ["cf", jar, "-C", Path.Combine(_root, "classes"), "example"], new Dictionary<string, string?>());
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(HandlerLocator.JarContains(jar, "example/Handler.class"));
        Assert.False(HandlerLocator.JarContains(jar, "example/Lazy.class"));
    }

    [Fact]
    public void What_is_not_a_jar_holds_nothing()
    {
        Directory.CreateDirectory(Path.Combine(_root, "lib"));
        File.WriteAllText(Path.Combine(_root, "lib", "broken.jar"), "not a zip");
        Directory.CreateDirectory(Path.Combine(_root, "lib", "dir.jar"));
        Assert.Null(HandlerLocator.JarHolding(_root, "example/Handler.class"));
        Assert.Null(HandlerLocator.JarHolding(Path.Combine(_root, "missing"), "example/Handler.class"));
    }
}
