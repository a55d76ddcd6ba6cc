using System;
using System.Text;
using IronFunction.Policy;
using Xunit;
using static IronFunction.Tests.Policy.PolicyTestSupport;

namespace IronFunction.Tests.Policy;

/// <summary>Every class of policy error: fail closed, with one line naming what is wrong and where.</summary>
public class PolicyLoaderErrorTests
{
    [Fact]
    public void BriefExamplesVerbatim()
    {
        Assert.Equal(
            "policy error in /var/task/policy.json: unknown key \"read_write_temp\" at $.read_write_temp (line 3, column 5); enforcing block on all four controls",
            PolicyLoader.Parse("{\n  \"read_handler\": \"block\",\n    \"read_write_temp\": \"block\"\n}"u8, "/var/task/policy.json").Problem);
        Assert.Equal(
            "policy error in /x/p.json: unknown action \"blok\" for \"create_child_process\" (expected block, alert, allow or detect) at $.create_child_process (line 2, column 27); enforcing block on all four controls",
            Parse("{\n  \"create_child_process\": \"blok\"\n}").Problem);
    }

    [Theory]
    [InlineData("{", "not valid JSON: unexpected end of the file at $ (line 1, column 2)")]
    [InlineData("{\"read_handler\": blok}", "not valid JSON: unexpected character 'b' at $.read_handler (line 1, column 18)")]
    [InlineData("nope", "not valid JSON: unexpected character 'o' at $ (line 1, column 2)")]
    [InlineData("{\"read_handler\" \"block\"}", "not valid JSON: unexpected character '\"' at $ (line 1, column 17)")]
    [InlineData("{\"read_handler\": \"block\",}", "not valid JSON: unexpected character '}' at $ (line 1, column 26)")]
    [InlineData("{\n  // comment\n}", "not valid JSON: unexpected character '/' at $ (line 2, column 3)")]
    [InlineData("{'read_handler': 'block'}", "not valid JSON: unexpected character ''' at $ (line 1, column 2)")]
    [InlineData("{\"read_handler\": \"block", "not valid JSON: unexpected end of the file at $.read_handler (line 1, column 24)")]
    [InlineData("{\"read_handler\": \"bl\tock\"}", "not valid JSON: unexpected control character 0x09 at $.read_handler (line 1, column 21)")]
    [InlineData("{\"outbound_connectivity\": {\"exceptions\": [\"aws\" \"x\"]}}", "not valid JSON: unexpected character '\"' at $.outbound_connectivity.exceptions[1] (line 1, column 49)")]
    [InlineData("{\"read_handler\": \"block\"} {}", "unexpected content after the policy object at $ (line 1, column 27)")]
    [InlineData("{}x", "unexpected content after the policy object at $ (line 1, column 3)")]
    [InlineData("{}\n\n  ]", "unexpected content after the policy object at $ (line 3, column 3)")]
    public void NotValidJson(string json, string expected) => Assert.Equal(expected, Error(json));

    [Fact]
    public void ColumnsCountCharactersNotBytes() =>
        Assert.Equal("\"read_handler\" must be an action string or an object with \"action\" and \"kernel\" but found a number at $.read_handler (line 1, column 60)",
            Error("{\"api_endpoint\": \"https://a.example/ключ\", \"read_handler\": 1}"));

    [Fact]
    public void InvalidUtf8IsAPolicyError()
    {
        byte[] json = [.. "{\"read_handler\": \""u8, 0xC3, 0x28, .. "\"}"u8];
        string what = FailClosed(PolicyLoader.Parse(json, Source), Source);
        Assert.Contains("not valid UTF-8", what);
        Assert.Contains("(line 1, column ", what);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n\t\r\n")]
    [InlineData("\uFEFF")]
    public void EmptyFile(string json) => Assert.Equal("the file is empty (expected a JSON object)", Error(json));

    [Theory]
    [InlineData("[]", "an array")]
    [InlineData("\"block\"", "a string")]
    [InlineData("42", "a number")]
    [InlineData("true", "a boolean")]
    [InlineData("null", "null")]
    public void TopLevelNotAnObject(string json, string kind) =>
        Assert.Equal($"the policy must be a JSON object but found {kind} at $ (line 1, column 1)", Error(json));

    [Theory]
    [InlineData("{\"read_write_temp\": \"block\"}", "unknown key \"read_write_temp\" at $.read_write_temp (line 1, column 2)")]
    [InlineData("{\"Read_Handler\": \"block\"}", "unknown key \"Read_Handler\" (keys are case-sensitive; did you mean \"read_handler\"?) at $.Read_Handler (line 1, column 2)")]
    [InlineData("{\"API_ENDPOINT\": null}", "unknown key \"API_ENDPOINT\" (keys are case-sensitive; did you mean \"api_endpoint\"?) at $.API_ENDPOINT (line 1, column 2)")]
    [InlineData("{\"read handler\": 1}", "unknown key \"read handler\" at $['read handler'] (line 1, column 2)")]
    [InlineData("{\"a\\nb\": 1}", "unknown key \"a\\nb\" at $['a\\nb'] (line 1, column 2)")]
    [InlineData("{\"\": 1}", "unknown key \"\" at $[''] (line 1, column 2)")]
    [InlineData("{\"outbound_connectivity\": {\"action\": \"block\", \"except\": []}}", "unknown key \"except\" at $.outbound_connectivity.except (line 1, column 47)")]
    [InlineData("{\"outbound_connectivity\": {\"Action\": \"block\"}}", "unknown key \"Action\" (keys are case-sensitive; did you mean \"action\"?) at $.outbound_connectivity.Action (line 1, column 28)")]
    public void UnknownKey(string json, string expected) => Assert.Equal(expected, Error(json));

    [Theory]
    [InlineData("{\"read_handler\": \"block\", \"read_handler\": \"block\"}", "duplicate key \"read_handler\" at $.read_handler (line 1, column 27)")]
    [InlineData("{\"api_endpoint\": null,\n \"api_endpoint\": \"https://a.example\"}", "duplicate key \"api_endpoint\" at $.api_endpoint (line 2, column 2)")]
    [InlineData("{\"read\\u005fhandler\": \"allow\", \"read_handler\": \"block\"}", "duplicate key \"read_handler\" at $.read_handler (line 1, column 32)")]
    [InlineData("{\"outbound_connectivity\": {\"action\": \"block\", \"action\": \"allow\"}}", "duplicate key \"action\" at $.outbound_connectivity.action (line 1, column 47)")]
    [InlineData("{\"outbound_connectivity\": {\"action\": \"block\", \"exceptions\": [], \"exceptions\": []}}", "duplicate key \"exceptions\" at $.outbound_connectivity.exceptions (line 1, column 65)")]
    public void DuplicateKey(string json, string expected) => Assert.Equal(expected, Error(json));

    [Theory]
    [InlineData("read_write_tmp", "2", "a number")]
    [InlineData("create_child_process", "true", "a boolean")]
    [InlineData("read_handler", "[\"block\"]", "an array")]
    [InlineData("read_write_tmp", "null", "null")]
    public void ActionOfWrongType(string key, string value, string kind) =>
        Assert.Equal(key == "create_child_process"
                ? $"\"{key}\" must be an action string (block, alert, allow or detect) but found {kind} at $.{key} (line 1, column {key.Length + 6})"
                : $"\"{key}\" must be an action string or an object with \"action\" and \"kernel\" but found {kind} at $.{key} (line 1, column {key.Length + 6})",
            Error($"{{\"{key}\": {value}}}"));

    [Theory]
    [InlineData("{\"outbound_connectivity\": 1}", "\"outbound_connectivity\" must be an action string or an object with \"action\" and \"exceptions\" but found a number at $.outbound_connectivity (line 1, column 27)")]
    [InlineData("{\"outbound_connectivity\": [\"block\"]}", "\"outbound_connectivity\" must be an action string or an object with \"action\" and \"exceptions\" but found an array at $.outbound_connectivity (line 1, column 27)")]
    [InlineData("{\"outbound_connectivity\": null}", "\"outbound_connectivity\" must be an action string or an object with \"action\" and \"exceptions\" but found null at $.outbound_connectivity (line 1, column 27)")]
    [InlineData("{\"outbound_connectivity\": {\"action\": false}}", "\"outbound_connectivity\" must be an action string (block, alert, allow or detect) but found a boolean at $.outbound_connectivity.action (line 1, column 38)")]
    [InlineData("{\"outbound_connectivity\": {\"action\": \"block\", \"exceptions\": \"aws\"}}", "\"exceptions\" must be an array of strings but found a string at $.outbound_connectivity.exceptions (line 1, column 61)")]
    [InlineData("{\"outbound_connectivity\": {\"action\": \"block\", \"exceptions\": null}}", "\"exceptions\" must be an array of strings but found null at $.outbound_connectivity.exceptions (line 1, column 61)")]
    [InlineData("{\"outbound_connectivity\": {\"action\": \"block\", \"exceptions\": {\"0\": \"aws\"}}}", "\"exceptions\" must be an array of strings but found an object at $.outbound_connectivity.exceptions (line 1, column 61)")]
    [InlineData("{\"outbound_connectivity\": {\"action\": \"block\", \"exceptions\": [\"aws\", 10]}}", "an exception must be a string but found a number at $.outbound_connectivity.exceptions[1] (line 1, column 69)")]
    [InlineData("{\"outbound_connectivity\": {\"action\": \"block\", \"exceptions\": [[\"aws\"]]}}", "an exception must be a string but found an array at $.outbound_connectivity.exceptions[0] (line 1, column 62)")]
    [InlineData("{\"outbound_connectivity\": {\"action\": \"block\", \"exceptions\": [null]}}", "an exception must be a string but found null at $.outbound_connectivity.exceptions[0] (line 1, column 62)")]
    [InlineData("{\"api_endpoint\": 443}", "\"api_endpoint\" must be an http or https URL string but found a number at $.api_endpoint (line 1, column 18)")]
    [InlineData("{\"api_endpoint\": {\"url\": \"https://a.example\"}}", "\"api_endpoint\" must be an http or https URL string but found an object at $.api_endpoint (line 1, column 18)")]
    public void WrongType(string json, string expected) => Assert.Equal(expected, Error(json));

    [Theory]
    [InlineData("blok", "")]
    [InlineData("", "")]
    [InlineData("deny", "")]
    [InlineData(" block", "")]
    [InlineData("Block", "; actions are lower-case")]
    [InlineData("ALERT", "; actions are lower-case")]
    [InlineData("Detect", "; actions are lower-case")]
    public void UnknownAction(string action, string hint)
    {
        Assert.Equal($"unknown action \"{action}\" for \"read_handler\" (expected block, alert, allow or detect{hint}) at $.read_handler (line 1, column 18)",
            Error($"{{\"read_handler\": \"{action}\"}}"));
        Assert.Equal($"unknown action \"{action}\" for \"outbound_connectivity\" (expected block, alert, allow or detect{hint}) at $.outbound_connectivity.action (line 1, column 38)",
            Error($"{{\"outbound_connectivity\": {{\"action\": \"{action}\"}}}}"));
    }

    [Fact]
    public void LongValuesAreCutAndControlCharactersEscaped()
    {
        string what = Error($"{{\"read_handler\": \"{new string('x', 200)}\\n\\u2028\"}}");
        Assert.StartsWith($"unknown action \"{new string('x', 80)}…\" for \"read_handler\"", what);
        Assert.Equal("unknown action \"a\\nb\\u2028\\\"\" for \"read_handler\" (expected block, alert, allow or detect) at $.read_handler (line 1, column 18)",
            Error("{\"read_handler\": \"a\\nb\\u2028\\\"\"}"));
    }

    [Theory]
    [InlineData("{\"outbound_connectivity\": {}}", "missing key \"action\" in the object form of \"outbound_connectivity\" at $.outbound_connectivity (line 1, column 27)")]
    [InlineData("{\n\"outbound_connectivity\":\n  {\"exceptions\": [\"aws\"]}}", "missing key \"action\" in the object form of \"outbound_connectivity\" at $.outbound_connectivity (line 3, column 3)")]
    public void OutboundObjectWithoutAction(string json, string expected) => Assert.Equal(expected, Error(json));

    [Theory]
    [InlineData("", "empty")]
    [InlineData(" ", "contains whitespace or a control character")]
    [InlineData("yah oo.com", "contains whitespace or a control character")]
    [InlineData("http://yahoo.com", "a URL is not allowed; give the host name only")]
    [InlineData("yahoo.com:443", "a port is not allowed; give the host name only")]
    [InlineData("*", "a * is only allowed as the whole first label, as in *.example.com")]
    [InlineData("*.", "empty name")]
    [InlineData("a..b", "empty label (two dots in a row, or a leading dot)")]
    [InlineData("*.*.com", "a * is only allowed as the whole first label, as in *.example.com")]
    [InlineData("10.0.0.0/33", "prefix length 33 is larger than 32")]
    [InlineData("10.1.0.0/8", "host bits are set; did you mean 10.0.0.0/8?")]
    [InlineData("1.2.3", "not a valid IPv4 address (expected four numbers 0-255 without leading zeros)")]
    [InlineData("user@example.com", "character '@' is not allowed in a domain name")]
    public void MalformedException(string exception, string reason)
    {
        string json = $"{{\"outbound_connectivity\": {{\"action\": \"block\", \"exceptions\": [\"aws\", \"{exception}\"]}}}}";
        Assert.Equal($"malformed exception \"{exception}\" ({reason}) at $.outbound_connectivity.exceptions[1] (line 1, column 69)", Error(json));
    }

    [Theory]
    [InlineData("ftp://events.example.com", "expected an absolute http or https URL")]
    [InlineData("events.example.com/iron", "expected an absolute http or https URL")]
    [InlineData("/var/task/events", "expected an absolute http or https URL")]
    [InlineData("http:events.example.com", "expected an absolute http or https URL")]
    [InlineData("https://", "not a valid URL")]
    [InlineData("https://exa mple.com", "contains whitespace or a control character")]
    [InlineData("https://a.example:99999/", "not a valid URL")]
    [InlineData("", "empty")]
    public void MalformedUrl(string url, string reason) =>
        Assert.Equal($"malformed URL \"{url}\" for \"api_endpoint\" ({reason}) at $.api_endpoint (line 1, column 18)",
            Error($"{{\"api_endpoint\": \"{url}\"}}"));

    [Fact]
    public void FirstErrorInDocumentOrderIsReported() =>
        Assert.Equal("unknown action \"nope\" for \"read_write_tmp\" (expected block, alert, allow or detect) at $.read_write_tmp (line 1, column 20)",
            Error("{\"read_write_tmp\": \"nope\", \"bogus\": 1, \"read_handler\": [}"));

    [Fact]
    public void SourceNameIsKeptOnOneLine()
    {
        var result = PolicyLoader.Parse("[]"u8, "/tmp/evil\nname.json");
        Assert.Equal("policy error in /tmp/evil\\nname.json: the policy must be a JSON object but found an array at $ (line 1, column 1); enforcing block on all four controls", result.Problem);
        Assert.Equal("/tmp/evil\nname.json", result.Policy.SourcePath);
    }
}
