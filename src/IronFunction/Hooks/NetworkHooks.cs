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
    // ---- connections and datagrams: denied with -1 and EPERM (EACCES for a socket file read_write_tmp denies) ----
    // The address (and sendmsg's control messages) is copied into the hook's own memory, judged there, and the
    // copy is what libc receives: another thread changing the caller's bytes after the judgement changes nothing.

    private const int AddressCopy = 128;     // sockaddr_storage: the kernel reads no more
    private const int MsghdrSize = 56, MmsghdrSize = 64;
    private const int ControlOnStack = 512;
    private const int MostControlCopied = 1 << 20; // past any optmem_max: the kernel refuses such a message
    private const int MmsgOnStack = 4096;

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_connect")]
    private static int Connect(int fd, byte* address, uint length)
    {
        byte* copy = stackalloc byte[AddressCopy];
        address = CopyAddress(address, length, copy);
        return JudgeConnect(address, length, "connect") ? RealNetwork.connect(fd, address, length) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook___connect")]
    private static int Connect2(int fd, byte* address, uint length)
    {
        byte* copy = stackalloc byte[AddressCopy];
        address = CopyAddress(address, length, copy);
        return JudgeConnect(address, length, "__connect") ? RealNetwork.__connect(fd, address, length) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_sendto")]
    private static nint Sendto(int fd, byte* buffer, nuint size, int flags, byte* address, uint length)
    {
        byte* copy = stackalloc byte[AddressCopy];
        address = CopyAddress(address, length, copy);
        return JudgeSendto(fd, address, length, flags) ? RealNetwork.sendto(fd, buffer, size, flags, address, length) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_sendmsg")]
    private static nint Sendmsg(int fd, byte* message, int flags)
    {
        byte* header = stackalloc byte[MsghdrSize];
        byte* name = stackalloc byte[AddressCopy];
        byte* control = stackalloc byte[ControlOnStack];
        byte* heap = null;
        message = CopyMessage(message, header, name, control, &heap);
        nint result = JudgeSendmsg(fd, message, flags) ? RealNetwork.sendmsg(fd, message, flags) : -1;
        if (heap != null) FreeKeepingErrno(heap);
        return result;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_sendmmsg")]
    private static int Sendmmsg(int fd, byte* vector, uint count, int flags)
    {
        byte* stack = stackalloc byte[MmsgOnStack];
        byte* heap = null;
        byte* original = vector;
        uint copied = 0;
        int errno = Errno.Value;
        long permitted;
        try
        {
            vector = CopyMessages(vector, count, stack, &heap, out copied);
            permitted = PermitMessages(fd, vector, count, flags, "sendmmsg");
        }
        catch (Exception e) { Contained("sendmmsg", e); permitted = count; }
        if (permitted < 0)
        {
            if (heap != null) FreeKeepingErrno(heap);
            return -1;
        }
        Errno.Value = errno;
        // a copied vector goes whole or not at all; the kernel sends at most UIO_MAXIOV messages of it anyway
        uint sent = vector != original ? (uint)Math.Min(permitted, copied) : (uint)permitted;
        int result = RealNetwork.sendmmsg(fd, vector, sent, flags);
        if (vector != original)
            for (int i = 0; i < result; i++) *(uint*)(original + i * MmsghdrSize + MsghdrSize) = *(uint*)(vector + i * MmsghdrSize + MsghdrSize);
        if (heap != null) FreeKeepingErrno(heap);
        return result;
    }

    /// <summary>setsockopt: only source-routing options reach this hook (Native/glue/source_route_filter.c).</summary>
    [UnmanagedCallersOnly(EntryPoint = "iron_hook_setsockopt")]
    private static int Setsockopt(int fd, int level, int name, byte* value, uint length)
    {
        const int OnStack = 2048, Longest = 64 * 1024; // IPV6_2292PKTOPTIONS takes up to 64 KiB
        byte* stack = stackalloc byte[OnStack];
        byte* heap = null;
        if (Readable(value) && length > 0 && length <= Longest)
        {
            byte* to = length <= OnStack ? stack : heap = (byte*)NativeMemory.Alloc(length);
            if (to != null)
            {
                Buffer.MemoryCopy(value, to, length, length);
                value = to;
            }
        }
        int result = JudgeSetsockopt(level, name, value, length) ? RealNetwork.setsockopt(fd, level, name, value, length) : -1;
        if (heap != null) FreeKeepingErrno(heap);
        return result;
    }

    /// <summary>The address copied into <paramref name="copy"/> when it is readable and not longer than the kernel reads; else the argument itself (the kernel answers it).</summary>
    private static byte* CopyAddress(byte* address, uint length, byte* copy)
    {
        if (!Readable(address) || length == 0 || length > AddressCopy) return address;
        Buffer.MemoryCopy(address, copy, AddressCopy, length);
        return copy;
    }

    /// <summary>
    /// A msghdr copied into <paramref name="header"/>, with its name and control messages copied too (the
    /// name cut to the 128 bytes the kernel reads of it; long control messages go to the heap, *heap to free);
    /// the message itself when it cannot be read.
    /// </summary>
    private static byte* CopyMessage(byte* message, byte* header, byte* name, byte* control, byte** heap)
    {
        if (!Readable(message)) return message;
        Buffer.MemoryCopy(message, header, MsghdrSize, MsghdrSize);
        CopyMessageParts(header, name, control, ControlOnStack, heap);
        return header;
    }

    private static void CopyMessageParts(byte* header, byte* name, byte* control, nuint controlRoom, byte** heap)
    {
        byte* address = *(byte**)header;
        uint length = *(uint*)(header + 8);
        // a negative msg_namelen is the kernel's EINVAL: left as it is
        if (Readable(address) && length > 0 && length <= int.MaxValue)
        {
            length = Math.Min(length, AddressCopy);
            Buffer.MemoryCopy(address, name, AddressCopy, length);
            *(byte**)header = name;
            *(uint*)(header + 8) = length;
        }
        byte* controls = *(byte**)(header + 32);
        nuint size = *(nuint*)(header + 40);
        if (!Readable(controls) || size == 0 || size > MostControlCopied) return;
        byte* to = control;
        if (size > controlRoom)
        {
            to = (byte*)NativeMemory.Alloc(size);
            if (to == null) return;
            *heap = to;
        }
        Buffer.MemoryCopy(controls, to, size, size);
        *(byte**)(header + 32) = to;
    }

    /// <summary>
    /// sendmmsg's vector copied with every message's name and control messages, in <paramref name="stack"/>
    /// when it fits, else in one heap block (*heap to free); the vector itself when it cannot be read.
    /// </summary>
    private static byte* CopyMessages(byte* vector, uint count, byte* stack, byte** heap, out uint copied)
    {
        copied = 0;
        if (!Readable(vector) || count == 0) return vector;
        uint n = Math.Min(count, UioMaxIov);
        nuint total = n * (nuint)(MmsghdrSize + AddressCopy);
        for (uint i = 0; i < n; i++)
        {
            byte* m = vector + i * MmsghdrSize;
            nuint size = *(nuint*)(m + 40);
            if (Readable(*(byte**)(m + 32)) && size <= MostControlCopied) total += (size + 7) & ~(nuint)7;
        }
        byte* block = stack;
        if (total > MmsgOnStack)
        {
            block = (byte*)NativeMemory.Alloc(total);
            if (block == null) return vector;
            *heap = block;
        }
        byte* names = block + n * MmsghdrSize;
        byte* controls = names + n * AddressCopy;
        byte* unused = null;
        for (uint i = 0; i < n; i++)
        {
            byte* to = block + i * MmsghdrSize;
            Buffer.MemoryCopy(vector + i * MmsghdrSize, to, MmsghdrSize, MmsghdrSize);
            nuint size = *(nuint*)(to + 40);
            bool copyControl = Readable(*(byte**)(to + 32)) && size <= MostControlCopied;
            CopyMessageParts(to, names + i * AddressCopy, controls, copyControl ? size : 0, &unused);
            if (copyControl) controls += (size + 7) & ~(nuint)7;
        }
        copied = n;
        return block;
    }

    private static void FreeKeepingErrno(byte* block)
    {
        int errno = Errno.Value;
        NativeMemory.Free(block);
        Errno.Value = errno;
    }

    // ---- name lookups: denied in each function's convention, reported with the name ----

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_getaddrinfo")]
    private static int Getaddrinfo(byte* node, byte* service, byte* hints, byte** result)
    {
        byte* copy = stackalloc byte[NameCopy];
        node = CopyName(node, copy);
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
        byte* copy = stackalloc byte[NameCopy];
        host = CopyName(host, copy);
        var verdict = JudgeHostent(host, "gethostbyname", out string? name, out bool allowed);
        if (verdict == LookupVerdict.Deny) return DeniedHostent();
        byte* answer = RealNetwork.gethostbyname(host);
        if (verdict == LookupVerdict.Remember) Remember(answer, name!, allowed, "gethostbyname");
        return answer;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_gethostbyname2")]
    private static byte* Gethostbyname2(byte* host, int family)
    {
        byte* copy = stackalloc byte[NameCopy];
        host = CopyName(host, copy);
        var verdict = JudgeHostent(host, "gethostbyname2", out string? name, out bool allowed);
        if (verdict == LookupVerdict.Deny) return DeniedHostent();
        byte* answer = RealNetwork.gethostbyname2(host, family);
        if (verdict == LookupVerdict.Remember) Remember(answer, name!, allowed, "gethostbyname2");
        return answer;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_gethostbyname_r")]
    private static int GethostbynameR(byte* host, byte* hostent, byte* buffer, nuint size, byte** result, int* herrno)
    {
        byte* copy = stackalloc byte[NameCopy];
        host = CopyName(host, copy);
        var verdict = JudgeHostent(host, "gethostbyname_r", out string? name, out bool allowed);
        if (verdict == LookupVerdict.Deny) return DeniedHostentR(result, herrno);
        int status = RealNetwork.gethostbyname_r(host, hostent, buffer, size, result, herrno);
        if (verdict == LookupVerdict.Remember && status == 0 && Readable(result)) Remember(*result, name!, allowed, "gethostbyname_r");
        return status;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_gethostbyname2_r")]
    private static int Gethostbyname2R(byte* host, int family, byte* hostent, byte* buffer, nuint size, byte** result, int* herrno)
    {
        byte* copy = stackalloc byte[NameCopy];
        host = CopyName(host, copy);
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
    private static int ResQuery(byte* name, int @class, int type, byte* answer, int size)
    {
        byte* copy = stackalloc byte[NameCopy];
        name = CopyName(name, copy);
        return JudgeQuery(name, "res_query", null) ? RealNetwork.res_query(name, @class, type, answer, size) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_search")]
    private static int ResSearch(byte* name, int @class, int type, byte* answer, int size)
    {
        byte* copy = stackalloc byte[NameCopy];
        name = CopyName(name, copy);
        return JudgeQuery(name, "res_search", null) ? RealNetwork.res_search(name, @class, type, answer, size) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_querydomain")]
    private static int ResQuerydomain(byte* name, byte* domain, int @class, int type, byte* answer, int size)
    {
        byte* copy = stackalloc byte[NameCopy], domainCopy = stackalloc byte[NameCopy];
        name = CopyName(name, copy);
        domain = CopyName(domain, domainCopy);
        return JudgeQueryDomain(name, domain, "res_querydomain", null) ? RealNetwork.res_querydomain(name, domain, @class, type, answer, size) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_nquery")]
    private static int ResNquery(byte* state, byte* name, int @class, int type, byte* answer, int size)
    {
        byte* copy = stackalloc byte[NameCopy];
        name = CopyName(name, copy);
        return JudgeQuery(name, "res_nquery", state) ? RealNetwork.res_nquery(state, name, @class, type, answer, size) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_nsearch")]
    private static int ResNsearch(byte* state, byte* name, int @class, int type, byte* answer, int size)
    {
        byte* copy = stackalloc byte[NameCopy];
        name = CopyName(name, copy);
        return JudgeQuery(name, "res_nsearch", state) ? RealNetwork.res_nsearch(state, name, @class, type, answer, size) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_nquerydomain")]
    private static int ResNquerydomain(byte* state, byte* name, byte* domain, int @class, int type, byte* answer, int size)
    {
        byte* copy = stackalloc byte[NameCopy], domainCopy = stackalloc byte[NameCopy];
        name = CopyName(name, copy);
        domain = CopyName(domain, domainCopy);
        return JudgeQueryDomain(name, domain, "res_nquerydomain", state) ? RealNetwork.res_nquerydomain(state, name, domain, @class, type, answer, size) : -1;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_send")]
    private static int ResSend(byte* message, int length, byte* answer, int size)
    {
        byte* stack = stackalloc byte[MessageOnStack];
        byte* heap = null;
        message = CopyQuery(message, length, stack, &heap);
        int result = JudgeQueryMessage(message, length, "res_send", null) ? RealNetwork.res_send(message, length, answer, size) : -1;
        if (heap != null) FreeKeepingErrno(heap);
        return result;
    }

    [UnmanagedCallersOnly(EntryPoint = "iron_hook_res_nsend")]
    private static int ResNsend(byte* state, byte* message, int length, byte* answer, int size)
    {
        byte* stack = stackalloc byte[MessageOnStack];
        byte* heap = null;
        message = CopyQuery(message, length, stack, &heap);
        int result = JudgeQueryMessage(message, length, "res_nsend", state) ? RealNetwork.res_nsend(state, message, length, answer, size) : -1;
        if (heap != null) FreeKeepingErrno(heap);
        return result;
    }

    // The name or message is judged, and passed on, as the hook's own copy: another thread changing the
    // caller's bytes after the judgement changes nothing.
    private const int NameCopy = 4098;        // longer than any name the gate allows (4096)
    private const int MessageOnStack = 512, LongestMessage = 65536;

    /// <summary>A NUL-terminated name copied into <paramref name="copy"/> when it fits; else the argument (judged as too long).</summary>
    private static byte* CopyName(byte* name, byte* copy)
    {
        if (!Readable(name)) return name;
        nint n = Libc.Strnlen(name, NameCopy);
        if (n >= NameCopy) return name;
        Buffer.MemoryCopy(name, copy, NameCopy, n + 1);
        return copy;
    }

    /// <summary>A query message copied onto the stack, or the heap when longer (*heap to free); else the argument.</summary>
    private static byte* CopyQuery(byte* message, int length, byte* stack, byte** heap)
    {
        if (!Readable(message) || length <= 0 || length > LongestMessage) return message;
        byte* to = stack;
        if (length > MessageOnStack)
        {
            to = (byte*)NativeMemory.Alloc((nuint)length);
            if (to == null) return message;
            *heap = to;
        }
        Buffer.MemoryCopy(message, to, length, length);
        return to;
    }

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

    private static bool JudgeSetsockopt(int level, int name, byte* value, uint length)
    {
        int errno = Errno.Value;
        try { return Restored(PermitSocketOption(level, name, value, length, "setsockopt"), errno); }
        catch (Exception e) { return Restored(Contained("setsockopt", e), errno); }
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
        try { verdict = JudgeLookup(name, NumericText.None, function, out _, out _, state); }
        catch (Exception e) { Contained(function, e); verdict = LookupVerdict.Pass; }
        return QueryAnswer(verdict, errno, state);
    }

    private static bool JudgeQueryDomain(byte* name, byte* domain, string function, byte* state)
    {
        int errno = Errno.Value;
        LookupVerdict verdict;
        try { verdict = NetworkGate.JudgeQueryDomain(name, domain, function, state); }
        catch (Exception e) { Contained(function, e); verdict = LookupVerdict.Pass; }
        return QueryAnswer(verdict, errno, state);
    }

    private static bool JudgeQueryMessage(byte* message, int length, string function, byte* state)
    {
        int errno = Errno.Value;
        LookupVerdict verdict;
        try { verdict = NetworkGate.JudgeQueryMessage(message, length, function, state); }
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
