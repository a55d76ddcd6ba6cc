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
        if (json) WriteJson(Console.Out, path, policy);
        else Console.Out.Write(Describe(path, policy));
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

    private static void WriteJson(TextWriter output, string path, EffectivePolicy p)
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
            w.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
    }
}
