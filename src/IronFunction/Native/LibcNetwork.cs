using System.Runtime.InteropServices;

namespace IronFunction.Native;

/// <summary>libc functions the outbound_connectivity control calls for its own work; none of them is hooked.</summary>
internal static unsafe partial class Libc
{
    public const int SOL_SOCKET = 1, SO_PROTOCOL = 38, SO_DOMAIN = 39;

    [LibraryImport("libc", EntryPoint = "getsockopt")]
    public static partial int Getsockopt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport("libc", EntryPoint = "gethostname")]
    public static partial int Gethostname(byte* name, nuint length);

    [LibraryImport("libc", EntryPoint = "freeaddrinfo")]
    public static partial void Freeaddrinfo(byte* list);

    /// <summary>The calling thread's h_errno, which the gethostbyname family reports through.</summary>
    [LibraryImport("libc", EntryPoint = "__h_errno_location")]
    [SuppressGCTransition]
    public static partial int* HErrnoLocation();

    /// <summary>An int socket option, or -1 when it cannot be read.</summary>
    public static int SocketOption(int fd, int name)
    {
        int value = 0;
        uint length = sizeof(int);
        return Getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? value : -1;
    }
}
