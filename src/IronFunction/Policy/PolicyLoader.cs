using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace IronFunction.Policy;

/// <summary>
/// Reads and validates the policy file (SPEC §1). Validation walks the JSON with <see cref="Utf8JsonReader"/>
/// so that every error names its JSON path, line and column; nothing is deserialised by reflection.
/// Keys and actions are matched exactly (lower case): a policy is security configuration, and a
/// near-miss must be reported, not guessed at. Load and Parse never throw.
/// </summary>
public static class PolicyLoader
{
    public const string MonitorWarning = "IRON_FUNCTION_POLICY is not set; every control runs in alert mode (monitor)";
    /// <summary>Ends every problem line: what the library does about it (the tool's check leaves it out).</summary>
    public const string FailClosedSuffix = "; enforcing block on all four controls";
    private const string ExpectedActions = "block, alert, allow or detect";
    private const string OutboundKey = "outbound_connectivity";
    private static readonly string[] TopKeys = ["outbound_connectivity", "read_write_tmp", "create_child_process", "read_handler", "api_endpoint"];
    private static readonly string[] OutboundKeys = ["action", "exceptions"];
    private static readonly string[] FileControlKeys = ["action", "kernel"];

    /// <summary>
    /// Loads the file named by IRON_FUNCTION_POLICY; null or empty means monitor mode. <paramref name="parentDigest"/>:
    /// the SHA-256 of the policy the process that started this one read (IRON_FUNCTION_POLICY_SHA256), or null in the
    /// first process of the tree; a file that no longer has it was swapped, which is a policy error.
    /// </summary>
    public static PolicyLoadResult Load(string? policyPath, string? parentDigest = null)
    {
        if (string.IsNullOrEmpty(policyPath))
            return parentDigest == null
                ? new(EffectivePolicy.Monitor(), null, MonitorWarning)
                : Failed("IRON_FUNCTION_POLICY", "not set, though the process that started this one had a policy") with { Digest = parentDigest };
        byte[] bytes;
        try
        {
            // Reading a directory fails as "access denied" in .NET; say what it really is.
            if (Directory.Exists(policyPath)) return Failed(policyPath, "cannot read the file (Is a directory)") with { Digest = parentDigest };
            bytes = File.ReadAllBytes(policyPath);
        }
        catch (Exception e)
        {
            return Failed(policyPath, $"cannot read the file ({Describe(e)})") with { Digest = parentDigest };
        }
        var digest = PolicyDigest.Of(bytes);
        if (parentDigest != null && !string.Equals(parentDigest, digest, StringComparison.Ordinal))
            return Failed(policyPath, "the file changed after the process that started this one read it") with { Digest = parentDigest };
        return Parse(bytes, policyPath) with { Digest = digest };
    }

    /// <summary>Validates a policy document; <paramref name="sourceName"/> names it in messages.</summary>
    public static PolicyLoadResult Parse(ReadOnlySpan<byte> utf8Json, string sourceName)
    {
        sourceName ??= "<policy>";
        // Utf8JsonReader does not skip a byte order mark; some editors write one.
        if (utf8Json.StartsWith("\uFEFF"u8)) utf8Json = utf8Json[3..];
        try
        {
            var policy = new Walker(utf8Json).Run(sourceName);
            return new(policy, null, KernelWarning(policy));
        }
        catch (PolicyError e)
        {
            return Failed(sourceName, e.Message + Where(utf8Json, e.Path, e.Offset));
        }
        catch (Exception e)
        {
            return Failed(sourceName, $"unexpected {e.GetType().Name} while reading the policy");
        }
    }

    /// <summary>"kernel": true outside block mode changes nothing (alert and allow must let the call through): said, not refused.</summary>
    private static string? KernelWarning(EffectivePolicy policy)
    {
        var ignored = new List<string>(2);
        if (policy.ReadWriteTmpKernel && policy.ReadWriteTmp != PolicyAction.Block) ignored.Add($"read_write_tmp ({policy.ReadWriteTmp.Name()})");
        if (policy.ReadHandlerKernel && policy.ReadHandler != PolicyAction.Block) ignored.Add($"read_handler ({policy.ReadHandler.Name()})");
        return ignored.Count == 0 ? null
            : $"\"kernel\": true applies in block mode only; ignored for {string.Join(" and ", ignored)}";
    }

    private static PolicyLoadResult Failed(string source, string what) =>
        new(EffectivePolicy.FailClosed(source), $"policy error in {PolicyText.OneLine(source)}: {what}{FailClosedSuffix}", null);

    /// <summary>errno-style text; exception messages are resource keys under NativeAOT, so they are not used.</summary>
    private static string Describe(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
        UnauthorizedAccessException => "Permission denied",
        PathTooLongException => "File name too long",
        IOException { HResult: > 0 and < 4096 } io => Marshal.GetPInvokeErrorMessage(io.HResult),
        ArgumentException => "the path is not valid",
        _ => e.GetType().Name,
    };

    private static string Where(ReadOnlySpan<byte> json, string? path, long offset)
    {
        if (offset < 0) return "";
        var (line, column) = LineColumn(json, (int)Math.Min(offset, json.Length));
        return $" at {path ?? "$"} (line {line}, column {column})";
    }

    /// <summary>1-based line and column; the column counts characters, not bytes.</summary>
    internal static (int Line, int Column) LineColumn(ReadOnlySpan<byte> json, int offset)
    {
        var before = json[..offset];
        int line = 1 + before.Count((byte)'\n');
        var current = before[(before.LastIndexOf((byte)'\n') + 1)..];
        int column = 1;
        foreach (byte b in current)
            if ((b & 0xC0) != 0x80) column++;
        return (line, column);
    }

    private static string UnknownKey(string key, string[] known)
    {
        string? near = Array.Find(known, k => k.Equals(key, StringComparison.OrdinalIgnoreCase));
        return near is null
            ? $"unknown key {PolicyText.Quote(key)}"
            : $"unknown key {PolicyText.Quote(key)} (keys are case-sensitive; did you mean \"{near}\"?)";
    }

    /// <summary>Carries an error out of the walk: what is wrong, its JSON path and byte offset (-1: none).</summary>
    private sealed class PolicyError(string what, string? path, long offset) : Exception(what)
    {
        public string? Path { get; } = path;
        public long Offset { get; } = offset;
    }

    private ref struct Walker(ReadOnlySpan<byte> json)
    {
        private readonly ReadOnlySpan<byte> _json = json;
        private Utf8JsonReader _r = new(json, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Disallow,
            AllowTrailingCommas = false,
        });

        public EffectivePolicy Run(string source)
        {
            if (_json.IndexOfAnyExcept(" \t\r\n"u8) < 0)
                throw new PolicyError("the file is empty (expected a JSON object)", null, -1);

            Next("$");
            if (_r.TokenType != JsonTokenType.StartObject)
                throw Error($"the policy must be a JSON object but found {Kind()}", "$");

            PolicyAction tmp = PolicyAction.Allow, child = PolicyAction.Allow, handler = PolicyAction.Allow, outbound = PolicyAction.Allow;
            bool tmpKernel = false, handlerKernel = false;
            var exceptions = new List<NetworkException>();
            Uri? endpoint = null;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (true)
            {
                Next("$");
                if (_r.TokenType == JsonTokenType.EndObject) break;
                string key = Text("$");
                string path = PolicyText.Member("$", key);
                long at = _r.TokenStartIndex;
                if (!seen.Add(key)) throw new PolicyError($"duplicate key {PolicyText.Quote(key)}", path, at);
                switch (key)
                {
                    case "read_write_tmp": Next(path); tmp = FileControl(key, path, out tmpKernel); break;
                    case "create_child_process": Next(path); child = Action(key, path, KernelAlways); break;
                    case "read_handler": Next(path); handler = FileControl(key, path, out handlerKernel); break;
                    case OutboundKey: Next(path); outbound = Outbound(path, exceptions); break;
                    case "api_endpoint": Next(path); endpoint = Endpoint(path); break;
                    default: throw new PolicyError(UnknownKey(key, TopKeys), path, at);
                }
            }

            // Only whitespace may follow the object; the reader throws on anything else.
            try
            {
                _r.Read();
            }
            catch (JsonException e)
            {
                throw new PolicyError("unexpected content after the policy object", "$", Offset(e));
            }
            return new EffectivePolicy(tmp, child, handler, outbound, exceptions, endpoint, PolicyOrigin.File, source,
                readWriteTmpKernel: tmpKernel, readHandlerKernel: handlerKernel);
        }

        private const string KernelAlways = "; its kernel backstop (seccomp) is always on in block mode, so it takes no \"kernel\" key";

        private PolicyAction Action(string key, string path, string? objectHint = null)
        {
            if (_r.TokenType != JsonTokenType.String)
                throw Error($"\"{key}\" must be an action string ({ExpectedActions}) but found {Kind()}" +
                            (_r.TokenType == JsonTokenType.StartObject ? objectHint : null), path);
            string text = Text(path);
            switch (text)
            {
                case "block": return PolicyAction.Block;
                case "alert" or "detect": return PolicyAction.Alert;
                case "allow": return PolicyAction.Allow;
            }
            bool caseOnly = text.ToLowerInvariant() is "block" or "alert" or "detect" or "allow";
            throw Error($"unknown action {PolicyText.Quote(text)} for \"{key}\" (expected {ExpectedActions}{(caseOnly ? "; actions are lower-case" : "")})", path);
        }

        /// <summary>read_write_tmp and read_handler: an action string, or {"action": …, "kernel": true|false}.</summary>
        private PolicyAction FileControl(string control, string path, out bool kernel) => Control(control, path, null, out kernel);

        /// <summary>outbound_connectivity: an action string, or {"action": …, "exceptions": […]}.</summary>
        private PolicyAction Outbound(string path, List<NetworkException> exceptions) => Control(OutboundKey, path, exceptions, out _);

        /// <summary>A control's action string or object form: "kernel" for the file controls, "exceptions" (into
        /// <paramref name="exceptions"/>) for outbound_connectivity.</summary>
        private PolicyAction Control(string control, string path, List<NetworkException>? exceptions, out bool kernel)
        {
            kernel = false;
            bool outbound = exceptions != null;
            if (_r.TokenType == JsonTokenType.String) return Action(control, path);
            if (_r.TokenType != JsonTokenType.StartObject)
                throw Error($"\"{control}\" must be an action string or an object with \"action\" and \"{(outbound ? "exceptions" : "kernel")}\" but found {Kind()}", path);

            long objectAt = _r.TokenStartIndex;
            PolicyAction? action = null;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (true)
            {
                Next(path);
                if (_r.TokenType == JsonTokenType.EndObject) break;
                string key = Text(path);
                string keyPath = PolicyText.Member(path, key);
                long at = _r.TokenStartIndex;
                if (!seen.Add(key)) throw new PolicyError($"duplicate key {PolicyText.Quote(key)}", keyPath, at);
                switch (key)
                {
                    case "action": Next(keyPath); action = Action(control, keyPath); break;
                    case "exceptions" when outbound: Next(keyPath); Exceptions(keyPath, exceptions!); break;
                    case "kernel" when outbound:
                        throw new PolicyError($"\"kernel\" is not available for \"{OutboundKey}\" (it has no kernel backstop)", keyPath, at);
                    case "kernel":
                        Next(keyPath);
                        if (_r.TokenType is not (JsonTokenType.True or JsonTokenType.False))
                            throw Error($"\"kernel\" must be true or false but found {Kind()}", keyPath);
                        kernel = _r.TokenType == JsonTokenType.True;
                        break;
                    default: throw new PolicyError(UnknownKey(key, outbound ? OutboundKeys : FileControlKeys), keyPath, at);
                }
            }
            return action ?? throw new PolicyError($"missing key \"action\" in the object form of \"{control}\"", path, objectAt);
        }

        private void Exceptions(string path, List<NetworkException> exceptions)
        {
            if (_r.TokenType != JsonTokenType.StartArray)
                throw Error($"\"exceptions\" must be an array of strings but found {Kind()}", path);
            for (int i = 0; ; i++)
            {
                string itemPath = $"{path}[{i}]";
                Next(itemPath);
                if (_r.TokenType == JsonTokenType.EndArray) return;
                if (_r.TokenType != JsonTokenType.String)
                    throw Error($"an exception must be a string but found {Kind()}", itemPath);
                string text = Text(itemPath);
                if (!NetworkException.TryParse(text, out var exception, out string? why))
                    throw Error($"malformed exception {PolicyText.Quote(text)} ({why})", itemPath);
                exceptions.Add(exception);
            }
        }

        private Uri? Endpoint(string path)
        {
            if (_r.TokenType == JsonTokenType.Null) return null;
            if (_r.TokenType != JsonTokenType.String)
                throw Error($"\"api_endpoint\" must be an http or https URL string but found {Kind()}", path);
            string text = Text(path);
            string? why = CheckUrl(text, out Uri? uri);
            if (why is not null) throw Error($"malformed URL {PolicyText.Quote(text)} for \"api_endpoint\" ({why})", path);
            return uri;
        }

        private static string? CheckUrl(string text, out Uri? uri)
        {
            uri = null;
            if (text.Length == 0) return "empty";
            foreach (char c in text)
                if (char.IsWhiteSpace(c) || char.IsControl(c)) return "contains whitespace or a control character";
            // System.Uri also takes "http:host" and file paths; require the plain scheme://host form.
            if (!text.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && !text.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
                return "expected an absolute http or https URL";
            if (!Uri.TryCreate(text, UriKind.Absolute, out uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                return "not a valid URL";
            return uri.Host.Length == 0 ? "no host" : null;
        }

        /// <summary>Advances to the next token, turning a syntax error into a positioned policy error.</summary>
        private void Next(string path)
        {
            bool more;
            try
            {
                more = _r.Read();
            }
            catch (JsonException e)
            {
                long offset = Offset(e);
                throw new PolicyError($"not valid JSON: {Unexpected((int)offset)}", path, offset);
            }
            if (!more) throw new PolicyError("not valid JSON: unexpected end of the file", path, _json.Length);
        }

        private string Text(string path)
        {
            try
            {
                return _r.GetString() ?? "";
            }
            catch (InvalidOperationException)
            {
                throw Error("not valid JSON: the text is not valid UTF-8", path);
            }
        }

        private PolicyError Error(string what, string path) => new(what, path, _r.TokenStartIndex);

        private string Kind() => _r.TokenType switch
        {
            JsonTokenType.String => "a string",
            JsonTokenType.Number => "a number",
            JsonTokenType.True or JsonTokenType.False => "a boolean",
            JsonTokenType.Null => "null",
            JsonTokenType.StartArray => "an array",
            JsonTokenType.StartObject => "an object",
            _ => "unexpected JSON",
        };

        /// <summary>The byte offset of a reader error, from its 0-based line and byte-in-line.</summary>
        private long Offset(JsonException e)
        {
            int offset = 0;
            for (long line = e.LineNumber ?? 0; line > 0; line--)
            {
                int newline = _json[offset..].IndexOf((byte)'\n');
                if (newline < 0) return _json.Length;
                offset += newline + 1;
            }
            return Math.Min(_json.Length, offset + (e.BytePositionInLine ?? 0));
        }

        private string Unexpected(int offset)
        {
            if (offset >= _json.Length) return "unexpected end of the file";
            byte b = _json[offset];
            if (b is >= 0x20 and < 0x7F) return $"unexpected character '{(char)b}'";
            if (b < 0x80) return $"unexpected control character 0x{b:X2}";
            return Rune.DecodeFromUtf8(_json[offset..], out Rune rune, out _) == System.Buffers.OperationStatus.Done
                ? $"unexpected character '{PolicyText.OneLine(rune.ToString())}'"
                : "the text is not valid UTF-8";
        }
    }
}
