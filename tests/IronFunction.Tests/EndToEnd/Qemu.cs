using System.Diagnostics;

namespace IronFunction.Tests.EndToEnd;

/// <summary>
/// The arm64 pass of the end-to-end suites on an x86_64 machine (IRON_TEST_ARCH=arm64, set by ./build.sh test for
/// the classes marked [Trait("Architecture", "arm64")]): probes compiled by aarch64-linux-gnu-gcc run under
/// qemu-aarch64 with the arm64 library preloaded into the guest. qemu-user translates the guest's system calls
/// one by one, so the library's hooks, its glue's assembly and its raw system calls run as on a Graviton;
/// what qemu-user cannot show (a seccomp filter: it refuses seccomp() with ENOSYS) is covered on x86_64 only.
/// </summary>
public static class Qemu
{
    public const string Compiler = "aarch64-linux-gnu-gcc";
    public const string Emulator = "qemu-aarch64";
    public const string SysRoot = "/usr/aarch64-linux-gnu";

    public static string Library => Path.Combine(Machine.RepoRoot, "dist", "linux-arm64", "lib_iron_function.so");

    /// <summary>Why an arm64 run cannot happen here, or null.</summary>
    public static string? Unavailable()
    {
        if (!File.Exists(Library)) return $"{Library} is missing: ./build.sh --arch arm64 build (needs the Debian cross toolchain)";
        foreach (var tool in new[] { Compiler, Emulator })
            if (!(Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, tool))))
                return $"{tool} is not installed (./build.sh --arch arm64 installs it)";
        return null;
    }

    /// <summary>What qemu-user cannot show, for a test's skip reason.</summary>
    public const string NoSeccomp = "qemu-user refuses seccomp() for its guest (ENOSYS), so a filter cannot be seen under it; covered on x86_64";

    /// <summary>
    /// stderr without the lines that only a run under qemu-user writes: the library's warning that seccomp() failed
    /// with ENOSYS (NoSeccomp), and the host's ld.so refusing the arm64 library for the x86_64 programs a guest
    /// executes (without binfmt_misc, the kernel runs them natively; on a Graviton they are arm64 and load it).
    /// </summary>
    public static string WithoutItsOwnLines(string stderr)
    {
        var lines = stderr.Split('\n').Where(l =>
            !(l.StartsWith("iron-function WRN [process] the kernel refused the process filter", StringComparison.Ordinal) &&
              l.Contains("failed with errno 38)", StringComparison.Ordinal)) &&
            !(l.StartsWith("ERROR: ld.so: object '" + Library + "' from LD_PRELOAD cannot be preloaded", StringComparison.Ordinal)));
        return string.Join('\n', lines);
    }

    public const string VforkIsFork = "qemu-user runs vfork and clone(CLONE_VM|CLONE_VFORK) as a fork: the child does not share " +
        "the parent's memory, so the parent cannot see what its child executed; covered on x86_64";

    /// <summary>Process functions whose started program qemu-user does not run as a kernel would (the alert and allow rows).</summary>
    public static readonly Dictionary<string, string> CannotStart = new()
    {
        ["vfork"] = VforkIsFork,
        ["clone_vfork"] = VforkIsFork,
        ["execveat"] = "qemu-user (Debian 12's 7.2) has no execveat: ENOSYS; denied in block mode all the same",
        ["execveat_empty"] = "qemu-user (Debian 12's 7.2) has no execveat: ENOSYS; denied in block mode all the same",
    };

    /// <summary>An aarch64 ELF program (e_machine 183): executable, and not a shared library that a tool (nm, objdump) reads.</summary>
    public static bool IsAarch64(string path)
    {
        try
        {
            if (Path.GetFileName(path).Contains(".so", StringComparison.Ordinal) || !File.Exists(path) ||
                !File.GetUnixFileMode(path).HasFlag(UnixFileMode.UserExecute)) return false;
            Span<byte> header = stackalloc byte[20];
            using var f = File.OpenRead(path);
            return f.Read(header) == 20 && header[0] == 0x7F && header[1] == (byte)'E' && header[18] == 183 && header[19] == 0;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>
    /// Puts qemu-aarch64 in front of the first aarch64 program on the command line (the program itself, or the one
    /// a wrapper such as unshare or a script runs). LD_PRELOAD goes to the guest only (-E): qemu itself is an
    /// x86_64 program, and the other variables reach the guest through qemu's own environment.
    /// </summary>
    public static void Wrap(ProcessStartInfo psi)
    {
        var command = new List<string> { psi.FileName };
        command.AddRange(psi.ArgumentList);
        int at = command.FindIndex(IsAarch64);
        if (at < 0) return;
        var qemu = new List<string> { Emulator, "-L", SysRoot };
        if (psi.Environment.TryGetValue("LD_PRELOAD", out var preload) && preload != null)
        {
            qemu.AddRange(["-E", "LD_PRELOAD=" + preload]);
            psi.Environment.Remove("LD_PRELOAD");
        }
        // NetNamespace's script would preload the library into qemu itself: the guest gets it instead
        if (psi.Environment.TryGetValue("IRON_NS_PRELOAD", out var nsPreload) && nsPreload != null)
        {
            qemu.AddRange(["-E", "LD_PRELOAD=" + nsPreload]);
            if (psi.Environment.TryGetValue("IRON_NS_POLICY", out var nsPolicy) && nsPolicy != null)
                qemu.AddRange(["-E", "IRON_FUNCTION_POLICY=" + nsPolicy]);
            psi.Environment.Remove("IRON_NS_PRELOAD");
            psi.Environment.Remove("IRON_NS_POLICY");
        }
        command.InsertRange(at, qemu);
        psi.FileName = command[0];
        psi.ArgumentList.Clear();
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
    }
}

/// <summary>A test of what qemu-user cannot show: skipped, with the reason, in the arm64 pass (covered on x86_64).</summary>
public sealed class NotUnderQemuFactAttribute : FactAttribute
{
    public NotUnderQemuFactAttribute(string why)
    {
        if (Machine.Arm64) Skip = why;
    }
}

/// <inheritdoc cref="NotUnderQemuFactAttribute"/>
public sealed class NotUnderQemuTheoryAttribute : TheoryAttribute
{
    public NotUnderQemuTheoryAttribute(string why)
    {
        if (Machine.Arm64) Skip = why;
    }
}

/// <summary>A test of arm64 alone (a tagged pointer): run in the arm64 pass, skipped in the host's.</summary>
public sealed class OnlyUnderQemuFactAttribute : FactAttribute
{
    public OnlyUnderQemuFactAttribute()
    {
        if (!Machine.Arm64) Skip = "arm64 only: runs in the arm64 pass of ./build.sh test, under qemu-aarch64";
    }
}
