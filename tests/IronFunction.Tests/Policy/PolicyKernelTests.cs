using IronFunction.Policy;
using Xunit;
using static IronFunction.Tests.Policy.PolicyTestSupport;

namespace IronFunction.Tests.Policy;

/// <summary>The object form {"action", "kernel"} of read_write_tmp and read_handler, beside the string form.</summary>
public class PolicyKernelTests
{
    [Fact]
    public void KernelOnBothFileControls()
    {
        var p = Valid("""{"read_write_tmp": {"action": "block", "kernel": true}, "read_handler": {"kernel": true, "action": "block"}}""");
        Assert.Equal(PolicyAction.Block, p.ReadWriteTmp);
        Assert.True(p.ReadWriteTmpKernel);
        Assert.Equal(PolicyAction.Block, p.ReadHandler);
        Assert.True(p.ReadHandlerKernel);
        Assert.Contains("read_write_tmp=block+kernel", p.ToString());
        Assert.Contains("read_handler=block+kernel", p.ToString());
    }

    [Theory]
    [InlineData("""{"read_write_tmp": "block"}""")]
    [InlineData("""{"read_write_tmp": {"action": "block"}}""")]
    [InlineData("""{"read_write_tmp": {"action": "block", "kernel": false}}""")]
    public void KernelDefaultsToOff(string json)
    {
        var p = Valid(json);
        Assert.Equal(PolicyAction.Block, p.ReadWriteTmp);
        Assert.False(p.ReadWriteTmpKernel);
        Assert.False(p.ReadHandlerKernel);
    }

    [Fact]
    public void ObjectFormTakesEveryAction()
    {
        var p = Valid("""{"read_write_tmp": {"action": "detect"}, "read_handler": {"action": "allow"}}""");
        Assert.Equal(PolicyAction.Alert, p.ReadWriteTmp);
        Assert.Equal(PolicyAction.Allow, p.ReadHandler);
    }

    [Theory]
    [InlineData("""{"read_write_tmp": {"action": "alert", "kernel": true}}""", "\"kernel\": true applies in block mode only; ignored for read_write_tmp (alert)")]
    [InlineData("""{"read_write_tmp": {"action": "allow", "kernel": true}, "read_handler": {"action": "detect", "kernel": true}}""",
        "\"kernel\": true applies in block mode only; ignored for read_write_tmp (allow) and read_handler (alert)")]
    public void KernelOutsideBlockIsAWarningNotAnError(string json, string warning)
    {
        var result = Parse(json);
        Assert.Null(result.Problem);
        Assert.Equal(PolicyOrigin.File, result.Policy.Origin);
        Assert.Equal(warning, result.Warning);
        Assert.NotEqual(PolicyAction.Block, result.Policy.ReadWriteTmp);
    }

    [Theory]
    [InlineData("""{"read_write_tmp": {"action": "block", "kernal": true}}""",
        "unknown key \"kernal\" at $.read_write_tmp.kernal (line 1, column 40)")]
    [InlineData("""{"read_write_tmp": {"action": "block", "Kernel": true}}""",
        "unknown key \"Kernel\" (keys are case-sensitive; did you mean \"kernel\"?) at $.read_write_tmp.Kernel (line 1, column 40)")]
    [InlineData("""{"read_handler": {"action": "block", "kernel": "yes"}}""",
        "\"kernel\" must be true or false but found a string at $.read_handler.kernel (line 1, column 48)")]
    [InlineData("""{"read_handler": {"kernel": true}}""",
        "missing key \"action\" in the object form of \"read_handler\" at $.read_handler (line 1, column 18)")]
    [InlineData("""{"read_handler": {"action": "block", "action": "allow"}}""",
        "duplicate key \"action\" at $.read_handler.action (line 1, column 38)")]
    [InlineData("""{"read_write_tmp": {"action": "blok"}}""",
        "unknown action \"blok\" for \"read_write_tmp\" (expected block, alert, allow or detect) at $.read_write_tmp.action (line 1, column 31)")]
    [InlineData("""{"read_write_tmp": true}""",
        "\"read_write_tmp\" must be an action string or an object with \"action\" and \"kernel\" but found a boolean at $.read_write_tmp (line 1, column 20)")]
    [InlineData("""{"create_child_process": {"action": "block", "kernel": true}}""",
        "\"create_child_process\" must be an action string (block, alert, allow or detect) but found an object; its kernel backstop (seccomp) is always on in block mode, so it takes no \"kernel\" key at $.create_child_process (line 1, column 26)")]
    [InlineData("""{"outbound_connectivity": {"action": "block", "kernel": true}}""",
        "\"kernel\" is not available for \"outbound_connectivity\" (it has no kernel backstop) at $.outbound_connectivity.kernel (line 1, column 47)")]
    public void BadForms(string json, string expected) => Assert.Equal(expected, Error(json));
}
