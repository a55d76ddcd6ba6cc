using System.Diagnostics;
using IronFunction.Tests.EndToEnd;

namespace IronFunction.Tests.Cli;

/// <summary>The iron-function tool is built for the architecture under test too: dist/iron-function on the host, and
/// dist/linux-arm64/iron-function (./build.sh --arch arm64) run under qemu-aarch64 in the arm64 pass.</summary>
[Trait("Architecture", "arm64")]
public class ArchitectureToolTests
{
    private static (int Exit, string Stdout, string Stderr) Tool(params string[] args)
    {
        var tool = Machine.Arm64 ? Path.Combine(Machine.RepoRoot, "dist", "linux-arm64", "iron-function") : Path.Combine(Machine.RepoRoot, "dist", "iron-function");
        Assert.True(File.Exists(tool), $"{tool} is missing: run ./build.sh first");
        var psi = Machine.Arm64 ? new ProcessStartInfo(Qemu.Emulator) : new ProcessStartInfo(tool);
        if (Machine.Arm64) foreach (var a in new[] { "-L", Qemu.SysRoot, tool }) psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "the tool did not finish");
        return (p.ExitCode, stdout.Result, stderr);
    }

    [Fact]
    public void The_tool_of_the_architecture_under_test_checks_policies()
    {
        if (Machine.Arm64) Assert.True(Qemu.IsAarch64(Path.Combine(Machine.RepoRoot, "dist", "linux-arm64", "iron-function")));
        var ok = Tool("check", Path.Combine(Machine.RepoRoot, "policy.sample.json"));
        Assert.True(ok.Exit == 0, $"{ok.Stdout}\n{ok.Stderr}");
        using var box = new Sandbox();
        var typo = Tool("check", box.Policy("""{"read_write_tmp":"blok"}"""));
        Assert.Equal(1, typo.Exit);
        Assert.Contains("unknown action \"blok\"", typo.Stderr);
    }
}
