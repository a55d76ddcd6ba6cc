namespace IronFunction.Native;

/// <summary>
/// Marks a thread as doing the library's own work, so hooks it reaches pass straight through:
/// the library never judges its own file or network activity.
/// </summary>
internal static class ReentrancyGuard
{
    [ThreadStatic] private static int t_depth;

    public static bool Active => t_depth != 0;

    public static Scope Enter()
    {
        t_depth++;
        return default;
    }

    /// <summary>Marks a thread the library owns for its whole life (a delivery worker, say).</summary>
    public static void MarkThreadAsLibraryOwned() => t_depth = 1;

    public readonly ref struct Scope
    {
        public void Dispose() => t_depth--;
    }
}
