// A minimal AWS Lambda runtime for .NET, for the local Lambda of the tests.
//
// It speaks the Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) at
// AWS_LAMBDA_RUNTIME_API with HttpClient, as Amazon.Lambda.RuntimeSupport does:
//
//   init:  loads the assembly _HANDLER names ("Assembly::Namespace.Type::Method") from LAMBDA_TASK_ROOT into an
//          AssemblyLoadContext of its own (which finds the function's other assemblies there, when first used),
//          creates the type; on failure POST /runtime/init/error and exit 1
//   loop:  GET /runtime/invocation/next, prints "invocation N" on stdout, calls Method(string event) ->
//          POST /runtime/invocation/{id}/response with the string it returns, or /error when it throws
//
// Every assembly load is printed ("assembly-load NAME"), so that a test can tell which ones came after init.
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using System.Text.Json;

AppDomain.CurrentDomain.AssemblyLoad += (_, e) => Console.WriteLine($"assembly-load {e.LoadedAssembly.GetName().Name}");
var api = $"http://{Environment.GetEnvironmentVariable("AWS_LAMBDA_RUNTIME_API")}/2018-06-01/runtime";
using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = Timeout.InfiniteTimeSpan };

object? target;
MethodInfo method;
try
{
    var taskRoot = Environment.GetEnvironmentVariable("LAMBDA_TASK_ROOT")!;
    var parts = Environment.GetEnvironmentVariable("_HANDLER")!.Split("::");
    if (parts.Length != 3) throw new ArgumentException("expected Assembly::Namespace.Type::Method");
    var assembly = new FunctionLoadContext(taskRoot).LoadFromAssemblyPath(Path.Combine(taskRoot, parts[0] + ".dll"));
    var type = assembly.GetType(parts[1], throwOnError: true)!;
    method = type.GetMethod(parts[2]) ?? throw new MissingMethodException(parts[1], parts[2]);
    target = method.IsStatic ? null : Activator.CreateInstance(type);
}
catch (Exception e)
{
    await Post($"{api}/init/error", Report(e), e);
    return 1;
}

for (int invocation = 1; ; invocation++)
{
    using var next = await http.GetAsync($"{api}/invocation/next");
    var id = next.Headers.GetValues("Lambda-Runtime-Aws-Request-Id").First();
    var body = await next.Content.ReadAsStringAsync();
    Console.WriteLine($"invocation {invocation}");
    try
    {
        var result = (string?)method.Invoke(target, [body]);
        await Post($"{api}/invocation/{id}/response", result ?? "null", null);
    }
    catch (TargetInvocationException e) when (e.InnerException != null)
    {
        await Post($"{api}/invocation/{id}/error", Report(e.InnerException), e.InnerException);
    }
}

async Task Post(string url, string json, Exception? error)
{
    using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
    if (error != null) request.Headers.Add("Lambda-Runtime-Function-Error-Type", error.GetType().Name);
    using var response = await http.SendAsync(request);
}

static string Report(Exception e) =>
    JsonSerializer.Serialize(new Dictionary<string, string> { ["errorType"] = e.GetType().Name, ["errorMessage"] = e.Message });

/// <summary>The function's assemblies, from the task root, as RuntimeSupport's context finds them.</summary>
sealed class FunctionLoadContext(string taskRoot) : AssemblyLoadContext("function")
{
    protected override Assembly? Load(AssemblyName name)
    {
        var path = Path.Combine(taskRoot, name.Name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }
}
