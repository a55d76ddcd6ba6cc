namespace IronFunction.Native;

/// <summary>
/// The real libc functions behind the outbound_connectivity hooks, resolved once at start with
/// dlsym(RTLD_NEXT), as <see cref="Real"/> does for the file hooks.
/// </summary>
internal static unsafe class RealNetwork
{
    public static delegate* unmanaged<int, byte*, uint, int> connect, __connect;
    public static delegate* unmanaged<int, byte*, nuint, int, byte*, uint, nint> sendto;
    public static delegate* unmanaged<int, byte*, int, nint> sendmsg;
    public static delegate* unmanaged<int, byte*, uint, int, int> sendmmsg;
    public static delegate* unmanaged<byte*, byte*, byte*, byte**, int> getaddrinfo;
    public static delegate* unmanaged<byte*, byte*> gethostbyname;
    public static delegate* unmanaged<byte*, int, byte*> gethostbyname2;
    public static delegate* unmanaged<byte*, byte*, byte*, nuint, byte**, int*, int> gethostbyname_r;
    public static delegate* unmanaged<byte*, int, byte*, byte*, nuint, byte**, int*, int> gethostbyname2_r;
    public static delegate* unmanaged<int, byte**, int, byte*, int> getaddrinfo_a;
    public static delegate* unmanaged<byte*, int> gai_error;
    public static delegate* unmanaged<byte*, int, int, byte*, int, int> res_query, res_search;
    public static delegate* unmanaged<byte*, byte*, int, int, byte*, int, int> res_querydomain;
    public static delegate* unmanaged<byte*, byte*, int, int, byte*, int, int> res_nquery, res_nsearch;
    public static delegate* unmanaged<byte*, byte*, byte*, int, int, byte*, int, int> res_nquerydomain;
    public static delegate* unmanaged<byte*, int, byte*, int, int> res_send;
    public static delegate* unmanaged<byte*, byte*, int, byte*, int, int> res_nsend;
    public static delegate* unmanaged<int, int, int, byte*, uint, int> setsockopt;

    // the r* commands and glibc's DNS back end (NetworkHooks.Indirect.cs)
    public static delegate* unmanaged<byte**, int, byte*, byte*, byte*, int*, int> rexec;
    public static delegate* unmanaged<byte**, int, byte*, byte*, byte*, int*, ushort, int> rexec_af;
    public static delegate* unmanaged<byte**, ushort, byte*, byte*, byte*, int*, int> rcmd;
    public static delegate* unmanaged<byte**, ushort, byte*, byte*, byte*, int*, ushort, int> rcmd_af;
    public static delegate* unmanaged<byte*, int, byte*, byte*, int> ruserok;
    public static delegate* unmanaged<byte*, int, byte*, byte*, ushort, int> ruserok_af;
    public static delegate* unmanaged<byte*, nint, byte*, nuint, int*, int*, int> _nss_dns_gethostbyname_r, _nss_dns_getnetbyname_r;
    public static delegate* unmanaged<byte*, int, nint, byte*, nuint, int*, int*, int> _nss_dns_gethostbyname2_r;
    public static delegate* unmanaged<byte*, int, nint, byte*, nuint, int*, int*, int*, byte**, int> _nss_dns_gethostbyname3_r;
    public static delegate* unmanaged<byte*, nint*, byte*, nuint, int*, int*, int*, int> _nss_dns_gethostbyname4_r;
    public static delegate* unmanaged<byte*, byte*, nuint, byte**, int*, int*, int> _nss_dns_getcanonname_r;

    public static delegate* unmanaged<byte*, byte*, int, int, byte*, int, byte**, byte**, int*, int*, int*, int> __res_context_query, __res_context_search;
    public static delegate* unmanaged<byte*, byte*, int, byte*, int, byte*, int, byte**, byte**, int*, int*, int*, int> __res_context_send;
    // sunrpc (NetworkHooks.Rpc.cs), compat symbols
    public static delegate* unmanaged<byte*, nuint, nuint, byte*, nint> clnt_create;
    public static delegate* unmanaged<byte*, nuint, nuint, nuint, nint, nint, nint, nint, int> callrpc;
    public static delegate* unmanaged<byte*, nint, nint, int, int> getrpcport;
    public static delegate* unmanaged<byte*, nuint, nuint, int*, uint, uint, nint> clnttcp_create;
    public static delegate* unmanaged<byte*, nuint, nuint, long, long, int*, nint> clntudp_create;
    public static delegate* unmanaged<byte*, nuint, nuint, long, long, int*, uint, uint, nint> clntudp_bufcreate;
    public static delegate* unmanaged<byte*, nuint, nuint, long, long, int*, uint, uint, int, nint> __libc_clntudp_bufcreate;
    public static delegate* unmanaged<byte*, nuint, nuint, uint, ushort> pmap_getport;
    public static delegate* unmanaged<byte*, nuint, nuint, uint, long, long, ushort> __libc_rpc_getport;
    public static delegate* unmanaged<byte*, nint> pmap_getmaps;
    public static delegate* unmanaged<byte*, nuint, nuint, nuint, nint, nint, nint, nint, long, long, nuint*, int> pmap_rmtcall;
    public static delegate* unmanaged<byte*, nint, nint, int> rtime;
    public static delegate* unmanaged<byte*, uint, byte*, nint, nint> authdes_create;
    public static delegate* unmanaged<byte*, nint, uint, byte*, nint, nint> authdes_pk_create;
    public static delegate* unmanaged<nuint, nuint, nuint, nint, nint, nint, nint, nint, int> clnt_broadcast;

    public static void Resolve()
    {
        __res_context_query = (delegate* unmanaged<byte*, byte*, int, int, byte*, int, byte**, byte**, int*, int*, int*, int>)Real.Sym("__res_context_query"u8, quiet: true);
        __res_context_search = (delegate* unmanaged<byte*, byte*, int, int, byte*, int, byte**, byte**, int*, int*, int*, int>)Real.Sym("__res_context_search"u8, quiet: true);
        __res_context_send = (delegate* unmanaged<byte*, byte*, int, byte*, int, byte*, int, byte**, byte**, int*, int*, int*, int>)Real.Sym("__res_context_send"u8, quiet: true);
        clnt_create = (delegate* unmanaged<byte*, nuint, nuint, byte*, nint>)Real.Sym("clnt_create"u8, quiet: true);
        callrpc = (delegate* unmanaged<byte*, nuint, nuint, nuint, nint, nint, nint, nint, int>)Real.Sym("callrpc"u8, quiet: true);
        getrpcport = (delegate* unmanaged<byte*, nint, nint, int, int>)Real.Sym("getrpcport"u8, quiet: true);
        clnttcp_create = (delegate* unmanaged<byte*, nuint, nuint, int*, uint, uint, nint>)Real.Sym("clnttcp_create"u8, quiet: true);
        clntudp_create = (delegate* unmanaged<byte*, nuint, nuint, long, long, int*, nint>)Real.Sym("clntudp_create"u8, quiet: true);
        clntudp_bufcreate = (delegate* unmanaged<byte*, nuint, nuint, long, long, int*, uint, uint, nint>)Real.Sym("clntudp_bufcreate"u8, quiet: true);
        __libc_clntudp_bufcreate = (delegate* unmanaged<byte*, nuint, nuint, long, long, int*, uint, uint, int, nint>)Real.Sym("__libc_clntudp_bufcreate"u8, quiet: true);
        pmap_getport = (delegate* unmanaged<byte*, nuint, nuint, uint, ushort>)Real.Sym("pmap_getport"u8, quiet: true);
        __libc_rpc_getport = (delegate* unmanaged<byte*, nuint, nuint, uint, long, long, ushort>)Real.Sym("__libc_rpc_getport"u8, quiet: true);
        pmap_getmaps = (delegate* unmanaged<byte*, nint>)Real.Sym("pmap_getmaps"u8, quiet: true);
        pmap_rmtcall = (delegate* unmanaged<byte*, nuint, nuint, nuint, nint, nint, nint, nint, long, long, nuint*, int>)Real.Sym("pmap_rmtcall"u8, quiet: true);
        rtime = (delegate* unmanaged<byte*, nint, nint, int>)Real.Sym("rtime"u8, quiet: true);
        authdes_create = (delegate* unmanaged<byte*, uint, byte*, nint, nint>)Real.Sym("authdes_create"u8, quiet: true);
        authdes_pk_create = (delegate* unmanaged<byte*, nint, uint, byte*, nint, nint>)Real.Sym("authdes_pk_create"u8, quiet: true);
        clnt_broadcast = (delegate* unmanaged<nuint, nuint, nuint, nint, nint, nint, nint, nint, int>)Real.Sym("clnt_broadcast"u8, quiet: true);
        rexec = (delegate* unmanaged<byte**, int, byte*, byte*, byte*, int*, int>)Real.Sym("rexec"u8, quiet: true);
        rexec_af = (delegate* unmanaged<byte**, int, byte*, byte*, byte*, int*, ushort, int>)Real.Sym("rexec_af"u8, quiet: true);
        rcmd = (delegate* unmanaged<byte**, ushort, byte*, byte*, byte*, int*, int>)Real.Sym("rcmd"u8, quiet: true);
        rcmd_af = (delegate* unmanaged<byte**, ushort, byte*, byte*, byte*, int*, ushort, int>)Real.Sym("rcmd_af"u8, quiet: true);
        ruserok = (delegate* unmanaged<byte*, int, byte*, byte*, int>)Real.Sym("ruserok"u8, quiet: true);
        ruserok_af = (delegate* unmanaged<byte*, int, byte*, byte*, ushort, int>)Real.Sym("ruserok_af"u8, quiet: true);
        _nss_dns_gethostbyname_r = (delegate* unmanaged<byte*, nint, byte*, nuint, int*, int*, int>)Real.Sym("_nss_dns_gethostbyname_r"u8, quiet: true);
        _nss_dns_getnetbyname_r = (delegate* unmanaged<byte*, nint, byte*, nuint, int*, int*, int>)Real.Sym("_nss_dns_getnetbyname_r"u8, quiet: true);
        _nss_dns_gethostbyname2_r = (delegate* unmanaged<byte*, int, nint, byte*, nuint, int*, int*, int>)Real.Sym("_nss_dns_gethostbyname2_r"u8, quiet: true);
        _nss_dns_gethostbyname3_r = (delegate* unmanaged<byte*, int, nint, byte*, nuint, int*, int*, int*, byte**, int>)Real.Sym("_nss_dns_gethostbyname3_r"u8, quiet: true);
        _nss_dns_gethostbyname4_r = (delegate* unmanaged<byte*, nint*, byte*, nuint, int*, int*, int*, int>)Real.Sym("_nss_dns_gethostbyname4_r"u8, quiet: true);
        _nss_dns_getcanonname_r = (delegate* unmanaged<byte*, byte*, nuint, byte**, int*, int*, int>)Real.Sym("_nss_dns_getcanonname_r"u8, quiet: true);
        connect = (delegate* unmanaged<int, byte*, uint, int>)Real.Sym("connect"u8);
        __connect = (delegate* unmanaged<int, byte*, uint, int>)Real.Sym("__connect"u8);
        sendto = (delegate* unmanaged<int, byte*, nuint, int, byte*, uint, nint>)Real.Sym("sendto"u8);
        sendmsg = (delegate* unmanaged<int, byte*, int, nint>)Real.Sym("sendmsg"u8);
        sendmmsg = (delegate* unmanaged<int, byte*, uint, int, int>)Real.Sym("sendmmsg"u8);
        getaddrinfo = (delegate* unmanaged<byte*, byte*, byte*, byte**, int>)Real.Sym("getaddrinfo"u8);
        gethostbyname = (delegate* unmanaged<byte*, byte*>)Real.Sym("gethostbyname"u8);
        gethostbyname2 = (delegate* unmanaged<byte*, int, byte*>)Real.Sym("gethostbyname2"u8);
        gethostbyname_r = (delegate* unmanaged<byte*, byte*, byte*, nuint, byte**, int*, int>)Real.Sym("gethostbyname_r"u8);
        gethostbyname2_r = (delegate* unmanaged<byte*, int, byte*, byte*, nuint, byte**, int*, int>)Real.Sym("gethostbyname2_r"u8);
        getaddrinfo_a = (delegate* unmanaged<int, byte**, int, byte*, int>)Real.Sym("getaddrinfo_a"u8);
        gai_error = (delegate* unmanaged<byte*, int>)Real.Sym("gai_error"u8);
        res_query = (delegate* unmanaged<byte*, int, int, byte*, int, int>)Real.Sym("res_query"u8);
        res_search = (delegate* unmanaged<byte*, int, int, byte*, int, int>)Real.Sym("res_search"u8);
        res_querydomain = (delegate* unmanaged<byte*, byte*, int, int, byte*, int, int>)Real.Sym("res_querydomain"u8);
        res_nquery = (delegate* unmanaged<byte*, byte*, int, int, byte*, int, int>)Real.Sym("res_nquery"u8);
        res_nsearch = (delegate* unmanaged<byte*, byte*, int, int, byte*, int, int>)Real.Sym("res_nsearch"u8);
        res_nquerydomain = (delegate* unmanaged<byte*, byte*, byte*, int, int, byte*, int, int>)Real.Sym("res_nquerydomain"u8);
        res_send = (delegate* unmanaged<byte*, int, byte*, int, int>)Real.Sym("res_send"u8);
        res_nsend = (delegate* unmanaged<byte*, byte*, int, byte*, int, int>)Real.Sym("res_nsend"u8);
        setsockopt = (delegate* unmanaged<int, int, int, byte*, uint, int>)Real.Sym("setsockopt"u8);
    }
}
