/*
 * net_probe: runs network calls named on the command line, in order, in one process, and prints one
 * machine-readable line per command:
 *
 *     <command> => result=<n> errno=<n> [more fields]
 *
 * Used by NetworkCProbeTests (outbound_connectivity end to end), inside a network namespace of the
 * test's own, with and without the library. Each command is one argument, its words separated by spaces:
 *
 *   connect4 IP PORT        TCP over AF_INET: connect, then read the server's greeting ("reply=...")
 *   connect6 IP6 PORT       the same over AF_INET6 (IP6 may be IPv4-mapped, ::ffff:a.b.c.d)
 *   __connect IP PORT       glibc's public alias of connect
 *   nonblock4 IP PORT       non-blocking connect: its result and errno, then poll and SO_ERROR ("so_error=")
 *   udp4 IP PORT TEXT       sendto on an unconnected AF_INET datagram socket
 *   udp6 IP6 PORT TEXT      the same over AF_INET6
 *   unspec4 IP PORT TEXT    sendto with sa_family AF_UNSPEC on an AF_INET datagram socket (the kernel uses sin_addr)
 *   sendmsg4 IP PORT TEXT   sendmsg with msg_name on an AF_INET datagram socket
 *   sendmmsg4 TEXT IP:PORT... one sendmmsg of one message per destination, then again from where it stopped
 *   udpconnected IP PORT TEXT  connect a datagram socket, then send() without an address
 *   tcpsendto IP PORT IP2   TCP connect to IP, then sendto() with IP2:PORT as address (TCP ignores it)
 *   fastopen IP PORT        sendto(MSG_FASTOPEN) on an unconnected TCP socket (a connect)
 *   connectnull             connect(fd, NULL, 16)
 *   connectbad              connect(fd, (void*)1, 16)
 *   connectshort IP         connect with an addrlen of 8
 *   connectlong IP          connect with an addrlen of 200
 *   unix [PATH]             AF_UNIX stream connect (default: $IRON_NS_DIR/unix.sock, the namespace's server)
 *   gai NAME                getaddrinfo(NAME, "7070"): "status=" and "addrs=" (every address, in order)
 *   gainum NAME             the same with AI_NUMERICHOST
 *   ghbn NAME               gethostbyname: "h_errno=" and "addrs="
 *   ghbn2 NAME 4|6          gethostbyname2(AF_INET|AF_INET6)
 *   ghbnr NAME              gethostbyname_r: return value, *result, *h_errnop
 *   ghbn2r NAME 4|6         gethostbyname2_r
 *   gai_connect NAME PORT   getaddrinfo, then connect to the first answer and read the greeting
 *   ghbn_connect NAME PORT  gethostbyname, then connect to its first address
 *   gaia NAME...            getaddrinfo_a(GAI_WAIT): each request's gai_error ("NAME=<status>/<first address>")
 *   gaianowait NAME PORT    getaddrinfo_a(GAI_NOWAIT), poll gai_error, then connect to the answer
 *   resq NAME | ress NAME   res_query / res_search for an A record: answer length (or -1) and h_errno
 *   resqd NAME DOMAIN       res_querydomain
 *   resnq NAME              res_ninit, then res_nquery: also the res_state's own h_errno ("state_h_errno=")
 *   ressend NAME            res_mkquery, then res_send of the message
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/nameser.h>
#include <poll.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

extern int __connect(int fd, const struct sockaddr *addr, socklen_t len);

static char *word[16];
static int words;

static void print_result(const char *cmd, long result, int err) { printf("%s => result=%ld errno=%d", cmd, result, err); }

static struct sockaddr_in in4(const char *ip, int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) { printf("bad address %s\n", ip); exit(2); }
    return a;
}

static struct sockaddr_in6 in6(const char *ip, int port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    if (inet_pton(AF_INET6, ip, &a.sin6_addr) != 1) { printf("bad address %s\n", ip); exit(2); }
    return a;
}

static void read_reply(int fd)
{
    char buf[200];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n < 0) n = 0;
    buf[n] = 0;
    char *nl = strchr(buf, '\n');
    if (nl) *nl = 0;
    printf(" reply=%s", buf);
}

static void connect_and_greet(const char *cmd, int family, const struct sockaddr *a, socklen_t len, int use_alias)
{
    int fd = socket(family, SOCK_STREAM, 0);
    errno = 0;
    int r = use_alias ? __connect(fd, a, len) : connect(fd, a, len);
    int e = errno;
    print_result(cmd, r, e);
    if (r == 0) read_reply(fd);
    close(fd);
}

static void print_addrinfo(struct addrinfo *res)
{
    printf(" addrs=");
    char text[INET6_ADDRSTRLEN];
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
    {
        const void *p = ai->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                                 : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        inet_ntop(ai->ai_family, p, text, sizeof text);
        printf("%s%s", text, ai->ai_next ? "," : "");
    }
}

static void print_hostent(const struct hostent *h)
{
    printf(" addrs=");
    if (!h) return;
    char text[INET6_ADDRSTRLEN];
    for (char **p = h->h_addr_list; *p; p++)
    {
        inet_ntop(h->h_addrtype, *p, text, sizeof text);
        printf("%s%s", text, p[1] ? "," : "");
    }
}

static int family_of(const char *w) { return strcmp(w, "6") == 0 ? AF_INET6 : AF_INET; }

static void run(const char *cmd)
{
    char *copy = strdup(cmd), *save = NULL;
    words = 0;
    for (char *t = strtok_r(copy, " ", &save); t && words < 16; t = strtok_r(NULL, " ", &save)) word[words++] = t;
    const char *op = words ? word[0] : "";

    if (!strcmp(op, "connect4") || !strcmp(op, "__connect"))
    {
        struct sockaddr_in a = in4(word[1], atoi(word[2]));
        connect_and_greet(cmd, AF_INET, (struct sockaddr *)&a, sizeof a, op[0] == '_');
    }
    else if (!strcmp(op, "connect6"))
    {
        struct sockaddr_in6 a = in6(word[1], atoi(word[2]));
        connect_and_greet(cmd, AF_INET6, (struct sockaddr *)&a, sizeof a, 0);
    }
    else if (!strcmp(op, "nonblock4"))
    {
        struct sockaddr_in a = in4(word[1], atoi(word[2]));
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        errno = 0;
        int r = connect(fd, (struct sockaddr *)&a, sizeof a);
        int e = errno;
        print_result(cmd, r, e);
        if (r < 0 && e == EINPROGRESS)
        {
            struct pollfd p = {fd, POLLOUT, 0};
            poll(&p, 1, 5000);
            int soerr = -1;
            socklen_t l = sizeof soerr;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l);
            printf(" so_error=%d", soerr);
        }
        close(fd);
    }
    else if (!strcmp(op, "udp4") || !strcmp(op, "unspec4") || !strcmp(op, "sendmsg4"))
    {
        struct sockaddr_in a = in4(word[1], atoi(word[2]));
        if (!strcmp(op, "unspec4")) a.sin_family = AF_UNSPEC;
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        errno = 0;
        long r;
        if (!strcmp(op, "sendmsg4"))
        {
            struct iovec iov = {word[3], strlen(word[3])};
            struct msghdr m = {0};
            m.msg_name = &a;
            m.msg_namelen = sizeof a;
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            r = sendmsg(fd, &m, 0);
        }
        else r = sendto(fd, word[3], strlen(word[3]), 0, (struct sockaddr *)&a, sizeof a);
        print_result(cmd, r, errno);
        close(fd);
    }
    else if (!strcmp(op, "udp6"))
    {
        struct sockaddr_in6 a = in6(word[1], atoi(word[2]));
        int fd = socket(AF_INET6, SOCK_DGRAM, 0);
        errno = 0;
        long r = sendto(fd, word[3], strlen(word[3]), 0, (struct sockaddr *)&a, sizeof a);
        print_result(cmd, r, errno);
        close(fd);
    }
    else if (!strcmp(op, "sendmmsg4"))
    {
        int n = words - 2;
        struct sockaddr_in a[8];
        struct mmsghdr m[8];
        struct iovec iov[8];
        char text[8][64];
        memset(m, 0, sizeof m);
        for (int i = 0; i < n && i < 8; i++)
        {
            char host[64];
            snprintf(host, sizeof host, "%s", word[2 + i]);
            char *colon = strchr(host, ':');
            *colon = 0;
            a[i] = in4(host, atoi(colon + 1));
            snprintf(text[i], sizeof text[i], "%s-%d", word[1], i);
            iov[i].iov_base = text[i];
            iov[i].iov_len = strlen(text[i]);
            m[i].msg_hdr.msg_name = &a[i];
            m[i].msg_hdr.msg_namelen = sizeof a[i];
            m[i].msg_hdr.msg_iov = &iov[i];
            m[i].msg_hdr.msg_iovlen = 1;
        }
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        errno = 0;
        int r = sendmmsg(fd, m, n, 0);
        print_result(cmd, r, errno);
        if (r >= 0 && r < n)
        {
            errno = 0;
            int again = sendmmsg(fd, m + r, n - r, 0);
            printf(" then=%d then_errno=%d", again, errno);
        }
        close(fd);
    }
    else if (!strcmp(op, "udpconnected"))
    {
        struct sockaddr_in a = in4(word[1], atoi(word[2]));
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        errno = 0;
        int r = connect(fd, (struct sockaddr *)&a, sizeof a);
        print_result(cmd, r, errno);
        if (r == 0)
        {
            errno = 0;
            long s = send(fd, word[3], strlen(word[3]), 0);
            printf(" send=%ld send_errno=%d", s, errno);
        }
        close(fd);
    }
    else if (!strcmp(op, "tcpsendto"))
    {
        struct sockaddr_in a = in4(word[1], atoi(word[2])), other = in4(word[3], atoi(word[2]));
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        errno = 0;
        int r = connect(fd, (struct sockaddr *)&a, sizeof a);
        print_result(cmd, r, errno);
        errno = 0;
        long s = sendto(fd, "x", 1, 0, (struct sockaddr *)&other, sizeof other);
        printf(" sendto=%ld sendto_errno=%d", s, errno);
        close(fd);
    }
    else if (!strcmp(op, "fastopen"))
    {
        struct sockaddr_in a = in4(word[1], atoi(word[2]));
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        errno = 0;
        long r = sendto(fd, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&a, sizeof a);
        print_result(cmd, r, errno);
        close(fd);
    }
    else if (!strcmp(op, "connectnull") || !strcmp(op, "connectbad"))
    {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        errno = 0;
        int r = connect(fd, op[7] == 'n' ? NULL : (struct sockaddr *)1, sizeof(struct sockaddr_in));
        print_result(cmd, r, errno);
        close(fd);
    }
    else if (!strcmp(op, "connectshort") || !strcmp(op, "connectlong"))
    {
        char big[256];
        memset(big, 0, sizeof big);
        struct sockaddr_in a = in4(word[1], 7070);
        memcpy(big, &a, sizeof a);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        errno = 0;
        int r = connect(fd, (struct sockaddr *)big, op[7] == 's' ? 8 : 200);
        print_result(cmd, r, errno);
        close(fd);
    }
    else if (!strcmp(op, "unix"))
    {
        struct sockaddr_un a = {0};
        a.sun_family = AF_UNIX;
        if (words > 1) snprintf(a.sun_path, sizeof a.sun_path, "%s", word[1]);
        else snprintf(a.sun_path, sizeof a.sun_path, "%s/unix.sock", getenv("IRON_NS_DIR") ? getenv("IRON_NS_DIR") : ".");
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        errno = 0;
        int r = connect(fd, (struct sockaddr *)&a, sizeof a);
        print_result(cmd, r, errno);
        if (r == 0) read_reply(fd);
        close(fd);
    }
    else if (!strcmp(op, "gai") || !strcmp(op, "gainum") || !strcmp(op, "gai_connect"))
    {
        struct addrinfo hints = {0}, *res = NULL;
        hints.ai_socktype = SOCK_STREAM;
        if (!strcmp(op, "gainum")) hints.ai_flags = AI_NUMERICHOST;
        errno = 0;
        int status = getaddrinfo(word[1], words > 2 ? word[2] : "7070", &hints, &res);
        printf("%s => status=%d", cmd, status);
        if (status == 0)
        {
            print_addrinfo(res);
            if (!strcmp(op, "gai_connect"))
            {
                int fd = socket(res->ai_family, SOCK_STREAM, 0);
                errno = 0;
                int r = connect(fd, res->ai_addr, res->ai_addrlen);
                printf(" connect=%d connect_errno=%d", r, errno);
                if (r == 0) read_reply(fd);
                close(fd);
            }
            freeaddrinfo(res);
        }
    }
    else if (!strcmp(op, "ghbn") || !strcmp(op, "ghbn2") || !strcmp(op, "ghbn_connect"))
    {
        h_errno = 0;
        errno = 0;
        struct hostent *h = !strcmp(op, "ghbn2") ? gethostbyname2(word[1], family_of(word[2])) : gethostbyname(word[1]);
        printf("%s => result=%s h_errno=%d errno=%d", cmd, h ? "hostent" : "NULL", h_errno, h ? 0 : errno);
        print_hostent(h);
        if (h && !strcmp(op, "ghbn_connect"))
        {
            struct sockaddr_in a = {0};
            a.sin_family = AF_INET;
            a.sin_port = htons(atoi(word[2]));
            memcpy(&a.sin_addr, h->h_addr_list[0], 4);
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            errno = 0;
            int r = connect(fd, (struct sockaddr *)&a, sizeof a);
            printf(" connect=%d connect_errno=%d", r, errno);
            if (r == 0) read_reply(fd);
            close(fd);
        }
    }
    else if (!strcmp(op, "ghbnr") || !strcmp(op, "ghbn2r"))
    {
        struct hostent he, *result = (struct hostent *)1;
        char buf[4096];
        int herr = -1;
        errno = 0;
        int r = !strcmp(op, "ghbn2r") ? gethostbyname2_r(word[1], family_of(word[2]), &he, buf, sizeof buf, &result, &herr)
                                      : gethostbyname_r(word[1], &he, buf, sizeof buf, &result, &herr);
        printf("%s => return=%d result=%s h_errnop=%d", cmd, r, result == NULL ? "NULL" : result == &he ? "hostent" : "untouched", herr);
        if (result == &he) print_hostent(result);
    }
    else if (!strcmp(op, "gaia"))
    {
        int n = words - 1;
        struct gaicb reqs[8], *list[8];
        struct addrinfo hints = {0};
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        memset(reqs, 0, sizeof reqs);
        for (int i = 0; i < n && i < 8; i++) { reqs[i].ar_name = word[1 + i]; reqs[i].ar_request = &hints; list[i] = &reqs[i]; }
        errno = 0;
        int r = getaddrinfo_a(GAI_WAIT, list, n, NULL);
        printf("%s => result=%d", cmd, r);
        for (int i = 0; i < n && i < 8; i++)
        {
            int e = gai_error(&reqs[i]);
            char text[INET6_ADDRSTRLEN] = "-";
            if (e == 0 && reqs[i].ar_result)
                inet_ntop(AF_INET, &((struct sockaddr_in *)reqs[i].ar_result->ai_addr)->sin_addr, text, sizeof text);
            printf(" %s=%d/%s", word[1 + i], e, text);
        }
    }
    else if (!strcmp(op, "gaianowait"))
    {
        struct gaicb req = {0}, *list[1] = {&req};
        struct addrinfo hints = {0};
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        req.ar_name = word[1];
        req.ar_request = &hints;
        int r = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
        int e = EAI_INPROGRESS;
        for (int i = 0; i < 500 && (e = gai_error(&req)) == EAI_INPROGRESS; i++) usleep(10000);
        printf("%s => result=%d status=%d", cmd, r, e);
        if (e == 0)
        {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in *a = (struct sockaddr_in *)req.ar_result->ai_addr;
            a->sin_port = htons(atoi(word[2]));
            errno = 0;
            int c = connect(fd, (struct sockaddr *)a, sizeof *a);
            printf(" connect=%d connect_errno=%d", c, errno);
            if (c == 0) read_reply(fd);
            close(fd);
        }
    }
    else if (!strcmp(op, "resq") || !strcmp(op, "ress") || !strcmp(op, "resqd") || !strcmp(op, "resnq") || !strcmp(op, "ressend"))
    {
        unsigned char answer[1024];
        h_errno = 0;
        errno = 0;
        int r, state_herr = -1;
        if (!strcmp(op, "resq")) r = res_query(word[1], C_IN, T_A, answer, sizeof answer);
        else if (!strcmp(op, "ress")) r = res_search(word[1], C_IN, T_A, answer, sizeof answer);
        else if (!strcmp(op, "resqd")) r = res_querydomain(word[1], word[2], C_IN, T_A, answer, sizeof answer);
        else if (!strcmp(op, "resnq"))
        {
            struct __res_state state;
            memset(&state, 0, sizeof state);
            res_ninit(&state);
            r = res_nquery(&state, word[1], C_IN, T_A, answer, sizeof answer);
            state_herr = state.res_h_errno;
            res_nclose(&state);
        }
        else
        {
            unsigned char query[512];
            int n = res_mkquery(QUERY, word[1], C_IN, T_A, NULL, 0, NULL, query, sizeof query);
            r = n < 0 ? -2 : res_send(query, n, answer, sizeof answer);
        }
        printf("%s => result=%s h_errno=%d", cmd, r > 0 ? "answer" : r == -1 ? "-1" : "other", r > 0 ? 0 : h_errno);
        if (state_herr >= 0) printf(" state_h_errno=%d", r > 0 ? 0 : state_herr);
    }
    else
    {
        printf("%s => unknown command\n", cmd);
        exit(2);
    }
    printf("\n");
    fflush(stdout);
    free(copy);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) run(argv[i]);
    return 0;
}
