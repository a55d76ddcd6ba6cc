using System.Runtime.InteropServices;
using IronFunction.Native;
using static IronFunction.Hooks.NetworkGate;

namespace IronFunction.Hooks;

/// <summary>
/// Exported interceptors for outbound connections, datagrams and name lookups (outbound_connectivity).
/// Each is thin: judge the destination or the name, then call the real function or deny in the
/// function's own convention. Their names are listed in Hooks/network.symbols.
/// </summary>
internal static unsafe partial class NetworkHooks
{
    // ---- connections and datagrams: denied with -1 and EPERM ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_connect")]
    private static int Connect(int fd, byte* address, uint length) =>
        JudgeConnect(address, length, "connect") ? RealNetwork.connect(fd, address, length) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___connect")]
    private static int Connect2(int fd, byte* address, uint length) =>
        JudgeConnect(address, length, "__connect") ? RealNetwork.__connect(fd, address, length) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_sendto")]
    private static nint Sendto(int fd, byte* buffer, nuint size, int flags, byte* address, uint length) =>
        JudgeSendto(fd, address, length, flags) ? RealNetwork.sendto(fd, buffer, size, flags, address, length) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_sendmsg")]
    private static nint Sendmsg(int fd, byte* message, int flags) =>
        JudgeSendmsg(fd, message, flags) ? RealNetwork.sendmsg(fd, message, flags) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_sendmmsg")]
    private static int Sendmmsg(int fd, byte* vector, uint count, int flags)
    {
        int errno = Errno.Value;
        long permitted;
        try { permitted = PermitMessages(fd, vector, count, flags, "sendmmsg"); }
        catch (Exception e) { Contained("sendmmsg", e); permitted = count; }
        if (permitted < 0) return -1;
        Errno.Value = errno;
        return RealNetwork.sendmmsg(fd, vector, (uint)permitted, flags);
    }

    // ---- name lookups: denied in each function's convention, reported with the name ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_getaddrinfo")]
    private static int Getaddrinfo(byte* node, byte* service, byte* hints, byte** result)
    {
        int errno = Errno.Value;
        LookupVerdict verdict;
        string? name = null;
        bool allowed = false;
        try { verdict = JudgeGetaddrinfo(node, hints, out name, out allowed); }
        catch (Exception e) { Contained("getaddrinfo", e); verdict = LookupVerdict.Pass; }
        Errno.Value = errno;
        if (verdict == LookupVerdict.Deny) return EAI_FAIL;
        int status = RealNetwork.getaddrinfo(node, service, hints, result);
        if (verdict == LookupVerdict.Remember && status == 0 && Readable(result))
        {
            errno = Errno.Value;
            try { RememberAddrinfo(*result, name!, allowed); }
            catch (Exception e) { Contained("getaddrinfo", e); }
            Errno.Value = errno;
        }
        return status;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_gethostbyname")]
    private static byte* Gethostbyname(byte* host)
    {
        var verdict = JudgeHostent(host, "gethostbyname", out string? name, out bool allowed);
        if (verdict == LookupVerdict.Deny) return DeniedHostent();
        byte* answer = RealNetwork.gethostbyname(host);
        if (verdict == LookupVerdict.Remember) Remember(answer, name!, allowed, "gethostbyname");
        return answer;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_gethostbyname2")]
    private static byte* Gethostbyname2(byte* host, int family)
    {
        var verdict = JudgeHostent(host, "gethostbyname2", out string? name, out bool allowed);
        if (verdict == LookupVerdict.Deny) return DeniedHostent();
        byte* answer = RealNetwork.gethostbyname2(host, family);
        if (verdict == LookupVerdict.Remember) Remember(answer, name!, allowed, "gethostbyname2");
        return answer;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_gethostbyname_r")]
    private static int GethostbynameR(byte* host, byte* hostent, byte* buffer, nuint size, byte** result, int* herrno)
    {
        var verdict = JudgeHostent(host, "gethostbyname_r", out string? name, out bool allowed);
        if (verdict == LookupVerdict.Deny) return DeniedHostentR(result, herrno);
        int status = RealNetwork.gethostbyname_r(host, hostent, buffer, size, result, herrno);
        if (verdict == LookupVerdict.Remember && status == 0 && Readable(result)) Remember(*result, name!, allowed, "gethostbyname_r");
        return status;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_gethostbyname2_r")]
    private static int Gethostbyname2R(byte* host, int family, byte* hostent, byte* buffer, nuint size, byte** result, int* herrno)
    {
        var verdict = JudgeHostent(host, "gethostbyname2_r", out string? name, out bool allowed);
        if (verdict == LookupVerdict.Deny) return DeniedHostentR(result, herrno);
        int status = RealNetwork.gethostbyname2_r(host, family, hostent, buffer, size, result, herrno);
        if (verdict == LookupVerdict.Remember && status == 0 && Readable(result)) Remember(*result, name!, allowed, "gethostbyname2_r");
        return status;
    }

    // ---- asynchronous lookups: a denied request's status (gai_error) is EAI_FAIL ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_getaddrinfo_a")]
    private static int GetaddrinfoA(int mode, byte** list, int count, byte* notification)
    {
        const int GAI_WAIT = 0;
        int errno = Errno.Value;
        byte** filtered = null;
        try { filtered = FilterAsyncLookups(list, count); }
        catch (Exception e) { Contained("getaddrinfo_a", e); }
        Errno.Value = errno;
        int status = RealNetwork.getaddrinfo_a(mode, filtered != null ? filtered : list, count, notification);
        errno = Errno.Value;
        try
        {
            if (mode == GAI_WAIT && Readable(list))
                for (int i = 0; i < count; i++)
                    if (filtered == null || filtered[i] != null) RememberAsync(list[i]);
        }
        catch (Exception e) { Contained("getaddrinfo_a", e); }
        if (filtered != null) System.Runtime.InteropServices.NativeMemory.Free(filtered);
        Errno.Value = errno;
        return status;
    }

    /// <summary>A request that completed (status 0) has its answer remembered: GAI_NOWAIT callers learn it here.</summary>
    [UnmanagedCallersOnly(EntryPoint = "iron_hook_gai_error")]
    private static int GaiError(byte* request)
    {
        int status = RealNetwork.gai_error(request);
        if (status == 0)
        {
            int errno = Errno.Value;
            try { RememberAsync(request); }
            catch (Exception e) { Contained("gai_error", e); }
            Errno.Value = errno;
        }
        return status;
    }

    // ---- the resolver's query interface: denied with -1 and h_errno NO_RECOVERY ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_query")]
    private static int ResQuery(byte* name, int @class, int type, byte* answer, int size) =>
        JudgeQuery(name, "res_query", null) ? RealNetwork.res_query(name, @class, type, answer, size) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_search")]
    private static int ResSearch(byte* name, int @class, int type, byte* answer, int size) =>
        JudgeQuery(name, "res_search", null) ? RealNetwork.res_search(name, @class, type, answer, size) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_querydomain")]
    private static int ResQuerydomain(byte* name, byte* domain, int @class, int type, byte* answer, int size) =>
        JudgeQueryDomain(name, domain, "res_querydomain", null) ? RealNetwork.res_querydomain(name, domain, @class, type, answer, size) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_nquery")]
    private static int ResNquery(byte* state, byte* name, int @class, int type, byte* answer, int size) =>
        JudgeQuery(name, "res_nquery", state) ? RealNetwork.res_nquery(state, name, @class, type, answer, size) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_nsearch")]
    private static int ResNsearch(byte* state, byte* name, int @class, int type, byte* answer, int size) =>
        JudgeQuery(name, "res_nsearch", state) ? RealNetwork.res_nsearch(state, name, @class, type, answer, size) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_nquerydomain")]
    private static int ResNquerydomain(byte* state, byte* name, byte* domain, int @class, int type, byte* answer, int size) =>
        JudgeQueryDomain(name, domain, "res_nquerydomain", state) ? RealNetwork.res_nquerydomain(state, name, domain, @class, type, answer, size) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_send")]
    private static int ResSend(byte* message, int length, byte* answer, int size) =>
        JudgeQueryMessage(message, length, "res_send", null) ? RealNetwork.res_send(message, length, answer, size) : -1;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_nsend")]
    private static int ResNsend(byte* state, byte* message, int length, byte* answer, int size) =>
        JudgeQueryMessage(message, length, "res_nsend", state) ? RealNetwork.res_nsend(state, message, length, answer, size) : -1;

    /// <summary>gethostbyname(2): NULL with h_errno NO_RECOVERY (and errno EPERM).</summary>
    private static byte* DeniedHostent()
    {
        *Libc.HErrnoLocation() = NO_RECOVERY;
        Errno.Value = Errno.EPERM;
        return null;
    }

    /// <summary>The _r forms: *result NULL, *h_errnop NO_RECOVERY, and the error number returned (EPERM, also in errno).</summary>
    private static int DeniedHostentR(byte** result, int* herrno)
    {
        if (Readable(result)) *result = null;
        if (Readable(herrno)) *herrno = NO_RECOVERY;
        Errno.Value = Errno.EPERM;
        return Errno.EPERM;
    }

    // ---- containment: a failure inside the library lets the call through and is logged, never thrown
    // into the host; a call let through sees the errno it came with.

    private static bool JudgeConnect(byte* address, uint length, string function)
    {
        int errno = Errno.Value;
        try { return Restored(PermitConnect(address, length, function), errno); }
        catch (Exception e) { return Restored(Contained(function, e), errno); }
    }

    private static bool JudgeSendto(int fd, byte* address, uint length, int flags)
    {
        int errno = Errno.Value;
        try { return Restored(PermitSend(fd, address, length, flags, false, "sendto"), errno); }
        catch (Exception e) { return Restored(Contained("sendto", e), errno); }
    }

    private static bool JudgeSendmsg(int fd, byte* message, int flags)
    {
        int errno = Errno.Value;
        try { return Restored(PermitMessage(fd, message, flags, "sendmsg"), errno); }
        catch (Exception e) { return Restored(Contained("sendmsg", e), errno); }
    }

    private static LookupVerdict JudgeHostent(byte* host, string function, out string? name, out bool allowed)
    {
        int errno = Errno.Value;
        LookupVerdict verdict;
        name = null;
        allowed = false;
        try { verdict = JudgeLookup(host, true, function, out name, out allowed); }
        catch (Exception e) { Contained(function, e); verdict = LookupVerdict.Pass; }
        Errno.Value = errno;
        return verdict;
    }

    private static bool JudgeQuery(byte* name, string function, byte* state)
    {
        int errno = Errno.Value;
        LookupVerdict verdict;
        try { verdict = JudgeLookup(name, NumericText.None, function, out _, out _); }
        catch (Exception e) { Contained(function, e); verdict = LookupVerdict.Pass; }
        return QueryAnswer(verdict, errno, state);
    }

    private static bool JudgeQueryDomain(byte* name, byte* domain, string function, byte* state)
    {
        int errno = Errno.Value;
        LookupVerdict verdict;
        try { verdict = NetworkGate.JudgeQueryDomain(name, domain, function); }
        catch (Exception e) { Contained(function, e); verdict = LookupVerdict.Pass; }
        return QueryAnswer(verdict, errno, state);
    }

    private static bool JudgeQueryMessage(byte* message, int length, string function, byte* state)
    {
        int errno = Errno.Value;
        LookupVerdict verdict;
        try { verdict = NetworkGate.JudgeQueryMessage(message, length, function); }
        catch (Exception e) { Contained(function, e); verdict = LookupVerdict.Pass; }
        return QueryAnswer(verdict, errno, state);
    }

    /// <summary>Denied: h_errno (and the res_state's copy of it, at offset 496 of struct __res_state) NO_RECOVERY, errno EPERM.</summary>
    private static bool QueryAnswer(LookupVerdict verdict, int errno, byte* state)
    {
        if (verdict != LookupVerdict.Deny)
        {
            Errno.Value = errno;
            return true;
        }
        *Libc.HErrnoLocation() = NO_RECOVERY;
        if (Readable(state)) *(int*)(state + 496) = NO_RECOVERY;
        Errno.Value = Errno.EPERM;
        return false;
    }

    private static void Remember(byte* hostent, string name, bool allowed, string function)
    {
        int errno = Errno.Value, herrno = *Libc.HErrnoLocation();
        try { RememberHostent(hostent, name, allowed); }
        catch (Exception e) { Contained(function, e); }
        *Libc.HErrnoLocation() = herrno;
        Errno.Value = errno;
    }

    private static bool Restored(bool permitted, int errno)
    {
        if (permitted) Errno.Value = errno;
        return permitted;
    }

    private static bool Contained(string function, Exception e)
    {
        try { Lifecycle.Diagnostics.Error("network", $"the {function} hook failed and let the call through: {e}"); }
        catch { /* nothing may escape into the host */ }
        return true;
    }
}
