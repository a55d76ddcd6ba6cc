namespace IronFunction.Policy;

/// <summary>What a control does with a call it covers.</summary>
public enum PolicyAction : byte { Allow = 0, Alert = 1, Block = 2 }

/// <summary>Where the effective policy came from.</summary>
public enum PolicyOrigin : byte
{
    /// <summary>Read from the file named by IRON_FUNCTION_POLICY.</summary>
    File,
    /// <summary>No IRON_FUNCTION_POLICY: every control alerts.</summary>
    Monitor,
    /// <summary>Policy error or unreadable file: every control blocks.</summary>
    FailClosed,
}

public static class PolicyActions
{
    /// <summary>The policy-file spelling of an action ("allow", "alert", "block"), as events report it.</summary>
    public static string Name(this PolicyAction action) => action switch
    {
        PolicyAction.Allow => "allow",
        PolicyAction.Alert => "alert",
        _ => "block",
    };
}
