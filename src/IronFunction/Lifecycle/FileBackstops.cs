using System.Runtime.InteropServices;
using System.Text;
using IronFunction.Native;
using IronFunction.Policy;
using IronFunction.Rules;

namespace IronFunction.Lifecycle;

/// <summary>
/// "kernel": true on read_write_tmp and read_handler in block mode: Landlock layers (Native/glue/landlock.c) that deny
/// the kernel's file rights beneath the protected paths on every thread and in every child, whatever code makes the
/// call (raw system calls, io_uring, static binaries). Where the kernel has no Landlock: one warning, and the libc
/// layer alone.
/// </summary>
internal static unsafe class FileBackstops
{
    private const ulong ReadFile = 1UL << 2;

    /// <summary>From start, before the protected program runs: every filesystem right denied beneath the temporary roots.</summary>
    public static void StartTmp(EffectivePolicy policy, TmpPathRule rule)
    {
        if (!policy.ReadWriteTmpKernel || policy.ReadWriteTmp != PolicyAction.Block) return;
        var problem = DenyBeneath(rule.Roots, 0);
        if (problem == null)
            Diagnostics.Debug("files", $"Landlock layer in force: nothing beneath {string.Join(", ", rule.Roots)} can be reached, raw system calls included");
        else
            Diagnostics.Warn("files", Unwhole("read_write_tmp", problem));
    }

    /// <summary>At arming: reading the handler's files denied on every thread (the rest of the task root stays readable).</summary>
    public static void ArmHandler(EffectivePolicy policy, HandlerFiles files)
    {
        if (!policy.ReadHandlerKernel || policy.ReadHandler != PolicyAction.Block || files.IsEmpty) return;
        var paths = new List<string>(files.Files);
        paths.AddRange(PycacheFiles(files));
        var problem = DenyBeneath(paths, ReadFile);
        if (problem == null)
            Diagnostics.Debug("handler", $"Landlock layer in force: the handler's files cannot be read, raw system calls included");
        else
            Diagnostics.Warn("handler", Unwhole("read_handler", problem));
    }

    /// <summary>The byte-code caches there are now; one made later lands in a directory the layer grants nothing in.</summary>
    private static IEnumerable<string> PycacheFiles(HandlerFiles files)
    {
        foreach (var pattern in files.PycachePatterns)
        {
            var dir = Path.GetDirectoryName(pattern);
            if (dir == null || !Directory.Exists(dir)) continue;
            string[] found;
            try { found = Directory.GetFiles(dir, Path.GetFileName(pattern)); }
            catch (Exception) { continue; }
            foreach (var f in found) yield return f;
        }
    }

    private static string Unwhole(string control, string problem) => problem == NoLandlock
        ? $"{control}: no kernel backstop ({problem}); the libc layer alone enforces"
        : $"{control}: the kernel backstop is not whole ({problem}); the libc layer enforces";

    private const string NoLandlock = "this kernel has no Landlock";

    private static string? DenyBeneath(IReadOnlyList<string> paths, ulong handled)
    {
        if (Glue.LandlockAbi() <= 0) return NoLandlock;
        var native = new nint[paths.Count];
        try
        {
            for (int i = 0; i < paths.Count; i++) native[i] = Marshal.StringToCoTaskMemUTF8(paths[i]);
            fixed (nint* p = native)
            {
                nint why = Glue.LandlockDenyBeneath((byte**)p, paths.Count, handled);
                return why == 0 ? null : Marshal.PtrToStringUTF8(why);
            }
        }
        finally
        {
            foreach (var p in native) Marshal.FreeCoTaskMem(p);
        }
    }
}
