using System;
using System.Text;
using IronFunction.Policy;
using Xunit;

namespace IronFunction.Tests.Policy;

internal static class PolicyTestSupport
{
    public const string Source = "/x/p.json";
    public const string Suffix = "; enforcing block on all four controls";

    public static PolicyLoadResult Parse(string json) => PolicyLoader.Parse(Encoding.UTF8.GetBytes(json), Source);

    public static EffectivePolicy Valid(string json)
    {
        var result = Parse(json);
        Assert.Null(result.Problem);
        Assert.Null(result.Warning);
        Assert.Equal(PolicyOrigin.File, result.Policy.Origin);
        Assert.Equal(Source, result.Policy.SourcePath);
        return result.Policy;
    }

    /// <summary>Asserts fail-closed and returns the Problem's middle: what is wrong and where.</summary>
    public static string Error(string json) => FailClosed(Parse(json), Source);

    public static string FailClosed(PolicyLoadResult result, string source)
    {
        var p = result.Policy;
        Assert.Equal(PolicyOrigin.FailClosed, p.Origin);
        Assert.Equal(source, p.SourcePath);
        Assert.Equal(PolicyAction.Block, p.ReadWriteTmp);
        Assert.Equal(PolicyAction.Block, p.CreateChildProcess);
        Assert.Equal(PolicyAction.Block, p.ReadHandler);
        Assert.Equal(PolicyAction.Block, p.OutboundConnectivity);
        Assert.Empty(p.OutboundExceptions);
        Assert.Null(p.ApiEndpoint);
        Assert.Null(result.Warning);
        Assert.NotNull(result.Problem);
        Assert.DoesNotContain('\n', result.Problem);
        Assert.DoesNotContain('\r', result.Problem);
        string prefix = $"policy error in {source}: ";
        Assert.StartsWith(prefix, result.Problem);
        Assert.EndsWith(Suffix, result.Problem);
        return result.Problem[prefix.Length..^Suffix.Length];
    }
}
