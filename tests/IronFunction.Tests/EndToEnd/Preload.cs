using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace IronFunction.Tests.EndToEnd;

/// <summary>Where the repository, the built library and the real programs are.</summary>
public static class Machine
{
    public static readonly string RepoRoot = FindRepoRoot();

    /// <summary>
    /// Where tests keep their files and run their programs: never under /tmp, which the library protects.
    /// tests/.work in the repository, unless the clone itself lies under /tmp (then ~/.iron-function-tests).
    /// </summary>
    public static readonly string WorkRoot = FindWorkRoot();

    /// <summary>
    /// IRON_TEST_ARCH=arm64 (./build.sh test's second pass, on x86_64): the C probes are built with the aarch64 cross
    /// compiler and run under qemu-user with dist/linux-arm64/lib_iron_function.so (Qemu below).
    /// </summary>
    public static readonly bool Arm64 = Environment.GetEnvironmentVariable("IRON_TEST_ARCH") == "arm64";

    /// <summary>dist/lib_iron_function.so (dist/linux-arm64/ for arm64), built by ./build.sh before the tests run; missing is a failure, not a skip.</summary>
    public static string Library
    {
        get
        {
            var path = Arm64 ? Qemu.Library : Path.Combine(RepoRoot, "dist", "lib_iron_function.so");
            if (!File.Exists(path)) throw new InvalidOperationException($"{path} is missing: run ./build.sh first");
            return path;
        }
    }

    /// <summary>The real CPython binary: `python3` on PATH may be a shim that starts several processes.</summary>
    public static readonly Lazy<string> Python = new(() =>
        Preloaded.RunPlain("python3", ["-c", "import sys; print(sys.executable)"]).Stdout.Trim());

    public static readonly Lazy<string> Node = new(() => Which("node"));
    public static readonly Lazy<string> Bash = new(() => Which("bash"));

    public static string Which(string program)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':'))
        {
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException($"{program} is not on PATH");
    }

    private static string FindWorkRoot()
    {
        var root = Environment.GetEnvironmentVariable("IRON_TEST_WORK");
        if (string.IsNullOrEmpty(root))
        {
            bool repoUnderTmp = RepoRoot == "/tmp" || RepoRoot.StartsWith("/tmp/", StringComparison.Ordinal);
            root = repoUnderTmp
                ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".iron-function-tests")
                : Path.Combine(RepoRoot, "tests", ".work");
        }
        Directory.CreateDirectory(root);
        return root;
    }

    private static string FindRepoRoot()
    {
        for (var dir = AppContext.BaseDirectory; dir != null; dir = Path.GetDirectoryName(dir))
            if (File.Exists(Path.Combine(dir, "IronFunction.sln"))) return dir;
        throw new InvalidOperationException("IronFunction.sln not found above the test binaries");
    }
}

/// <summary>
/// A test's own places: a work directory outside /tmp (under Machine.WorkRoot) and a fresh directory under
/// /tmp, both made without the library loaded and removed afterwards.
/// </summary>
public sealed class Sandbox : IDisposable
{
    public string Dir { get; }
    public string TmpDir { get; }

    public Sandbox()
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        Dir = Path.Combine(Machine.WorkRoot, id);
        TmpDir = Path.Combine("/tmp", "iron-test-" + id);
        Directory.CreateDirectory(Dir);
        Directory.CreateDirectory(TmpDir);
    }

    public string Policy(string json)
    {
        var path = Path.Combine(Dir, "policy-" + Guid.NewGuid().ToString("N")[..8] + ".json");
        System.IO.File.WriteAllText(path, json);
        return path;
    }

    public string File(string relative, string content)
    {
        var path = Path.Combine(Dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    public void Dispose()
    {
        foreach (var dir in new[] { Dir, TmpDir })
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}

public sealed record RunResult(int ExitCode, string Stdout, string Stderr, IReadOnlyList<JsonElement> Events, IReadOnlyList<string> Diagnostics)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

public static class Preloaded
{
    private const string EventPrefix = "{\"aws_function_info\"";

    /// <summary>
    /// Runs a real program with the library preloaded. <paramref name="policyPath"/> null leaves
    /// IRON_FUNCTION_POLICY unset (monitor mode). Extra variables with a null value are removed.
    /// </summary>
    public static RunResult Run(string program, IEnumerable<string> args, string? policyPath,
        IDictionary<string, string?>? env = null, string? cwd = null, string? stdin = null, int timeoutSeconds = 60)
    {
        var vars = new Dictionary<string, string?> { ["LD_PRELOAD"] = Machine.Library, ["IRON_FUNCTION_POLICY"] = policyPath };
        if (env != null) foreach (var (k, v) in env) vars[k] = v;
        return RunPlain(program, args, vars, cwd, stdin, timeoutSeconds);
    }

    /// <summary>Runs a program without the library (unless the variables add it).</summary>
    public static RunResult RunPlain(string program, IEnumerable<string> args, IDictionary<string, string?>? env = null,
        string? cwd = null, string? stdin = null, int timeoutSeconds = 60)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = cwd ?? Machine.WorkRoot,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // the test host's own settings must not leak into the programs under test
        psi.Environment.Remove("LD_PRELOAD");
        psi.Environment.Remove("IRON_FUNCTION_POLICY");
        psi.Environment.Remove("IRON_LOG");
        if (env != null)
            foreach (var (k, v) in env)
                if (v == null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        if (Machine.Arm64) Qemu.Wrap(psi);

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin != null) process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', psi.ArgumentList)} did not finish in {timeoutSeconds} s");
        }
        process.WaitForExit();
        var err = Machine.Arm64 ? Qemu.WithoutItsOwnLines(stderr.Result) : stderr.Result;
        var events = new List<JsonElement>();
        var diagnostics = new List<string>();
        foreach (var line in err.Split('\n'))
        {
            if (line.StartsWith(EventPrefix, StringComparison.Ordinal)) events.Add(JsonDocument.Parse(line).RootElement.Clone());
            else if (line.StartsWith("iron-function", StringComparison.Ordinal)) diagnostics.Add(line);
        }
        return new RunResult(process.ExitCode, stdout.Result, err, events, diagnostics);
    }
}

/// <summary>Compiles small C probes with gcc at test time, once per source text.</summary>
public static class CProbe
{
    private static readonly object Gate = new();

    public static string Compile(string name, string source, string extraFlags = "")
    {
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(source + extraFlags)))[..16];
        var dir = Path.Combine(Machine.WorkRoot, "probes");
        var exe = Path.Combine(dir, $"{name}-{hash}{(Machine.Arm64 ? "-arm64" : "")}");
        lock (Gate)
        {
            if (File.Exists(exe)) return exe;
            Directory.CreateDirectory(dir);
            var src = exe + ".c";
            File.WriteAllText(src, source);
            var args = new List<string> { "-O1", "-Wall", "-o", exe, src };
            args.AddRange(extraFlags.Split(' ', StringSplitOptions.RemoveEmptyEntries));
            var compiler = Machine.Arm64 ? Qemu.Compiler : "gcc";
            var result = Preloaded.RunPlain(compiler, args);
            if (result.ExitCode != 0) throw new InvalidOperationException($"{compiler} failed for {name}:\n{result.Stderr}");
            return exe;
        }
    }
}

public static class EventAssert
{
    /// <summary>Every key of the seed schema, every value a string.</summary>
    public static readonly string[] TopKeys =
        ["aws_function_info", "event_type", "action", "what", "message", "time", "process_id", "process_name",
         "process_command", "user_id", "user_name"];

    public static readonly string[] FunctionInfoKeys =
        ["region", "execution_env", "lambda_function_name", "initialization_type", "task_root", "runtime_dir", "tz",
         "memory_size", "version", "log_group", "log_stream"];

    public static void HasSeedSchema(JsonElement e)
    {
        foreach (var key in TopKeys) Xunit.Assert.True(e.TryGetProperty(key, out _), $"missing key {key} in {e}");
        foreach (var p in e.EnumerateObject())
            if (p.Name != "aws_function_info") Xunit.Assert.Equal(JsonValueKind.String, p.Value.ValueKind);
        var info = e.GetProperty("aws_function_info");
        foreach (var key in FunctionInfoKeys)
        {
            Xunit.Assert.True(info.TryGetProperty(key, out var v), $"missing aws_function_info.{key}");
            Xunit.Assert.Equal(JsonValueKind.String, v.ValueKind);
        }
        Xunit.Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", e.GetProperty("time").GetString()!);
    }

    public static string Str(this JsonElement e, string key) => e.GetProperty(key).GetString()!;

    /// <summary>How many occurrences an event stands for: identical repeats are coalesced into one event with repeat_count.</summary>
    public static int Occurrences(this JsonElement e) =>
        e.TryGetProperty("repeat_count", out var r) ? int.Parse(r.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : 1;

    public static int Occurrences(this IEnumerable<JsonElement> events) => events.Sum(e => e.Occurrences());
}
