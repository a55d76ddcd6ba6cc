using System.Runtime.InteropServices;
using IronFunction.Native;
using static IronFunction.Hooks.NetworkGate;

namespace IronFunction.Hooks;

/// <summary>
/// libc functions that resolve a name and connect through glibc's internal calls, past the public
/// getaddrinfo and connect (Hooks/network.symbols): each is judged at its own entry.
/// </summary>
internal static unsafe partial class NetworkHooks
{
    private const int NSS_STATUS_UNAVAIL = -1;

    // ---- the r* commands (rexec also reads ~/.netrc: FileHooks.JudgeNetrc): the host is looked up (a name judged like getaddrinfo's) and connected to (an
    // address judged like connect's destination, at the port given in network order) ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_rexec")]
    private static int Rexec(byte** host, int port, byte* user, byte* password, byte* command, int* errorChannel) =>
        JudgeRemote(host, port, "rexec") && FileHooks.JudgeNetrc("rexec") ? RealNetwork.rexec(host, port, user, password, command, errorChannel) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_rexec_af")]
    private static int RexecAf(byte** host, int port, byte* user, byte* password, byte* command, int* errorChannel, ushort family) =>
        JudgeRemote(host, port, "rexec_af") && FileHooks.JudgeNetrc("rexec_af") ? RealNetwork.rexec_af(host, port, user, password, command, errorChannel, family) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_rcmd")]
    private static int Rcmd(byte** host, ushort port, byte* localUser, byte* remoteUser, byte* command, int* errorChannel) =>
        JudgeRemote(host, port, "rcmd") ? RealNetwork.rcmd(host, port, localUser, remoteUser, command, errorChannel) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_rcmd_af")]
    private static int RcmdAf(byte** host, ushort port, byte* localUser, byte* remoteUser, byte* command, int* errorChannel, ushort family) =>
        JudgeRemote(host, port, "rcmd_af") ? RealNetwork.rcmd_af(host, port, localUser, remoteUser, command, errorChannel, family) : -1;

    // ruserok only looks the name up (and compares its addresses with .rhosts): it connects nowhere
    [UnmanagedCallersOnly(EntryPoint = "iron_hook_ruserok")]
    private static int Ruserok(byte* host, int superuser, byte* remoteUser, byte* localUser) =>
        JudgeName(host, "ruserok") ? RealNetwork.ruserok(host, superuser, remoteUser, localUser) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_ruserok_af")]
    private static int RuserokAf(byte* host, int superuser, byte* remoteUser, byte* localUser, ushort family) =>
        JudgeName(host, "ruserok_af") ? RealNetwork.ruserok_af(host, superuser, remoteUser, localUser, family) : -1;

    // ---- glibc's DNS back end (GLIBC_PRIVATE, reachable with dlvsym): the name goes out as a query ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook__nss_dns_gethostbyname_r")]
    private static int NssDnsGethostbynameR(byte* name, nint result, byte* buffer, nuint size, int* errnop, int* herrnop) =>
        JudgeName(name, "_nss_dns_gethostbyname_r", NumericText.None) ? RealNetwork._nss_dns_gethostbyname_r(name, result, buffer, size, errnop, herrnop)
            : Unavailable(errnop, herrnop);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook__nss_dns_gethostbyname2_r")]
    private static int NssDnsGethostbyname2R(byte* name, int family, nint result, byte* buffer, nuint size, int* errnop, int* herrnop) =>
        JudgeName(name, "_nss_dns_gethostbyname2_r", NumericText.None)
            ? RealNetwork._nss_dns_gethostbyname2_r(name, family, result, buffer, size, errnop, herrnop) : Unavailable(errnop, herrnop);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook__nss_dns_gethostbyname3_r")]
    private static int NssDnsGethostbyname3R(byte* name, int family, nint result, byte* buffer, nuint size, int* errnop, int* herrnop,
        int* ttl, byte** canonical) =>
        JudgeName(name, "_nss_dns_gethostbyname3_r", NumericText.None)
            ? RealNetwork._nss_dns_gethostbyname3_r(name, family, result, buffer, size, errnop, herrnop, ttl, canonical) : Unavailable(errnop, herrnop);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook__nss_dns_gethostbyname4_r")]
    private static int NssDnsGethostbyname4R(byte* name, nint* tuples, byte* buffer, nuint size, int* errnop, int* herrnop, int* ttl) =>
        JudgeName(name, "_nss_dns_gethostbyname4_r", NumericText.None)
            ? RealNetwork._nss_dns_gethostbyname4_r(name, tuples, buffer, size, errnop, herrnop, ttl) : Unavailable(errnop, herrnop);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook__nss_dns_getcanonname_r")]
    private static int NssDnsGetcanonnameR(byte* name, byte* buffer, nuint size, byte** result, int* errnop, int* herrnop) =>
        JudgeName(name, "_nss_dns_getcanonname_r", NumericText.None)
            ? RealNetwork._nss_dns_getcanonname_r(name, buffer, size, result, errnop, herrnop) : Unavailable(errnop, herrnop);

    [UnmanagedCallersOnly(EntryPoint = "iron_hook__nss_dns_getnetbyname_r")]
    private static int NssDnsGetnetbynameR(byte* name, nint result, byte* buffer, nuint size, int* errnop, int* herrnop) =>
        JudgeName(name, "_nss_dns_getnetbyname_r", NumericText.None)
            ? RealNetwork._nss_dns_getnetbyname_r(name, result, buffer, size, errnop, herrnop) : Unavailable(errnop, herrnop);

    // ---- the resolver's own context entry points (GLIBC_PRIVATE; __resolv_context_get hands out the context) ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___res_context_query")]
    private static int ResContextQuery(byte* context, byte* name, int @class, int type, byte* answer, int size, byte** answerp, byte** answerp2,
        int* answer2Size, int* reply2Length, int* answer2Malloced) =>
        JudgeQuery(name, "__res_context_query", ContextState(context))
            ? RealNetwork.__res_context_query(context, name, @class, type, answer, size, answerp, answerp2, answer2Size, reply2Length, answer2Malloced) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___res_context_search")]
    private static int ResContextSearch(byte* context, byte* name, int @class, int type, byte* answer, int size, byte** answerp, byte** answerp2,
        int* answer2Size, int* reply2Length, int* answer2Malloced) =>
        JudgeQuery(name, "__res_context_search", ContextState(context))
            ? RealNetwork.__res_context_search(context, name, @class, type, answer, size, answerp, answerp2, answer2Size, reply2Length, answer2Malloced) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___res_context_send")]
    private static int ResContextSend(byte* context, byte* message, int length, byte* message2, int length2, byte* answer, int size,
        byte** answerp, byte** answerp2, int* answer2Size, int* reply2Length, int* answer2Malloced) =>
        JudgeQueryMessage(message, length, "__res_context_send", ContextState(context)) &&
        (message2 == null || JudgeQueryMessage(message2, length2, "__res_context_send", ContextState(context)))
            ? RealNetwork.__res_context_send(context, message, length, message2, length2, answer, size, answerp, answerp2, answer2Size, reply2Length, answer2Malloced)
            : -1;

    /// <summary>struct resolv_context begins with its struct __res_state pointer.</summary>
    private static byte* ContextState(byte* context) => Readable(context) && Readable(*(byte**)context) ? *(byte**)context : null;

    private static int Unavailable(int* errnop, int* herrnop)
    {
        if (Readable(errnop)) *errnop = Errno.EPERM;
        if (Readable(herrnop)) *herrnop = NO_RECOVERY;
        return NSS_STATUS_UNAVAIL;
    }

    private static bool JudgeRemote(byte** host, int port, string function)
    {
        int errno = Errno.Value;
        try { return Restored(PermitRemoteHost(Readable(host) ? *host : null, (ushort)port, function), errno); }
        catch (Exception e) { return Restored(Contained(function, e), errno); }
    }

    /// <summary>A name about to be looked up; denied with errno EPERM.</summary>
    private static bool JudgeName(byte* host, string function, NumericText numeric = NumericText.Getaddrinfo)
    {
        int errno = Errno.Value;
        LookupVerdict verdict;
        try { verdict = JudgeLookup(host, numeric, function, out _, out _); }
        catch (Exception e) { Contained(function, e); verdict = LookupVerdict.Pass; }
        if (verdict == LookupVerdict.Deny)
        {
            Errno.Value = Errno.EPERM;
            return false;
        }
        Errno.Value = errno;
        return true;
    }
}
