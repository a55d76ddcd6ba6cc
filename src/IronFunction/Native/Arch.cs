namespace IronFunction.Native;

/// <summary>
/// What differs between x86_64 and arm64 for the managed side: the open flags that asm-generic numbers
/// otherwise, a few system call numbers, and where user space ends. The library is compiled per
/// architecture (ARM64 is defined for linux-arm64), so these stay constants on the hot path.
/// </summary>
internal static unsafe class Arch
{
#if ARM64
    public const int O_DIRECTORY = 0x4000, O_NOFOLLOW = 0x8000, O_DIRECT = 0x10000, O_LARGEFILE = 0x20000;
    public const int SYS_prctl = 167, SYS_seccomp = 277;
#else
    public const int O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_DIRECT = 0x4000, O_LARGEFILE = 0x8000;
    public const int SYS_prctl = 157, SYS_seccomp = 317;
#endif
    public const int O_TMPFILE_BIT = 0x400000, O_TMPFILE = O_TMPFILE_BIT | O_DIRECTORY;

    /// <summary>
    /// A pointer the kernel answers with EFAULT (the first page, kernel space), never read. arm64 user space
    /// reaches 2^48 (2^52 with large virtual addresses) and its top byte is a tag that loads ignore and the
    /// tagged address ABI lets system calls ignore too: such a pointer is a valid one, to judge.
    /// </summary>
    public static bool Unreadable(void* p)
    {
#if ARM64
        return (nuint)p < 4096 || ((nuint)p & 0x00FF_FFFF_FFFF_FFFF) >= 0x0010_0000_0000_0000;
#else
        return (nuint)p < 4096 || (nuint)p >= 0x0000_8000_0000_0000;
#endif
    }
}
