using System.Runtime.InteropServices;

namespace IronFunction.Native;

/// <summary>
/// The few libssl/libcrypto functions a TLS client needs, loaded with dlopen the first time an https
/// api_endpoint is used (never at start, never from a hook: only the library's own delivery thread gets
/// here). .NET's SslStream would do the same job but adds about 3 MB of code that every process pays for
/// at start, endpoint or not. OpenSSL 3 first, then 1.1.
/// </summary>
internal static unsafe partial class OpenSsl
{
    public const int SSL_ERROR_SSL = 1, SSL_ERROR_WANT_READ = 2, SSL_ERROR_WANT_WRITE = 3, SSL_ERROR_SYSCALL = 5,
        SSL_ERROR_ZERO_RETURN = 6;
    public const int SSL_VERIFY_PEER = 1;
    private const int SSL_CTRL_SET_TLSEXT_HOSTNAME = 55, TLSEXT_NAMETYPE_host_name = 0;
    private const int SSL_CTRL_SET_MIN_PROTO_VERSION = 123, TLS1_2_VERSION = 0x0303;
    // not registering OpenSSL's own atexit cleanup: an exit flush may still be using TLS when it would run
    private const ulong OPENSSL_INIT_NO_ATEXIT = 0x00080000, OPENSSL_INIT_LOAD_SSL_STRINGS = 0x00200000,
        OPENSSL_INIT_LOAD_CRYPTO_STRINGS = 0x00000002;
    // DEEPBIND: libssl and libcrypto bind to themselves, not to another OpenSSL the host exports (node does)
    private const int RTLD_NOW = 2, RTLD_DEEPBIND = 8;

    public static delegate* unmanaged<ulong, nint, int> OPENSSL_init_ssl;
    public static delegate* unmanaged<nint> TLS_client_method;
    public static delegate* unmanaged<nint, nint> SSL_CTX_new;
    public static delegate* unmanaged<nint, void> SSL_CTX_free;
    public static delegate* unmanaged<nint, int> SSL_CTX_set_default_verify_paths;
    public static delegate* unmanaged<nint, int, nint, void> SSL_CTX_set_verify;
    public static delegate* unmanaged<nint, int, long, nint, long> SSL_CTX_ctrl;
    public static delegate* unmanaged<nint, nint> SSL_new;
    public static delegate* unmanaged<nint, void> SSL_free;
    public static delegate* unmanaged<nint, int, int> SSL_set_fd;
    public static delegate* unmanaged<nint, int, long, nint, long> SSL_ctrl;
    public static delegate* unmanaged<nint, byte*, int> SSL_set1_host;
    public static delegate* unmanaged<nint, nint> SSL_get0_param;
    public static delegate* unmanaged<nint, byte*, int> X509_VERIFY_PARAM_set1_ip_asc;
    public static delegate* unmanaged<nint, int> SSL_connect;
    public static delegate* unmanaged<nint, byte*, int, int> SSL_read;
    public static delegate* unmanaged<nint, byte*, int, int> SSL_write;
    public static delegate* unmanaged<nint, int, int> SSL_get_error;
    public static delegate* unmanaged<nint, int> SSL_shutdown;
    public static delegate* unmanaged<nint, long> SSL_get_verify_result;
    public static delegate* unmanaged<long, nint> X509_verify_cert_error_string;
    public static delegate* unmanaged<ulong> ERR_get_error;
    public static delegate* unmanaged<void> ERR_clear_error;
    public static delegate* unmanaged<ulong, byte*, nuint, void> ERR_error_string_n;

    private static readonly object s_gate = new();
    private static string? s_loadError;
    private static volatile bool s_loaded;

    public static bool IsLoaded => s_loaded;

    /// <summary>Loads libssl once; throws (with the reason) when the machine has no usable OpenSSL.</summary>
    public static void EnsureLoaded()
    {
        lock (s_gate)
        {
            if (s_loaded) return;
            if (s_loadError != null) throw new PlatformNotSupportedException(s_loadError);
            foreach (var (ssl, crypto) in new[] { ("libssl.so.3", "libcrypto.so.3"), ("libssl.so.1.1", "libcrypto.so.1.1") })
            {
                nint libssl = Open(ssl), libcrypto = Open(crypto);
                if (libssl == 0 || libcrypto == 0) continue;
                if (Bind(libssl, libcrypto))
                {
                    OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, 0);
                    // if the host had initialised this OpenSSL, its cleanup is registered; the exit flush must come first
                    Glue.RegisterExitFlushAgain();
                    s_loaded = true;
                    return;
                }
            }
            s_loadError = "no usable OpenSSL (libssl.so.3 or libssl.so.1.1) for an https api_endpoint";
            throw new PlatformNotSupportedException(s_loadError);
        }
    }

    private static bool Bind(nint ssl, nint crypto)
    {
        bool ok = true;
        nint S(nint lib, string name)
        {
            nint p = Sym(lib, name);
            ok &= p != 0;
            return p;
        }
        OPENSSL_init_ssl = (delegate* unmanaged<ulong, nint, int>)S(ssl, "OPENSSL_init_ssl");
        TLS_client_method = (delegate* unmanaged<nint>)S(ssl, "TLS_client_method");
        SSL_CTX_new = (delegate* unmanaged<nint, nint>)S(ssl, "SSL_CTX_new");
        SSL_CTX_free = (delegate* unmanaged<nint, void>)S(ssl, "SSL_CTX_free");
        SSL_CTX_set_default_verify_paths = (delegate* unmanaged<nint, int>)S(ssl, "SSL_CTX_set_default_verify_paths");
        SSL_CTX_set_verify = (delegate* unmanaged<nint, int, nint, void>)S(ssl, "SSL_CTX_set_verify");
        SSL_CTX_ctrl = (delegate* unmanaged<nint, int, long, nint, long>)S(ssl, "SSL_CTX_ctrl");
        SSL_new = (delegate* unmanaged<nint, nint>)S(ssl, "SSL_new");
        SSL_free = (delegate* unmanaged<nint, void>)S(ssl, "SSL_free");
        SSL_set_fd = (delegate* unmanaged<nint, int, int>)S(ssl, "SSL_set_fd");
        SSL_ctrl = (delegate* unmanaged<nint, int, long, nint, long>)S(ssl, "SSL_ctrl");
        SSL_set1_host = (delegate* unmanaged<nint, byte*, int>)S(ssl, "SSL_set1_host");
        SSL_get0_param = (delegate* unmanaged<nint, nint>)S(ssl, "SSL_get0_param");
        SSL_connect = (delegate* unmanaged<nint, int>)S(ssl, "SSL_connect");
        SSL_read = (delegate* unmanaged<nint, byte*, int, int>)S(ssl, "SSL_read");
        SSL_write = (delegate* unmanaged<nint, byte*, int, int>)S(ssl, "SSL_write");
        SSL_get_error = (delegate* unmanaged<nint, int, int>)S(ssl, "SSL_get_error");
        SSL_shutdown = (delegate* unmanaged<nint, int>)S(ssl, "SSL_shutdown");
        SSL_get_verify_result = (delegate* unmanaged<nint, long>)S(ssl, "SSL_get_verify_result");
        X509_VERIFY_PARAM_set1_ip_asc = (delegate* unmanaged<nint, byte*, int>)S(crypto, "X509_VERIFY_PARAM_set1_ip_asc");
        X509_verify_cert_error_string = (delegate* unmanaged<long, nint>)S(crypto, "X509_verify_cert_error_string");
        ERR_get_error = (delegate* unmanaged<ulong>)S(crypto, "ERR_get_error");
        ERR_clear_error = (delegate* unmanaged<void>)S(crypto, "ERR_clear_error");
        ERR_error_string_n = (delegate* unmanaged<ulong, byte*, nuint, void>)S(crypto, "ERR_error_string_n");
        return ok;
    }

    /// <summary>A client context that verifies the server against OpenSSL's default trust (SSL_CERT_FILE, SSL_CERT_DIR, the system store), TLS 1.2 or newer.</summary>
    public static nint NewClientContext()
    {
        EnsureLoaded();
        ERR_clear_error();
        nint ctx = SSL_CTX_new(TLS_client_method());
        if (ctx == 0) throw new IOException("SSL_CTX_new failed: " + LastError());
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, 0);
        SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, 0);
        if (SSL_CTX_set_default_verify_paths(ctx) != 1)
        {
            SSL_CTX_free(ctx);
            throw new IOException("no trusted certificates: " + LastError());
        }
        return ctx;
    }

    /// <summary>Server name indication and the name (or address) the certificate must be for.</summary>
    public static void SetPeerName(nint ssl, string host, bool isAddress)
    {
        byte[] z = System.Text.Encoding.ASCII.GetBytes(host + "\0");
        fixed (byte* p = z)
        {
            int ok = isAddress
                ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), p)
                : (SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (nint)p) == 1 ? SSL_set1_host(ssl, p) : 0);
            if (ok != 1) throw new IOException($"cannot check the certificate for {host}: {LastError()}");
        }
    }

    /// <summary>OpenSSL's oldest queued error as text (the queue is per thread), or "" when there is none.</summary>
    public static string LastError()
    {
        ulong code = ERR_get_error();
        if (code == 0) return "";
        byte* buffer = stackalloc byte[256];
        ERR_error_string_n(code, buffer, 256);
        ERR_clear_error();
        return Marshal.PtrToStringUTF8((nint)buffer) ?? "";
    }

    public static string VerifyError(nint ssl)
    {
        long result = SSL_get_verify_result(ssl);
        return result == 0 ? "" : Marshal.PtrToStringUTF8(X509_verify_cert_error_string(result)) ?? $"verify error {result}";
    }

    private static nint Open(string name)
    {
        byte[] z = System.Text.Encoding.ASCII.GetBytes(name + "\0");
        fixed (byte* p = z) return Dlopen(p, RTLD_NOW | RTLD_DEEPBIND);
    }

    private static nint Sym(nint lib, string name)
    {
        byte[] z = System.Text.Encoding.ASCII.GetBytes(name + "\0");
        fixed (byte* p = z) return Dlsym(lib, p);
    }

    [LibraryImport("libc", EntryPoint = "dlopen")]
    private static partial nint Dlopen(byte* file, int mode);

    [LibraryImport("libc", EntryPoint = "dlsym")]
    private static partial nint Dlsym(nint handle, byte* symbol);
}
