namespace IronFunction.Tests.EndToEnd;

/// <summary>
/// arm64 ignores a pointer's top byte (a tag) on loads, and after prctl(PR_SET_TAGGED_ADDR_CTRL) the kernel ignores
/// it in system calls too: a tagged path is a valid path. The library must judge it, not take it for a pointer the
/// kernel refuses (above x86_64's 2^47) and pass it on unjudged (Native/Arch.cs, glue.h). arm64 only.
/// </summary>
[Trait("Architecture", "arm64")]
public class TaggedPointerTests
{
    private const string Source = """
        #include <errno.h>
        #include <fcntl.h>
        #include <stdint.h>
        #include <stdio.h>
        #include <sys/prctl.h>
        #include <unistd.h>
        #ifndef PR_SET_TAGGED_ADDR_CTRL
        #define PR_SET_TAGGED_ADDR_CTRL 55
        #define PR_TAGGED_ADDR_ENABLE 1
        #endif
        int main(int argc, char **argv)
        {
            int abi = prctl(PR_SET_TAGGED_ADDR_CTRL, PR_TAGGED_ADDR_ENABLE, 0, 0, 0);
            char *tagged = (char *)((uintptr_t)argv[1] | (0x5AULL << 56));
            errno = 0;
            int fd = open(tagged, O_WRONLY | O_CREAT, 0600);
            printf("abi=%d result=%d errno=%d\n", abi, fd < 0 ? -1 : 0, fd < 0 ? errno : 0);
            return 0;
        }
        """;

    [OnlyUnderQemuFact]
    public void A_tagged_path_is_judged_like_any_other()
    {
        var probe = CProbe.Compile("tagged_pointer_probe", Source);
        using var box = new Sandbox();
        var blocked = Path.Combine(box.TmpDir, "blocked");
        var allowed = Path.Combine(box.TmpDir, "allowed");

        var block = Preloaded.Run(probe, [blocked], box.Policy("""{"read_write_tmp":"block"}"""));
        Assert.Equal("abi=0 result=-1 errno=13\n", block.Stdout);
        Assert.False(File.Exists(blocked), block.ToString());
        Assert.Equal(blocked, Assert.Single(block.Events).Str("what"));

        var allow = Preloaded.Run(probe, [allowed], box.Policy("""{"read_write_tmp":"allow"}"""));
        Assert.Equal("abi=0 result=0 errno=0\n", allow.Stdout);
        Assert.True(File.Exists(allowed), allow.ToString());
    }
}
