/*
 * lookup_probe: reaches hooked functions the ways a hook could be missed, one command per argument, and prints
 * one line per command: "<command> => <what the call returned>". Used by LookupCallbackTests.
 *
 *   <way> <op> <arg>...
 *
 * Ways to reach the function of the op:
 *   direct      the name as linked
 *   vsym        dlvsym(RTLD_DEFAULT, name, its oldest version)
 *   noload      dlsym(dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY), name)
 *   mopen       dlsym on a second libc, dlmopen'ed into a new namespace
 *   next        dlsym(RTLD_NEXT, name) called from a module dlopen'ed after start (LOOKUP_MODULE)
 *   nextv       dlvsym(RTLD_NEXT, name, its oldest version) from that module
 *   deep        the name as bound by a module dlopen'ed with RTLD_DEEPBIND (LOOKUP_DEEP)
 *   nftw, ftw   the op called directly (as linked) from inside a walk's callback over "."
 *   filter, compare   the same from inside scandir's filter, scandir's comparison
 *   filterat    the same from inside scandirat's filter
 * Ops: open PATH (O_WRONLY|O_CREAT), read PATH (O_RDONLY), gai NAME, connect IPV4 PORT, spawn PROGRAM ARG.
 *
 * Other commands:
 *   same NAME          dlsym on RTLD_DEFAULT, the libc handle, RTLD_NEXT here and from the module agree for a
 *                      name the library does not hook
 *   nextdep            the module's RTLD_NEXT lookup of a name its own dependency defines (caller's scope kept)
 *   chdirwalk ROOT <op> <arg>...   the op from inside an nftw FTW_CHDIR callback, at the first file named
 *                      "existing" (the walk has moved the working directory there, as the hooks never saw)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netdb.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef int (*open_fn)(const char *, int, ...);
typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                        char *const[], char *const[]);

static void *module;
static void *(*module_next)(const char *);
static void *(*module_nextv)(const char *, const char *);

/* the oldest version of each op's function on x86_64: posix_spawn's is the compat one, the others are the only one */
static const char *oldest(const char *name)
{
    (void)name;
    return "GLIBC_2.2.5";
}

static void *direct(const char *name)
{
    if (strcmp(name, "open") == 0) return (void *)&open;
    if (strcmp(name, "getaddrinfo") == 0) return (void *)&getaddrinfo;
    if (strcmp(name, "connect") == 0) return (void *)&connect;
    return (void *)&posix_spawn;
}

static void *load_module(void)
{
    if (!module)
    {
        module = dlopen(getenv("LOOKUP_MODULE"), RTLD_NOW | RTLD_LOCAL);
        if (!module) { printf("no module: %s\n", dlerror()); exit(3); }
        module_next = (void *(*)(const char *))dlsym(module, "lookup_next");
        module_nextv = (void *(*)(const char *, const char *))dlsym(module, "lookup_nextv");
    }
    return module;
}

static void *lookup(const char *way, const char *name)
{
    if (strcmp(way, "vsym") == 0) return dlvsym(RTLD_DEFAULT, name, oldest(name));
    if (strcmp(way, "noload") == 0) return dlsym(dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY), name);
    if (strcmp(way, "mopen") == 0)
    {
        static void *second;
        if (!second) second = dlmopen(LM_ID_NEWLM, "libc.so.6", RTLD_NOW);
        return second ? dlsym(second, name) : NULL;
    }
    if (strcmp(way, "next") == 0) return load_module(), module_next(name);
    if (strcmp(way, "nextv") == 0) return load_module(), module_nextv(name, oldest(name));
    if (strcmp(way, "deep") == 0)
    {
        void *deep = dlopen(getenv("LOOKUP_DEEP"), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
        void *(*deep_direct)(const char *) = deep ? (void *(*)(const char *))dlsym(deep, "deep_direct") : NULL;
        return deep_direct ? deep_direct(name) : NULL;
    }
    return direct(name);
}

/* one op with the function found the given way; its result into out */
static void run_op(const char *way, char **op, char *out, size_t size)
{
    const char *name = strcmp(op[0], "open") == 0 || strcmp(op[0], "read") == 0 ? "open"
                     : strcmp(op[0], "gai") == 0 ? "getaddrinfo" : strcmp(op[0], "connect") == 0 ? "connect" : "posix_spawn";
    void *f = lookup(way, name);
    if (!f) { snprintf(out, size, "lookup failed: %s", dlerror()); return; }
    errno = 0;
    if (strcmp(name, "open") == 0)
    {
        int fd = ((open_fn)f)(op[1], strcmp(op[0], "open") == 0 ? O_WRONLY | O_CREAT : O_RDONLY, 0600);
        snprintf(out, size, "result=%d errno=%d", fd < 0 ? -1 : 0, errno);
        if (fd >= 0) syscall(SYS_close, fd);
    }
    else if (strcmp(name, "getaddrinfo") == 0)
    {
        struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
        int status = ((gai_fn)f)(op[1], "7070", &hints, &res);
        char address[64] = "-";
        if (status == 0 && res) inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, address, sizeof address);
        snprintf(out, size, "status=%d address=%s", status, address);
        if (status == 0) freeaddrinfo(res);
    }
    else if (strcmp(name, "connect") == 0)
    {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(op[2])) };
        inet_pton(AF_INET, op[1], &a.sin_addr);
        int r = ((connect_fn)f)(s, (struct sockaddr *)&a, sizeof a);
        snprintf(out, size, "result=%d errno=%d", r, errno);
        syscall(SYS_close, s);
    }
    else
    {
        pid_t pid = 0;
        char *argv[] = { op[1], op[2], NULL };
        int r = ((spawn_fn)f)(&pid, op[1], NULL, NULL, argv, environ);
        int status = -1;
        if (r == 0) waitpid(pid, &status, 0);
        snprintf(out, size, "result=%d exit=%d", r, r == 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
}

/* The callbacks run the op once, with the function as linked */
static char **pending;
static char result[256];

static void callback_op(void)
{
    if (!pending) return;
    char **op = pending;
    pending = NULL;
    run_op("direct", op, result, sizeof result);
}

static int on_nftw(const char *p, const struct stat *s, int type, struct FTW *f) { (void)p; (void)s; (void)type; (void)f; callback_op(); return 0; }
static int on_ftw(const char *p, const struct stat *s, int type) { (void)p; (void)s; (void)type; callback_op(); return 0; }
static int on_filter(const struct dirent *d) { (void)d; callback_op(); return 1; }
static int on_compare(const struct dirent **a, const struct dirent **b) { callback_op(); return alphasort(a, b); }

static int on_chdir(const char *p, const struct stat *s, int type, struct FTW *f)
{
    (void)s;
    (void)type;
    if (strcmp(p + f->base, "existing") == 0) callback_op();
    return 0;
}

static void run_callback(const char *way, char **op, char *out, size_t size)
{
    pending = op;
    snprintf(result, sizeof result, "callback not called");
    struct dirent **list = NULL;
    int r;
    if (strcmp(way, "nftw") == 0) r = nftw(".", on_nftw, 4, FTW_PHYS);
    else if (strcmp(way, "ftw") == 0) r = ftw(".", on_ftw, 4);
    else if (strcmp(way, "filter") == 0) r = scandir(".", &list, on_filter, alphasort);
    else if (strcmp(way, "filterat") == 0) r = scandirat(AT_FDCWD, ".", &list, on_filter, alphasort);
    else r = scandir(".", &list, NULL, on_compare);
    if (list) { for (int i = 0; i < r; i++) free(list[i]); free(list); }
    snprintf(out, size, "%s walk=%d", result, r < 0 ? -1 : 0);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int i = 1; i < argc; i++)
    {
        char command[512], out[512];
        snprintf(command, sizeof command, "%s", argv[i]);
        char *words[8] = { 0 };
        int n = 0;
        for (char *w = strtok(argv[i], " "); w && n < 7; w = strtok(NULL, " ")) words[n++] = w;
        if (n == 0) continue;
        if (strcmp(words[0], "same") == 0)
        {
            void *libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);
            void *d = dlsym(RTLD_DEFAULT, words[1]), *h = dlsym(libc, words[1]), *x = dlsym(RTLD_NEXT, words[1]);
            load_module();
            void *m = module_next(words[1]);
            snprintf(out, sizeof out, "found=%d default=handle:%d next=handle:%d module_next=handle:%d", d != NULL, d == h, x == h, m == h);
        }
        else if (strcmp(words[0], "nextdep") == 0)
        {
            load_module();
            int (*value)(void) = (int (*)(void))module_next("lookup_dep_value");
            snprintf(out, sizeof out, "value=%d", value ? value() : -1);
        }
        else if (strcmp(words[0], "chdirwalk") == 0)
        {
            pending = words + 2;
            snprintf(result, sizeof result, "callback not called");
            int r = nftw(words[1], on_chdir, 4, FTW_CHDIR);
            snprintf(out, sizeof out, "%s walk=%d", result, r < 0 ? -1 : 0);
        }
        else if (strcmp(words[0], "nftw") == 0 || strcmp(words[0], "ftw") == 0 || strcmp(words[0], "filter") == 0
                 || strcmp(words[0], "filterat") == 0 || strcmp(words[0], "compare") == 0)
            run_callback(words[0], words + 1, out, sizeof out);
        else
            run_op(words[0], words + 1, out, sizeof out);
        printf("%s => %s\n", command, out);
    }
    return 0;
}
