using System.Runtime.InteropServices;
using CsCheck;
using IronFunction.Rules;
using static IronFunction.Rules.ProcessFilter;

namespace IronFunction.Tests.Rules;

/// <summary>
/// The seccomp program of create_child_process block mode (SPEC §3), run by a classic-BPF interpreter over
/// every x86-64 system call number, other ABIs, and clone flags.
/// </summary>
public class ProcessFilterTests
{
    private const uint AuditArchI386 = 0x4000_0003, AuditArchArm = 0x4000_0028;
    private const uint Eperm = RetErrno | 1, Enosys = RetErrno | 38;

    // glibc's own clone flags: pthread_create, fork, posix_spawn
    private const ulong ThreadFlags = 0x3D0F00; // VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
    private const ulong ForkFlags = 0x01200011; // CHILD_SETTID|CHILD_CLEARTID|SIGCHLD
    private const ulong SpawnFlags = 0x4111;    // VM|VFORK|SIGCHLD

    private static readonly Instruction[] Program = Build(Architecture.X64);
    private static readonly Instruction[] Arm64Program = Build(Architecture.Arm64);

    /// <summary>Runs the program on one struct seccomp_data, as the kernel does; every path must end in a return.</summary>
    private static uint Run(uint arch, int nr, ulong arg0 = 0) => Run(Program, arch, nr, arg0);

    private static uint Run(Instruction[] program, uint arch, int nr, ulong arg0 = 0)
    {
        var data = new byte[64];
        BitConverter.TryWriteBytes(data.AsSpan(0), nr);
        BitConverter.TryWriteBytes(data.AsSpan(4), arch);
        BitConverter.TryWriteBytes(data.AsSpan(16), arg0);
        uint a = 0;
        for (int pc = 0; pc < program.Length; pc++)
        {
            var i = program[pc];
            switch (i.Code)
            {
                case LdWAbs: a = BitConverter.ToUInt32(data, (int)i.K); break;
                case JeqK: pc += a == i.K ? i.JumpTrue : i.JumpFalse; break;
                case JgeK: pc += a >= i.K ? i.JumpTrue : i.JumpFalse; break;
                case JsetK: pc += (a & i.K) != 0 ? i.JumpTrue : i.JumpFalse; break;
                case RetK: return i.K;
                default: throw new InvalidOperationException($"unexpected opcode {i.Code:x} at {pc}");
            }
        }
        throw new InvalidOperationException("the program ran off its end");
    }

    [Theory]
    [InlineData(Architecture.X64)]
    [InlineData(Architecture.Arm64)]
    public void Instructions_have_the_kernel_s_layout_and_the_program_is_well_formed(Architecture architecture)
    {
        var program = Build(architecture);
        Assert.Equal(8, Marshal.SizeOf<Instruction>());
        Assert.InRange(program.Length, 1, 4096);
        for (int pc = 0; pc < program.Length; pc++)
        {
            var i = program[pc];
            if (i.Code is JeqK or JgeK or JsetK)
            {
                Assert.InRange(pc + 1 + i.JumpTrue, pc + 1, program.Length - 1);
                Assert.InRange(pc + 1 + i.JumpFalse, pc + 1, program.Length - 1);
            }
        }
        Assert.Equal(RetK, program[^1].Code);
    }

    [Fact]
    public void Every_x86_64_system_call_but_process_creation_and_control_of_another_process_is_allowed()
    {
        for (int nr = 0; nr < 1024; nr++)
        {
            uint expected = nr switch
            {
                SysFork or SysVfork or SysExecve or SysExecveat => Eperm,
                101 or 311 or 438 => Eperm, // ptrace, process_vm_writev, pidfd_getfd
                310 => RetAllow,            // process_vm_readv changes nothing in the other process
                SysClone3 => Enosys,
                SysClone => Eperm, // flags 0: no CLONE_THREAD
                _ => RetAllow,
            };
            Assert.True(expected == Run(AuditArchX86_64, nr), $"system call {nr}");
        }
    }

    [Theory]
    [InlineData(ThreadFlags, RetAllow)]
    [InlineData(ForkFlags, Eperm)]
    [InlineData(SpawnFlags, Eperm)]
    [InlineData(0x10000UL, RetAllow)]
    [InlineData(0xFFFF_FFFF_0000_0000UL | SpawnFlags, Eperm)] // the kernel reads clone's flags as 32 bits
    [InlineData(0xFFFF_FFFF_0000_0000UL | ThreadFlags, RetAllow)]
    public void Clone_is_allowed_for_threads_only(ulong flags, uint expected)
    {
        Assert.Equal(expected, Run(AuditArchX86_64, SysClone, flags));
    }

    [Fact]
    public void Clone_is_allowed_exactly_when_it_makes_a_thread()
    {
        Gen.ULong.Sample(flags => Run(AuditArchX86_64, SysClone, flags) == ((flags & CloneThread) != 0 ? RetAllow : Eperm));
    }

    [Fact]
    public void Other_ABIs_are_denied_whole()
    {
        Gen.Select(Gens.Pick("i386", "aarch64", "other").Select(n => n switch
            {
                "i386" => AuditArchI386,
                "aarch64" => AuditArchAarch64,
                _ => 0x1234u,
            }), Gen.Int[0, 1023], Gen.ULong)
            .Sample((arch, nr, arg) => Run(arch, nr, arg) == Eperm);
        // x32: the x86-64 architecture with bit 30 set in the number
        Gen.Int[0, 1023].Sample(nr => Run(AuditArchX86_64, nr | (int)X32SyscallBit) == Eperm);
    }

    // arm64 (generic system call numbers): no fork or vfork system calls, glibc makes both with clone

    [Fact]
    public void Every_arm64_system_call_but_process_creation_is_allowed()
    {
        for (int nr = 0; nr < 1024; nr++)
        {
            uint expected = nr switch
            {
                Arm64SysExecve or Arm64SysExecveat or Arm64SysPtrace or Arm64SysProcessVmWritev or Arm64SysPidfdGetfd => Eperm,
                Arm64SysClone3 => Enosys,
                Arm64SysClone => Eperm,
                _ => RetAllow,
            };
            Assert.True(expected == Run(Arm64Program, AuditArchAarch64, nr), $"system call {nr}");
        }
    }

    [Fact]
    public void Arm64_clone_is_allowed_exactly_when_it_makes_a_thread()
    {
        Assert.Equal(RetAllow, Run(Arm64Program, AuditArchAarch64, Arm64SysClone, ThreadFlags));
        Assert.Equal(Eperm, Run(Arm64Program, AuditArchAarch64, Arm64SysClone, ForkFlags));
        Assert.Equal(Eperm, Run(Arm64Program, AuditArchAarch64, Arm64SysClone, SpawnFlags));
        Gen.ULong.Sample(flags => Run(Arm64Program, AuditArchAarch64, Arm64SysClone, flags) == ((flags & CloneThread) != 0 ? RetAllow : Eperm));
    }

    [Fact]
    public void Arm64_program_denies_other_ABIs_whole()
    {
        uint[] others = [AuditArchArm, AuditArchX86_64, 0x1234u];
        Gen.Select(Gen.Int[0, others.Length - 1].Select(i => others[i]), Gen.Int[0, 1023], Gen.ULong)
            .Sample((arch, nr, arg) => Run(Arm64Program, arch, nr, arg) == Eperm);
    }
}
