using IronFunction.Native;

namespace IronFunction.Events;

/// <summary>The seed schema's aws_function_info, read once from the Lambda environment.</summary>
internal sealed class FunctionInfo
{
    /// <summary>Schema key → environment variable, in the schema's order.</summary>
    public static readonly (string Key, string Variable)[] Fields =
    [
        ("region", "AWS_REGION"),
        ("execution_env", "AWS_EXECUTION_ENV"),
        ("lambda_function_name", "AWS_LAMBDA_FUNCTION_NAME"),
        ("initialization_type", "AWS_LAMBDA_INITIALIZATION_TYPE"),
        ("task_root", "LAMBDA_TASK_ROOT"),
        ("runtime_dir", "LAMBDA_RUNTIME_DIR"),
        ("tz", "TZ"),
        ("memory_size", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        ("version", "AWS_LAMBDA_FUNCTION_VERSION"),
        ("log_group", "AWS_LAMBDA_LOG_GROUP_NAME"),
        ("log_stream", "AWS_LAMBDA_LOG_STREAM_NAME"),
    ];

    public string[] Values { get; } = Array.ConvertAll(Fields, f => Libc.GetEnv(f.Variable) ?? "");
}
