namespace IronFunction.Rules;

/// <summary>The runtime that loads the handler: it decides how _HANDLER names files.</summary>
public enum HandlerRuntime
{
    /// <summary>No AWS_EXECUTION_ENV, or one not known (custom runtimes, container images, local runs): the handler's shape decides.</summary>
    Unknown,
    Python,
    Node,
    Ruby,
    Java,
    DotNet,
}

/// <summary>
/// Which files under the task root _HANDLER names, for a runtime, as task-root-relative paths (pure; the file
/// system is looked at elsewhere):
/// <list type="bullet">
/// <item>Python <c>pkg/app.handler</c>, <c>pkg.app.handler</c>: the module's <c>.py</c>, <c>.pyc</c>, package
/// <c>__init__</c>, and its byte-code caches (see <see cref="HandlerFiles"/>).</item>
/// <item>Node.js <c>src/app.handler</c>: <c>src/app</c>, <c>.js</c>, <c>.mjs</c>, <c>.cjs</c>.</item>
/// <item>Ruby <c>dir/file.method</c>, <c>file.Module::Class.method</c>: <c>dir/file.rb</c>.</item>
/// <item>Java <c>pkg.Class::method</c>, <c>pkg.Class</c> (a RequestHandler): <c>pkg/Class.class</c>, or the
/// jar that holds that entry (<see cref="JavaClassEntry"/>).</item>
/// <item>.NET <c>Assembly::Ns.Type::Method</c>, or an executable assembly's bare name: <c>Assembly.dll</c>,
/// <c>.deps.json</c>, <c>.runtimeconfig.json</c> (never the <c>.pdb</c>: CoreCLR opens it lazily for stack traces).</item>
/// <item>Unknown: by shape — <c>a::b::c</c> is .NET, <c>a::b</c> with a plain method name Java, anything else every
/// script form (Python, Node.js, Ruby, <c>.sh</c>, …) — and the custom runtime's <c>bootstrap</c>.</item>
/// </list>
/// </summary>
public static class HandlerLayout
{
    public const string Bootstrap = "bootstrap";

    /// <summary>The one warning line (without its "iron-function WRN [handler]" prefix) for a handler that names no file:
    /// the library's at start, and iron-function check's when given the function's environment.</summary>
    public static string NoFileWarning(HandlerRuntime runtime, string handler, string taskRoot) =>
        $"read_handler: _HANDLER \"{handler}\" names no file of the {Describe(runtime, handler)} in {taskRoot}; nothing of the handler is protected";

    private static string Describe(HandlerRuntime runtime, string handler) => runtime == HandlerRuntime.Unknown
        ? ShapeOf(handler) is var shape && shape != HandlerRuntime.Unknown
            ? $"{Name(shape)} handler (and no bootstrap)"
            : "custom runtime (no bootstrap either)"
        : $"{Name(runtime)} runtime";

    private static string Name(HandlerRuntime runtime) => runtime == HandlerRuntime.DotNet ? ".NET" : runtime.ToString();

    /// <summary>Extensions tried for the file part of a handler of unknown runtime; "" is the bare name Node tries first.</summary>
    public static readonly string[] ScriptExtensions = ["", ".js", ".mjs", ".cjs", ".rb", ".sh", ".php", ".pl"];

    private static readonly string[] NodeExtensions = ["", ".js", ".mjs", ".cjs"];
    private static readonly string[] RubyExtensions = [".rb"];

    /// <summary>AWS_EXECUTION_ENV of the managed runtimes: AWS_Lambda_java21, AWS_Lambda_dotnet8, AWS_Lambda_ruby3.3, …</summary>
    public static HandlerRuntime RuntimeOf(string? executionEnv)
    {
        const string prefix = "AWS_Lambda_";
        if (executionEnv == null || !executionEnv.StartsWith(prefix, StringComparison.Ordinal)) return HandlerRuntime.Unknown;
        var name = executionEnv.AsSpan(prefix.Length);
        if (name.StartsWith("python")) return HandlerRuntime.Python;
        if (name.StartsWith("nodejs")) return HandlerRuntime.Node;
        if (name.StartsWith("ruby")) return HandlerRuntime.Ruby;
        if (name.StartsWith("java")) return HandlerRuntime.Java;
        if (name.StartsWith("dotnet")) return HandlerRuntime.DotNet;
        return HandlerRuntime.Unknown;
    }

    /// <summary>The runtime a handler's shape points to, when nothing says which runtime loads it.</summary>
    public static HandlerRuntime ShapeOf(string handler)
    {
        var parts = handler.Split("::");
        // Ruby's file.Module::Class.method ends with a dotted method; Java's and .NET's end with a plain method name
        if (parts.Length < 2 || parts[^1].Contains('.')) return HandlerRuntime.Unknown;
        return parts.Length switch
        {
            2 => HandlerRuntime.Java,
            3 => HandlerRuntime.DotNet,
            _ => HandlerRuntime.Unknown,
        };
    }

    /// <summary>The zip entry of the handler's class (<c>pkg/Class.class</c>) for Java, else null.</summary>
    public static string? JavaClassEntry(HandlerRuntime runtime, string handler)
    {
        if (runtime == HandlerRuntime.Unknown) runtime = ShapeOf(handler);
        if (runtime != HandlerRuntime.Java) return null;
        int colons = handler.IndexOf("::", StringComparison.Ordinal);
        var className = colons < 0 ? handler : handler[..colons];
        var names = className.Split('.');
        foreach (var name in names)
            if (name.Length == 0 || name.Contains('/') || name.Contains(':')) return null;
        return string.Join('/', names) + ".class";
    }

    /// <summary>
    /// The exact files (task-root-relative) and Python byte-code cache prefixes (<c>dir/__pycache__/module.</c>)
    /// <paramref name="handler"/> names for <paramref name="runtime"/>.
    /// </summary>
    public static void Of(HandlerRuntime runtime, string handler, List<string> files, List<string> pycache)
    {
        if (runtime == HandlerRuntime.Unknown)
        {
            var shape = ShapeOf(handler);
            if (shape == HandlerRuntime.Unknown)
            {
                AddPython(handler, files, pycache);
                AddScript(handler, ScriptExtensions, files);
            }
            else Of(shape, handler, files, pycache);
            // a custom runtime is its bootstrap in the task root
            files.Add(Bootstrap);
            return;
        }
        switch (runtime)
        {
            case HandlerRuntime.Python: AddPython(handler, files, pycache); break;
            case HandlerRuntime.Node: AddScript(handler, NodeExtensions, files); break;
            case HandlerRuntime.Ruby: AddScript(handler, RubyExtensions, files); break;
            case HandlerRuntime.Java:
                if (JavaClassEntry(runtime, handler) is { } entry) files.Add(entry);
                break;
            case HandlerRuntime.DotNet:
                if (AssemblyName(handler) is { } assembly)
                    foreach (var ext in new[] { ".dll", ".deps.json", ".runtimeconfig.json" }) files.Add(assembly + ext);
                break;
        }
    }

    /// <summary>Amazon.Lambda.RuntimeSupport: the assembly is what comes before the first "::", or the whole of an executable's handler.</summary>
    private static string? AssemblyName(string handler)
    {
        int colons = handler.IndexOf("::", StringComparison.Ordinal);
        var name = colons < 0 ? handler : handler[..colons];
        return name.Length == 0 || name.Contains('/') || name is "." or ".." ? null : name;
    }

    /// <summary>awslambdaric: rsplit(".", 1), "/" read as ".", then one directory per dotted name.</summary>
    private static void AddPython(string handler, List<string> files, List<string> pycache)
    {
        int dot = handler.LastIndexOf('.');
        if (dot <= 0) return;
        var names = handler[..dot].Replace('/', '.').Split('.');
        foreach (var name in names)
            if (name.Length == 0 || name == "..") return; // not an importable module name
        var module = string.Join('/', names);
        int slash = module.LastIndexOf('/');
        var dir = slash < 0 ? "" : module[..(slash + 1)];
        var last = module[(slash + 1)..];
        files.Add(module + ".py");
        files.Add(module + ".pyc");
        files.Add(module + "/__init__.py");
        files.Add(module + "/__init__.pyc");
        pycache.Add(dir + "__pycache__/" + last + ".");
        pycache.Add(module + "/__pycache__/__init__.");
    }

    /// <summary>aws-lambda-ric and the Ruby client: the directory part, then the file name up to the first dot.</summary>
    private static void AddScript(string handler, string[] extensions, List<string> files)
    {
        int slash = handler.LastIndexOf('/');
        var baseName = handler[(slash + 1)..];
        int dot = baseName.IndexOf('.');
        if (dot <= 0) return;
        var dir = slash < 0 ? "" : handler[..(slash + 1)];
        // aws-lambda-ric refuses ".." in a handler: a module root never climbs out of the task root
        if (Array.IndexOf(dir.Split('/'), "..") >= 0) return;
        var module = baseName[..dot];
        foreach (var ext in extensions) files.Add(dir + module + ext);
    }
}
