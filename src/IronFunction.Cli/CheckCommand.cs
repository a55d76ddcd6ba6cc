using System.Text.Json;
using IronFunction.Policy;
using IronFunction.Rules;

namespace IronFunction.Cli;

/// <summary>check POLICY: the library's own validation, and the policy it would enforce.</summary>
public static class CheckCommand
{
    public const string Help = """
        usage: iron-function check [--json] POLICY

        Validates POLICY exactly as the library does when IRON_FUNCTION_POLICY names it.
        Valid: prints the effective policy (each control's mode, the normalised exceptions, what is
        always allowed) and exits 0. Invalid: prints the library's one-line error (JSON path, line,
        column) on stderr and exits 1. --json: the effective policy as one JSON object on stdout.
        """;

    public static int Run(string[] args)
    {
        var o = new Options("check", args);
        string? path = null;
        bool json = false;
        while (o.Next(out bool option) is { } a)
        {
            if (!option) { if (path != null) throw o.Usage("one policy at a time"); path = a; continue; }
            switch (a)
            {
                case "--help" or "-h": Console.Out.Write(Help); return Program.Ok;
                case "--json": json = true; break;
                default: throw o.Unknown(a);
            }
        }
        if (path == null) throw o.Usage("a policy file is required");
        var policy = Validate(path);
        var handler = Handler.Of(policy);
        // a handler that names no file: the library's own warning line, as it would write it at the function's start
        if (handler is { Files.Count: 0 }) Console.Error.WriteLine("iron-function WRN [handler] " + handler.Warning);
        if (json) WriteJson(Console.Out, path, policy, handler);
        else Console.Out.Write(Describe(path, policy) + Describe(handler));
        return Program.Ok;
    }

    /// <summary>The policy the library would enforce from this file; refused with the library's own line.</summary>
    public static EffectivePolicy Validate(string path)
    {
        var loaded = PolicyLoader.Load(path);
        if (loaded.Problem != null)
        {
            var line = loaded.Problem.EndsWith(PolicyLoader.FailClosedSuffix, StringComparison.Ordinal)
                ? loaded.Problem[..^PolicyLoader.FailClosedSuffix.Length]
                : loaded.Problem;
            throw new FailedException(line);
        }
        return loaded.Policy;
    }

    public static string Describe(string path, EffectivePolicy p)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append(path).Append(": valid\n");
        foreach (var (key, action) in Controls(p))
            sb.Append($"  {key,-22} {action.Name()}\n");
        foreach (var e in p.OutboundExceptions)
            sb.Append($"    exception {Normalised(e),-28} {Meaning(e)}\n");
        if (p.OutboundConnectivity != PolicyAction.Allow && p.OutboundExceptions.Count == 0)
            sb.Append("    no exceptions\n");
        if (p.ApiEndpoint != null) sb.Append($"  {"api_endpoint",-22} {p.ApiEndpoint.OriginalString}\n");
        sb.Append("  always allowed:\n");
        foreach (var line in AlwaysAllowed(p)) sb.Append("    ").Append(line).Append('\n');
        // the model's own account, as the library's debug log writes it: whatever the model holds shows here
        sb.Append("  as the library logs it: ").Append(p.ToString()).Append('\n');
        return sb.ToString();
    }

    public static IEnumerable<(string Key, PolicyAction Action)> Controls(EffectivePolicy p) =>
    [
        ("read_write_tmp", p.ReadWriteTmp), ("create_child_process", p.CreateChildProcess),
        ("read_handler", p.ReadHandler), ("outbound_connectivity", p.OutboundConnectivity),
    ];

    /// <summary>The exception as the library holds it: lower case, no trailing dot, the network address of a block.</summary>
    public static string Normalised(NetworkException e) => e.Kind switch
    {
        NetworkExceptionKind.Aws => "aws",
        NetworkExceptionKind.Domain => e.Domain!,
        NetworkExceptionKind.WildcardDomain => "*." + e.Domain,
        NetworkExceptionKind.Address => e.Address!.ToString(),
        _ => $"{e.Address}/{e.PrefixLength}",
    };

    private static string Meaning(NetworkException e) => e.Kind switch
    {
        NetworkExceptionKind.Aws => $"{string.Join(", ", DestinationRule.AwsDomains)} and their subdomains",
        NetworkExceptionKind.Domain => "this name and its subdomains",
        NetworkExceptionKind.WildcardDomain => $"subdomains of {e.Domain}, not {e.Domain} itself",
        NetworkExceptionKind.Address => "this address only",
        _ => "this block of addresses",
    };

    public static IEnumerable<string> AlwaysAllowed(EffectivePolicy p)
    {
        yield return "loopback (127.0.0.0/8, ::1) and the unspecified address (0.0.0.0, ::)";
        yield return "the names " + string.Join(", ", DestinationRule.LocalNames);
        yield return "the Runtime API host (AWS_LAMBDA_RUNTIME_API, set by Lambda)";
        if (p.ApiEndpoint != null) yield return $"the api_endpoint host {p.ApiEndpoint.Host}";
    }

    /// <summary>
    /// What read_handler would protect in the function whose environment this is (_HANDLER, LAMBDA_TASK_ROOT,
    /// AWS_EXECUTION_ENV, as Lambda sets them): the files that exist, derived as the library derives them; null when
    /// read_handler is allow or the environment names no handler.
    /// </summary>
    public sealed record Handler(string Name, string TaskRoot, string? ExecutionEnv, IReadOnlyList<string> Files, string Warning)
    {
        public static Handler? Of(EffectivePolicy p)
        {
            var name = Environment.GetEnvironmentVariable("_HANDLER");
            var taskRoot = Environment.GetEnvironmentVariable("LAMBDA_TASK_ROOT");
            var env = Environment.GetEnvironmentVariable("AWS_EXECUTION_ENV");
            if (p.ReadHandler == PolicyAction.Allow || string.IsNullOrEmpty(name) || string.IsNullOrEmpty(taskRoot)) return null;
            var runtime = HandlerLayout.RuntimeOf(env);
            var root = Path.GetFullPath(taskRoot);
            var derived = HandlerFiles.Derive(name, [root], Directory.GetCurrentDirectory(), runtime);
            var files = derived.Files.Where(File.Exists).ToList();
            if (HandlerLayout.JavaClassEntry(runtime, name) is { } entry && IronFunction.Lifecycle.HandlerLocator.JarHolding(root, entry) is { } jar)
                files.Add(jar);
            return new(name, taskRoot, env, files.Distinct().ToList(), HandlerLayout.NoFileWarning(runtime, name, taskRoot));
        }
    }

    private static string Describe(Handler? h)
    {
        if (h == null) return "";
        var sb = new System.Text.StringBuilder();
        sb.Append($"  read_handler in this environment (_HANDLER={h.Name}, AWS_EXECUTION_ENV={h.ExecutionEnv ?? "(none)"}):\n");
        foreach (var f in h.Files) sb.Append("    protects ").Append(f).Append('\n');
        if (h.Files.Count == 0) sb.Append("    protects nothing: ").Append(h.Warning).Append('\n');
        return sb.ToString();
    }

    private static void WriteJson(TextWriter output, string path, EffectivePolicy p, Handler? handler = null)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("policy", path);
            w.WriteBoolean("valid", true);
            foreach (var (key, action) in Controls(p))
                w.WriteString(key, action.Name());
            w.WriteStartArray("exceptions");
            foreach (var e in p.OutboundExceptions) w.WriteStringValue(Normalised(e));
            w.WriteEndArray();
            if (p.ApiEndpoint != null) w.WriteString("api_endpoint", p.ApiEndpoint.OriginalString);
            w.WriteStartArray("always_allowed");
            foreach (var line in AlwaysAllowed(p)) w.WriteStringValue(line);
            w.WriteEndArray();
            if (handler != null)
            {
                w.WriteStartArray("handler_files");
                foreach (var f in handler.Files) w.WriteStringValue(f);
                w.WriteEndArray();
                if (handler.Files.Count == 0) w.WriteString("handler_warning", handler.Warning);
            }
            w.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
    }
}
