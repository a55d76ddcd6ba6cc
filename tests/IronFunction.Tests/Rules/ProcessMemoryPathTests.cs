using System.Text;
using IronFunction.Rules;

namespace IronFunction.Tests.Rules;

public class ProcessMemoryPathTests
{
    [Theory]
    [InlineData("/proc/self/mem", true)]
    [InlineData("/proc/thread-self/mem", true)]
    [InlineData("/proc/1234/mem", true)]
    [InlineData("/proc/1234/task/1240/mem", true)]
    [InlineData("/proc/self/task/1240/mem", true)]
    [InlineData("/proc/self/task/self/mem", false)]
    [InlineData("/proc/self/maps", false)]
    [InlineData("/proc/self/memory", false)]
    [InlineData("/proc/12a/mem", false)]
    [InlineData("/proc/mem", false)]
    [InlineData("/proc//mem", false)]
    [InlineData("/tmp/proc/self/mem", false)]
    [InlineData("/proc/self/mem/x", false)]
    public void Matches_only_a_process_s_memory_file(string path, bool expected) =>
        Assert.Equal(expected, ProcessMemoryPath.Matches(Encoding.UTF8.GetBytes(path)));
}
