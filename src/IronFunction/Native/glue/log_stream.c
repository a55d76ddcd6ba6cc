/*
 * The log stream: where event lines and the library's own lines go.
 *
 * In Lambda the log stream is the runtime process's stderr as Lambda connected it. A program the runtime
 * starts may have its stderr read by its parent (subprocess.run(…, capture_output=True), `2>&1 | …`): a
 * line written there would land inside the data the function parses, and never reach the log. So the
 * first protected process of the tree (the one started without IRON_FUNCTION_LOG_STREAM) owns the stream:
 * its own lines go to its stderr, and when it first starts another process it binds an abstract datagram
 * socket named in that variable (kept in every new program's environment) and starts a small thread that
 * copies each datagram, one whole line, to its stderr. Its descendants send their lines there, unless their
 * own stderr is that same stream (the name carries its device and inode): then they write it themselves, at
 * once and in order with their own output, as the owner does. When the owner is gone or a send fails, a line
 * goes to the process's own stderr, never lost, and the first such line is preceded by a warning that says so.
 *
 * In C, and on raw system calls: a forked child's judge (process_judge.c) writes its lines from a copy of
 * the runtime that must not be entered, and socket, sendto and write are themselves hooked names.
 */
#include "glue.h"
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#define LOG_STREAM_VARIABLE "IRON_FUNCTION_LOG_STREAM"
#define LOG_STREAM_PREFIX "iron-function-log/"

/* "IRON_FUNCTION_LOG_STREAM=<pid>/<random>": the name of the owner's socket, kept in new programs' environments. */
static char stream_entry[128];
static const char *stream_name; /* inside stream_entry, after '=' */
static pid_t owner_pid;          /* the process that owns the stream */
static unsigned long long stream_device, stream_inode; /* what the owner's stderr was at its start */
static int owner_socket = -1;    /* the owner's bound socket, once it has started a program */
static volatile int fell_back;

static int write_all(int fd, const char *line, size_t length)
{
    for (size_t done = 0; done < length;)
    {
        ssize_t n = syscall(SYS_write, fd, line + done, length - done);
        if (n > 0) done += (size_t)n;
        else if (n < 0 && errno == EINTR) continue;
        else return -1;
    }
    return 0;
}

static socklen_t stream_address(struct sockaddr_un *address)
{
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    size_t n = strlen(LOG_STREAM_PREFIX) + strlen(stream_name);
    if (n + 1 > sizeof address->sun_path) n = sizeof address->sun_path - 1;
    /* abstract: sun_path[0] is NUL, and no file is ever created */
    memcpy(address->sun_path + 1, LOG_STREAM_PREFIX, strlen(LOG_STREAM_PREFIX));
    memcpy(address->sun_path + 1 + strlen(LOG_STREAM_PREFIX), stream_name, n - strlen(LOG_STREAM_PREFIX));
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

/* Sends one line to the owner; 0 when the owner has it. */
static int send_to_owner(const char *line, size_t length)
{
    int fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    /* an owner that stopped reading (its stderr blocked) must not block this process for long */
    struct timeval wait = { 0, 200000 };
    syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait);
    struct sockaddr_un address;
    socklen_t size = stream_address(&address);
    ssize_t n;
    do n = syscall(SYS_sendto, fd, line, length, MSG_NOSIGNAL, &address, size);
    while (n < 0 && errno == EINTR);
    syscall(SYS_close, fd);
    return n == (ssize_t)length ? 0 : -1;
}

static int stderr_is_the_stream(void)
{
    struct stat st;
    return syscall(SYS_fstat, 2, &st) == 0 && (unsigned long long)st.st_dev == stream_device &&
           (unsigned long long)st.st_ino == stream_inode && stream_inode != 0;
}

void iron_log_line(const char *line, size_t length)
{
    int saved = errno;
    if (stream_name && iron_sys_getpid() != owner_pid && !stderr_is_the_stream())
    {
        if (send_to_owner(line, length) == 0) { errno = saved; return; }
        if (!__atomic_exchange_n(&fell_back, 1, __ATOMIC_ACQ_REL))
        {
            char warning[256];
            int n = snprintf(warning, sizeof warning,
                             "iron-function WRN [events] the log stream of process %d cannot be reached; "
                             "this process's events and messages go to its own stderr\n", (int)owner_pid);
            if (n > 0) write_all(2, warning, (size_t)n < sizeof warning ? (size_t)n : sizeof warning - 1);
        }
    }
    write_all(2, line, length);
    errno = saved;
}

/* Copies what the owner's socket holds to stderr; blocking in the pump thread, without waiting at a flush. */
static int pump(int flags)
{
    static char buffer[65536];
    int copied = 0;
    for (;;)
    {
        ssize_t n = syscall(SYS_recvfrom, owner_socket, buffer, sizeof buffer, flags, NULL, NULL);
        if (n > 0) { write_all(2, buffer, (size_t)n); copied++; continue; }
        if (n < 0 && errno == EINTR) continue;
        return copied;
    }
}

static pthread_mutex_t pump_gate = PTHREAD_MUTEX_INITIALIZER;

static void *pump_thread(void *unused)
{
    (void)unused;
    /* the host's signals are its own threads' to take */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    prctl(PR_SET_NAME, "iron-log", 0, 0, 0);
    for (;;)
    {
        /* one datagram at a time under the gate, so that a flush never interleaves with it */
        ssize_t n;
        char peek;
        do n = syscall(SYS_recvfrom, owner_socket, &peek, 1, MSG_PEEK, NULL, NULL);
        while (n < 0 && errno == EINTR);
        if (n < 0) return NULL;
        pthread_mutex_lock(&pump_gate);
        pump(MSG_DONTWAIT);
        pthread_mutex_unlock(&pump_gate);
    }
}

/* In the owner, before it starts a process: the socket and the thread, once. */
void iron_log_before_child(void)
{
    if (!iron_hooks_ready || !iron_process_protect_tree || !stream_name || owner_socket >= 0 || iron_in_vfork_child || iron_sys_getpid() != owner_pid) return;
    int saved = errno;
    int fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un address;
    socklen_t size = stream_address(&address);
    int rcvbuf = 1 << 20;
    if (fd >= 0) syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (fd >= 0 && syscall(SYS_bind, fd, &address, size) == 0)
    {
        owner_socket = fd;
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&thread, &attr, pump_thread, NULL) != 0)
        {
            syscall(SYS_close, fd);
            owner_socket = -1;
        }
        pthread_attr_destroy(&attr);
    }
    else if (fd >= 0)
        syscall(SYS_close, fd);
    errno = saved;
}

/* Before the next invocation and at exit: what descendants sent so far is written out now. */
void iron_log_drain(void)
{
    if (owner_socket < 0 || iron_sys_getpid() != owner_pid) return;
    int saved = errno;
    pthread_mutex_lock(&pump_gate);
    pump(MSG_DONTWAIT);
    pthread_mutex_unlock(&pump_gate);
    errno = saved;
}

/* A forked child is a descendant: the owner's socket is the owner's (a copy kept here would hold it open). */
void iron_log_after_fork_child(void)
{
    if (owner_socket >= 0) syscall(SYS_close, owner_socket);
    owner_socket = -1;
    pthread_mutex_init(&pump_gate, NULL);
}

/* The kept variable's entry for new programs, or NULL when there is no stream. */
const char *iron_log_stream_entry(void) { return stream_name ? stream_entry : NULL; }

/* From the constructor, first: who owns the stream. */
void iron_log_init(void)
{
    const char *inherited = getenv(LOG_STREAM_VARIABLE);
    pid_t self = iron_sys_getpid();
    char random[8];
    if (inherited && *inherited && strlen(inherited) < 64)
    {
        int pid = 0;
        unsigned long long device = 0, inode = 0, r = 0;
        /* a program this very process exec'd into owns the stream again, under the same name */
        if (sscanf(inherited, "%d/%16llx/%llu.%llu", &pid, &r, &device, &inode) == 4 && pid > 0)
        {
            stream_device = device;
            stream_inode = inode;
            snprintf(stream_entry, sizeof stream_entry, "%s=%s", LOG_STREAM_VARIABLE, inherited);
            stream_name = stream_entry + strlen(LOG_STREAM_VARIABLE) + 1;
            owner_pid = (pid_t)pid;
            return;
        }
    }
    if (syscall(SYS_getrandom, random, sizeof random, GRND_NONBLOCK) != (long)sizeof random)
    {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        memcpy(random, &now.tv_nsec, sizeof random);
    }
    unsigned long long r;
    memcpy(&r, random, sizeof r);
    struct stat st;
    if (syscall(SYS_fstat, 2, &st) == 0)
    {
        stream_device = (unsigned long long)st.st_dev;
        stream_inode = (unsigned long long)st.st_ino;
    }
    snprintf(stream_entry, sizeof stream_entry, "%s=%d/%016llx/%llu.%llu", LOG_STREAM_VARIABLE, (int)self, r,
             stream_device, stream_inode);
    stream_name = stream_entry + strlen(LOG_STREAM_VARIABLE) + 1;
    owner_pid = self;
}
