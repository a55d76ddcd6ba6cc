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

    public static void Resolve()
    {
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
