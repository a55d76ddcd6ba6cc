using System.Runtime.InteropServices;
using IronFunction.Rules;

namespace IronFunction.Native;

/// <summary>
/// Installs a seccomp-bpf filter for the whole process. The kernel offers no way to remove one, and
/// PR_SET_NO_NEW_PRIVS (required to install it without CAP_SYS_ADMIN) cannot be unset: whatever runs
/// in the process afterwards, and every program it could start, stays under it.
/// </summary>
internal static unsafe class Seccomp
{
    private const int SYS_prctl = Arch.SYS_prctl, SYS_seccomp = Arch.SYS_seccomp;
    private const int PR_SET_NO_NEW_PRIVS = 38;
    private const int SECCOMP_SET_MODE_FILTER = 1;
    private const int SECCOMP_FILTER_FLAG_TSYNC = 1, SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4;
    private const int EINVAL = 22;

    [StructLayout(LayoutKind.Sequential)]
    private struct SockFprog
    {
        public ushort Length;
        public ProcessFilter.Instruction* Filter;
    }

    /// <summary>Null when the filter is in force on every thread, else why not.</summary>
    public static string? Install(ProcessFilter.Instruction[] program)
    {
        if (Libc.Syscall6(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0) != 0)
            return $"prctl(PR_SET_NO_NEW_PRIVS) failed with errno {Errno.Value}";
        fixed (ProcessFilter.Instruction* filter = program)
        {
            var fprog = new SockFprog { Length = checked((ushort)program.Length), Filter = filter };
            // TSYNC: threads that other libraries' constructors may already have started get it too. SPEC_ALLOW: where the
            // kernel's speculation mitigations follow seccomp (spec_store_bypass_disable=seccomp, the default "auto" before
            // Linux 5.16), a filter without it turns on Speculative Store Bypass Disable for the whole process, slowing
            // every instruction the function runs; the filter is a policy backstop, not a speculation boundary
            nint result = Libc.Syscall6(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_SPEC_ALLOW,
                (nint)(&fprog), 0, 0, 0);
            // kernels before 4.17 know no SPEC_ALLOW (EINVAL): the filter all the same
            if (result < 0 && Errno.Value == EINVAL)
                result = Libc.Syscall6(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, (nint)(&fprog), 0, 0, 0);
            if (result == 0) return null;
            if (result > 0) return $"thread {result} could not take the filter";
            return $"seccomp(SECCOMP_SET_MODE_FILTER) failed with errno {Errno.Value}";
        }
    }
}
