using System.Text;
using CsCheck;
using IronFunction.Rules;

namespace IronFunction.Tests.Rules;

public class HandlerFilesTests
{
    private static HandlerFiles Derive(string? handler, string? root = "/var/task", string cwd = "/") =>
        HandlerFiles.Derive(handler, [root], cwd);

    private static bool Covers(HandlerFiles files, string path) => files.Covers(Encoding.UTF8.GetBytes(path));

    [Theory]
    // Python: module before the last dot, "/" read as "."
    [InlineData("app.handler", "/var/task/app.py")]
    [InlineData("app.handler", "/var/task/app.pyc")]
    [InlineData("app.handler", "/var/task/app/__init__.py")]
    [InlineData("app.handler", "/var/task/__pycache__/app.cpython-311.pyc")]
    [InlineData("app.handler", "/var/task/__pycache__/app.cpython-312.opt-1.pyc")]
    [InlineData("app.handler", "/var/task/app/__pycache__/__init__.cpython-311.pyc")]
    [InlineData("pkg.sub.app.handler", "/var/task/pkg/sub/app.py")]
    [InlineData("pkg.sub.app.handler", "/var/task/pkg/sub/__pycache__/app.cpython-311.pyc")]
    [InlineData("pkg.sub.app.handler", "/var/task/pkg/sub/app/__init__.py")]
    [InlineData("src/app.handler", "/var/task/src/app.py")]
    [InlineData("src/app.handler", "/var/task/src/__pycache__/app.cpython-39.pyc")]
    // Node.js, Ruby, scripts: directory, then the name up to the first dot
    [InlineData("app.handler", "/var/task/app.js")]
    [InlineData("app.handler", "/var/task/app.mjs")]
    [InlineData("app.handler", "/var/task/app.cjs")]
    [InlineData("app.handler", "/var/task/app")]
    [InlineData("app.handler", "/var/task/app.rb")]
    [InlineData("app.handler", "/var/task/app.sh")]
    [InlineData("index.default.handler", "/var/task/index.mjs")]
    [InlineData("src/app.handler", "/var/task/src/app.js")]
    [InlineData("src/nested/deep/app.handler", "/var/task/src/nested/deep/app.cjs")]
    [InlineData("lambda_function.LambdaFunctions::Handler.process", "/var/task/lambda_function.rb")]
    // an absolute module root (Node resolves it as such)
    [InlineData("/opt/code/app.handler", "/opt/code/app.js")]
    public void Covers_the_handler_files(string handler, string path)
    {
        Assert.True(Covers(Derive(handler), path), $"{handler} should cover {path}");
    }

    [Theory]
    [InlineData("app.handler", "/var/task/data.txt")]
    [InlineData("app.handler", "/var/task/other.py")]
    [InlineData("app.handler", "/var/task/app.py.bak")]
    [InlineData("app.handler", "/var/task/app.txt")]
    [InlineData("app.handler", "/var/task/apps.py")]
    [InlineData("app.handler", "/var/task/sub/app.py")]
    [InlineData("app.handler", "/var/task/app/other.py")]
    [InlineData("app.handler", "/var/task/__pycache__/other.cpython-311.pyc")]
    [InlineData("app.handler", "/var/task/__pycache__/app.cpython-311.pyc.tmp")]
    [InlineData("app.handler", "/var/task/__pycache__/app.x/y.pyc")]
    [InlineData("app.handler", "/var/task/__pycache__/appx.cpython-311.pyc")]
    [InlineData("app.handler", "/var/task")]
    [InlineData("app.handler", "/var/taskapp.py")]
    [InlineData("app.handler", "/var/task/APP.py")]
    [InlineData("app.handler", "/other/app.py")]
    [InlineData("pkg.sub.app.handler", "/var/task/pkg/__init__.py")]
    [InlineData("pkg.sub.app.handler", "/var/task/app.py")]
    [InlineData("src/app.handler", "/var/task/app.js")]
    public void Leaves_other_files_alone(string handler, string path)
    {
        Assert.False(Covers(Derive(handler), path), $"{handler} should not cover {path}");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("handler")]     // no module part at all
    [InlineData(".handler")]
    [InlineData("a\0b.handler")]
    public void A_handler_that_names_no_module_protects_nothing(string? handler)
    {
        // of unknown runtime: only a custom runtime's bootstrap, if any (and nothing without a handler at all)
        var files = Derive(handler);
        Assert.True(files.IsEmpty || files.Files.SequenceEqual(["/var/task/bootstrap"]), string.Join(", ", files.Files));
        Assert.Empty(files.PycachePatterns);
        Assert.False(Covers(files, "/var/task/handler.py"));
        Assert.False(Covers(files, "/var/task/.py"));
    }

    [Fact]
    public void Without_a_task_root_nothing_is_protected()
    {
        Assert.True(Derive("app.handler", root: null).IsEmpty);
        Assert.True(Derive("app.handler", root: "").IsEmpty);
    }

    [Fact]
    public void The_task_root_is_normalised_and_a_relative_one_taken_from_the_working_directory()
    {
        Assert.True(Covers(Derive("app.handler", "/var//task/./"), "/var/task/app.py"));
        Assert.True(Covers(Derive("app.handler", "task", cwd: "/home/u"), "/home/u/task/app.py"));
        Assert.True(Covers(Derive("app.handler", "../code", cwd: "/home/u"), "/home/code/app.mjs"));
        Assert.True(Covers(Derive("app.handler", "/"), "/app.py"));
        Assert.True(Covers(Derive("app.handler", "/"), "/__pycache__/app.cpython-311.pyc"));
    }

    [Fact]
    public void Every_root_given_counts_and_duplicates_collapse()
    {
        var files = HandlerFiles.Derive("app.handler", ["/var/task", "/mnt/real/task", "/var/task/"], "/");
        Assert.True(Covers(files, "/var/task/app.py"));
        Assert.True(Covers(files, "/mnt/real/task/app.py"));
        Assert.True(Covers(files, "/mnt/real/task/__pycache__/app.cpython-311.pyc"));
        Assert.Equal(files.Files.Count, files.Files.Distinct().Count());
        Assert.Equal(2 * HandlerFiles.Derive("app.handler", ["/var/task"], "/").Files.Count, files.Files.Count);
    }

    [Fact]
    public void Files_can_be_added_and_removed()
    {
        var files = Derive("app.handler").WithFiles(["/shared/code/app.py", "relative/ignored.py"]).WithoutFiles(["/var/task/app"]);
        Assert.True(Covers(files, "/shared/code/app.py"));
        Assert.False(Covers(files, "/var/task/app"));
        Assert.True(Covers(files, "/var/task/app.js"));
        Assert.DoesNotContain("relative/ignored.py", files.Files);
    }

    [Theory]
    [InlineData("../etc/passwd.handler")]
    [InlineData("src/../../etc/passwd.handler")]
    public void A_handler_that_climbs_out_of_the_task_root_protects_nothing(string handler)
    {
        // aws-lambda-ric refuses ".." and Python cannot import such a module: only a custom runtime's bootstrap is left
        Assert.Equal(["/var/task/bootstrap"], Derive(handler).Files);
        Assert.Empty(Derive(handler).PycachePatterns);
    }

    // ---- properties ----

    private static readonly Gen<string> Name = Gen.OneOf(
        Gens.Pick("app", "index", "lambda_function", "main", "handler", "a", "pkg", "src", "__init__"),
        Gen.String[Gen.Char["abcxyz_0-"], 1, 6]);

    private static readonly Gen<string> Handler = Gen.Select(Name.Array[1, 4], Name, Gen.Bool,
        (parts, function, slashes) => string.Join(slashes ? '/' : '.', parts) + "." + function);

    [Fact]
    public void Everything_covered_lies_under_the_task_root()
    {
        Gen.Select(Handler, Gens.Pick("py", "pyc", "js", "mjs", "rb", "txt", ""), Name.Array[0, 3])
            .Sample((handler, ext, dirs) =>
            {
                var files = Derive(handler, "/var/task");
                foreach (var f in files.Files) Assert.StartsWith("/var/task/", f);
                foreach (var p in files.PycachePatterns) Assert.StartsWith("/var/task/", p);
                var outside = "/var/other/" + string.Join('/', dirs.Append("app." + ext));
                return !Covers(files, outside);
            });
    }

    [Fact]
    public void The_python_module_file_is_covered_for_any_dotted_handler()
    {
        Gen.Select(Name.Array[1, 4], Name).Sample((parts, function) =>
        {
            var files = Derive(string.Join('.', parts) + "." + function);
            var module = "/var/task/" + string.Join('/', parts);
            var dir = module[..module.LastIndexOf('/')];
            return Covers(files, module + ".py") &&
                   Covers(files, $"{dir}/__pycache__/{parts[^1]}.cpython-311.pyc") &&
                   Covers(files, module + "/__init__.py");
        });
    }

    [Fact]
    public void Covers_agrees_with_a_plain_model()
    {
        // the model: exact membership, or the byte-code pattern written with strings
        Gen.Select(Handler, Gen.OneOf(Name, Gens.Pick("__pycache__", "app.py", "app.cpython-311.pyc")).Array[1, 4])
            .Sample((handler, parts) =>
            {
                var files = Derive(handler);
                var path = "/var/task/" + string.Join('/', parts);
                bool model = files.Files.Contains(path) || files.PycachePatterns.Any(pattern =>
                {
                    var prefix = pattern[..^"*.pyc".Length];
                    return path.StartsWith(prefix, StringComparison.Ordinal) && path.EndsWith(".pyc", StringComparison.Ordinal) &&
                           path.Length >= prefix.Length + 4 && !path[prefix.Length..].Contains('/');
                });
                return Covers(files, path) == model;
            });
    }
}

public class RuntimeApiRequestTests
{
    [Theory]
    [InlineData("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\r\n", true)]
    [InlineData("GET /2018-06-01/runtime/invocation/next?x=1 HTTP/1.1\r\n", true)]
    [InlineData("GET /2018-06-01/runtime/invocation/next ", true)]
    [InlineData("GET /2018-06-01/runtime/invocation/next", false)]        // not yet decisive
    [InlineData("GET /2018-06-01/runtime/invocation/nextx HTTP/1.1\r\n", false)]
    [InlineData("GET /2018-06-01/runtime/invocation/next/ HTTP/1.1\r\n", false)]
    [InlineData("POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\n", false)]
    [InlineData("GET /2018-06-01/runtime/invocation/NEXT HTTP/1.1\r\n", false)]
    [InlineData("get /2018-06-01/runtime/invocation/next HTTP/1.1\r\n", false)]
    [InlineData(" GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n", false)]
    [InlineData("GET /2020-01-01/runtime/invocation/next HTTP/1.1\r\n", false)]
    [InlineData("", false)]
    public void Recognises_the_next_invocation_request_line(string bytes, bool expected)
    {
        Assert.Equal(expected, RuntimeApiRequest.IsNextInvocation(Encoding.ASCII.GetBytes(bytes)));
    }

    [Fact]
    public void The_decisive_length_is_the_request_target_and_one_more_byte()
    {
        Assert.Equal(RuntimeApiRequest.NextInvocation.Length + 1, RuntimeApiRequest.DecisiveLength);
    }

    [Fact]
    public void Only_bytes_that_start_with_the_request_line_are_recognised()
    {
        var line = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n";
        Gen.Select(Gen.String, Gen.Int[0, 60]).Sample((tail, cut) =>
        {
            var bytes = Encoding.UTF8.GetBytes(line[..Math.Min(cut, line.Length)] + tail);
            bool model = bytes.Length >= 40 && Encoding.UTF8.GetString(bytes).StartsWith("GET /2018-06-01/runtime/invocation/next", StringComparison.Ordinal)
                         && bytes[39] is (byte)' ' or (byte)'?';
            return RuntimeApiRequest.IsNextInvocation(bytes) == model;
        });
    }
}

public class RuntimeApiEndpointTests
{
    private static byte[] Inet(string ip, int port)
    {
        var b = new byte[16];
        b[0] = 2;
        b[2] = (byte)(port >> 8);
        b[3] = (byte)port;
        System.Net.IPAddress.Parse(ip).GetAddressBytes().CopyTo(b, 4);
        return b;
    }

    private static byte[] Inet6(string ip, int port)
    {
        var b = new byte[28];
        b[0] = 10;
        b[2] = (byte)(port >> 8);
        b[3] = (byte)port;
        System.Net.IPAddress.Parse(ip).GetAddressBytes().CopyTo(b, 8);
        return b;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:65536")]
    [InlineData("127.0.0.1:-1")]
    [InlineData(":9001")]
    [InlineData("::1:9001")]
    [InlineData("[]:9001")]
    public void Rejects_what_is_not_host_and_port(string? value)
    {
        Assert.Null(RuntimeApiEndpoint.Parse(value));
    }

    [Fact]
    public void Matches_the_lambda_endpoint_exactly()
    {
        var endpoint = RuntimeApiEndpoint.Parse("127.0.0.1:9001")!;
        Assert.True(endpoint.Matches(Inet("127.0.0.1", 9001)));
        Assert.False(endpoint.Matches(Inet("127.0.0.1", 9002)));
        Assert.False(endpoint.Matches(Inet("127.0.0.2", 9001)));
        Assert.True(endpoint.Matches(Inet6("::ffff:127.0.0.1", 9001)));
        Assert.False(endpoint.Matches(Inet6("::1", 9001)));
        Assert.False(endpoint.Matches(new byte[] { 1, 0, (byte)'/', (byte)'x' })); // AF_UNIX
        Assert.False(endpoint.Matches(Inet("127.0.0.1", 9001).AsSpan(0, 6)));      // truncated
        Assert.False(endpoint.Matches([]));
    }

    [Fact]
    public void Ipv6_and_host_names()
    {
        var v6 = RuntimeApiEndpoint.Parse("[::1]:9001")!;
        Assert.True(v6.Matches(Inet6("::1", 9001)));
        Assert.False(v6.Matches(Inet("127.0.0.1", 9001)));
        var name = RuntimeApiEndpoint.Parse("localhost:9001")!;
        Assert.True(name.AnyAddress);
        Assert.True(name.Matches(Inet("127.0.0.1", 9001)));
        Assert.True(name.Matches(Inet6("::1", 9001)));
        Assert.False(name.Matches(Inet("127.0.0.1", 9000)));
    }

    [Fact]
    public void Any_ipv4_endpoint_matches_its_own_address_and_port_only()
    {
        Gen.Select(Gen.Byte.Array[4], Gen.Int[1, 65535], Gen.Byte.Array[4], Gen.Int[1, 65535]).Sample((a, p, b, q) =>
        {
            var ip = new System.Net.IPAddress(a).ToString();
            var other = new System.Net.IPAddress(b).ToString();
            var endpoint = RuntimeApiEndpoint.Parse($"{ip}:{p}")!;
            return endpoint.Matches(Inet(ip, p)) && endpoint.Matches(Inet6("::ffff:" + ip, p)) &&
                   endpoint.Matches(Inet(other, q)) == (a.AsSpan().SequenceEqual(b) && p == q);
        });
    }
}
