namespace IronFunction.Policy;

/// <summary>
/// The outcome of loading a policy. <paramref name="Problem"/> is one line (no newline) when the file
/// could not be read or is invalid, and the policy is then fail-closed; <paramref name="Warning"/> is one
/// line in monitor mode. Neither carries the caller's "iron-function: " prefix. <see cref="Digest"/>: the SHA-256
/// the processes this one starts must find in their policy file (null: they must have none).
/// </summary>
public readonly record struct PolicyLoadResult(EffectivePolicy Policy, string? Problem, string? Warning)
{
    public string? Digest { get; init; }
}
