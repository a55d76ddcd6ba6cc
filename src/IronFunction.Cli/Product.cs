namespace IronFunction.Cli;

/// <summary>
/// Where the tool finds what ships beside it (./build.sh puts them in dist/): the library, the layer's
/// wrapper and default policy, the runtime clients for invoke.
/// </summary>
public static class Product
{
    /// <summary>The tool's own directory: dist/ of a build, or the unpacked release.</summary>
    public static string Home { get; } = Path.GetDirectoryName(Environment.ProcessPath ?? AppContext.BaseDirectory) ?? ".";

    public static string Library => Required(Path.Combine(Home, "lib_iron_function.so"), "the library");

    public static string Wrapper => Required(Path.Combine(Home, "wrapper"), "the layer's wrapper");

    /// <summary>The layer's default policy (the repository's layer/policy.json), packed when layer is given none.</summary>
    public static string LayerPolicy => Required(Path.Combine(Home, "policy.json"), "the layer's default policy");

    public static string PythonBootstrap => Required(Path.Combine(Home, "runtime", "python", "bootstrap.py"), "the Python runtime client");

    /// <summary>npm aws-lambda-ric, installed by ./build.sh into runtime/node (dist/runtime/node links to it).</summary>
    public static string NodeRuntimeClient => Required(Path.Combine(Home, "runtime", "node", "node_modules", "aws-lambda-ric", "index.mjs"),
        "aws-lambda-ric (./build.sh installs it)");

    private static string Required(string path, string what) =>
        File.Exists(path) ? path : throw new FailedException($"{what} is missing at {path}: run ./build.sh build");

    /// <summary>The full path of a program on PATH, or null.</summary>
    public static string? Which(string program)
    {
        if (program.Contains('/')) return File.Exists(program) ? Path.GetFullPath(program) : null;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
