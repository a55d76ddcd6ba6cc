using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace IronFunction.Tests.EndToEnd;

/// <summary>
/// The hooked symbols are named in Hooks/&lt;control&gt;.symbols: every name has a managed hook
/// (iron_hook_&lt;name&gt;), and the built library exports exactly these names and their aliases
/// (Hooks/libc.aliases), unversioned, so that they interpose libc.
/// </summary>
public class ExportsTests
{
    private static readonly string[] Listed = Directory
        .GetFiles(Path.Combine(Machine.RepoRoot, "src", "IronFunction", "Hooks"), "*.symbols")
        .SelectMany(File.ReadAllLines)
        .Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();

    /// <summary>Hooks/libc.aliases: "alias target", libc's other names of a hooked function, exported at the target's code.</summary>
    private static readonly (string Alias, string Target)[] Aliases = File
        .ReadAllLines(Path.Combine(Machine.RepoRoot, "src", "IronFunction", "Hooks", "libc.aliases"))
        .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(f => f.Length > 0)
        .Select(f => (f[0], f[1])).ToArray();

    /// <summary>Managed entry points that are the library's own, not libc interceptors.</summary>
    private static readonly string[] OwnEntryPoints = ["iron_function_start", "iron_function_exit", "iron_process_native_config", "iron_process_vfork_report",
        "iron_files_program", "iron_files_spawn_open", "iron_files_dlopen"];

    /// <summary>Exported beside the hooks: lookups of a hooked name hand out the library's entry, dlopen drops RTLD_DEEPBIND where a control blocks (Native/glue/lookups.c).</summary>
    private static readonly string[] OwnExports = ["dlsym", "dlvsym", "dlopen", "dlmopen"];

    [Fact]
    public void The_list_has_no_duplicates()
    {
        Assert.Equal(Listed.Length, Listed.Distinct().Count());
        var aliases = Aliases.Select(a => a.Alias).ToArray();
        Assert.Equal(aliases.Length, aliases.Distinct().Count());
        Assert.Empty(aliases.Intersect(Listed));
        Assert.All(Aliases, a => Assert.Contains(a.Target, Listed));
    }

    [Fact]
    [Trait("Architecture", "arm64")] // also checks dist/linux-arm64/ (Qemu.cs)
    public void The_alias_list_has_every_name_this_machines_libc_exports_at_a_hooked_address()
    {
        // tools/libc-aliases reads nm -D of libc.so.6 (every version: GLIBC_PRIVATE, compat '@' ones)
        // the arm64 pass reads the aarch64 libc the cross toolchain brings
        string[] libc = Machine.Arm64 ? [Path.Combine(Qemu.SysRoot, "lib", "libc.so.6")] : [];
        var run = Preloaded.RunPlain(Machine.Bash.Value, [Path.Combine(Machine.RepoRoot, "tools", "libc-aliases"), .. libc]);
        Assert.True(run.ExitCode == 0, run.ToString());
        var found = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToArray();
        Assert.NotEmpty(found);
        var missing = found.Except(Aliases.Select(a => $"{a.Alias} {a.Target}")).ToArray();
        Assert.True(missing.Length == 0,
            $"Hooks/libc.aliases misses these (run tools/libc-aliases > src/IronFunction/Hooks/libc.aliases):\n{string.Join('\n', missing)}");
    }

    [Fact]
    [Trait("Architecture", "arm64")] // also checks dist/linux-arm64/ (Qemu.cs)
    public void Each_alias_is_exported_at_its_targets_code()
    {
        var nm = Preloaded.RunPlain("nm", ["-D", "--defined-only", Machine.Library]);
        var address = nm.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(f => f.Length == 3)
            .ToDictionary(f => f[2], f => f[0]);
        Assert.All(Aliases, a =>
        {
            Assert.True(address.ContainsKey(a.Alias), $"{a.Alias} is not exported");
            Assert.Equal(address[a.Target], address[a.Alias]);
        });
    }

    [Fact]
    public void Every_listed_symbol_has_a_managed_hook_and_every_hook_is_listed()
    {
        var assembly = typeof(IronFunction.Rules.PathLexer).Assembly;
        var entryPoints = assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public))
            .Select(m => m.GetCustomAttribute<UnmanagedCallersOnlyAttribute>()?.EntryPoint)
            .OfType<string>()
            .Except(OwnEntryPoints)
            .Order()
            .ToArray();
        Assert.Equal(Listed.Select(s => "iron_hook_" + s).Order().ToArray(), entryPoints);
    }

    [Fact]
    [Trait("Architecture", "arm64")] // also checks dist/linux-arm64/ (Qemu.cs)
    public void The_built_library_exports_exactly_the_list_unversioned()
    {
        var nm = Preloaded.RunPlain("nm", ["-D", "--defined-only", Machine.Library]);
        Assert.Equal(0, nm.ExitCode);
        var exported = nm.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length == 3 && f[1] == "T")
            .Select(f => f[2])
            .ToArray();
        // a versioned export (open@@V1.0) does not interpose libc's open
        Assert.DoesNotContain(exported, s => s.Contains('@'));
        Assert.Equal(Listed.Concat(Aliases.Select(a => a.Alias)).Concat(OwnExports).Order().ToArray(), exported.Order().ToArray());
    }

    [Fact]
    [Trait("Architecture", "arm64")] // also checks dist/linux-arm64/ (Qemu.cs)
    public void The_library_needs_no_glibc_newer_than_2_34()
    {
        var objdump = Preloaded.RunPlain("objdump", ["-T", Machine.Library]);
        Assert.Equal(0, objdump.ExitCode);
        var newest = Regex.Matches(objdump.Stdout, @"GLIBC_(\d+)\.(\d+)")
            .Select(m => new Version(int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value)))
            .Max();
        Assert.NotNull(newest);
        Assert.True(newest <= new Version(2, 34), $"needs GLIBC_{newest}");
    }

    [Fact]
    [Trait("Architecture", "arm64")] // ./build.sh --arch arm64 makes an aarch64 library
    public void The_library_is_built_for_the_architecture_under_test()
    {
        var header = new byte[20];
        using (var f = File.OpenRead(Machine.Library)) Assert.Equal(20, f.Read(header));
        Assert.Equal("\u007fELF", System.Text.Encoding.ASCII.GetString(header, 0, 4));
        Assert.Equal(2, header[4]); // 64-bit
        Assert.Equal(Machine.Arm64 ? 183 : RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 183 : 62, BitConverter.ToUInt16(header, 18));
    }

    [Fact]
    public void Hooks_really_interpose_in_a_plain_program()
    {
        // cat's own open of a /tmp file is denied only if the export interposes libc's open
        using var box = new Sandbox();
        var file = Path.Combine(box.TmpDir, "seen");
        File.WriteAllText(file, "secret");
        var run = Preloaded.Run("/bin/cat", [file], box.Policy("""{"read_write_tmp":"block"}"""));
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("Permission denied", run.Stderr);
        Assert.DoesNotContain("secret", run.Stdout);
        Assert.Single(run.Events);
    }
}
