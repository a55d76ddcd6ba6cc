using System.Runtime.InteropServices;
using IronFunction.Native;
using static IronFunction.Hooks.NetworkGate;

namespace IronFunction.Hooks;

/// <summary>
/// sunrpc, which glibc keeps as compat symbols (reachable with dlvsym, and by programs built against an older
/// glibc): its clients look a host up and send with glibc's internal calls. Each is judged at its own entry: a
/// host like rcmd's, a server address like connect's destination (the portmapper's port when it gives none).
/// A struct timeval argument arrives as two integers (the x86-64 and arm64 conventions pass it so).
/// </summary>
internal static unsafe partial class NetworkHooks
{
    private const ushort Portmapper = 111, TimeService = 37;
    private const int RPC_CANTSEND = 3, RPC_UNKNOWNHOST = 13;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_clnt_create")]
    private static nint ClntCreate(byte* host, nuint program, nuint version, byte* protocol) =>
        (IsUnix(protocol) || JudgeRpcHost(host, "clnt_create")) ? RealNetwork.clnt_create(host, program, version, protocol) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_callrpc")]
    private static int Callrpc(byte* host, nuint program, nuint version, nuint procedure, nint encode, nint input, nint decode, nint output) =>
        JudgeRpcHost(host, "callrpc") ? RealNetwork.callrpc(host, program, version, procedure, encode, input, decode, output) : RPC_UNKNOWNHOST;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_getrpcport")]
    private static int Getrpcport(byte* host, nint program, nint version, int protocol) =>
        JudgeRpcHost(host, "getrpcport") ? RealNetwork.getrpcport(host, program, version, protocol) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_clnttcp_create")]
    private static nint ClnttcpCreate(byte* server, nuint program, nuint version, int* socket, uint sendSize, uint receiveSize) =>
        JudgeServer(server, Portmapper, "clnttcp_create") ? RealNetwork.clnttcp_create(server, program, version, socket, sendSize, receiveSize) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_clntudp_create")]
    private static nint ClntudpCreate(byte* server, nuint program, nuint version, long waitSeconds, long waitMicroseconds, int* socket) =>
        JudgeServer(server, Portmapper, "clntudp_create")
            ? RealNetwork.clntudp_create(server, program, version, waitSeconds, waitMicroseconds, socket) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_clntudp_bufcreate")]
    private static nint ClntudpBufcreate(byte* server, nuint program, nuint version, long waitSeconds, long waitMicroseconds, int* socket,
        uint sendSize, uint receiveSize) =>
        JudgeServer(server, Portmapper, "clntudp_bufcreate")
            ? RealNetwork.clntudp_bufcreate(server, program, version, waitSeconds, waitMicroseconds, socket, sendSize, receiveSize) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___libc_clntudp_bufcreate")]
    private static nint LibcClntudpBufcreate(byte* server, nuint program, nuint version, long waitSeconds, long waitMicroseconds, int* socket,
        uint sendSize, uint receiveSize, int flags) =>
        JudgeServer(server, Portmapper, "__libc_clntudp_bufcreate")
            ? RealNetwork.__libc_clntudp_bufcreate(server, program, version, waitSeconds, waitMicroseconds, socket, sendSize, receiveSize, flags) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_pmap_getport")]
    private static ushort PmapGetport(byte* server, nuint program, nuint version, uint protocol) =>
        JudgeServer(server, Portmapper, "pmap_getport") ? RealNetwork.pmap_getport(server, program, version, protocol) : (ushort)0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___libc_rpc_getport")]
    private static ushort LibcRpcGetport(byte* server, nuint program, nuint version, uint protocol, long timeout, long totalTimeout) =>
        JudgeServer(server, Portmapper, "__libc_rpc_getport")
            ? RealNetwork.__libc_rpc_getport(server, program, version, protocol, timeout, totalTimeout) : (ushort)0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_pmap_getmaps")]
    private static nint PmapGetmaps(byte* server) => JudgeServer(server, Portmapper, "pmap_getmaps") ? RealNetwork.pmap_getmaps(server) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_pmap_rmtcall")]
    private static int PmapRmtcall(byte* server, nuint program, nuint version, nuint procedure, nint encode, nint arguments, nint decode,
        nint results, long timeoutSeconds, long timeoutMicroseconds, nuint* port) =>
        JudgeServer(server, Portmapper, "pmap_rmtcall")
            ? RealNetwork.pmap_rmtcall(server, program, version, procedure, encode, arguments, decode, results, timeoutSeconds, timeoutMicroseconds, port)
            : RPC_CANTSEND;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_rtime")]
    private static int Rtime(byte* server, nint time, nint timeout) =>
        JudgeServer(server, TimeService, "rtime") ? RealNetwork.rtime(server, time, timeout) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_authdes_create")]
    private static nint AuthdesCreate(byte* serverName, uint window, byte* syncAddress, nint key) =>
        JudgeServer(syncAddress, TimeService, "authdes_create") ? RealNetwork.authdes_create(serverName, window, syncAddress, key) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_authdes_pk_create")]
    private static nint AuthdesPkCreate(byte* serverName, nint publicKey, uint window, byte* syncAddress, nint key) =>
        JudgeServer(syncAddress, TimeService, "authdes_pk_create") ? RealNetwork.authdes_pk_create(serverName, publicKey, window, syncAddress, key) : 0;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_clnt_broadcast")]
    private static int ClntBroadcast(nuint program, nuint version, nuint procedure, nint encode, nint arguments, nint decode, nint results, nint each)
    {
        int errno = Errno.Value;
        bool permitted;
        try { permitted = PermitBroadcast(Portmapper, "clnt_broadcast"); }
        catch (Exception e) { permitted = Contained("clnt_broadcast", e); }
        if (!permitted) return RPC_CANTSEND;
        Errno.Value = errno;
        return RealNetwork.clnt_broadcast(program, version, procedure, encode, arguments, decode, results, each);
    }

    /// <summary>clnt_create's "unix" transport names a socket path, not a host.</summary>
    private static bool IsUnix(byte* protocol) =>
        Readable(protocol) && protocol[0] == (byte)'u' && protocol[1] == (byte)'n' && protocol[2] == (byte)'i' && protocol[3] == (byte)'x' && protocol[4] == 0;

    private static bool JudgeRpcHost(byte* host, string function)
    {
        int errno = Errno.Value;
        const ushort portmapperNetworkOrder = (Portmapper >> 8) | ((Portmapper & 0xff) << 8);
        try { return Restored(PermitRemoteHost(host, portmapperNetworkOrder, function), errno); }
        catch (Exception e) { return Restored(Contained(function, e), errno); }
    }

    private static bool JudgeServer(byte* server, ushort defaultPort, string function)
    {
        int errno = Errno.Value;
        try { return Restored(PermitServer(server, defaultPort, function), errno); }
        catch (Exception e) { return Restored(Contained(function, e), errno); }
    }
}
