using System;
using System.Collections.Generic;
using System.Net;
using IronFunction.Policy;
using Xunit;
using static IronFunction.Tests.Policy.PolicyTestSupport;

namespace IronFunction.Tests.Policy;

public class PolicyLoaderValidTests
{
    private static readonly string[] ActionKeys = ["read_write_tmp", "create_child_process", "read_handler", "outbound_connectivity"];

    private static PolicyAction Get(EffectivePolicy p, string key) => key switch
    {
        "read_write_tmp" => p.ReadWriteTmp,
        "create_child_process" => p.CreateChildProcess,
        "read_handler" => p.ReadHandler,
        _ => p.OutboundConnectivity,
    };

    [Fact]
    public void SpecExample()
    {
        var p = Valid("""
            {
              "outbound_connectivity": { "action": "block", "exceptions": ["aws", "yahoo.com", "37.130.156.31"] },
              "read_write_tmp": "block",
              "create_child_process": "block",
              "read_handler": "block",
              "api_endpoint": "https://events.example.com/iron"
            }
            """);
        Assert.Equal(PolicyAction.Block, p.ReadWriteTmp);
        Assert.Equal(PolicyAction.Block, p.CreateChildProcess);
        Assert.Equal(PolicyAction.Block, p.ReadHandler);
        Assert.Equal(PolicyAction.Block, p.OutboundConnectivity);
        Assert.Equal(new Uri("https://events.example.com/iron"), p.ApiEndpoint);
        Assert.Equal(
            [
                new NetworkException(NetworkExceptionKind.Aws, "aws", null, null, 0),
                new NetworkException(NetworkExceptionKind.Domain, "yahoo.com", "yahoo.com", null, 0),
                new NetworkException(NetworkExceptionKind.Address, "37.130.156.31", null, IPAddress.Parse("37.130.156.31"), 32),
            ],
            p.OutboundExceptions);
    }

    [Fact]
    public void EmptyObjectAllowsEverything()
    {
        var p = Valid("{}");
        foreach (var key in ActionKeys) Assert.Equal(PolicyAction.Allow, Get(p, key));
        Assert.Empty(p.OutboundExceptions);
        Assert.Null(p.ApiEndpoint);
    }

    public static TheoryData<string, string, PolicyAction> EveryKeyAndAction()
    {
        var data = new TheoryData<string, string, PolicyAction>();
        foreach (var key in ActionKeys)
        {
            data.Add(key, "block", PolicyAction.Block);
            data.Add(key, "alert", PolicyAction.Alert);
            data.Add(key, "detect", PolicyAction.Alert);
            data.Add(key, "allow", PolicyAction.Allow);
        }
        return data;
    }

    [Theory, MemberData(nameof(EveryKeyAndAction))]
    public void EachControlTakesEachAction_OthersStayAllow(string key, string action, PolicyAction expected)
    {
        var p = Valid($$"""{"{{key}}": "{{action}}"}""");
        foreach (var other in ActionKeys)
            Assert.Equal(other == key ? expected : PolicyAction.Allow, Get(p, other));
    }

    [Theory]
    [InlineData("block", PolicyAction.Block)]
    [InlineData("alert", PolicyAction.Alert)]
    [InlineData("detect", PolicyAction.Alert)]
    [InlineData("allow", PolicyAction.Allow)]
    public void OutboundObjectForm(string action, PolicyAction expected)
    {
        Assert.Equal(expected, Valid($$$"""{"outbound_connectivity": {"action": "{{{action}}}"}}""").OutboundConnectivity);
        var p = Valid($$$"""{"outbound_connectivity": {"exceptions": [], "action": "{{{action}}}"}}""");
        Assert.Equal(expected, p.OutboundConnectivity);
        Assert.Empty(p.OutboundExceptions);
    }

    [Fact]
    public void OutboundExceptionsOfEveryKindKeepTheirOrder()
    {
        var p = Valid("""
            {"outbound_connectivity": {"action": "alert", "exceptions":
              ["AWS", "WWW.Yahoo.COM.", "*.Example.org", "::1", "::ffff:10.1.2.3", "10.0.0.0/8", "2600:1f18::/32", "::ffff:192.168.0.0/112"]}}
            """);
        Assert.Equal(PolicyAction.Alert, p.OutboundConnectivity);
        Assert.Equal(
            [
                new NetworkException(NetworkExceptionKind.Aws, "AWS", null, null, 0),
                new NetworkException(NetworkExceptionKind.Domain, "WWW.Yahoo.COM.", "www.yahoo.com", null, 0),
                new NetworkException(NetworkExceptionKind.WildcardDomain, "*.Example.org", "example.org", null, 0),
                new NetworkException(NetworkExceptionKind.Address, "::1", null, IPAddress.IPv6Loopback, 128),
                new NetworkException(NetworkExceptionKind.Address, "::ffff:10.1.2.3", null, IPAddress.Parse("10.1.2.3"), 32),
                new NetworkException(NetworkExceptionKind.Cidr, "10.0.0.0/8", null, IPAddress.Parse("10.0.0.0"), 8),
                new NetworkException(NetworkExceptionKind.Cidr, "2600:1f18::/32", null, IPAddress.Parse("2600:1f18::"), 32),
                new NetworkException(NetworkExceptionKind.Cidr, "::ffff:192.168.0.0/112", null, IPAddress.Parse("192.168.0.0"), 16),
            ],
            p.OutboundExceptions);
    }

    [Theory]
    [InlineData("https://events.example.com/iron")]
    [InlineData("http://127.0.0.1:8080/events")]
    [InlineData("https://[::1]:8443/")]
    [InlineData("HTTPS://Events.Example.com")]
    [InlineData("http://user:pw@example.com/x?y=1")]
    public void ApiEndpointHttpAndHttps(string url)
    {
        var endpoint = Valid($$"""{"api_endpoint": "{{url}}"}""").ApiEndpoint;
        Assert.NotNull(endpoint);
        Assert.Equal(new Uri(url), endpoint);
        Assert.Contains(endpoint.Scheme, new[] { "http", "https" });
    }

    [Fact]
    public void ApiEndpointNullIsAbsent() => Assert.Null(Valid("""{"api_endpoint": null}""").ApiEndpoint);

    [Fact]
    public void ByteOrderMarkWhitespaceAndCrLfAreAccepted()
    {
        byte[] json = [0xEF, 0xBB, 0xBF, .. "\r\n\t{ \"read_handler\" :\r\n \"block\" }\r\n\r\n"u8];
        var result = PolicyLoader.Parse(json, Source);
        Assert.Null(result.Problem);
        Assert.Equal(PolicyAction.Block, result.Policy.ReadHandler);
    }

    [Fact]
    public void EscapedKeysAndValuesAreReadAsTheirText() =>
        Assert.Equal(PolicyAction.Block, Valid("""{"read\u005fhandler": "bl\u006fck"}""").ReadHandler);

    [Fact]
    public void ToStringIsOneLineInPolicyVocabulary()
    {
        var p = Valid("""{"outbound_connectivity": {"action": "block", "exceptions": ["aws", "a.com"]}, "api_endpoint": "https://e.example/x"}""");
        Assert.Equal(
            "origin=file source=/x/p.json read_write_tmp=allow create_child_process=allow read_handler=allow outbound_connectivity=block exceptions=[aws, a.com] api_endpoint=https://e.example/x",
            p.ToString());
    }

    [Fact]
    public void FactoriesAndConstructor()
    {
        var monitor = EffectivePolicy.Monitor();
        Assert.Equal(PolicyOrigin.Monitor, monitor.Origin);
        Assert.Null(monitor.SourcePath);
        foreach (var key in ActionKeys) Assert.Equal(PolicyAction.Alert, Get(monitor, key));

        var closed = EffectivePolicy.FailClosed("/p");
        Assert.Equal(PolicyOrigin.FailClosed, closed.Origin);
        Assert.Equal("/p", closed.SourcePath);
        foreach (var key in ActionKeys) Assert.Equal(PolicyAction.Block, Get(closed, key));

        // The policy keeps its own copy of the exceptions.
        var list = new List<NetworkException> { new(NetworkExceptionKind.Aws, "aws", null, null, 0) };
        var built = new EffectivePolicy(PolicyAction.Allow, PolicyAction.Alert, PolicyAction.Block, PolicyAction.Block, list);
        list.Clear();
        Assert.Single(built.OutboundExceptions);
        Assert.Equal(PolicyOrigin.File, built.Origin);
        Assert.Equal("block", PolicyAction.Block.Name());
        Assert.Equal("alert", PolicyAction.Alert.Name());
        Assert.Equal("allow", PolicyAction.Allow.Name());
    }
}
