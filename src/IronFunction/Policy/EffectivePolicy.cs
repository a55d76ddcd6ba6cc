using System;
using System.Collections.Generic;
using System.Linq;
using System.Collections.ObjectModel;
using System.Text;

namespace IronFunction.Policy;

/// <summary>The policy in force for the life of the process; immutable once built.</summary>
public sealed class EffectivePolicy
{
    public PolicyAction ReadWriteTmp { get; }
    public PolicyAction CreateChildProcess { get; }
    public PolicyAction ReadHandler { get; }
    public PolicyAction OutboundConnectivity { get; }
    /// <summary>"kernel": true on read_write_tmp: a Landlock layer backs the libc layer up (block mode only).</summary>
    public bool ReadWriteTmpKernel { get; }
    /// <summary>"kernel": true on read_handler: a Landlock layer at arming (block mode only).</summary>
    public bool ReadHandlerKernel { get; }
    public IReadOnlyList<NetworkException> OutboundExceptions { get; }
    public Uri? ApiEndpoint { get; }
    public PolicyOrigin Origin { get; }
    public string? SourcePath { get; }

    public EffectivePolicy(
        PolicyAction readWriteTmp,
        PolicyAction createChildProcess,
        PolicyAction readHandler,
        PolicyAction outboundConnectivity,
        IEnumerable<NetworkException>? outboundExceptions = null,
        Uri? apiEndpoint = null,
        PolicyOrigin origin = PolicyOrigin.File,
        string? sourcePath = null,
        bool readWriteTmpKernel = false,
        bool readHandlerKernel = false)
    {
        ReadWriteTmpKernel = readWriteTmpKernel;
        ReadHandlerKernel = readHandlerKernel;
        ReadWriteTmp = readWriteTmp;
        CreateChildProcess = createChildProcess;
        ReadHandler = readHandler;
        OutboundConnectivity = outboundConnectivity;
        // A private copy: whoever built the list cannot change the policy afterwards.
        OutboundExceptions = new ReadOnlyCollection<NetworkException>(outboundExceptions?.ToArray() ?? []);
        ApiEndpoint = apiEndpoint;
        Origin = origin;
        SourcePath = sourcePath;
    }

    /// <summary>Block on all four controls, no exceptions, no endpoint: the answer to any policy problem.</summary>
    public static EffectivePolicy FailClosed(string? sourcePath) =>
        new(PolicyAction.Block, PolicyAction.Block, PolicyAction.Block, PolicyAction.Block,
            origin: PolicyOrigin.FailClosed, sourcePath: sourcePath);

    /// <summary>Alert on all four controls: the answer to an absent IRON_FUNCTION_POLICY.</summary>
    public static EffectivePolicy Monitor() =>
        new(PolicyAction.Alert, PolicyAction.Alert, PolicyAction.Alert, PolicyAction.Alert,
            origin: PolicyOrigin.Monitor);

    /// <summary>One line for the debug log, in the policy file's own vocabulary.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("origin=").Append(Origin switch
        {
            PolicyOrigin.File => "file",
            PolicyOrigin.Monitor => "monitor",
            _ => "fail-closed",
        });
        if (SourcePath is not null) sb.Append(" source=").Append(PolicyText.OneLine(SourcePath));
        sb.Append(" read_write_tmp=").Append(ReadWriteTmp.Name()).Append(ReadWriteTmpKernel ? "+kernel" : "")
          .Append(" create_child_process=").Append(CreateChildProcess.Name())
          .Append(" read_handler=").Append(ReadHandler.Name()).Append(ReadHandlerKernel ? "+kernel" : "")
          .Append(" outbound_connectivity=").Append(OutboundConnectivity.Name())
          .Append(" exceptions=[").AppendJoin(", ", OutboundExceptions.Select(e => PolicyText.OneLine(e.Text))).Append(']');
        if (ApiEndpoint is not null) sb.Append(" api_endpoint=").Append(ApiEndpoint.OriginalString);
        return sb.ToString();
    }
}
