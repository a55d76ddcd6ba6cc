using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using IronFunction.Policy;

namespace IronFunction.Cli;

/// <summary>layer: the Lambda layer zip, iron-function/{lib_iron_function.so, lib_iron_function_log.so, wrapper, policy.json, manifest.json}; the policy is checked first.</summary>
public static class LayerCommand
{
    public const string Help = """
        usage: iron-function layer [--policy P] [--arch x86_64|arm64] [-o ZIP]

        Packs the Lambda layer: iron-function/lib_iron_function.so, lib_iron_function_log.so (its log
        formatter), wrapper, policy.json and manifest.json (version, architecture, sha256 of the library,
        the newest glibc version they need). Lambda extracts it to /opt; set
        AWS_LAMBDA_EXEC_WRAPPER=/opt/iron-function/wrapper.
        The policy is checked first as the library checks it: a policy it would refuse is not packed.

          --policy P   the layer's policy (default: the repository's layer/policy.json, alert on every control)
          --arch A     x86_64 (default: the library beside the tool) or arm64 (dist/linux-arm64/)
          -o ZIP       where to write (default: iron-function-layer-ARCH.zip here)
        """;

    public static int Run(string[] args)
    {
        var o = new Options("layer", args);
        string? policy = null, output = null;
        string arch = "x86_64";
        while (o.Next(out bool option) is { } a)
        {
            if (!option) throw o.Usage($"unexpected argument {a}");
            switch (a)
            {
                case "--help" or "-h": Console.Out.Write(Help); return Program.Ok;
                case "--policy": policy = o.Value(a); break;
                case "--arch": arch = o.Value(a); break;
                case "-o" or "--output": output = o.Value(a); break;
                default: throw o.Unknown(a);
            }
        }
        if (arch is not ("x86_64" or "arm64")) throw o.Usage($"--arch is x86_64 or arm64, not {arch}");
        policy ??= Product.LayerPolicy;
        CheckCommand.Validate(policy);

        var library = arch == "x86_64" ? Product.Library : Path.Combine(Product.Home, "linux-arm64", "lib_iron_function.so");
        if (!File.Exists(library))
            throw new FailedException($"no {arch} library at {library}: build it first ({BuildCommand(arch)})");
        var bytes = File.ReadAllBytes(library);
        var elf = Elf.Machine(bytes);
        if (elf != (arch == "x86_64" ? Elf.X86_64 : Elf.Aarch64))
            throw new FailedException($"{library} is not an {arch} library");
        // the log formatter the library loads beside itself at its first log message
        var logImage = Path.Combine(Path.GetDirectoryName(library)!, "lib_iron_function_log.so");
        if (!File.Exists(logImage))
            throw new FailedException($"no {arch} log image at {logImage}: build it first ({BuildCommand(arch)})");
        var logBytes = File.ReadAllBytes(logImage);
        if (Elf.Machine(logBytes) != elf)
            throw new FailedException($"{logImage} is not an {arch} library");
        var wrapper = Product.Wrapper;
        output = Path.GetFullPath(output ?? $"iron-function-layer-{arch}.zip");

        var manifest = Manifest(arch, PolicyDigest.Of(bytes), Newer(Elf.NewestGlibc(bytes), Elf.NewestGlibc(logBytes)));
        var partial = output + ".partial";
        using (var zip = ZipFile.Open(partial, ZipArchiveMode.Create))
        {
            // each file's mode is recorded: the wrapper stays executable in /opt
            Add(zip, "iron-function/lib_iron_function.so", bytes, 0b110_100_100);
            Add(zip, "iron-function/lib_iron_function_log.so", logBytes, 0b110_100_100);
            Add(zip, "iron-function/wrapper", File.ReadAllBytes(wrapper), 0b111_101_101);
            Add(zip, "iron-function/policy.json", File.ReadAllBytes(policy), 0b110_100_100);
            Add(zip, "iron-function/manifest.json", Encoding.UTF8.GetBytes(manifest), 0b110_100_100);
        }
        File.Move(partial, output, overwrite: true);
        Console.Out.WriteLine($"wrote {output} ({arch}; AWS_LAMBDA_EXEC_WRAPPER=/opt/iron-function/wrapper)");
        return Program.Ok;
    }

    private static void Add(ZipArchive zip, string name, byte[] content, int mode)
    {
        var entry = zip.CreateEntry(name, CompressionLevel.Optimal);
        // S_IFREG and the permission bits, in the high half as Info-ZIP writes them
        entry.ExternalAttributes = (0x8000 | mode) << 16;
        using var s = entry.Open();
        s.Write(content);
    }

    private static string BuildCommand(string arch) => arch == "arm64" ? "./build.sh --arch arm64 build" : "./build.sh build";

    private static string? Newer(string? a, string? b) =>
        a == null ? b : b == null ? a : Version.Parse(a["GLIBC_".Length..]) >= Version.Parse(b["GLIBC_".Length..]) ? a : b;

    private static string Manifest(string arch, string sha256, string? glibc)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("name", "iron-function");
            w.WriteString("version", Program.Version);
            w.WriteString("architecture", arch);
            w.WriteString("library_sha256", sha256);
            if (glibc != null) w.WriteString("glibc_required", glibc);
            else w.WriteNull("glibc_required");
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }
}

/// <summary>The little of ELF64 the layer's manifest needs: the machine, and the GLIBC_ versions the library's symbols require.</summary>
public static class Elf
{
    public const ushort X86_64 = 62, Aarch64 = 183;
    private const uint ShtGnuVerneed = 0x6ffffffe;

    public static ushort Machine(byte[] b) =>
        b.Length > 20 && b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F' && b[4] == 2 && b[5] == 1
            ? BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(18)) : (ushort)0;

    /// <summary>The newest "GLIBC_x.y" of the version needs (.gnu.version_r); null when there are none.</summary>
    public static string? NewestGlibc(byte[] b)
    {
        try
        {
            var s = b.AsSpan();
            long shoff = BinaryPrimitives.ReadInt64LittleEndian(s[0x28..]);
            int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(s[0x3A..]);
            int shnum = BinaryPrimitives.ReadUInt16LittleEndian(s[0x3C..]);
            Version? newest = null;
            for (int i = 0; i < shnum; i++)
            {
                var sh = s.Slice((int)(shoff + i * shentsize), shentsize);
                if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed) continue;
                long offset = BinaryPrimitives.ReadInt64LittleEndian(sh[0x18..]);
                uint link = BinaryPrimitives.ReadUInt32LittleEndian(sh[0x28..]);
                var strtab = s.Slice((int)(shoff + link * shentsize), shentsize);
                long strOffset = BinaryPrimitives.ReadInt64LittleEndian(strtab[0x18..]);
                for (long need = offset; ;)
                {
                    int count = BinaryPrimitives.ReadUInt16LittleEndian(s[(int)(need + 2)..]);
                    uint aux = BinaryPrimitives.ReadUInt32LittleEndian(s[(int)(need + 8)..]);
                    uint next = BinaryPrimitives.ReadUInt32LittleEndian(s[(int)(need + 12)..]);
                    for (long a = need + aux; count-- > 0;)
                    {
                        uint name = BinaryPrimitives.ReadUInt32LittleEndian(s[(int)(a + 8)..]);
                        var text = s[(int)(strOffset + name)..];
                        var version = Encoding.ASCII.GetString(text[..text.IndexOf((byte)0)]);
                        if (version.StartsWith("GLIBC_", StringComparison.Ordinal) && Version.TryParse(version[6..], out var v) && (newest == null || v > newest))
                            newest = v;
                        uint auxNext = BinaryPrimitives.ReadUInt32LittleEndian(s[(int)(a + 12)..]);
                        if (auxNext == 0) break;
                        a += auxNext;
                    }
                    if (next == 0) break;
                    need += next;
                }
            }
            return newest == null ? null : "GLIBC_" + newest;
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
