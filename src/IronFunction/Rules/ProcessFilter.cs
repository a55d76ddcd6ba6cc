using System.Runtime.InteropServices;

namespace IronFunction.Rules;

/// <summary>
/// The seccomp-bpf program installed in create_child_process block mode: fork, vfork (x86-64 only;
/// arm64 has neither), execve, execveat and clone without CLONE_THREAD fail with EPERM; clone3, whose
/// flags sit in memory a filter cannot read, fails with ENOSYS so that libc falls back to clone; ptrace
/// (every request: attach, seize, poke, traceme), process_vm_writev and pidfd_getfd, through which a
/// process could make another one of its user run code of its choosing, fail with EPERM; every system
/// call of another ABI (i386 through int 0x80, x32; arm32 compat on arm64) fails with EPERM, since its
/// numbers differ. Everything else, threads included, is allowed.
/// </summary>
public static class ProcessFilter
{
    /// <summary>One classic BPF instruction, laid out as the kernel's struct sock_filter.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public readonly record struct Instruction(ushort Code, byte JumpTrue, byte JumpFalse, uint K);

    public const uint AuditArchX86_64 = 0xC000_003E;
    public const uint X32SyscallBit = 0x4000_0000;
    public const int SysClone = 56, SysFork = 57, SysVfork = 58, SysExecve = 59, SysExecveat = 322, SysClone3 = 435;
    public const int SysPtrace = 101, SysProcessVmWritev = 311, SysPidfdGetfd = 438;
    public const uint AuditArchAarch64 = 0xC000_00B7;
    public const int Arm64SysClone = 220, Arm64SysExecve = 221, Arm64SysExecveat = 281, Arm64SysClone3 = 435;
    public const int Arm64SysPtrace = 117, Arm64SysProcessVmWritev = 271, Arm64SysPidfdGetfd = 438;
    public const uint CloneThread = 0x0001_0000;
    public const uint RetAllow = 0x7FFF_0000, RetErrno = 0x0005_0000;
    public const int EPERM = 1, ENOSYS = 38;

    // struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
    public const uint OffsetNr = 0, OffsetArch = 4, OffsetArg0Low = 16;

    // classic BPF opcodes
    public const ushort LdWAbs = 0x20, JeqK = 0x15, JgeK = 0x35, JsetK = 0x45, RetK = 0x06;

    /// <summary>The program for this process's architecture.</summary>
    public static Instruction[] Build() => Build(RuntimeInformation.ProcessArchitecture);

    public static Instruction[] Build(Architecture architecture) => architecture switch
    {
        Architecture.X64 => BuildX86_64(),
        Architecture.Arm64 => BuildArm64(),
        _ => throw new PlatformNotSupportedException($"no seccomp program for {architecture}"),
    };

    private static Instruction[] BuildArm64()
    {
        const int Allow = 12, Deny = 13, NoSys = 14;
        return
        [
            /* 0 */ new(LdWAbs, 0, 0, OffsetArch),
            /* 1 */ new(JeqK, 0, To(1, Deny), AuditArchAarch64),
            /* 2 */ new(LdWAbs, 0, 0, OffsetNr),
            /* 3 */ new(JeqK, To(3, Deny), 0, Arm64SysExecve),
            /* 4 */ new(JeqK, To(4, Deny), 0, Arm64SysExecveat),
            /* 5 */ new(JeqK, To(5, Deny), 0, Arm64SysPtrace),
            /* 6 */ new(JeqK, To(6, Deny), 0, Arm64SysProcessVmWritev),
            /* 7 */ new(JeqK, To(7, Deny), 0, Arm64SysPidfdGetfd),
            /* 8 */ new(JeqK, To(8, NoSys), 0, Arm64SysClone3),
            /* 9 */ new(JeqK, 0, To(9, Allow), Arm64SysClone),
            /* 10 */ new(LdWAbs, 0, 0, OffsetArg0Low), // clone's flags are its first argument on arm64 too
            /* 11 */ new(JsetK, To(11, Allow), To(11, Deny), CloneThread),
            /* 12 */ new(RetK, 0, 0, RetAllow),
            /* 13 */ new(RetK, 0, 0, RetErrno | EPERM),
            /* 14 */ new(RetK, 0, 0, RetErrno | ENOSYS),
        ];
    }

    private static Instruction[] BuildX86_64()
    {
        const int Allow = 15, Deny = 16, NoSys = 17;
        return
        [
            /* 0 */ new(LdWAbs, 0, 0, OffsetArch),
            /* 1 */ new(JeqK, 0, To(1, Deny), AuditArchX86_64),
            /* 2 */ new(LdWAbs, 0, 0, OffsetNr),
            /* 3 */ new(JgeK, To(3, Deny), 0, X32SyscallBit),
            /* 4 */ new(JeqK, To(4, Deny), 0, SysFork),
            /* 5 */ new(JeqK, To(5, Deny), 0, SysVfork),
            /* 6 */ new(JeqK, To(6, Deny), 0, SysExecve),
            /* 7 */ new(JeqK, To(7, Deny), 0, SysExecveat),
            /* 8 */ new(JeqK, To(8, Deny), 0, SysPtrace),
            /* 9 */ new(JeqK, To(9, Deny), 0, SysProcessVmWritev),
            /* 10 */ new(JeqK, To(10, Deny), 0, SysPidfdGetfd),
            /* 11 */ new(JeqK, To(11, NoSys), 0, SysClone3),
            /* 12 */ new(JeqK, 0, To(12, Allow), SysClone),
            /* 13 */ new(LdWAbs, 0, 0, OffsetArg0Low), // clone's flags: CLONE_THREAD is in the low 32 bits
            /* 14 */ new(JsetK, To(14, Allow), To(14, Deny), CloneThread),
            /* 15 */ new(RetK, 0, 0, RetAllow),
            /* 16 */ new(RetK, 0, 0, RetErrno | EPERM),
            /* 17 */ new(RetK, 0, 0, RetErrno | ENOSYS),
        ];
    }

    /// <summary>A forward jump's offset: BPF counts from the instruction after the jump.</summary>
    private static byte To(int from, int target) => checked((byte)(target - from - 1));
}
