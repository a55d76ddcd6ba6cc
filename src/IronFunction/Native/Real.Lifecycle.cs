namespace IronFunction.Native;

/// <summary>The real functions behind the lifecycle hooks (Hooks/lifecycle.symbols).</summary>
internal static unsafe partial class Real
{
    public static delegate* unmanaged<int, byte*, nuint, int, nint> send;
    public static delegate* unmanaged<int, byte*, nuint, nint> write;
    public static delegate* unmanaged<int, nint, int, nint> writev;

    /// <summary>Idempotent: the hooks call it themselves should they run before the library's start did.</summary>
    public static void ResolveLifecycle()
    {
        if (send == null) send = (delegate* unmanaged<int, byte*, nuint, int, nint>)Sym("send"u8);
        if (write == null) write = (delegate* unmanaged<int, byte*, nuint, nint>)Sym("write"u8);
        if (writev == null) writev = (delegate* unmanaged<int, nint, int, nint>)Sym("writev"u8);
    }
}
