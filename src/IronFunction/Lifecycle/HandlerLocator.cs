using IronFunction.Rules;
using Microsoft.Win32.SafeHandles;

namespace IronFunction.Lifecycle;

/// <summary>
/// The file-system half of finding the handler, at start, before protection arms: which jar holds a Java
/// handler's class, looked up as the Lambda Java client's class loader does (aws-lambda-java-libs
/// CustomerClassLoader: the task root's own class files first, then <c>lib/*.jar</c> in ordinal order), then
/// jars in the task root itself (a container image started with <c>-cp "/var/task/*"</c>).
/// </summary>
internal static class HandlerLocator
{
    /// <summary>A central directory larger than this is not read: no jar of a function's code comes near it.</summary>
    private const long MaxDirectory = 64 << 20;

    /// <summary>The jar that provides <paramref name="classEntry"/> (<c>pkg/Class.class</c>), or null when the task root's own class file does, or nothing does.</summary>
    public static string? JarHolding(string taskRoot, string classEntry)
    {
        if (File.Exists(Path.Combine(taskRoot, classEntry))) return null;
        foreach (var dir in new[] { Path.Combine(taskRoot, "lib"), taskRoot })
            foreach (var jar in Jars(dir))
                if (JarContains(jar, classEntry)) return jar;
        return null;
    }

    private static string[] Jars(string dir)
    {
        try
        {
            var jars = Directory.GetFiles(dir, "*.jar");
            Array.Sort(jars, StringComparer.Ordinal);
            return jars;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }

    /// <summary>Whether the zip at <paramref name="path"/> has the entry, from its central directory only; false for anything unreadable or not a zip.</summary>
    public static bool JarContains(string path, string entry)
    {
        try
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            long length = RandomAccess.GetLength(file);
            var tail = Read(file, length - Math.Min(length, ZipDirectory.TailLength), (int)Math.Min(length, ZipDirectory.TailLength));
            var location = ZipDirectory.Locate(tail, length);
            if (location is { NeedsZip64End: true } zip64)
                location = ZipDirectory.LocateZip64(Read(file, zip64.Zip64EndOffset, 56), zip64.Zip64EndOffset);
            if (location is not { } where || where.Size > MaxDirectory) return false;
            return ZipDirectory.Contains(Read(file, where.Offset, (int)where.Size), System.Text.Encoding.UTF8.GetBytes(entry));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
    }

    private static byte[] Read(SafeFileHandle file, long offset, int count)
    {
        var buffer = new byte[count];
        int done = 0;
        while (done < count)
        {
            int n = RandomAccess.Read(file, buffer.AsSpan(done), offset + done);
            if (n <= 0) return buffer[..done];
            done += n;
        }
        return buffer;
    }
}
