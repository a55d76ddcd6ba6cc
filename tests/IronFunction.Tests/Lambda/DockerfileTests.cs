using System.Text.RegularExpressions;
using IronFunction.Tests.EndToEnd;

namespace IronFunction.Tests.Lambda;

// Dockerfile.amazonlinux (SPEC §9, docs/architectures.md) builds the layer on Amazon Linux 2023. No container
// runtime here reaches an image registry, so it is never built here: these checks keep it to the same
// ./build.sh commands a development machine runs, on the base image the card names.
public class DockerfileTests
{
    private static readonly string[] Lines = File.ReadAllLines(Path.Combine(Machine.RepoRoot, "Dockerfile.amazonlinux"));

    private static readonly string BuildScript = File.ReadAllText(Path.Combine(Machine.RepoRoot, "build.sh"));

    /// <summary>The instructions, a continued line joined, comments left out.</summary>
    private static readonly string[] Instructions = string.Join('\n', Lines.Where(l => !l.TrimStart().StartsWith('#')))
        .Replace("\\\n", " ").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToArray();

    [Fact]
    public void The_build_stage_is_a_plain_Amazon_Linux_2023_and_the_last_stage_holds_only_the_zip()
    {
        var stages = Instructions.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, stages.Length);
        Assert.Matches(@"^FROM amazonlinux:2023( AS \w+)?$", stages[0]);
        Assert.Equal("FROM scratch", stages[1]);
        var last = Instructions.SkipWhile(l => l != "FROM scratch").Skip(1).ToArray();
        Assert.Equal("COPY --from=build /src/dist/*.zip /", Assert.Single(last));
    }

    [Fact]
    public void It_installs_the_dotnet_10_SDK_and_the_native_tools_with_dnf()
    {
        var install = Assert.Single(Instructions, l => l.StartsWith("RUN dnf install", StringComparison.Ordinal));
        foreach (var package in new[] { "dotnet-sdk-10.0", "clang", "gcc", "zlib-devel", "python3" })
            Assert.Contains($" {package} ", install + " ");
    }

    [Fact]
    public void Every_build_step_is_a_build_sh_command_that_exists()
    {
        // the commands build.sh answers: the labels of its case on the first argument
        var commands = Regex.Matches(BuildScript, @"^  ([a-z|]+)\)$", RegexOptions.Multiline)
            .SelectMany(m => m.Groups[1].Value.Split('|')).ToHashSet();
        Assert.Contains("layer", commands);
        var steps = Instructions.Where(l => l.StartsWith("RUN ", StringComparison.Ordinal) && l.Contains("build.sh")).ToArray();
        Assert.NotEmpty(steps);
        foreach (var step in steps)
        {
            var m = Regex.Match(step, @"^RUN \./build\.sh(?: --arch (x86_64|arm64))? ([a-z]+)$");
            Assert.True(m.Success, $"a step other than a plain ./build.sh command: {step}");
            Assert.Contains(m.Groups[2].Value, commands);
        }
        Assert.Contains("RUN ./build.sh layer", steps);
    }
}
