using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using IronFunction.Policy;
using Xunit;
using static IronFunction.Tests.Policy.PolicyTestSupport;

namespace IronFunction.Tests.Policy;

/// <summary>Randomised checks: the loader never throws, and what it accepts is exactly what was written.</summary>
public class PolicyPropertyTests
{
    private const string Alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    private static readonly string[] Keys = ["read_write_tmp", "create_child_process", "read_handler", "outbound_connectivity"];

    // ---- generators -------------------------------------------------------------------------

    private static readonly Gen<string> Label = Gen.OneOf(
        Gen.Char[Alnum].Select(c => c.ToString()),
        Gen.Select(Gen.Char[Alnum], Gen.Char[Alnum + "-_"].Array[0, 61], Gen.Char[Alnum],
            (first, middle, last) => first + new string(middle) + last));

    // The last label starts with a letter: an all-numeric dotted name is read as an (invalid) IPv4 address.
    private static readonly Gen<string> TopLabel = Gen.Select(Gen.Char['a', 'z'], Gen.Char[Alnum].Array[0, 10],
        (first, rest) => first + new string(rest));

    private static readonly Gen<string> DomainName = Gen.Select(Label.Array[0, 3], TopLabel, Gen.Bool,
        (labels, top, trailingDot) => string.Join('.', [.. labels, top]) + (trailingDot ? "." : ""));

    private static readonly Gen<IPAddress> Address = Gen.OneOf(
        Gen.Byte.Array[4].Select(b => new IPAddress(b)),
        Gen.Frequency((3, Gen.Const((byte)0)), (2, Gen.Byte)).Array[16].Select(b => new IPAddress(b)),
        Gen.Byte.Array[4].Select(b => new IPAddress(b).MapToIPv6()));

    private static IPAddress Canonical(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    private static int Bits(IPAddress a) => a.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;

    private static string Name(string text) => (text.EndsWith('.') ? text[..^1] : text).ToLowerInvariant();

    /// <summary>A valid exception string and what it must parse to.</summary>
    private static readonly Gen<(string Text, NetworkException Expected)> ValidException = Gen.OneOf(
        Gen.OneOf("aws", "AWS", "Aws").Select(t => (t, new NetworkException(NetworkExceptionKind.Aws, t, null, null, 0))),
        // "aws" alone (any case, trailing dot or not) is the AWS keyword, not a domain
        DomainName.Where(d => !string.Equals(d.TrimEnd('.'), "aws", StringComparison.OrdinalIgnoreCase))
            .Select(d => (d, new NetworkException(NetworkExceptionKind.Domain, d, Name(d), null, 0))),
        DomainName.Select(d => ("*." + d, new NetworkException(NetworkExceptionKind.WildcardDomain, "*." + d, Name(d), null, 0))),
        Address.Select(a => (a.ToString(), new NetworkException(NetworkExceptionKind.Address, a.ToString(), null, Canonical(a), Bits(Canonical(a))))),
        Gen.Select(Address, Gen.Int[0, 128], (a, p) =>
        {
            int prefix = p % (Bits(a) + 1);
            var network = NetworkException.Network(a, prefix);
            string text = $"{network}/{prefix}";
            return network.IsIPv4MappedToIPv6 && prefix >= 96
                ? (text, new NetworkException(NetworkExceptionKind.Cidr, text, null, network.MapToIPv4(), prefix - 96))
                : (text, new NetworkException(NetworkExceptionKind.Cidr, text, null, network, prefix));
        }));

    private static readonly Gen<string?> Action = Gen.OneOf<string?>(null, "block", "alert", "detect", "allow");

    private sealed record PolicySpec(string?[] Actions, bool OutboundAsObject, (string Text, NetworkException Expected)[]? Exceptions, string? Endpoint, int Layout)
    {
        public override string ToString() => Json();

        public string Json()
        {
            var random = new Random(Layout);
            string Space() => random.GetItems([" ", "", "\n", "\t", "\r\n  "], 1)[0];
            var members = new List<string>();
            for (int i = 0; i < 3; i++)
                if (Actions[i] is { } a) members.Add($"\"{Keys[i]}\":{Space()}\"{a}\"");
            if (Actions[3] is { } outbound)
            {
                if (!OutboundAsObject) members.Add($"\"outbound_connectivity\": \"{outbound}\"");
                else
                {
                    var inner = new List<string> { $"\"action\":{Space()}\"{outbound}\"" };
                    if (Exceptions is not null)
                        inner.Add($"\"exceptions\": [{string.Join($",{Space()}", Exceptions.Select(e => $"\"{e.Text}\""))}]");
                    random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(inner));
                    members.Add($"\"outbound_connectivity\":{Space()}{{{string.Join(", ", inner)}}}");
                }
            }
            if (Endpoint is not null) members.Add($"\"api_endpoint\": {(Endpoint == "null" ? "null" : $"\"{Endpoint}\"")}");
            random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(members));
            return $"{Space()}{{{Space()}{string.Join($",{Space()}", members)}{Space()}}}{Space()}";
        }
    }

    private static readonly Gen<PolicySpec> ValidPolicy = Gen.Select(
        Action.Array[4], Gen.Bool, Gen.Bool, ValidException.Array[0, 6],
        Gen.OneOf<string?>(null, "null", "https://events.example.com/iron", "http://127.0.0.1:9000/e"), Gen.Int,
        (actions, asObject, withExceptions, exceptions, endpoint, layout) =>
            new PolicySpec(actions, asObject, withExceptions ? exceptions : null, endpoint, layout));

    private static readonly byte[][] Fragments =
    [
        .. new[]
        {
            "{", "}", "[", "]", ":", ",", " ", "\n", "\"", "\\", "\\u00", "null", "true", "1", "-0.5e3",
            "\"read_handler\"", "\"read_write_tmp\"", "\"create_child_process\"", "\"outbound_connectivity\"",
            "\"api_endpoint\"", "\"action\"", "\"exceptions\"", "\"block\"", "\"detect\"", "\"aws\"",
            "\"10.0.0.0/8\"", "\"*.a.com\"", "\"https://e.example\"", "\"é\"", "//", "/*", "\u2028",
        }.Select(Encoding.UTF8.GetBytes),
        [0xEF, 0xBB, 0xBF], [0xC3], [0xFF], [0x00],
    ];

    private static readonly Gen<byte[]> JsonIsh = Gen.OneOf(Gen.OneOf(Fragments), Gen.Byte.Array[1, 2]).Array[0, 40]
        .Select(parts => parts.SelectMany(p => p).ToArray());

    // ---- properties -------------------------------------------------------------------------

    private static void AssertWellFormed(byte[] json, PolicyLoadResult result)
    {
        if (result.Problem is null)
        {
            Assert.Equal(PolicyOrigin.File, result.Policy.Origin);
            Assert.Null(result.Warning);
            return;
        }
        FailClosed(result, Source);
        var where = Regex.Match(result.Problem, @"\(line (\d+), column (\d+)\); enforcing");
        if (where.Success)
        {
            int line = int.Parse(where.Groups[1].Value), column = int.Parse(where.Groups[2].Value);
            Assert.InRange(line, 1, json.Count(b => b == '\n') + 1);
            Assert.InRange(column, 1, json.Length + 1);
        }
    }

    [Fact]
    public void JsonIshBytesNeverThrow() =>
        JsonIsh.Sample(json => AssertWellFormed(json, PolicyLoader.Parse(json, Source)), iter: 5_000);

    [Fact]
    public void RandomBytesNeverThrow() =>
        Gen.Byte.Array[0, 64].Sample(json => AssertWellFormed(json, PolicyLoader.Parse(json, Source)), iter: 3_000);

    [Fact]
    public void MutatedValidPoliciesNeverThrow() =>
        Gen.Select(ValidPolicy, Gen.Int[0, int.MaxValue], Gen.Byte, Gen.Int[0, 2]).Sample((spec, at, value, how) =>
        {
            var bytes = Encoding.UTF8.GetBytes(spec.Json()).ToList();
            int i = at % (bytes.Count + 1);
            if (how == 0 || i == bytes.Count) bytes.Insert(i, value);
            else if (how == 1) bytes.RemoveAt(i);
            else bytes[i] = value;
            byte[] json = [.. bytes];
            AssertWellFormed(json, PolicyLoader.Parse(json, Source));
        }, iter: 4_000);

    [Fact]
    public void ValidPoliciesRoundTrip() =>
        ValidPolicy.Sample(spec =>
        {
            var p = Valid(spec.Json());
            PolicyAction Expected(int i) => spec.Actions[i] switch
            {
                null or "allow" => PolicyAction.Allow,
                "block" => PolicyAction.Block,
                _ => PolicyAction.Alert,
            };
            Assert.Equal(Expected(0), p.ReadWriteTmp);
            Assert.Equal(Expected(1), p.CreateChildProcess);
            Assert.Equal(Expected(2), p.ReadHandler);
            Assert.Equal(Expected(3), p.OutboundConnectivity);
            bool exceptionsWritten = spec.Actions[3] is not null && spec.OutboundAsObject && spec.Exceptions is not null;
            Assert.Equal(exceptionsWritten ? spec.Exceptions!.Select(e => e.Expected) : [], p.OutboundExceptions);
            Assert.Equal(spec.Endpoint is null or "null" ? null : new Uri(spec.Endpoint), p.ApiEndpoint);
        }, iter: 3_000);

    [Fact]
    public void ValidExceptionsAreAccepted() =>
        ValidException.Sample(v =>
        {
            Assert.True(NetworkException.TryParse(v.Text, out var e, out var error), error);
            Assert.Equal(v.Expected, e);
        }, iter: 10_000);

    [Fact]
    public void JunkInsideDomainsIsRejected() =>
        Gen.Select(DomainName, Gen.Char[" /:@!#?%\",;=[]\\\t"], Gen.Int[0, int.MaxValue]).Sample((domain, junk, at) =>
        {
            string text = domain.Insert(at % (domain.Length + 1), junk.ToString());
            Assert.False(NetworkException.TryParse(text, out _, out _), text);
            Assert.False(NetworkException.TryParse("*." + text, out _, out _), text);
        }, iter: 4_000);

    [Fact]
    public void WhateverIsAcceptedIsCanonical() =>
        Gen.Char["ab09.:/*-_Ff x"].Array[0, 24].Select(c => new string(c)).Sample(text =>
        {
            if (!NetworkException.TryParse(text, out var e, out var error))
            {
                Assert.False(string.IsNullOrEmpty(error));
                return;
            }
            Assert.Equal(text, e.Text);
            switch (e.Kind)
            {
                case NetworkExceptionKind.Domain or NetworkExceptionKind.WildcardDomain:
                    Assert.NotNull(e.Domain);
                    Assert.Equal(e.Domain.ToLowerInvariant(), e.Domain);
                    Assert.False(e.Domain.EndsWith('.') || e.Domain.StartsWith('.') || e.Domain.Contains(".."));
                    Assert.DoesNotContain('*', e.Domain);
                    Assert.Null(e.Address);
                    break;
                case NetworkExceptionKind.Address:
                    Assert.NotNull(e.Address);
                    Assert.False(e.Address.IsIPv4MappedToIPv6);
                    Assert.Equal(Bits(e.Address), e.PrefixLength);
                    break;
                case NetworkExceptionKind.Cidr:
                    Assert.NotNull(e.Address);
                    Assert.InRange(e.PrefixLength, 0, Bits(e.Address));
                    Assert.Equal(e.Address, NetworkException.Network(e.Address, e.PrefixLength));
                    break;
            }
        }, iter: 5_000);
}
