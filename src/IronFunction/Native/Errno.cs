namespace IronFunction.Native;

/// <summary>The calling thread's libc errno, read and written where the host program will look for it.</summary>
internal static unsafe class Errno
{
    public const int EPERM = 1, ENOENT = 2, EINTR = 4, EFAULT = 14, EACCES = 13, EINVAL = 22,
        ENAMETOOLONG = 36, ENOSYS = 38, ELOOP = 40, EXDEV = 18;

    public static int Value
    {
        get => *Libc.ErrnoLocation();
        set => *Libc.ErrnoLocation() = value;
    }
}
