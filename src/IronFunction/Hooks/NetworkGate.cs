using IronFunction.Events;
using IronFunction.Lifecycle;
using IronFunction.Native;
using IronFunction.Policy;
using IronFunction.Rules;

namespace IronFunction.Hooks;

/// <summary>
/// The outbound_connectivity decision shared by the network hooks (SPEC §4): judge a destination
/// address or a looked-up name against the rule and what allowed lookups returned, report a violation,
/// and in block mode deny it. Allowed destinations cost a few comparisons and no allocation.
/// </summary>
internal static unsafe class NetworkGate
{
    public const int EAI_FAIL = -4, NO_RECOVERY = 3;
    private const int AI_NUMERICHOST = 0x0004;
    private const int MSG_FASTOPEN = 0x20000000, IPPROTO_TCP = 6, IPPROTO_MPTCP = 262;
    private const int SockaddrStorageSize = 128; // the kernel refuses longer addresses with EINVAL
    public const int UioMaxIov = 1024;           // sendmmsg sends at most this many messages
    private const int MmsghdrSize = 64;          // struct mmsghdr: a 56-byte msghdr, msg_len, padding
    private const int LongestName = 4096;        // longer than any name DNS can carry: never allowed
    private const int LongestReportedName = 1024;
    private const int MostRemembered = 1024;     // addresses taken from one lookup's answer
    private const int MaxDname = 1025;

    public enum LookupVerdict : byte { Pass, Remember, Deny }

    /// <summary>Which text a lookup function answers itself, without a resolver.</summary>
    public enum NumericText : byte { Getaddrinfo, Hostent, None }

    private static DestinationRule s_rule = new([]);
    private static ResolvedAddresses s_resolved = new(1);
    private static Reported? s_reported;

    /// <summary>What alert mode has reported in this process (a forked child starts afresh).</summary>
    private sealed class Reported(int pid)
    {
        public readonly int Pid = pid;
        public readonly SeenSet Destinations = new(), Names = new(256);
    }

    /// <summary>Fixes the rule at start (single-threaded, inside the library's reentrancy guard).</summary>
    public static void Start(EffectivePolicy policy)
    {
        try { Configure(policy); }
        // the other controls must still start; an empty rule leaves only the always-allowed destinations
        catch (Exception e) { Diagnostics.Error("network", $"outbound_connectivity start failed: {e}"); }
    }

    private static void Configure(EffectivePolicy policy)
    {
        RealNetwork.Resolve();
        if (policy.OutboundConnectivity == PolicyAction.Allow)
        {
            Diagnostics.Debug("network", "outbound_connectivity is allow: connections and lookups are not judged");
            return;
        }
        var hosts = new List<string>();
        var addresses = new List<NetAddress>();
        string? runtimeName = null;
        if (DestinationRule.HostOfRuntimeApi(Libc.GetEnv("AWS_LAMBDA_RUNTIME_API")) is { } runtime)
        {
            if (ParseAddress(runtime) is { } a) addresses.Add(a);
            else hosts.Add(runtimeName = runtime);
        }
        if (policy.ApiEndpoint is { } endpoint && endpoint.IdnHost.Trim('[', ']') is { Length: > 0 } endpointHost)
        {
            if (ParseAddress(endpointHost) is { } a) addresses.Add(a);
            else hosts.Add(endpointHost);
        }
        if (OwnHostName() is { } own) hosts.Add(own);

        s_rule = new DestinationRule(policy.OutboundExceptions, hosts, addresses);
        Glue.ResolverStart();
        s_resolved = new ResolvedAddresses();
        if (runtimeName != null) ResolveAtStart(runtimeName);
        if (Diagnostics.IsEnabled("network", Microsoft.Extensions.Logging.LogLevel.Debug))
            Diagnostics.Debug("network", $"outbound_connectivity={policy.OutboundConnectivity.Name()} {s_rule.Summary}");
    }

    // ---- connect and send ----

    /// <summary>connect: true when the call goes on to libc, false when denied (errno is then EPERM, or EACCES for a socket file).</summary>
    public static bool PermitConnect(byte* address, uint length, string function)
    {
        if (ReentrancyGuard.Active) return true;
        // NULL, bad or over-long: the kernel answers (EFAULT, EINVAL) and nothing leaves
        if (!Readable(address) || length > SockaddrStorageSize) return true;
        if (!SocketFilePermitted(address, length, function)) return false;
        var action = Startup.OutboundConnectivity;
        if (action == PolicyAction.Allow) return true;
        var bytes = new ReadOnlySpan<byte>(address, (int)length);
        if (SocketDestination.Decode(bytes, unspecIsV4: false, out var destination, out ushort port) != SocketAddressKind.Inet) return true;
        return Allowed(destination, out var known) || Violation(action, function, destination, port, known);
    }

    /// <summary>sendto and sendmsg: an absent address is the connected peer, judged at connect.</summary>
    public static bool PermitSend(int fd, byte* address, uint length, int flags, bool fromMsghdr, string function)
    {
        if (ReentrancyGuard.Active) return true;
        if (!SocketFilePermitted(address, length, function)) return false;
        var action = Startup.OutboundConnectivity;
        if (action == PolicyAction.Allow) return true;
        if (SendAllowed(fd, address, length, flags, fromMsghdr, out var destination, out ushort port, out var known)) return true;
        return Violation(action, function, destination, port, known);
    }

    /// <summary>
    /// An AF_UNIX address naming a socket file (not an abstract name): read_write_tmp judges its path as it
    /// judges bind's, following a final symbolic link as connect does. False when denied (errno EACCES).
    /// </summary>
    private static bool SocketFilePermitted(byte* address, uint length, string function)
    {
        const int AF_UNIX = 1;
        if (Startup.ReadWriteTmp == PolicyAction.Allow || !Readable(address) || length <= 2 || *(ushort*)address != AF_UNIX) return true;
        return FileGate.PermitSocketTarget(address, Math.Min(length, (uint)SockaddrStorageSize), function);
    }

    /// <summary>
    /// Control messages that set a source route (IP_RETOPTS, IPV6_RTHDR): reported, and denied in block mode.
    /// <paramref name="message"/> is a msghdr whose control messages the hook copied.
    /// </summary>
    private static bool ControlPermitted(PolicyAction action, byte* message, string function)
    {
        byte* control = *(byte**)(message + 32);
        nuint size = *(nuint*)(message + 40);
        if (!Readable(control) || size == 0 || size > int.MaxValue) return true;
        return SourceRoute.InControl(new ReadOnlySpan<byte>(control, (int)size)) is not { } route || RouteViolation(action, function, route);
    }

    /// <summary>setsockopt of an option that may set a source route (the hook copied the value).</summary>
    public static bool PermitSocketOption(int level, int name, byte* value, uint length, string function)
    {
        var action = Startup.OutboundConnectivity;
        if (action == PolicyAction.Allow || ReentrancyGuard.Active || !Readable(value) || length == 0 || length > 64 * 1024) return true;
        return SourceRoute.InSocketOption(level, name, new ReadOnlySpan<byte>(value, (int)length)) is not { } route ||
               RouteViolation(action, function, route);
    }

    /// <summary>A source route sends packets to its first hop whatever the destination: reported (alert: once each), denied in block mode.</summary>
    private static bool RouteViolation(PolicyAction action, string function, string route)
    {
        bool block = action == PolicyAction.Block;
        if (!block && !Reports().Names.Add("route " + route)) return true;
        EventHub.Report(Control.OutboundConnectivity, action, route, block
            ? $"{function} with a {route} was blocked: a source route sends packets through a host the destination does not name"
            : $"{function} with a {route} was allowed and reported: outbound_connectivity is in alert mode and a source route sends packets through a host the destination does not name");
        if (block) Errno.Value = Errno.EPERM;
        return !block;
    }

    /// <summary>
    /// sendmmsg: how many messages from the start may go (all of them, normally); -1 when the first one is
    /// denied (errno EPERM). A denied message later in the batch ends it there, as an error would in the
    /// kernel: the call returns the count sent and the next call, starting at that message, is denied.
    /// </summary>
    public static long PermitMessages(int fd, byte* vector, uint count, int flags, string function)
    {
        if (ReentrancyGuard.Active || !Readable(vector)) return count;
        var action = Startup.OutboundConnectivity;
        uint judged = Math.Min(count, UioMaxIov);
        for (uint i = 0; i < judged; i++)
        {
            byte* message = vector + i * MmsghdrSize;
            byte* name = *(byte**)message;
            uint nameLength = *(uint*)(message + 8);
            bool denied;
            if (!SocketFilePermitted(name, nameLength, function)) denied = true;
            else if (action == PolicyAction.Allow) continue;
            else if (!ControlPermitted(action, message, function)) denied = true;
            else if (SendAllowed(fd, name, nameLength, flags, true, out var destination, out ushort port, out var known)) continue;
            // in block mode a later message is reported by the call that starts with it
            else if (action == PolicyAction.Block && i > 0) return i;
            else denied = !Violation(action, function, destination, port, known);
            if (!denied) continue;
            // the first denied message ends the batch; the error is the call's only when nothing went
            return i > 0 ? i : -1;
        }
        return count;
    }

    /// <summary>sendmsg's destination and control messages, from its msghdr; false when the call must be denied.</summary>
    public static bool PermitMessage(int fd, byte* message, int flags, string function)
    {
        if (!Readable(message)) return true;
        if (!PermitSend(fd, *(byte**)message, *(uint*)(message + 8), flags, true, function)) return false;
        var action = Startup.OutboundConnectivity;
        return action == PolicyAction.Allow || ReentrancyGuard.Active || ControlPermitted(action, message, function);
    }

    private static bool SendAllowed(int fd, byte* address, uint length, int flags, bool fromMsghdr,
        out NetAddress destination, out ushort port, out ResolvedAddresses.Entry? known)
    {
        destination = default;
        port = 0;
        known = null;
        if (address == null || length == 0 || !Readable(address)) return true;
        if (length > SockaddrStorageSize)
        {
            // sendto refuses it (EINVAL); sendmsg reads the first 128 bytes
            if (!fromMsghdr) return true;
            length = SockaddrStorageSize;
        }
        var bytes = new ReadOnlySpan<byte>(address, (int)length);
        // an IPv4 datagram socket sends an AF_UNSPEC address to its sin_addr; other sockets ignore it
        bool unspecIsV4 = SocketDestination.Family(bytes) == SocketDestination.AF_UNSPEC &&
                          Libc.SocketOption(fd, Libc.SO_DOMAIN) == SocketDestination.AF_INET;
        if (SocketDestination.Decode(bytes, unspecIsV4, out destination, out port) != SocketAddressKind.Inet) return true;
        if (Allowed(destination, out known)) return true;
        // TCP ignores a send's address unless it is a fast-open connect
        return (flags & MSG_FASTOPEN) == 0 && Libc.SocketOption(fd, Libc.SO_PROTOCOL) is IPPROTO_TCP or IPPROTO_MPTCP;
    }

    private static bool Allowed(NetAddress destination, out ResolvedAddresses.Entry? known)
    {
        known = null;
        if (DestinationRule.IsAlwaysAllowed(destination) || s_rule.AllowsAddress(destination)) return true;
        known = s_resolved.Find(destination);
        return known is { Allowed: true };
    }

    /// <summary>Reports (alert: once per destination) and in block mode sets EPERM; true when the call goes on.</summary>
    private static bool Violation(PolicyAction action, string function, NetAddress destination, ushort port, ResolvedAddresses.Entry? known)
    {
        bool block = action == PolicyAction.Block;
        if (!block && !Reports().Destinations.Add(destination, port)) return true;
        string what = SocketDestination.Describe(destination, port, known?.Name);
        EventHub.Report(Control.OutboundConnectivity, action, what, block
            ? $"{function} to {what} was blocked: no outbound_connectivity exception allows this destination"
            : $"{function} to {what} was allowed and reported: outbound_connectivity is in alert mode and no exception allows this destination");
        if (block) Errno.Value = Errno.EPERM;
        return !block;
    }

    /// <summary>
    /// sunrpc: an IPv4 server address (struct sockaddr_in) the call sends to with glibc's internal calls; a zero
    /// port means the portmapper's, <paramref name="defaultPort"/>. Denied: EPERM.
    /// </summary>
    public static bool PermitServer(byte* address, ushort defaultPort, string function)
    {
        var action = Startup.OutboundConnectivity;
        if (action == PolicyAction.Allow || ReentrancyGuard.Active || !Readable(address)) return true;
        var bytes = new ReadOnlySpan<byte>(address, 16);
        if (SocketDestination.Decode(bytes, unspecIsV4: true, out var destination, out ushort port) != SocketAddressKind.Inet) return true;
        return Allowed(destination, out var known) || Violation(action, function, destination, port == 0 ? defaultPort : port, known);
    }

    /// <summary>clnt_broadcast: every interface's broadcast address, judged as 255.255.255.255.</summary>
    public static bool PermitBroadcast(ushort port, string function)
    {
        var action = Startup.OutboundConnectivity;
        if (action == PolicyAction.Allow || ReentrancyGuard.Active) return true;
        var destination = NetAddress.FromV4(0xffffffff);
        return Allowed(destination, out var known) || Violation(action, function, destination, port, known);
    }

    // ---- name lookups ----

    /// <summary>
    /// rexec and rcmd: the host they look up and connect to with glibc's internal calls. A name is judged
    /// like getaddrinfo's (denied: EPERM), an address like connect's destination, at the port given in network order.
    /// </summary>
    public static bool PermitRemoteHost(byte* host, ushort networkPort, string function)
    {
        var action = Startup.OutboundConnectivity;
        if (action == PolicyAction.Allow || ReentrancyGuard.Active || !Readable(host)) return true;
        int length = (int)Libc.Strnlen(host, LongestName + 1);
        var text = new ReadOnlySpan<byte>(host, length);
        if (length <= LongestName && NumericHost.IsNumericForGetaddrinfo(text))
        {
            int scope = text.IndexOf((byte)'%');
            if (ParseAddress(System.Text.Encoding.UTF8.GetString(scope < 0 ? text : text[..scope])) is not { } destination) return true;
            ushort port = (ushort)((networkPort >> 8) | ((networkPort & 0xff) << 8));
            return Allowed(destination, out var known) || Violation(action, function, destination, port, known);
        }
        if (JudgeName(action, text, NumericText.Getaddrinfo, function, out _, out _) != LookupVerdict.Deny) return true;
        Errno.Value = Errno.EPERM;
        return false;
    }

    /// <summary>getaddrinfo: a NULL node (local addresses) and AI_NUMERICHOST never reach a resolver.</summary>
    public static LookupVerdict JudgeGetaddrinfo(byte* node, byte* hints, out string? name, out bool allowed, string function = "getaddrinfo")
    {
        name = null;
        allowed = false;
        if (node == null || (Readable(hints) && (*(int*)hints & AI_NUMERICHOST) != 0)) return LookupVerdict.Pass;
        return JudgeLookup(node, NumericText.Getaddrinfo, function, out name, out allowed);
    }

    /// <summary>
    /// A name about to be looked up. Pass: nothing to judge (numeric text, empty, allow mode); Remember:
    /// look it up and remember the answer under <paramref name="name"/>; Deny: reported, fail the lookup.
    /// </summary>
    public static LookupVerdict JudgeLookup(byte* host, bool hostentRules, string function, out string? name, out bool allowed) =>
        JudgeLookup(host, hostentRules ? NumericText.Hostent : NumericText.Getaddrinfo, function, out name, out allowed);

    /// <param name="state">A res_n* caller's res_state; null: the lookup uses the thread's _res.</param>
    public static LookupVerdict JudgeLookup(byte* host, NumericText numeric, string function, out string? name, out bool allowed, byte* state = null)
    {
        name = null;
        allowed = false;
        var action = Startup.OutboundConnectivity;
        if (action == PolicyAction.Allow || ReentrancyGuard.Active || !Readable(host)) return LookupVerdict.Pass;
        int length = (int)Libc.Strnlen(host, LongestName + 1);
        return JudgeName(action, new ReadOnlySpan<byte>(host, length), numeric, function, out name, out allowed, state);
    }

    /// <summary>The same for a name already in hand (res_querydomain's joined name, a DNS query's question).</summary>
    public static LookupVerdict JudgeName(PolicyAction action, ReadOnlySpan<byte> text, NumericText numeric, string function,
        out string? name, out bool allowed, byte* state = null)
    {
        name = null;
        allowed = false;
        int length = text.Length;
        // an empty name or the root carries nothing out
        if (length == 0 || (length == 1 && text[0] == (byte)'.')) return LookupVerdict.Pass;
        bool fits = length <= LongestName;
        if (fits && numeric switch
            {
                NumericText.Getaddrinfo => NumericHost.IsNumericForGetaddrinfo(text),
                NumericText.Hostent => NumericHost.IsNumericForGethostbyname(text),
                _ => false,
            })
            return LookupVerdict.Pass;
        allowed = fits && s_rule.AllowsName(text);
        name = System.Text.Encoding.UTF8.GetString(text[..Math.Min(length, LongestReportedName)]);
        bool block = action == PolicyAction.Block;
        if (allowed)
        {
            var knobs = (ResolverKnob)Glue.ResolverChanged(state);
            if (knobs == 0) return LookupVerdict.Remember;
            ResolverViolation(action, function, name, knobs, state != null);
            // alert: what the changed resolver answers is not the allowed name's address
            allowed = false;
            return block ? LookupVerdict.Deny : LookupVerdict.Remember;
        }
        if (block || Reports().Names.Add(name))
            EventHub.Report(Control.OutboundConnectivity, action, name, block
                ? $"{function} of {name} was blocked: no outbound_connectivity exception allows this name"
                : $"{function} of {name} was allowed and reported: outbound_connectivity is in alert mode and no exception allows this name");
        return block ? LookupVerdict.Deny : LookupVerdict.Remember;
    }

    // ---- the resolver's query interface (res_query and friends send the name they are given) ----

    /// <summary>res_querydomain: the name glibc builds, "name.domain" (or name alone when domain is NULL).</summary>
    public static LookupVerdict JudgeQueryDomain(byte* host, byte* domain, string function, byte* state = null)
    {
        var action = Startup.OutboundConnectivity;
        if (action == PolicyAction.Allow || ReentrancyGuard.Active || !Readable(host)) return LookupVerdict.Pass;
        if (domain != null && !Readable(domain)) return LookupVerdict.Pass;
        int n = (int)Libc.Strnlen(host, MaxDname);
        int d = domain == null ? 0 : (int)Libc.Strnlen(domain, MaxDname);
        // glibc refuses a joined name of MAXDNAME or more before sending anything
        if (n + d + 1 >= MaxDname) return LookupVerdict.Pass;
        Span<byte> joined = stackalloc byte[n + d + 1];
        new ReadOnlySpan<byte>(host, n).CopyTo(joined);
        int length = n;
        if (domain != null)
        {
            joined[length++] = (byte)'.';
            new ReadOnlySpan<byte>(domain, d).CopyTo(joined[length..]);
            length += d;
        }
        return JudgeName(action, joined[..length], NumericText.None, function, out _, out _, state);
    }

    /// <summary>
    /// res_send: the whole message, which glibc sends as it is. Only a plain query (DnsQuestion.QueryNames) is
    /// allowed, each of its names judged; anything else (other records, option data, trailing bytes) is denied.
    /// </summary>
    public static LookupVerdict JudgeQueryMessage(byte* message, int length, string function, byte* state = null)
    {
        var action = Startup.OutboundConnectivity;
        if (action == PolicyAction.Allow || ReentrancyGuard.Active || !Readable(message) || length <= 0) return LookupVerdict.Pass;
        var names = DnsQuestion.QueryNames(new ReadOnlySpan<byte>(message, length));
        if (names != null)
        {
            var verdict = LookupVerdict.Pass;
            foreach (var name in names)
            {
                var v = JudgeName(action, System.Text.Encoding.UTF8.GetBytes(name), NumericText.None, function, out _, out _, state);
                if (v == LookupVerdict.Deny) return v;
                if (v == LookupVerdict.Remember) verdict = v;
            }
            return verdict;
        }
        const string what = "(a DNS message that is not a plain query)";
        bool block = action == PolicyAction.Block;
        if (block || Reports().Names.Add(what))
            EventHub.Report(Control.OutboundConnectivity, action, what, block
                ? $"{function} of {what} was blocked: only a query's questions can be judged, and nothing else may leave with them"
                : $"{function} of {what} was allowed and reported: outbound_connectivity is in alert mode");
        return block ? LookupVerdict.Deny : LookupVerdict.Pass;
    }

    /// <summary>
    /// An allowed name whose query the resolver would change, or send elsewhere (Native/glue/resolver_state.c):
    /// reported with the knobs that changed (alert: each knob once), denied in block mode.
    /// </summary>
    private static void ResolverViolation(PolicyAction action, string function, string name, ResolverKnob knobs, bool callerState)
    {
        bool block = action == PolicyAction.Block;
        var changed = new List<string>(4);
        foreach (var (knob, text) in KnobNames)
        {
            if ((knobs & knob) == 0) continue;
            string label = knob == ResolverKnob.ResolverState && callerState ? $"the res_state passed to {function}" : text;
            if (block || Reports().Names.Add("resolver " + label)) changed.Add(label);
        }
        if (changed.Count == 0) return;
        string list = string.Join(", ", changed);
        EventHub.Report(Control.OutboundConnectivity, action, name, block
            ? $"{function} of {name} was blocked: the resolver's configuration was changed after start ({list}), so the query that leaves, or the server it goes to, would not be the one judged"
            : $"{function} of {name} was allowed and reported: the resolver's configuration was changed after start ({list}) and outbound_connectivity is in alert mode");
    }

    private static readonly (ResolverKnob, string)[] KnobNames =
    [
        (ResolverKnob.LocalDomain, "LOCALDOMAIN"),
        (ResolverKnob.ResOptions, "RES_OPTIONS"),
        (ResolverKnob.HostAliases, "HOSTALIASES"),
        (ResolverKnob.ResolverState, "_res"),
    ];

    // ---- asynchronous lookups (getaddrinfo_a calls glibc's getaddrinfo internally, past the hook) ----

    private const int GaicbName = 0, GaicbRequest = 16, GaicbResult = 24, GaicbReturn = 32;

    /// <summary>
    /// getaddrinfo_a: judges each request. Null when every request may go as it is; otherwise a copy of the
    /// list (to free with NativeMemory.Free) in which denied requests are NULL, so glibc skips them, and
    /// their status (gai_error) is EAI_FAIL.
    /// </summary>
    public static byte** FilterAsyncLookups(byte** list, int count)
    {
        var action = Startup.OutboundConnectivity;
        if (action == PolicyAction.Allow || ReentrancyGuard.Active || !Readable(list) || count <= 0) return null;
        byte** filtered = null;
        for (int i = 0; i < count; i++)
        {
            byte* request = list[i];
            if (AsyncVerdict(request, "getaddrinfo_a", out _, out _) != LookupVerdict.Deny) continue;
            if (filtered == null)
            {
                filtered = (byte**)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)count, (nuint)sizeof(byte*));
                for (int j = 0; j < count; j++) filtered[j] = list[j];
            }
            filtered[i] = null;
            *(byte**)(request + GaicbResult) = null;
            *(int*)(request + GaicbReturn) = EAI_FAIL;
        }
        return filtered;
    }

    /// <summary>A completed asynchronous lookup (GAI_WAIT's return, gai_error's 0): remember its answer.</summary>
    public static void RememberAsync(byte* request)
    {
        var action = Startup.OutboundConnectivity;
        if (action == PolicyAction.Allow || ReentrancyGuard.Active || !Readable(request) || *(int*)(request + GaicbReturn) != 0) return;
        byte* host = *(byte**)(request + GaicbName);
        if (!Readable(host)) return;
        int length = (int)Libc.Strnlen(host, LongestName + 1);
        var text = new ReadOnlySpan<byte>(host, length);
        if (length == 0 || length > LongestName || NumericHost.IsNumericForGetaddrinfo(text)) return;
        bool allowed = s_rule.AllowsName(text);
        if (!allowed && action == PolicyAction.Block) return;
        RememberAddrinfo(*(byte**)(request + GaicbResult), System.Text.Encoding.UTF8.GetString(text[..Math.Min(length, LongestReportedName)]), allowed);
    }

    private static LookupVerdict AsyncVerdict(byte* request, string function, out string? name, out bool allowed)
    {
        name = null;
        allowed = false;
        if (!Readable(request)) return LookupVerdict.Pass;
        byte* hints = *(byte**)(request + GaicbRequest);
        return JudgeGetaddrinfo(*(byte**)(request + GaicbName), hints, out name, out allowed, function);
    }

    /// <summary>Remembers every internet address of a getaddrinfo answer.</summary>
    public static void RememberAddrinfo(byte* list, string name, bool allowed)
    {
        int n = 0;
        // struct addrinfo: ai_addrlen at 16, ai_addr at 24, ai_next at 40
        for (byte* ai = list; ai != null && n < MostRemembered; ai = *(byte**)(ai + 40), n++)
        {
            uint length = *(uint*)(ai + 16);
            byte* address = *(byte**)(ai + 24);
            if (address == null || length > SockaddrStorageSize) continue;
            if (SocketDestination.Decode(new ReadOnlySpan<byte>(address, (int)length), false, out var a, out _) == SocketAddressKind.Inet)
                s_resolved.Remember(a, name, allowed);
        }
    }

    /// <summary>Remembers every address of a hostent answer.</summary>
    public static void RememberHostent(byte* hostent, string name, bool allowed)
    {
        if (hostent == null) return;
        // struct hostent: h_addrtype at 16, h_length at 20, h_addr_list at 24
        int type = *(int*)(hostent + 16), length = *(int*)(hostent + 20);
        byte** list = *(byte***)(hostent + 24);
        bool known = (type == SocketDestination.AF_INET && length == 4) || (type == SocketDestination.AF_INET6 && length == 16);
        if (list == null || !known) return;
        for (int i = 0; i < MostRemembered && list[i] != null; i++)
            s_resolved.Remember(NetAddress.FromBytes(new ReadOnlySpan<byte>(list[i], length)), name, allowed);
    }

    // ---- start-up helpers ----

    private static NetAddress? ParseAddress(string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        if (NumericHost.TryParseInetAton(bytes, out uint v4)) return NetAddress.FromV4(v4);
        Span<byte> v6 = stackalloc byte[16];
        return NumericHost.TryParseInet6(bytes, v6) ? NetAddress.FromBytes(v6) : null;
    }

    private static string? OwnHostName()
    {
        byte* buffer = stackalloc byte[256];
        if (Libc.Gethostname(buffer, 255) != 0) return null;
        buffer[255] = 0;
        int n = (int)Libc.Strnlen(buffer, 256);
        return n == 0 ? null : System.Text.Encoding.UTF8.GetString(buffer, n);
    }

    /// <summary>A Runtime API given by name is resolved once, so that its addresses are allowed whoever connects.</summary>
    private static void ResolveAtStart(string host)
    {
        byte[] name = System.Text.Encoding.UTF8.GetBytes(host + "\0");
        byte* hints = stackalloc byte[48];
        new Span<byte>(hints, 48).Clear();
        *(int*)(hints + 8) = 1; // SOCK_STREAM: one answer per address
        byte* list = null;
        fixed (byte* p = name)
        {
            int result = RealNetwork.getaddrinfo(p, null, hints, &list);
            if (result != 0 || list == null)
            {
                Diagnostics.Warn("network", $"the Runtime API host {host} did not resolve at start (getaddrinfo {result}); lookups of it are still allowed");
                return;
            }
        }
        RememberAddrinfo(list, host, true);
        Libc.Freeaddrinfo(list);
    }

    private static Reported Reports()
    {
        int pid = Libc.Getpid();
        var reported = s_reported;
        if (reported == null || reported.Pid != pid) s_reported = reported = new Reported(pid);
        return reported;
    }

    /// <summary>Below the lowest mappable page or outside user space: the kernel answers EFAULT, so libc may too.</summary>
    public static bool Readable(void* pointer) => !Native.Arch.Unreadable(pointer);
}
