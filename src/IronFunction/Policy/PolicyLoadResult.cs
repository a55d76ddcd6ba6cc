namespace IronFunction.Policy;

/// <summary>
/// The outcome of loading a policy. <paramref name="Problem"/> is one line (no newline) when the file
/// could not be read or is invalid, and the policy is then fail-closed; <paramref name="Warning"/> is one
/// line in monitor mode. Neither carries the caller's "iron-function: " prefix.
/// </summary>
public readonly record struct PolicyLoadResult(EffectivePolicy Policy, string? Problem, string? Warning);
