using System.Diagnostics;
using System.Text;
using System.Text.Json;
using IronFunction.Cli.Lambda;

namespace IronFunction.Cli;

/// <summary>
/// invoke: a function run on this machine as Lambda runs it: the Runtime API emulator on loopback, the runtime client
/// started by a bootstrap that execs the layer's wrapper (the file that ships), the Lambda environment variables.
/// </summary>
public static class InvokeCommand
{
    public const string Help = """
        usage: iron-function invoke --runtime python|node --task-root DIR --handler HANDLER
                                    [--policy P] [--event FILE|-]… [--count N] [--events FILE]
                                    [--log LEVEL] [--timeout SECONDS] [--json]

        Runs a function locally as Lambda runs it: a Runtime API emulator on 127.0.0.1, the
        runtime client (python: the product's bootstrap on CPython; node: the real aws-lambda-ric)
        started through the layer's wrapper, so the library is preloaded as in Lambda, with the
        Lambda environment variables, in DIR. Each event is one invocation (none: one invocation
        of {}); --count N invokes the events N times over. Each result or error goes to stdout (one
        JSON line each with --json); the function's output and the security events go to stderr,
        then a summary per control. Ends when the runtime asks for the invocation after the last.

          --policy P      IRON_FUNCTION_POLICY (default: the layer's own policy, dist/policy.json)
          --events FILE   also write the event lines to FILE (for iron-function learn)
          --timeout S     seconds to wait for the runtime's start and for each result (default 60)

        Exit: 0 when every invocation returned a response, 1 when one failed or the runtime did not
        start or ended early, 2 usage.
        """;

    public static int Run(string[] args)
    {
        var o = new Options("invoke", args);
        string? runtime = null, taskRoot = null, handler = null, policy = null, eventsFile = null, log = null;
        var events = new List<string>();
        int count = 1, timeout = 60;
        bool json = false;
        while (o.Next(out bool option) is { } a)
        {
            if (!option) throw o.Usage($"unexpected argument {a}");
            switch (a)
            {
                case "--help" or "-h": Console.Out.Write(Help); return Program.Ok;
                case "--runtime": runtime = o.Value(a); break;
                case "--task-root": taskRoot = o.Value(a); break;
                case "--handler": handler = o.Value(a); break;
                case "--policy": policy = o.Value(a); break;
                case "--event": events.Add(ReadEvent(o.Value(a))); break;
                case "--count": count = Positive(o, a); break;
                case "--events": eventsFile = o.Value(a); break;
                case "--log": log = o.Value(a); break;
                case "--timeout": timeout = Positive(o, a); break;
                case "--json": json = true; break;
                default: throw o.Unknown(a);
            }
        }
        if (runtime is not ("python" or "node")) throw o.Usage("--runtime python or --runtime node is required");
        if (taskRoot == null) throw o.Usage("--task-root DIR is required");
        if (handler == null) throw o.Usage("--handler is required (as Lambda's: module.function)");
        if (!Directory.Exists(taskRoot)) throw new FailedException($"no task root directory at {taskRoot}");
        taskRoot = Path.GetFullPath(taskRoot).TrimEnd('/');
        if (policy != null) CheckCommand.Validate(policy);
        if (events.Count == 0) events.Add("{}");
        var invocations = Enumerable.Repeat(events, count).SelectMany(e => e).ToList();

        using var api = new RuntimeApiEmulator(Path.GetFileName(taskRoot) is { Length: > 0 } n ? n : "function");
        var psi = Start(runtime, taskRoot, handler, policy, log, api);
        using var eventLog = eventsFile == null ? null : new StreamWriter(eventsFile, append: false, new UTF8Encoding(false)) { AutoFlush = true };
        var tally = new EventTally();
        var stderr = Console.OpenStandardError();
        var gate = new object();
        void Line(string line)
        {
            if (EventRecord.FromLine(line) is not { } e) return;
            lock (gate)
            {
                tally.Add(e);
                eventLog?.WriteLine(line);
            }
        }

        using var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += (_, _) => exited.TrySetResult();
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new FailedException($"cannot start the runtime: {e.Message}");
        }
        process.StandardInput.Close();
        // the function's two streams both go to stderr, as both go to its log in Lambda: stdout is the results'
        var relays = new[]
        {
            Task.Run(() => RunCommand.Relay(process.StandardOutput.BaseStream, stderr, Line)),
            Task.Run(() => RunCommand.Relay(process.StandardError.BaseStream, stderr, Line)),
        };

        int failures = 0;
        string? failure = null;
        try
        {
            failure = WaitForNext(api, 1, exited.Task, timeout, "start");
            for (int i = 0; failure == null && i < invocations.Count; i++)
            {
                var result = api.Invoke(invocations[i]);
                var first = Task.WhenAny(result, exited.Task, api.InitError, Task.Delay(TimeSpan.FromSeconds(timeout))).GetAwaiter().GetResult();
                if (first != result)
                {
                    failure = first == exited.Task ? "the runtime exited during an invocation"
                        : first == api.InitError ? $"the runtime reported an init error: {api.InitError.Result}"
                        : $"no result in {timeout} s";
                    break;
                }
                if (result.Result.IsError) failures++;
                Print(i + 1, invocations.Count, result.Result, json);
                // the runtime has finished an invocation once it asks for the next: its events are out by then
                failure = WaitForNext(api, i + 2, exited.Task, timeout, "the invocation after this one");
            }
        }
        finally
        {
            try { if (!process.HasExited) process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { /* already gone */ }
            process.WaitForExit();
            Task.WaitAll(relays, TimeSpan.FromSeconds(10));
        }
        lock (gate) RunCommand.WriteSummary(tally, "invoke summary", json);
        if (failure != null)
        {
            Console.Error.WriteLine($"iron-function: {failure}");
            return Program.Failed;
        }
        return failures == 0 ? Program.Ok : Program.Failed;
    }

    private static int Positive(Options o, string option) =>
        int.TryParse(o.Value(option), out int n) && n > 0 ? n : throw o.Usage($"{option} needs a positive whole number");

    private static string ReadEvent(string source)
    {
        string text;
        try
        {
            text = source == "-" ? Console.In.ReadToEnd() : File.ReadAllText(source);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FailedException($"cannot read the event {source}");
        }
        try
        {
            using var _ = JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
            throw new FailedException($"the event {source} is not JSON");
        }
        return text;
    }

    /// <summary>Null once the runtime has asked for invocation <paramref name="count"/>; else why it did not.</summary>
    private static string? WaitForNext(RuntimeApiEmulator api, int count, Task exited, int timeout, string what)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(timeout));
        var waiting = api.WaitForNextRequests(count, cancel.Token);
        var first = Task.WhenAny(waiting, exited, api.InitError).GetAwaiter().GetResult();
        if (first == waiting && waiting.IsCompletedSuccessfully) return null;
        if (first == api.InitError) return $"the runtime reported an init error: {api.InitError.Result}";
        return first == exited ? $"the runtime exited before asking for {what}" : $"the runtime did not ask for {what} within {timeout} s";
    }

    private static ProcessStartInfo Start(string runtime, string taskRoot, string handler, string? policy, string? log, RuntimeApiEmulator api)
    {
        string program, runtimeDir, executionEnv;
        var args = new List<string>();
        if (runtime == "python")
        {
            program = RealPython();
            var bootstrap = Product.PythonBootstrap;
            args.Add(bootstrap);
            runtimeDir = Path.GetDirectoryName(bootstrap)!;
            executionEnv = "AWS_Lambda_python3";
        }
        else
        {
            program = Product.Which("node") ?? throw new FailedException("node is not on PATH");
            var client = Product.NodeRuntimeClient;
            args.Add(client);
            runtimeDir = Path.GetDirectoryName(client)!;
            executionEnv = "AWS_Lambda_nodejs";
        }

        // a bootstrap as Lambda's managed runtimes have one: a shell that execs the wrapper with the runtime's command line
        var psi = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = taskRoot,
        };
        foreach (var a in new[] { "-c", "exec \"$AWS_LAMBDA_EXEC_WRAPPER\" \"$@\"", "bootstrap", program }) psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        // nothing of this machine's own Lambda or library settings leaks in
        foreach (var key in psi.Environment.Keys.ToList())
            if (key.StartsWith("AWS_", StringComparison.Ordinal) || key.StartsWith("LAMBDA_", StringComparison.Ordinal) ||
                key.StartsWith("IRON_", StringComparison.Ordinal) || key is "_HANDLER" or "LD_PRELOAD" or "TMPDIR" or "TMP" or "TEMP")
                psi.Environment.Remove(key);
        var name = api.FunctionName;
        var env = psi.Environment;
        env["AWS_LAMBDA_EXEC_WRAPPER"] = Product.Wrapper;
        env["AWS_LAMBDA_RUNTIME_API"] = api.Endpoint;
        env["LAMBDA_TASK_ROOT"] = taskRoot;
        env["_HANDLER"] = handler;
        env["LAMBDA_RUNTIME_DIR"] = runtimeDir;
        env["AWS_EXECUTION_ENV"] = executionEnv;
        env["AWS_LAMBDA_FUNCTION_NAME"] = name;
        env["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST";
        env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "128";
        env["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + name;
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = $"{DateTime.UtcNow:yyyy/MM/dd}/[$LATEST]{Guid.NewGuid():N}";
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand";
        env["AWS_REGION"] = "us-east-1";
        env["AWS_DEFAULT_REGION"] = "us-east-1";
        env["TZ"] = ":UTC";
        if (policy != null) env["IRON_FUNCTION_POLICY"] = Path.GetFullPath(policy);
        if (log != null) env["IRON_LOG"] = log;
        return psi;
    }

    /// <summary>The CPython binary itself: `python3` on PATH may be a shim that starts other programs first.</summary>
    private static string RealPython()
    {
        var python = Product.Which("python3") ?? throw new FailedException("python3 is not on PATH");
        var psi = new ProcessStartInfo(python) { UseShellExecute = false, RedirectStandardOutput = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import sys; print(sys.executable)");
        psi.Environment.Remove("LD_PRELOAD");
        using var p = Process.Start(psi)!;
        var path = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return p.ExitCode == 0 && File.Exists(path) ? path : python;
    }

    private static void Print(int n, int total, InvocationResult r, bool json)
    {
        if (!json)
        {
            Console.Out.WriteLine($"invocation {n}/{total} {r.RequestId}: {(r.IsError ? "error " + (r.ErrorType ?? "") : "response")}");
            Console.Out.WriteLine(r.Body);
            return;
        }
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("invocation", n);
            w.WriteString("request_id", r.RequestId);
            w.WriteString("status", r.IsError ? "error" : "response");
            if (r.ErrorType != null) w.WriteString("error_type", r.ErrorType);
            w.WritePropertyName("body");
            try
            {
                using var doc = JsonDocument.Parse(r.Body);
                doc.RootElement.WriteTo(w);
            }
            catch (JsonException)
            {
                w.WriteStringValue(r.Body);
            }
            w.WriteEndObject();
        }
        Console.Out.WriteLine(Encoding.UTF8.GetString(buffer.WrittenSpan));
    }
}
