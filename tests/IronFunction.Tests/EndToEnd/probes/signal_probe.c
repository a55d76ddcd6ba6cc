/*
 * Signal handlers that call hooked functions while their thread is inside a hook (SPEC §7: no crash).
 *   signal_probe <n> <file> [<tmp file>]
 * A signaller thread sends SIGUSR1 to every other thread of the process (the library's own included)
 * again and again; the handler opens and stats <file>. Meanwhile the main thread opens, stats and
 * connects n times (to a loopback listener of its own) and, when given, opens <tmp file> (an event in
 * alert mode, so the library's delivery works all along). Prints "calls=<n ok> handled=<handler runs>".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *file;
static volatile long handled;
static volatile int stop;

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    int fd = open(file, O_RDONLY);
    if (fd >= 0) close(fd);
    struct stat st;
    stat(file, &st);
    __atomic_add_fetch(&handled, 1, __ATOMIC_RELAXED);
    errno = saved;
}

static void *signaller(void *unused)
{
    (void)unused;
    pid_t self = (pid_t)syscall(SYS_gettid), pid = getpid();
    while (!stop)
    {
        /* the task list through raw getdents: this thread's own calls stay out of the hooks */
        int dir = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0) break;
        char buf[8192];
        long n;
        while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0)
            for (long off = 0; off < n;)
            {
                struct dirent64 *d = (struct dirent64 *)(buf + off);
                pid_t tid = (pid_t)atoi(d->d_name);
                if (tid > 0 && tid != self) syscall(SYS_tgkill, pid, tid, SIGUSR1);
                off += d->d_reclen;
            }
        syscall(SYS_close, dir);
        struct timespec pause = { 0, 20000 };
        nanosleep(&pause, NULL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: signal_probe <n> <file> [<tmp file>]\n"); return 2; }
    long n = atol(argv[1]);
    file = argv[2];
    const char *tmp = argc > 3 ? argv[3] : NULL;

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in at = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof at;
    if (listener < 0 || bind(listener, (struct sockaddr *)&at, sizeof at) != 0 || listen(listener, 1024) != 0 ||
        getsockname(listener, (struct sockaddr *)&at, &len) != 0) { perror("listener"); return 2; }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t blocked, old;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &blocked, &old);
    pthread_t t;
    pthread_create(&t, NULL, signaller, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    long ok = 0;
    for (long i = 0; i < n; i++)
    {
        int fd = open(file, O_RDONLY);
        struct stat st;
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int c = s >= 0 ? connect(s, (struct sockaddr *)&at, sizeof at) : -1;
        if (fd >= 0 && stat(file, &st) == 0 && c == 0) ok++;
        if (fd >= 0) close(fd);
        if (s >= 0) close(s);
        int a = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (a >= 0) close(a);
        if (tmp)
        {
            int f = open(tmp, O_RDONLY);
            if (f >= 0) close(f);
        }
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("calls=%ld handled=%s\n", ok, handled > 0 ? "yes" : "no");
    return 0;
}
