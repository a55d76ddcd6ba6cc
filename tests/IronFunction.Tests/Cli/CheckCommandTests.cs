using IronFunction.Tests.EndToEnd;

namespace IronFunction.Tests.Cli;

// iron-function check: the library's own validation through the built tool; a refusal is the very line the
// library writes when IRON_FUNCTION_POLICY names the same file (without what the library then does about it).
public sealed class CheckCommandTests
{
    [Fact]
    public void AcceptsTheSamplePolicyAndPrintsWhatItEnforces()
    {
        var r = IronTool.Run(["check", Path.Combine(Machine.RepoRoot, "policy.sample.json")]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = IronTool.Lines(r.Stdout).Select(l => l.Trim()).ToArray();
        foreach (var key in new[] { "read_write_tmp", "create_child_process", "read_handler", "outbound_connectivity" })
            Assert.Contains(lines, l => l.StartsWith(key + " ", StringComparison.Ordinal) && l.EndsWith(" block", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("exception aws ", StringComparison.Ordinal) && l.Contains("amazonaws.com"));
        Assert.Contains(lines, l => l.StartsWith("exception yahoo.com ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("exception 37.130.156.31 ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("loopback", StringComparison.Ordinal));
        Assert.Contains(lines, l => l == "the api_endpoint host events.example.com");
        Assert.Equal("", r.Stderr);
    }

    [Fact]
    public void GivenTheFunctionsEnvironmentItNamesTheFilesReadHandlerProtects()
    {
        using var box = new Sandbox();
        var task = Path.GetDirectoryName(box.File("task/app.py", "def handler(e, c): return 1\n"))!;
        box.File("task/other.py", "");
        var env = new Dictionary<string, string?> { ["_HANDLER"] = "app.handler", ["LAMBDA_TASK_ROOT"] = task, ["AWS_EXECUTION_ENV"] = "AWS_Lambda_python3.12" };
        var r = IronTool.Run(["check", "--json", box.Policy("""{"read_handler":"block"}""")], env: env);
        Assert.True(r.ExitCode == 0, r.ToString());
        using var doc = System.Text.Json.JsonDocument.Parse(r.Stdout);
        Assert.Equal([Path.Combine(task, "app.py")], doc.RootElement.GetProperty("handler_files").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal("", r.Stderr);
    }

    [Fact]
    public void AHandlerThatNamesNoFileGetsTheLibrarysOwnWarningLine()
    {
        using var box = new Sandbox();
        var task = Path.Combine(box.Dir, "task");
        Directory.CreateDirectory(task);
        var env = new Dictionary<string, string?> { ["_HANDLER"] = "example.Handler::handleRequest", ["LAMBDA_TASK_ROOT"] = task, ["AWS_EXECUTION_ENV"] = "AWS_Lambda_java21" };
        var policy = box.Policy("""{"read_handler":"block"}""");
        var r = IronTool.Run(["check", policy], env: env);
        Assert.True(r.ExitCode == 0, r.ToString());
        var library = Preloaded.Run("/bin/true", [], policy, env);
        var expected = Assert.Single(library.Stderr.Split('\n'), l => l.StartsWith("iron-function WRN [handler]", StringComparison.Ordinal));
        Assert.Equal(expected, r.Stderr.TrimEnd('\n'));
        Assert.Contains("protects nothing", r.Stdout);
    }

    [Fact]
    public void NormalisesExceptionsAndActions()
    {
        using var box = new Sandbox();
        var policy = box.Policy("""
            {"outbound_connectivity": {"action": "detect", "exceptions": ["Mail.Example.COM.", "::ffff:10.0.0.0/104", "*.Wild.example"]},
             "read_write_tmp": "allow"}
            """);
        var r = IronTool.Run(["check", "--json", policy]);
        Assert.True(r.ExitCode == 0, r.ToString());
        using var doc = System.Text.Json.JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal("alert", root.Str("outbound_connectivity"));
        Assert.Equal("allow", root.Str("read_write_tmp"));
        // keys left out of the file are allowed, as the library reads them
        Assert.Equal("allow", root.Str("create_child_process"));
        Assert.Equal(["mail.example.com", "10.0.0.0/8", "*.wild.example"],
            root.GetProperty("exceptions").EnumerateArray().Select(e => e.GetString()!).ToArray());
    }

    [Theory]
    [InlineData("typo'd key", "{\n  \"read_write_tpm\": \"block\"\n}")]
    [InlineData("typo'd action", "{\n  \"read_write_tmp\": \"blok\"\n}")]
    [InlineData("case of an action", "{\"create_child_process\": \"Block\"}")]
    [InlineData("malformed JSON", "{\"read_write_tmp\": \"block\",\n}")]
    [InlineData("malformed exception", "{\"outbound_connectivity\": {\"action\": \"block\", \"exceptions\": [\"https://x.example/\"]}}")]
    [InlineData("empty file", "")]
    public void RefusesWithTheLibrarysOwnLine(string why, string json)
    {
        using var box = new Sandbox();
        var policy = box.Policy(json);
        var r = IronTool.Run(["check", policy]);
        Assert.True(r.ExitCode == 1, $"{why}: {r}");
        Assert.Equal("", r.Stdout);
        var line = Assert.Single(IronTool.Lines(r.Stderr));

        var library = Preloaded.Run("/bin/true", [], policy);
        var libraryLine = Assert.Single(library.Diagnostics, d => d.Contains("policy error"));
        const string prefix = "iron-function ERR [policy] ", suffix = "; enforcing block on all four controls";
        Assert.StartsWith(prefix, libraryLine);
        Assert.EndsWith(suffix, libraryLine);
        Assert.Equal("iron-function: " + libraryLine[prefix.Length..^suffix.Length], line);
        Assert.Contains($"policy error in {policy}: ", line);
    }

    [Fact]
    public void AMissingFileIsRefused()
    {
        var r = IronTool.Run(["check", "/nonexistent/policy.json"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("iron-function: policy error in /nonexistent/policy.json: cannot read the file (No such file or directory)", r.Stderr.Trim());
    }

    [Theory]
    [InlineData(new string[0], 2)]
    [InlineData(new[] { "check" }, 2)]
    [InlineData(new[] { "check", "--bogus", "x" }, 2)]
    [InlineData(new[] { "frobnicate" }, 2)]
    [InlineData(new[] { "--help" }, 0)]
    [InlineData(new[] { "check", "--help" }, 0)]
    [InlineData(new[] { "run", "--help" }, 0)]
    [InlineData(new[] { "--version" }, 0)]
    public void UsageAndHelpHaveTheirExitCodes(string[] args, int exit)
    {
        var r = IronTool.Run(args);
        Assert.True(r.ExitCode == exit, r.ToString());
        if (exit == 2)
        {
            // one line on stderr, nothing on stdout
            Assert.Single(IronTool.Lines(r.Stderr));
            Assert.Equal("", r.Stdout);
        }
        else Assert.NotEqual("", r.Stdout);
    }
}
