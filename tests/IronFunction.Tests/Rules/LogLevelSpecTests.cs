using System.Collections.Generic;
using CsCheck;
using IronFunction.Rules;
using Microsoft.Extensions.Logging;
using Xunit;

namespace IronFunction.Tests.Rules;

public class LogLevelSpecTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(",,")]
    public void UnsetIsWarn(string? value)
    {
        var spec = LogLevelSpec.Parse(value);
        Assert.Equal(LogLevel.Warning, spec.Default);
        Assert.Empty(spec.Areas);
        Assert.Equal(LogLevel.Warning, spec.For("network"));
        Assert.Equal(LogLevel.Warning, spec.Lowest);
    }

    [Theory]
    [InlineData("trace", LogLevel.Trace)]
    [InlineData("debug", LogLevel.Debug)]
    [InlineData("info", LogLevel.Information)]
    [InlineData("warn", LogLevel.Warning)]
    [InlineData("warning", LogLevel.Warning)]
    [InlineData("error", LogLevel.Error)]
    [InlineData("off", LogLevel.None)]
    [InlineData("DEBUG", LogLevel.Debug)]
    [InlineData(" Info ", LogLevel.Information)]
    public void GlobalLevel(string value, LogLevel level)
    {
        var spec = LogLevelSpec.Parse(value);
        Assert.Equal(level, spec.Default);
        Assert.Empty(spec.Areas);
        Assert.Equal(level, spec.For("files"));
        Assert.Equal(level, spec.Lowest);
    }

    [Fact]
    public void PerArea()
    {
        var spec = LogLevelSpec.Parse("network=debug,files=info");
        Assert.Equal(LogLevel.Warning, spec.Default);
        Assert.Equal(LogLevel.Debug, spec.For("network"));
        Assert.Equal(LogLevel.Information, spec.For("files"));
        Assert.Equal(LogLevel.Warning, spec.For("process"));
        Assert.Equal(LogLevel.Debug, spec.Lowest);
        Assert.Equal(new Dictionary<string, LogLevel> { ["network"] = LogLevel.Debug, ["files"] = LogLevel.Information }, spec.Areas);
        Assert.True(spec.IsEnabled("network", LogLevel.Debug));
        Assert.False(spec.IsEnabled("network", LogLevel.Trace));
        Assert.False(spec.IsEnabled("process", LogLevel.Information));
        Assert.False(spec.IsEnabled("process", LogLevel.None));
    }

    [Fact]
    public void GlobalPlusOverrides()
    {
        var spec = LogLevelSpec.Parse("warn,files=trace");
        Assert.Equal(LogLevel.Warning, spec.Default);
        Assert.Equal(LogLevel.Trace, spec.For("files"));
        Assert.Equal(LogLevel.Warning, spec.For("network"));
        Assert.Equal(LogLevel.Trace, spec.Lowest);
    }

    [Fact]
    public void OffEverywhereButOneArea()
    {
        var spec = LogLevelSpec.Parse("off, policy = error");
        Assert.Equal(LogLevel.None, spec.Default);
        Assert.Equal(LogLevel.Error, spec.For("policy"));
        Assert.Equal(LogLevel.Error, spec.Lowest);
        Assert.Equal(LogLevel.None, LogLevelSpec.Parse("off").Lowest);
    }

    [Fact]
    public void LaterEntriesWinAndAreasIgnoreCase()
    {
        var spec = LogLevelSpec.Parse("debug,info,Network=trace,network=error");
        Assert.Equal(LogLevel.Information, spec.Default);
        Assert.Equal(LogLevel.Error, spec.For("network"));
        Assert.Equal(LogLevel.Error, spec.For("NETWORK"));
        Assert.Equal(["network"], spec.Areas.Keys);
    }

    [Fact]
    public void BareAreaMeansTraceAsInRustLog()
    {
        var spec = LogLevelSpec.Parse("lifecycle");
        Assert.Equal(LogLevel.Warning, spec.Default);
        Assert.Equal(LogLevel.Trace, spec.For("lifecycle"));
    }

    [Theory]
    [InlineData("verbose=1")]
    [InlineData("network=loud")]
    [InlineData("=debug")]
    [InlineData("network=")]
    [InlineData("net work=debug")]
    [InlineData("9net=debug")]
    [InlineData("files=debug=x")]
    [InlineData("files:debug")]
    [InlineData("???")]
    public void JunkEntriesAreIgnored(string junk)
    {
        var spec = LogLevelSpec.Parse(junk + ",events=info");
        Assert.Equal(LogLevel.Warning, spec.Default);
        Assert.Equal(LogLevel.Information, spec.For("events"));
        Assert.Equal(["events"], spec.Areas.Keys);
    }

    [Fact]
    public void RandomTextNeverThrowsAndLowestIsTheMinimum() =>
        Gen.Char["abdefgilnorstwx=, _9"].Array[0, 40].Select(c => new string(c)).Sample(text =>
        {
            var spec = LogLevelSpec.Parse(text);
            var lowest = spec.Default;
            foreach (var (area, level) in spec.Areas)
            {
                Assert.Equal(level, spec.For(area));
                if (level < lowest) lowest = level;
            }
            Assert.Equal(lowest, spec.Lowest);
        }, iter: 2_000);
}
