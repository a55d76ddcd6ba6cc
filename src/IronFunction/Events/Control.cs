namespace IronFunction.Events;

/// <summary>The four controls; each event names the one that produced it.</summary>
internal enum Control : byte { ReadWriteTmp, CreateChildProcess, OutboundConnectivity, ReadHandler }

internal static class ControlNames
{
    public static string Of(Control control) => control switch
    {
        Control.ReadWriteTmp => "read_write_tmp",
        Control.CreateChildProcess => "create_child_process",
        Control.OutboundConnectivity => "outbound_connectivity",
        _ => "read_handler",
    };
}
