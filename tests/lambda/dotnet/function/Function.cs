using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Example;

/// <summary>
/// Its constructor (initialisation) reads its own assembly; each invocation tries again (and its deps.json),
/// reads what is not its code (its .pdb, the Lazy assembly, a data file), first uses the Lazy assembly, which
/// the runtime loads only then, and formats a stack trace with file and line numbers. Answers what each gave.
/// </summary>
public class Function
{
    private readonly long _initRead = File.ReadAllBytes(typeof(Function).Assembly.Location).Length;

    public string Handle(string input)
    {
        var self = typeof(Function).Assembly.Location;
        var results = new Dictionary<string, object>
        {
            ["init_read"] = _initRead,
            ["lazy_loaded_before"] = AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "Lazy"),
            ["lazy"] = UseLazy(),
            ["self"] = Read(self),
            ["relative"] = Read(Path.GetFileName(self)),
            ["deps"] = Read("Function.deps.json"),
            ["pdb"] = Read("Function.pdb"),
            ["other"] = Read("Lazy.dll"),
            ["data"] = Read("data.txt"),
            ["trace"] = Trace(),
        };
        return JsonSerializer.Serialize(results);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string UseLazy() => new Lazy.Greeter().Name();

    /// <summary>A caught exception's stack trace with source lines: CoreCLR reads the .pdb for them, lazily.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string Trace()
    {
        try { throw new InvalidOperationException("traced"); }
        catch (InvalidOperationException e)
        {
            var frame = new StackTrace(e, fNeedFileInfo: true).GetFrame(0);
            return frame?.GetFileLineNumber() > 0 ? "lines" : "no lines";
        }
    }

    private static string Read(string path)
    {
        try { return "ok " + File.ReadAllBytes(path).Length; }
        catch (UnauthorizedAccessException) { return "denied"; }
        catch (Exception e) { return "error " + e.GetType().Name; }
    }
}
