using IronFunction.Native;

namespace IronFunction.Hooks;

/// <summary>
/// A path argument in the library's own memory, on the hook's stack: the bytes that were judged are the bytes the
/// real call receives (another thread cannot change them in between) and, once resolved, an anchored form naming the
/// pinned directory or object ("/proc/self/fd/N/name", "/proc/self/fd/N"), so that no link or working-directory swap
/// between the judgement and the call can redirect it. <see cref="Done(int)"/> closes the pins after the real call.
/// </summary>
internal unsafe struct PathArg
{
    public const int Capacity = TargetResolver.PathMax + 64;
    public fixed byte Buffer[Capacity];
    /// <summary>What the real call receives: the caller's pointer (nothing judged, or libc's own answer), or Buffer.</summary>
    public byte* Path;
    public int ParentFd, ObjectFd;
    /// <summary>The caller's pointer, its length and that of its last component (mkstemp writes the name back).</summary>
    public byte* Original;
    public int OriginalLength, TailLength;
    /// <summary>Where the name starts in an anchored "/proc/self/fd/N/name" (0 for the other forms).</summary>
    public int LastOffset;

    public void Init(byte* path)
    {
        Path = Original = path;
        ParentFd = ObjectFd = -1;
        OriginalLength = TailLength = LastOffset = 0;
    }

    /// <summary>The descriptor the call acts on: the duplicate that was judged (AT_EMPTY_PATH, NULL path), else the caller's.</summary>
    public int Descriptor(int dirfd) => ObjectFd >= 0 ? ObjectFd : dirfd;

    public int Done(int result) { Release(); return result; }
    public nint Done(nint result) { Release(); return result; }
    public byte* Done(byte* result) { Release(); return result; }

    /// <summary>A template the real call filled in (mkstemp, mkdtemp): the copy, or the anchored form's last component, goes back to the caller's buffer.</summary>
    public void CopyBack()
    {
        if (Path == Original || TailLength == 0) return;
        int n = (int)Libc.Strnlen(Path, Capacity);
        if (n < TailLength) return;
        System.Buffer.MemoryCopy(Path + n - TailLength, Original + OriginalLength - TailLength, TailLength, TailLength);
    }

    private void Release()
    {
        if (ParentFd < 0 && ObjectFd < 0) return;
        int errno = Errno.Value;
        if (ParentFd >= 0) Libc.Close(ParentFd);
        if (ObjectFd >= 0) Libc.Close(ObjectFd);
        ParentFd = ObjectFd = -1;
        Errno.Value = errno;
    }
}
