using System.Runtime.InteropServices;
using IronFunction.Events;

namespace IronFunction.Lifecycle;

/// <summary>
/// Process exit (return from main, exit() from anywhere): pending events go out within
/// <see cref="EventHub.FlushBound"/>. Called from an atexit handler the C glue registers right after
/// the runtime has started, so the runtime is still whole when it runs. _exit() and signals skip it.
/// </summary>
internal static class ExitFlush
{
    [UnmanagedCallersOnly(EntryPoint = "iron_function_exit")]
    private static void AtExit()
    {
        try { EventHub.FlushAtExit(); }
        catch
        {
            // exit must go on whatever happens here
        }
    }
}
