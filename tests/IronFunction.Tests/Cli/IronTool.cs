using IronFunction.Tests.EndToEnd;

namespace IronFunction.Tests.Cli;

/// <summary>dist/iron-function, built by ./build.sh beside the library; run as a user runs it.</summary>
public static class IronTool
{
    public static string Path
    {
        get
        {
            var path = System.IO.Path.Combine(Machine.RepoRoot, "dist", "iron-function");
            if (!File.Exists(path)) throw new InvalidOperationException($"{path} is missing: run ./build.sh first");
            return path;
        }
    }

    public static RunResult Run(IEnumerable<string> args, string? cwd = null, string? stdin = null, IDictionary<string, string?>? env = null,
        int timeoutSeconds = 120) =>
        Preloaded.RunPlain(Path, args, env, cwd, stdin, timeoutSeconds);

    /// <summary>The lines of a text, without the empty last one.</summary>
    public static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
