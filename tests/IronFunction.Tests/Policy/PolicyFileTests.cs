using System;
using System.IO;
using System.Runtime.Versioning;
using IronFunction.Policy;
using Xunit;
using static IronFunction.Tests.Policy.PolicyTestSupport;

namespace IronFunction.Tests.Policy;

/// <summary>PolicyLoader.Load: monitor mode, and every way reading the file can fail.</summary>
public sealed class PolicyFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("iron-policy-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void NoPolicyPathIsMonitorMode(string? path)
    {
        var result = PolicyLoader.Load(path);
        Assert.Null(result.Problem);
        Assert.Equal("IRON_FUNCTION_POLICY is not set; every control runs in alert mode (monitor)", result.Warning);
        Assert.Equal(PolicyOrigin.Monitor, result.Policy.Origin);
        Assert.Null(result.Policy.SourcePath);
        Assert.Equal(PolicyAction.Alert, result.Policy.ReadWriteTmp);
        Assert.Equal(PolicyAction.Alert, result.Policy.CreateChildProcess);
        Assert.Equal(PolicyAction.Alert, result.Policy.ReadHandler);
        Assert.Equal(PolicyAction.Alert, result.Policy.OutboundConnectivity);
        Assert.Empty(result.Policy.OutboundExceptions);
        Assert.Null(result.Policy.ApiEndpoint);
    }

    [Fact]
    public void ReadsAValidFile()
    {
        string path = Write("policy.json", """{"read_handler": "block", "outbound_connectivity": "detect"}""");
        var result = PolicyLoader.Load(path);
        Assert.Null(result.Problem);
        Assert.Null(result.Warning);
        Assert.Equal(PolicyOrigin.File, result.Policy.Origin);
        Assert.Equal(path, result.Policy.SourcePath);
        Assert.Equal(PolicyAction.Block, result.Policy.ReadHandler);
        Assert.Equal(PolicyAction.Alert, result.Policy.OutboundConnectivity);
        Assert.Equal(PolicyAction.Allow, result.Policy.ReadWriteTmp);
    }

    [Fact]
    public void InvalidFileNamesItself()
    {
        string path = Write("bad.json", "{\n  \"create_child_process\": \"blok\"\n}");
        Assert.Equal(
            $"policy error in {path}: unknown action \"blok\" for \"create_child_process\" (expected block, alert, allow or detect) at $.create_child_process (line 2, column 27); enforcing block on all four controls",
            PolicyLoader.Load(path).Problem);
    }

    [Fact]
    public void MissingFile()
    {
        string path = Path.Combine(_dir, "p.json");
        Assert.Equal($"policy error in {path}: cannot read the file (No such file or directory); enforcing block on all four controls",
            PolicyLoader.Load(path).Problem);
        Assert.Equal("cannot read the file (No such file or directory)", FailClosed(PolicyLoader.Load(path), path));
    }

    [Fact]
    public void MissingDirectory()
    {
        string path = Path.Combine(_dir, "nope", "p.json");
        Assert.Equal("cannot read the file (No such file or directory)", FailClosed(PolicyLoader.Load(path), path));
    }

    [Fact]
    public void DirectoryInsteadOfFile() =>
        Assert.Equal("cannot read the file (Is a directory)", FailClosed(PolicyLoader.Load(_dir), _dir));

    [Fact]
    public void FileUsedAsDirectory()
    {
        string path = Path.Combine(Write("f", "{}"), "p.json");
        Assert.StartsWith("cannot read the file (", FailClosed(PolicyLoader.Load(path), path));
    }

    [Fact]
    public void NameTooLong()
    {
        string path = Path.Combine(_dir, new string('p', 300));
        Assert.Equal("cannot read the file (File name too long)", FailClosed(PolicyLoader.Load(path), path));
    }

    [Fact]
    public void PathWithNul()
    {
        const string path = "/tmp/p\0.json";
        var result = PolicyLoader.Load(path);
        Assert.Equal("policy error in /tmp/p\\u0000.json: cannot read the file (the path is not valid); enforcing block on all four controls", result.Problem);
        Assert.Equal(PolicyOrigin.FailClosed, result.Policy.Origin);
    }

    [Fact]
    public void ReadErrorAfterOpen()
    {
        // /proc/self/mem opens, but reading address 0 fails with EIO: a read error that holds even for root.
        const string path = "/proc/self/mem";
        Assert.Equal("cannot read the file (Input/output error)", FailClosed(PolicyLoader.Load(path), path));
    }

    [Fact, SupportedOSPlatform("linux")]
    public void UnreadableFile()
    {
        string path = Write("secret.json", "{}");
        File.SetUnixFileMode(path, UnixFileMode.None);
        var result = PolicyLoader.Load(path);
        if (Environment.IsPrivilegedProcess)
            Assert.Null(result.Problem); // root reads it anyway; ReadErrorAfterOpen covers the failure path
        else
            Assert.Equal("cannot read the file (Permission denied)", FailClosed(result, path));
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n  \n")]
    public void EmptyFile(string text)
    {
        string path = Write("empty.json", text);
        Assert.Equal("the file is empty (expected a JSON object)", FailClosed(PolicyLoader.Load(path), path));
    }

    [Fact]
    public void BlankPathIsAPathNotMonitorMode()
    {
        // Only unset or empty means monitor; anything else was meant as a policy and must fail closed.
        var result = PolicyLoader.Load(" ");
        Assert.Equal(PolicyOrigin.FailClosed, result.Policy.Origin);
        Assert.Null(result.Warning);
    }
}
