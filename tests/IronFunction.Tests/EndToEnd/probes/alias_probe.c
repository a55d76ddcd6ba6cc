/*
 * alias_probe: calls libc functions under their other exported names, and the functions that open a file or
 * resolve and connect through glibc's internal calls, each by its own name (linked directly, never through
 * dlsym). Each argument is one command, run in order in one process; each prints one line
 *
 *     <command> => result=<int | ptr | NULL> errno=<n> [more]
 *
 * Used by AliasCProbeTests with and without the library.
 *
 *   __open P, __open64 P, _IO_fopen P      create P for writing
 *   __open_nocancel P, __nss_files_fopen P read P (GLIBC_PRIVATE names)
 *   __xmknod P, __xmknodat P               make a FIFO at P (compat entry points of mknod)
 *   mntent P                               setmntent(P, "a") + addmntent + endmntent
 *   utmp P, utmpx P                        utmpname(P) / utmpxname(P), then the first entry's ut_user
 *   updwtmp P, updwtmpx P                  append one record to P
 *   catopen P, nlspath TEMPLATE NAME       catopen(P) / catopen(NAME) with NLSPATH=TEMPLATE
 *   ruserpass HOME                         ~/.netrc read with HOME set
 *   write_utmp P USER                      (setup, without the library) a utmp file with one entry
 *   _IO_popen CMD, __libc_system CMD       run CMD by a shell, after unsetenv("LD_PRELOAD")
 *   _IO_proc_open CMD                      the same through popen's engine, on a FILE set up by hand
 *   __sendmmsg A PORT                      one UDP datagram "alias-mmsg" to A:PORT (IPv4)
 *   rexec H PORT, rexec_af H PORT, rcmd H PORT, rcmd_af H PORT   connect to H:PORT through the r* commands
 *   ruserok H, ruserok_af H                look H up through ruserok
 *   nss_dns4 H                             glibc's DNS back end, _nss_dns_gethostbyname4_r(H)
 *   _IO_file_fopen P, _IO_file_open P      reopen a stream's FILE on P for writing, as freopen does inside
 *   open_catalog P                         __open_catalog(P) into a zeroed catalog
 *   utmp_all REL                           utmpname(REL) from /var/lib, then every utmp opener from /var
 *   res_context_query H, res_context_send H   the resolver's context entry points, a query for H's A record
 *   clnttcp A PORT, clnt_create H          sunrpc clients: a TCP client of A:PORT; a client of H's portmapper
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <nl_types.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utmp.h>
#include <utmpx.h>

/* the other names, as glibc exports them */
extern int __open(const char *path, int flags, ...);
extern int __open64(const char *path, int flags, ...);
extern FILE *_IO_fopen(const char *path, const char *mode);
extern FILE *_IO_popen(const char *command, const char *mode);
extern int __libc_system(const char *command);
extern FILE *_IO_proc_open(FILE *stream, const char *command, const char *mode);
extern int __sendmmsg(int fd, struct mmsghdr *vector, unsigned int count, int flags);
extern int __xmknod(int version, const char *path, mode_t mode, dev_t *dev);
extern int __xmknodat(int version, int dirfd, const char *path, mode_t mode, dev_t *dev);
extern int __open_nocancel(const char *path, int flags, ...);
extern FILE *__nss_files_fopen(const char *path);
extern int ruserpass(const char *host, const char **name, const char **password);
extern int _IO_file_close_it(FILE *stream);
extern FILE *_IO_file_fopen(FILE *stream, const char *path, const char *mode, int is32);
extern FILE *_IO_file_open(FILE *stream, const char *path, int flags, int prot, int read_write, int is32);
extern int __open_catalog(const char *name, const char *nlspath, const char *language, void *catalog);
/* sunrpc is compat-only: bound to its version as a program built against an older glibc is */
struct sockaddr_in;
extern void *clnttcp_create(struct sockaddr_in *server, unsigned long program, unsigned long version, int *socket,
                            unsigned int send_size, unsigned int receive_size);
extern void *clnt_create(const char *host, unsigned long program, unsigned long version, const char *protocol);
__asm__(".symver clnttcp_create, clnttcp_create@GLIBC_2.2.5");
__asm__(".symver clnt_create, clnt_create@GLIBC_2.2.5");
/* the resolver's context entry points (GLIBC_PRIVATE) */
struct resolv_context;
extern struct resolv_context *__resolv_context_get(void);
extern void __resolv_context_put(struct resolv_context *context);
extern int __res_context_query(struct resolv_context *context, const char *name, int class, int type, unsigned char *answer,
                               int size, unsigned char **answerp, unsigned char **answerp2, int *nanswerp2, int *resplen2,
                               int *answerp2_malloced);
extern int __res_context_send(struct resolv_context *context, const unsigned char *message, int length,
                              const unsigned char *message2, int length2, unsigned char *answer, int size, unsigned char **answerp,
                              unsigned char **answerp2, int *nanswerp2, int *resplen2, int *answerp2_malloced);
struct gaih_addrtuple;
extern int _nss_dns_gethostbyname4_r(const char *name, struct gaih_addrtuple **pat, char *buffer, size_t size,
                                     int *errnop, int *herrnop, int32_t *ttl);

#define RPC_ANYSOCK_ (-1)

static void line(const char *command, long result, int error, const char *more)
{
    printf("%s => result=%ld errno=%d%s%s\n", command, result, error, more ? " " : "", more ? more : "");
    fflush(stdout);
}

static void pointer(const char *command, const void *p, int error, const char *more)
{
    if (p) printf("%s => result=ptr errno=0%s%s\n", command, more ? " " : "", more ? more : "");
    else printf("%s => result=NULL errno=%d\n", command, error);
    fflush(stdout);
}

static struct sockaddr_in inet4(const char *address, int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, address, &a.sin_addr);
    return a;
}

static void run(char *command)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", command);
    char *op = strtok(copy, " "), *a = strtok(NULL, " "), *b = strtok(NULL, " ");
    if (!op) return;
    char *rest = a ? command + (a - copy) : NULL;
    errno = 0;
    if (strcmp(op, "__open") == 0) { int fd = __open(a, O_CREAT | O_WRONLY, 0600); line(command, fd, errno, NULL); }
    else if (strcmp(op, "__open64") == 0) { int fd = __open64(a, O_CREAT | O_WRONLY, 0600); line(command, fd >= 0 ? 0 : fd, errno, NULL); }
    else if (strcmp(op, "_IO_fopen") == 0) { FILE *f = _IO_fopen(a, "w"); pointer(command, f, errno, NULL); if (f) fclose(f); }
    else if (strcmp(op, "__open_nocancel") == 0)
    {
        int fd = __open_nocancel(a, O_RDONLY);
        char buffer[64] = "";
        if (fd >= 0) { ssize_t n = read(fd, buffer, sizeof buffer - 1); buffer[n > 0 ? n : 0] = 0; buffer[strcspn(buffer, "\n")] = 0; close(fd); }
        char more[96];
        snprintf(more, sizeof more, "content=%s", buffer);
        line(command, fd >= 0 ? 0 : fd, errno, more);
    }
    else if (strcmp(op, "__nss_files_fopen") == 0)
    {
        FILE *f = __nss_files_fopen(a);
        char buffer[64] = "", more[96];
        int error = errno;
        if (f) { if (!fgets(buffer, sizeof buffer, f)) buffer[0] = 0; buffer[strcspn(buffer, "\n")] = 0; fclose(f); }
        snprintf(more, sizeof more, "content=%s", buffer);
        pointer(command, f, error, more);
    }
    else if (strcmp(op, "__xmknod") == 0) { dev_t dev = 0; long r = __xmknod(0, a, S_IFIFO | 0600, &dev); line(command, r, errno, NULL); }
    else if (strcmp(op, "__xmknodat") == 0) { dev_t dev = 0; long r = __xmknodat(0, AT_FDCWD, a, S_IFIFO | 0600, &dev); line(command, r, errno, NULL); }
    else if (strcmp(op, "mntent") == 0)
    {
        FILE *f = setmntent(a, "a");
        int error = errno;
        if (f)
        {
            struct mntent entry = { "alias-probe", "/mnt/alias", "tmpfs", "rw", 0, 0 };
            addmntent(f, &entry);
            endmntent(f);
        }
        pointer(command, f, error, NULL);
    }
    else if (strcmp(op, "utmp") == 0 || strcmp(op, "utmpx") == 0)
    {
        int x = op[4] == 'x';
        int named = x ? utmpxname(a) : utmpname(a);
        int error = errno;
        char more[128];
        if (x) { setutxent(); struct utmpx *u = getutxent(); snprintf(more, sizeof more, "named=%d entry=%.32s", named, u ? u->ut_user : "NULL"); endutxent(); }
        else { setutent(); struct utmp *u = getutent(); snprintf(more, sizeof more, "named=%d entry=%.32s", named, u ? u->ut_user : "NULL"); endutent(); }
        line(command, named, error, more);
    }
    else if (strcmp(op, "write_utmp") == 0)
    {
        struct utmp u = { .ut_type = USER_PROCESS, .ut_pid = 1 };
        snprintf(u.ut_user, sizeof u.ut_user, "%s", b);
        snprintf(u.ut_line, sizeof u.ut_line, "pts/9");
        int fd = open(a, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        line(command, fd >= 0 && write(fd, &u, sizeof u) == (ssize_t)sizeof u ? 0 : -1, errno, NULL);
        if (fd >= 0) close(fd);
    }
    else if (strcmp(op, "updwtmp") == 0)
    {
        struct utmp u = { .ut_type = DEAD_PROCESS };
        updwtmp(a, &u);
        line(command, 0, errno, NULL);
    }
    else if (strcmp(op, "updwtmpx") == 0)
    {
        struct utmpx u = { .ut_type = DEAD_PROCESS };
        updwtmpx(a, &u);
        line(command, 0, errno, NULL);
    }
    else if (strcmp(op, "catopen") == 0)
    {
        nl_catd c = catopen(a, 0);
        int error = errno;
        char more[96];
        snprintf(more, sizeof more, "message=%s", c == (nl_catd)-1 ? "NULL" : catgets(c, 1, 1, "NULL"));
        line(command, c == (nl_catd)-1 ? -1 : 0, error, more);
        if (c != (nl_catd)-1) catclose(c);
    }
    else if (strcmp(op, "nlspath") == 0)
    {
        setenv("NLSPATH", a, 1);
        nl_catd c = catopen(b, 0);
        line(command, c == (nl_catd)-1 ? -1 : 0, errno, NULL);
        if (c != (nl_catd)-1) catclose(c);
        unsetenv("NLSPATH");
    }
    else if (strcmp(op, "ruserpass") == 0)
    {
        setenv("HOME", a, 1);
        const char *name = NULL, *password = NULL;
        int r = ruserpass("netrc.example", &name, &password);
        char more[160];
        snprintf(more, sizeof more, "login=%s", name ? name : "NULL");
        line(command, r, errno, more);
    }
    else if (strcmp(op, "_IO_popen") == 0 || strcmp(op, "__libc_system") == 0)
    {
        unsetenv("LD_PRELOAD");
        if (op[1] == 'I')
        {
            FILE *f = _IO_popen(rest, "r");
            int error = errno;
            char more[64] = "status=none";
            if (f) snprintf(more, sizeof more, "status=%d", pclose(f));
            pointer(command, f, error, more);
        }
        else { long r = __libc_system(rest); line(command, r, errno, NULL); }
    }
    else if (strcmp(op, "_IO_proc_open") == 0)
    {
        /* what the engine reads of the FILE: no descriptor yet, and a lock */
        static long file[512], lock[16];
        FILE *f = (FILE *)file;
        f->_fileno = -1;
        f->_lock = (void *)lock;
        unsetenv("LD_PRELOAD");
        FILE *r = _IO_proc_open(f, rest, "r");
        int error = errno, status = -1;
        if (r) waitpid(-1, &status, 0);
        char more[64];
        snprintf(more, sizeof more, "status=%d", status);
        pointer(command, r, error, r ? more : NULL);
    }
    else if (strcmp(op, "__sendmmsg") == 0)
    {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in to = inet4(a, atoi(b));
        char payload[] = "alias-mmsg";
        struct iovec io = { payload, sizeof payload - 1 };
        struct mmsghdr m = { .msg_hdr = { .msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &io, .msg_iovlen = 1 } };
        long r = __sendmmsg(fd, &m, 1, 0);
        line(command, r, errno, NULL);
        close(fd);
    }
    else if (strncmp(op, "rexec", 5) == 0 || strncmp(op, "rcmd", 4) == 0)
    {
        char *host = a;
        unsigned short port = htons(atoi(b));
        int fd;
        if (strcmp(op, "rexec") == 0) fd = rexec(&host, port, "probe", "secret", "id", NULL);
        else if (strcmp(op, "rexec_af") == 0) fd = rexec_af(&host, port, "probe", "secret", "id", NULL, AF_INET);
        else if (strcmp(op, "rcmd") == 0) fd = rcmd(&host, port, "root", "root", "id", NULL);
        else fd = rcmd_af(&host, port, "root", "root", "id", NULL, AF_INET);
        line(command, fd >= 0 ? 0 : fd, errno, NULL);
        if (fd >= 0) close(fd);
    }
    else if (strcmp(op, "ruserok") == 0) { long r = ruserok(a, 0, "probe", "probe"); line(command, r, errno, NULL); }
    else if (strcmp(op, "ruserok_af") == 0) { long r = ruserok_af(a, 0, "probe", "probe", AF_INET); line(command, r, errno, NULL); }
    else if (strcmp(op, "nss_dns4") == 0)
    {
        char buffer[2048];
        struct gaih_addrtuple *tuples = NULL;
        int error = 0, herror = 0;
        int status = _nss_dns_gethostbyname4_r(a, &tuples, buffer, sizeof buffer, &error, &herror, NULL);
        char more[64];
        snprintf(more, sizeof more, "h_errno=%d", herror);
        line(command, status, error, more);
    }
    else if (strcmp(op, "_IO_file_fopen") == 0 || strcmp(op, "_IO_file_open") == 0)
    {
        FILE *f = fopen("/dev/null", "r");
        _IO_file_close_it(f);
        errno = 0;
        FILE *r = op[9] == 'f' ? _IO_file_fopen(f, a, "w", 1) : _IO_file_open(f, a, O_CREAT | O_WRONLY, 0600, 4, 1);
        pointer(command, r, errno, NULL);
        if (r) fclose(r);
    }
    else if (strcmp(op, "open_catalog") == 0)
    {
        static long catalog[128];
        memset(catalog, 0, sizeof catalog);
        long r = __open_catalog(a, NULL, NULL, catalog);
        line(command, r, errno, NULL);
    }
    else if (strcmp(op, "utmp_all") == 0)
    {
        /* judged from /var/lib, "../tmp/..." is /var/tmp/...; opened from /var, it is /tmp/... */
        if (chdir("/var/lib") != 0) { line(command, -998, errno, "chdir"); return; }
        int named = utmpname(a);
        if (chdir("/var") != 0) { line(command, -998, errno, "chdir"); return; }
        printf("%s => result=%d\n", command, named);
        struct utmp u = { .ut_type = USER_PROCESS }, buffer, *got;
        struct utmpx ux = { .ut_type = USER_PROCESS };
        snprintf(u.ut_line, sizeof u.ut_line, "pts/9");
        snprintf(ux.ut_line, sizeof ux.ut_line, "pts/9");
#define UT(name, call) do { endutent(); errno = 0; void *p_ = (void *)(call); int e_ = errno; \
        printf("utmp_all:%s => result=%s errno=%d\n", name, p_ ? "ptr" : "NULL", e_); } while (0)
#define UT_R(name, call) do { endutent(); errno = 0; got = NULL; int r_ = (call); int e_ = errno; \
        printf("utmp_all:%s => result=%d got=%s errno=%d\n", name, r_, got ? got->ut_user : "NULL", e_); } while (0)
        endutent(); errno = 0; setutent(); printf("utmp_all:setutent => errno=%d\n", errno);
        UT("getutent", getutent());
        UT_R("getutent_r", getutent_r(&buffer, &got));
        UT("getutid", getutid(&u));
        UT_R("getutid_r", getutid_r(&u, &buffer, &got));
        UT("getutline", getutline(&u));
        UT_R("getutline_r", getutline_r(&u, &buffer, &got));
        UT("setutxent+getutxent", (setutxent(), getutxent()));
        UT("getutxid", getutxid(&ux));
        UT("getutxline", getutxline(&ux));
        UT("pututline", pututline(&u));
        UT("pututxline", pututxline(&ux));
        endutent();
        fflush(stdout);
    }
    else if (strcmp(op, "res_context_query") == 0 || strcmp(op, "res_context_send") == 0)
    {
        unsigned char answer[1024], message[512];
        struct resolv_context *context = __resolv_context_get();
        int r;
        errno = 0;
        if (op[12] == 'q') r = __res_context_query(context, a, 1, 1, answer, sizeof answer, NULL, NULL, NULL, NULL, NULL);
        else
        {
            int length = res_mkquery(0, a, 1, 1, NULL, 0, NULL, message, sizeof message);
            r = __res_context_send(context, message, length, NULL, 0, answer, sizeof answer, NULL, NULL, NULL, NULL, NULL);
        }
        int error = errno;
        __resolv_context_put(context);
        line(command, r < 0 ? -1 : 0, error, NULL);
    }
    else if (strcmp(op, "clnttcp") == 0)
    {
        struct sockaddr_in to = inet4(a, atoi(b));
        int fd = RPC_ANYSOCK_;
        void *client = clnttcp_create(&to, 100000, 2, &fd, 0, 0);
        pointer(command, client, errno, NULL);
    }
    else if (strcmp(op, "clnt_create") == 0) { void *client = clnt_create(a, 100000, 2, "tcp"); pointer(command, client, errno, NULL); }
    else line(command, -999, 0, "unknown-command");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) run(argv[i]);
    return 0;
}
