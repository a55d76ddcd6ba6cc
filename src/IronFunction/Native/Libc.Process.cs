using System.Runtime.InteropServices;

namespace IronFunction.Native;

/// <summary>libc functions create_child_process needs for its own work; none of them is hooked.</summary>
internal static unsafe partial class Libc
{
    public const int F_OK = 0, X_OK = 1;

    [StructLayout(LayoutKind.Sequential)]
    public struct DlInfo
    {
        public byte* FileName;
        public nint FileBase;
        public byte* SymbolName;
        public nint SymbolAddress;
    }

    [LibraryImport("libc", EntryPoint = "access")]
    public static partial int Access(byte* path, int mode);

    [LibraryImport("libc", EntryPoint = "dladdr")]
    public static partial int Dladdr(nint address, DlInfo* info);

    [LibraryImport("libc", EntryPoint = "syscall")]
    public static partial nint Syscall6(nint number, nint a, nint b, nint c, nint d, nint e, nint f);
}
