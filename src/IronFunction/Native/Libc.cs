using System.Runtime.InteropServices;

namespace IronFunction.Native;

/// <summary>
/// libc functions the library calls for its own work. None of them is hooked, so calling them
/// directly never re-enters the library; hooked functions are reached only through <see cref="Real"/>.
/// </summary>
internal static unsafe partial class Libc
{
    public const int AT_FDCWD = -100;
    public const nint RTLD_NEXT = -1;

    [LibraryImport("libc", EntryPoint = "dlsym")]
    public static partial nint Dlsym(nint handle, byte* symbol);

    [LibraryImport("libc", EntryPoint = "dlvsym")]
    public static partial nint Dlvsym(nint handle, byte* symbol, byte* version);

    [LibraryImport("libc", EntryPoint = "__errno_location")]
    [SuppressGCTransition]
    public static partial int* ErrnoLocation();

    // write is also hooked (Hooks/lifecycle.symbols); the link's --wrap=write sends this call to libc, never to the hook
    [LibraryImport("libc", EntryPoint = "write")]
    public static partial nint Write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    public static partial int Close(int fd);

    /// <summary>struct stat begins with st_dev and st_ino (8 bytes each) on x86_64 and arm64; 256 bytes hold it whole.</summary>
    [LibraryImport("libc", EntryPoint = "fstat")]
    [SuppressGCTransition]
    public static partial int Fstat(int fd, ulong* stat);

    [LibraryImport("libc", EntryPoint = "fcntl")]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "fdopendir")]
    public static partial nint Fdopendir(int fd);

    [LibraryImport("libc", EntryPoint = "readlink")]
    public static partial nint Readlink(byte* path, byte* buffer, nint size);

    [LibraryImport("libc", EntryPoint = "readlinkat")]
    public static partial nint Readlinkat(int dirfd, byte* path, byte* buffer, nint size);

    [LibraryImport("libc", EntryPoint = "fileno")]
    [SuppressGCTransition]
    public static partial int Fileno(nint stream);

    [LibraryImport("libc", EntryPoint = "strnlen")]
    [SuppressGCTransition]
    public static partial nint Strnlen(byte* s, nint max);

    [LibraryImport("libc", EntryPoint = "getpeername")]
    public static partial int Getpeername(int fd, byte* address, uint* length);

    [LibraryImport("libc", EntryPoint = "getcwd")]
    public static partial byte* Getcwd(byte* buffer, nint size);

    [LibraryImport("libc", EntryPoint = "realpath")]
    public static partial byte* Realpath(byte* path, byte* resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    public static partial void Free(void* pointer);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Setenv(string name, string value, int overwrite);

    public static void SetEnv(string name, string value) => Setenv(name, value, 1);

    [LibraryImport("libc", EntryPoint = "getenv")]
    public static partial byte* Getenv(byte* name);

    [LibraryImport("libc", EntryPoint = "getpid")]
    [SuppressGCTransition]
    public static partial int Getpid();

    [LibraryImport("libc", EntryPoint = "getuid")]
    [SuppressGCTransition]
    public static partial uint Getuid();

    [LibraryImport("libc", EntryPoint = "syscall")]
    public static partial nint Syscall4(nint number, nint a, nint b, nint c, nint d);

    /// <summary>The canonical path, or null when it does not resolve.</summary>
    public static string? RealPathOf(string path)
    {
        byte[] z = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = z)
        {
            byte* resolved = Realpath(p, null);
            if (resolved == null) return null;
            string result = Marshal.PtrToStringUTF8((nint)resolved)!;
            Free(resolved);
            return result;
        }
    }

    public static string? GetEnv(string name)
    {
        int len = System.Text.Encoding.UTF8.GetByteCount(name);
        byte* buf = stackalloc byte[len + 1];
        System.Text.Encoding.UTF8.GetBytes(name, new Span<byte>(buf, len));
        buf[len] = 0;
        byte* value = Getenv(buf);
        return value == null ? null : Marshal.PtrToStringUTF8((nint)value);
    }
}
