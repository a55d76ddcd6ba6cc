using System.Diagnostics;
using System.Text;
using System.Text.Json;
using IronFunction.Cli.Lambda;
using IronFunction.Tests.EndToEnd;

namespace IronFunction.Tests.Lambda;

/// <summary>A runtime a <see cref="LocalLambda"/> can start: the program, its arguments, and what AWS_EXECUTION_ENV says.</summary>
public sealed record LambdaRuntime(string Name, string Program, IReadOnlyList<string> Args, string RuntimeDir, string ExecutionEnv)
{
    /// <summary>The runtime clients iron-function invoke starts: the product's own (runtime/ in the repository).</summary>
    public static readonly string Root = Path.Combine(Machine.RepoRoot, "runtime");

    /// <summary>The handlers the tests run, tests/lambda/&lt;runtime&gt;/handler.</summary>
    public static readonly string Handlers = Path.Combine(Machine.RepoRoot, "tests", "lambda");

    /// <summary>runtime/python/bootstrap.py on the real CPython: a custom runtime speaking the Runtime API with http.client.</summary>
    public static LambdaRuntime Python()
    {
        var dir = Path.Combine(Root, "python");
        return new("python", Machine.Python.Value, [Path.Combine(dir, "bootstrap.py")], dir, "AWS_Lambda_python3.11");
    }

    /// <summary>
    /// The real AWS client, npm aws-lambda-ric (its native addon answers the Runtime API through libcurl),
    /// installed into runtime/node/node_modules by ./build.sh. Missing is a failure, not a skip.
    /// </summary>
    public static LambdaRuntime Node()
    {
        var dir = Path.Combine(Root, "node", "node_modules", "aws-lambda-ric");
        if (!File.Exists(Path.Combine(dir, "rapid-client.node")))
            throw new InvalidOperationException($"{dir} has no rapid-client.node: run ./build.sh test, which installs aws-lambda-ric");
        return new("node", Machine.Node.Value, [Path.Combine(dir, "index.mjs")], dir, "AWS_Lambda_nodejs20.x");
    }
}

/// <summary>Everything a finished <see cref="LocalLambda"/> left: its output, the events on its stderr, the Runtime API traffic.</summary>
public sealed record LambdaRun(int ExitCode, string Stdout, string Stderr, IReadOnlyList<JsonElement> Events,
    IReadOnlyList<string> Diagnostics, int NextRequests, IReadOnlyList<string> RequestLines)
{
    public override string ToString() =>
        $"exit {ExitCode}, {NextRequests} next-invocation requests\n--- requests\n{string.Join('\n', RequestLines)}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>
/// A function running locally as in Lambda: a <see cref="RuntimeApiEmulator"/> on loopback and a runtime
/// process started with the Lambda environment (AWS_LAMBDA_RUNTIME_API, LAMBDA_TASK_ROOT, _HANDLER, the
/// function's name, version, memory, log group and stream, AWS_REGION, LAMBDA_RUNTIME_DIR), its working
/// directory the task root, and, unless <c>preload</c> is false, LD_PRELOAD and IRON_FUNCTION_POLICY; or,
/// given an exec wrapper, AWS_LAMBDA_EXEC_WRAPPER and a bootstrap that execs it (a layer's wrapper).
/// </summary>
public sealed class LocalLambda : IDisposable
{
    private const string EventPrefix = "{\"aws_function_info\"";
    private readonly Process _process;
    private readonly StringBuilder _stdout = new(), _stderr = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _finished;

    public RuntimeApiEmulator Api { get; }
    public string TaskRoot { get; }

    private LocalLambda(RuntimeApiEmulator api, Process process, string taskRoot)
    {
        Api = api;
        _process = process;
        TaskRoot = taskRoot;
    }

    /// <param name="policyPath">IRON_FUNCTION_POLICY; null leaves it unset (monitor mode).</param>
    /// <param name="env">Extra variables; a null value removes one.</param>
    public static LocalLambda Start(LambdaRuntime runtime, string taskRoot, string handler, string? policyPath,
        IDictionary<string, string?>? env = null, bool preload = true, string functionName = "iron-test", string? execWrapper = null)
    {
        var api = new RuntimeApiEmulator(functionName);
        // with an exec wrapper, a bootstrap as Lambda's managed runtimes have one: a shell that execs the
        // wrapper with the runtime's command line (the wrapper, not this harness, preloads the library)
        var psi = new ProcessStartInfo(execWrapper == null ? runtime.Program : "/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = taskRoot,
        };
        if (execWrapper != null)
            foreach (var a in new[] { "-c", "exec \"$AWS_LAMBDA_EXEC_WRAPPER\" \"$@\"", "bootstrap", runtime.Program }) psi.ArgumentList.Add(a);
        foreach (var a in runtime.Args) psi.ArgumentList.Add(a);
        // nothing of the test host's own Lambda or library settings may leak in
        foreach (var key in psi.Environment.Keys.ToList())
            if (key.StartsWith("AWS_", StringComparison.Ordinal) || key.StartsWith("LAMBDA_", StringComparison.Ordinal) ||
                key.StartsWith("IRON_", StringComparison.Ordinal) || key is "_HANDLER" or "LD_PRELOAD" or "TMPDIR" or "TMP" or "TEMP")
                psi.Environment.Remove(key);
        var vars = new Dictionary<string, string?>
        {
            ["AWS_LAMBDA_RUNTIME_API"] = api.Endpoint,
            ["LAMBDA_TASK_ROOT"] = taskRoot,
            ["_HANDLER"] = handler,
            ["LAMBDA_RUNTIME_DIR"] = runtime.RuntimeDir,
            ["AWS_EXECUTION_ENV"] = runtime.ExecutionEnv,
            ["AWS_LAMBDA_FUNCTION_NAME"] = functionName,
            ["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST",
            ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "128",
            ["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + functionName,
            ["AWS_LAMBDA_LOG_STREAM_NAME"] = $"{DateTime.UtcNow:yyyy/MM/dd}/[$LATEST]{Guid.NewGuid():N}",
            ["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand",
            ["AWS_REGION"] = "us-east-1",
            ["AWS_DEFAULT_REGION"] = "us-east-1",
            ["TZ"] = ":UTC",
        };
        if (execWrapper != null) vars["AWS_LAMBDA_EXEC_WRAPPER"] = execWrapper;
        else if (preload)
        {
            vars["LD_PRELOAD"] = Machine.Library;
            vars["IRON_FUNCTION_POLICY"] = policyPath;
        }
        if (env != null) foreach (var (k, v) in env) vars[k] = v;
        foreach (var (k, v) in vars)
            if (v == null) psi.Environment.Remove(k); else psi.Environment[k] = v;

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var lambda = new LocalLambda(api, process, taskRoot);
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (lambda._stdout) lambda._stdout.Append(e.Data).Append('\n'); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (lambda._stderr) lambda._stderr.Append(e.Data).Append('\n'); };
        process.Exited += (_, _) => lambda._exited.TrySetResult();
        try
        {
            process.Start();
        }
        catch
        {
            api.Dispose();
            throw;
        }
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return lambda;
    }

    /// <summary>Waits until the runtime has initialised: its first request for the next invocation.</summary>
    public void WaitUntilInitialised(int timeoutSeconds = 60) => WaitForNextRequests(1, timeoutSeconds);

    /// <summary>Invokes the function with one event and returns what the runtime posted for it.</summary>
    public InvocationResult Invoke(string eventJson, int timeoutSeconds = 60)
    {
        var result = Api.Invoke(eventJson);
        var first = Task.WhenAny(result, _exited.Task, Api.InitError, Task.Delay(TimeSpan.FromSeconds(timeoutSeconds))).GetAwaiter().GetResult();
        if (first == result) return result.Result;
        var why = first == _exited.Task ? "the runtime exited"
            : first == Api.InitError ? $"the runtime reported an init error: {Api.InitError.Result}"
            : $"no result in {timeoutSeconds} s";
        throw new InvalidOperationException($"invocation failed, {why}:\n{Snapshot()}");
    }

    /// <summary>
    /// Ends the function as Lambda would: once the runtime has asked for its next invocation after the last
    /// one (where it may be frozen; pending work must be done by then), the process tree is killed.
    /// </summary>
    public LambdaRun Finish(int timeoutSeconds = 60)
    {
        if (!_exited.Task.IsCompleted) WaitForNextRequests(Api.Invocations + 1, timeoutSeconds);
        return Stop();
    }

    /// <summary>Kills the runtime now (if it still runs) and returns what it left.</summary>
    public LambdaRun Stop()
    {
        if (!_finished)
        {
            _finished = true;
            try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { /* already gone */ }
            _process.WaitForExit(); // with asynchronous readers: also waits for the end of both streams
            Api.Dispose();
        }
        return Snapshot();
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
    }

    private void WaitForNextRequests(int count, int timeoutSeconds)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        var waiting = Api.WaitForNextRequests(count, cancel.Token);
        var first = Task.WhenAny(waiting, _exited.Task).GetAwaiter().GetResult();
        if (first == waiting && waiting.IsCompletedSuccessfully) return;
        var why = first == _exited.Task ? "the runtime exited" : $"not within {timeoutSeconds} s";
        throw new InvalidOperationException($"the runtime did not ask for invocation {count} ({why}):\n{Snapshot()}");
    }

    private LambdaRun Snapshot()
    {
        string stdout, stderr;
        lock (_stdout) stdout = _stdout.ToString();
        lock (_stderr) stderr = _stderr.ToString();
        var events = new List<JsonElement>();
        var diagnostics = new List<string>();
        foreach (var line in stderr.Split('\n'))
        {
            if (line.StartsWith(EventPrefix, StringComparison.Ordinal)) events.Add(JsonDocument.Parse(line).RootElement.Clone());
            else if (line.StartsWith("iron-function", StringComparison.Ordinal)) diagnostics.Add(line);
        }
        int exit = _process.HasExited ? _process.ExitCode : int.MinValue;
        return new LambdaRun(exit, stdout, stderr, events, diagnostics, Api.NextRequests, Api.RequestLines);
    }
}
