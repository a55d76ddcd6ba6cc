/*
 * process_probe: makes ONE process-creating call named on the command line and prints what happened
 *
 *     result=<int | ptr | NULL> errno=<n>          the call's own answer (when it returns)
 *     status=<exit code | signal:N | none>         how the started child ended (when there is one)
 *
 * then exits 0 (an exec that succeeds replaces the probe: the started program prints instead).
 * Used by ProcessCProbeTests (create_child_process end to end) with and without the library.
 *
 *   process_probe [--env inherit|empty|null|custom:K=V,K=V] <operation> [<program> [<arg>...]]
 *
 * exec operations (execve execv execvp execvpe execl execlp execle fexecve execveat execveat_empty,
 * raw_execve raw_execveat) run <program> with argv = basename(program) <arg>...; the envp forms take
 * the --env environment. posix_spawn / posix_spawnp start it and wait. system / popen run the command
 * line <program> (popen prints each line read as "out=<line>"). fork _Fork __fork vfork clone
 * clone_vfork raw_fork raw_vfork raw_clone raw_clone3: the child execs <program> with execve and the
 * --env environment when one is given, else exits 7 at once; the parent waits. Threads: threads (pthread_create), clone_thread (a raw
 * CLONE_THREAD clone). Host safety: stress <n> <file> <program> (n fork/vfork+exec while 4 threads open
 * file), vfork_hooks <dir> <file> <program> (a vfork child that calls hooked functions before it execs).
 * status: the kernel's NoNewPrivs and Seccomp fields for this process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* arm64 has no fork or vfork system call: glibc makes both with clone, and so do the raw forms here */
#if defined(__aarch64__)
#define RAW_FORK() syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)
#else
#define RAW_FORK() syscall(SYS_fork)
#endif

extern pid_t __fork(void);

static char **child_env;
static const char *program;
static char **child_argv;

static void result(long r, int e) { printf("result=%ld errno=%d\n", r, r < 0 ? e : 0); fflush(stdout); }

static void wait_child(pid_t pid)
{
    int status;
    pid_t w;
    do w = waitpid(pid, &status, __WALL); while (w < 0 && errno == EINTR);
    if (w < 0) printf("status=none errno=%d\n", errno);
    else if (WIFEXITED(status)) printf("status=%d\n", WEXITSTATUS(status));
    else printf("status=signal:%d\n", WTERMSIG(status));
    fflush(stdout);
}

/* what a created child does: exec the program with the --env environment (through libc, so the library
   sees it) or exit 7 */
static void child_body(void)
{
    if (program) { execve(program, child_argv, child_env); _exit(127); }
    _exit(7);
}

static int clone_child(void *unused) { (void)unused; child_body(); return 0; }

static char **parse_env(const char *spec)
{
    if (strcmp(spec, "inherit") == 0) return environ;
    if (strcmp(spec, "null") == 0) return NULL;
    static char *none[] = { NULL };
    if (strcmp(spec, "empty") == 0) return none;
    if (strncmp(spec, "custom:", 7) == 0)
    {
        char **env = calloc(64, sizeof *env);
        char *copy = strdup(spec + 7), *save = NULL;
        int n = 0;
        for (char *tok = strtok_r(copy, ",", &save); tok && n < 63; tok = strtok_r(NULL, ",", &save)) env[n++] = tok;
        return env;
    }
    printf("setup-failed unknown env %s\n", spec);
    exit(2);
}

static volatile int hammer_stop;
static const char *hammer_file;
static long hammer_count;

static void *hammer(void *unused)
{
    (void)unused;
    long n = 0;
    while (!hammer_stop)
    {
        int fd = open(hammer_file, O_RDONLY);
        if (fd >= 0) close(fd);
        n++;
    }
    __atomic_add_fetch(&hammer_count, n, __ATOMIC_RELAXED);
    return NULL;
}

/* stress: the process's stderr (and its children's) is a pipe read here: occurrences of
   create_child_process events are counted, the rest (the hammering threads' own events) dropped */
static int sink_fd;
static long process_events;

static void *sink(void *unused)
{
    (void)unused;
    static const char key[] = "\"event_type\":\"create_child_process\"";
    char buf[65536], line[8192];
    size_t used = 0;
    ssize_t n;
    while ((n = read(sink_fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        for (ssize_t k = 0; k < n; k++)
        {
            if (buf[k] != '\n') { if (used < sizeof line - 1) line[used++] = buf[k]; continue; }
            line[used] = 0;
            if (!strstr(line, key)) { used = 0; continue; }
            /* a line that sums up identical repeats stands for repeat_count occurrences */
            const char *repeats = strstr(line, "\"repeat_count\":\"");
            process_events += repeats ? atol(repeats + sizeof "\"repeat_count\":\"" - 1) : 1;
            used = 0;
        }
    return NULL;
}

static void *thread_work(void *arg)
{
    int fd = open("/proc/self/stat", O_RDONLY);
    if (fd >= 0) close(fd);
    return arg;
}

static volatile int clone_thread_ran;

static int raw_thread(void *unused)
{
    (void)unused;
    clone_thread_ran = 1;
    /* no libc here: this thread shares the creator's TLS */
    syscall(SYS_exit, 0);
    return 0;
}

int main(int argc, char **argv)
{
    int i = 1;
    child_env = environ;
    if (i + 1 < argc && strcmp(argv[i], "--env") == 0) { child_env = parse_env(argv[i + 1]); i += 2; }
    if (i >= argc) { printf("usage: process_probe [--env E] <operation> [<program> [<arg>...]]\n"); return 2; }
    const char *op = argv[i++];
    program = i < argc ? argv[i] : NULL;
    /* argv for the started program: basename(program), then the rest */
    child_argv = calloc((size_t)argc + 1, sizeof *child_argv);
    if (program)
    {
        const char *slash = strrchr(program, '/');
        child_argv[0] = (char *)(slash ? slash + 1 : program);
        for (int k = i + 1; k < argc; k++) child_argv[k - i] = argv[k];
    }
    char **a = child_argv;
    int r;

    if (strcmp(op, "execve") == 0) { r = execve(program, a, child_env); result(r, errno); }
    else if (strcmp(op, "execv") == 0) { r = execv(program, a); result(r, errno); }
    else if (strcmp(op, "execvp") == 0) { r = execvp(program, a); result(r, errno); }
    else if (strcmp(op, "execvpe") == 0) { r = execvpe(program, a, child_env); result(r, errno); }
    else if (strcmp(op, "execl") == 0) { r = execl(program, a[0], a[1], a[2], a[3], (char *)NULL); result(r, errno); }
    else if (strcmp(op, "execlp") == 0) { r = execlp(program, a[0], a[1], a[2], a[3], (char *)NULL); result(r, errno); }
    else if (strcmp(op, "execle") == 0) { r = execle(program, a[0], a[1], a[2], a[3], (char *)NULL, child_env); result(r, errno); }
    else if (strcmp(op, "fexecve") == 0)
    {
        int fd = open(program, O_RDONLY | O_CLOEXEC);
        if (fd < 0) { printf("setup-failed open %s errno=%d\n", program, errno); return 2; }
        r = fexecve(fd, a, child_env);
        result(r, errno);
    }
    else if (strcmp(op, "execveat") == 0)
    {
        /* the directory of the program as dirfd, its name relative to it */
        char *dir = strdup(program), *slash = strrchr(dir, '/');
        if (!slash) { printf("setup-failed execveat needs a path\n"); return 2; }
        *slash = 0;
        int dfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r = execveat(dfd, slash + 1, a, child_env, 0);
        result(r, errno);
    }
    else if (strcmp(op, "execveat_empty") == 0)
    {
        int fd = open(program, O_RDONLY | O_CLOEXEC);
        r = execveat(fd, "", a, child_env, AT_EMPTY_PATH);
        result(r, errno);
    }
    else if (strcmp(op, "raw_execve") == 0) { r = (int)syscall(SYS_execve, program, a, child_env); result(r, errno); }
    else if (strcmp(op, "raw_execveat") == 0) { r = (int)syscall(SYS_execveat, AT_FDCWD, program, a, child_env, 0); result(r, errno); }
    else if (strcmp(op, "posix_spawn") == 0 || strcmp(op, "posix_spawnp") == 0)
    {
        pid_t pid = 0;
        r = op[11] == 'p' ? posix_spawnp(&pid, program, NULL, NULL, a, child_env)
                          : posix_spawn(&pid, program, NULL, NULL, a, child_env);
        printf("result=%d errno=0\n", r);
        fflush(stdout);
        if (r == 0) wait_child(pid);
    }
    else if (strcmp(op, "system") == 0)
    {
        r = system(program);
        result(r, errno);
        if (r >= 0) printf("status=%d\n", WIFEXITED(r) ? WEXITSTATUS(r) : -1);
    }
    else if (strcmp(op, "system_null") == 0) { r = system(NULL); printf("result=%d errno=%d\n", r, errno); }
    else if (strcmp(op, "popen") == 0)
    {
        FILE *f = popen(program, "r");
        if (!f) { printf("result=NULL errno=%d\n", errno); return 0; }
        printf("result=ptr errno=0\n");
        char line[4096];
        while (fgets(line, sizeof line, f)) { line[strcspn(line, "\n")] = 0; printf("out=%s\n", line); }
        int status = pclose(f);
        printf("status=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    else if (strcmp(op, "fork") == 0 || strcmp(op, "_Fork") == 0 || strcmp(op, "__fork") == 0 || strcmp(op, "raw_fork") == 0)
    {
        pid_t pid = strcmp(op, "fork") == 0 ? fork() : strcmp(op, "_Fork") == 0 ? _Fork()
                  : strcmp(op, "__fork") == 0 ? __fork() : (pid_t)RAW_FORK();
        if (pid == 0) child_body();
        result(pid < 0 ? -1 : 0, errno);
        if (pid > 0) wait_child(pid);
    }
    else if (strcmp(op, "vfork") == 0)
    {
        pid_t pid = vfork();
        if (pid == 0) child_body();
        result(pid < 0 ? -1 : 0, errno);
        if (pid > 0) wait_child(pid);
    }
    else if (strcmp(op, "raw_vfork") == 0)
    {
        long ret;
        /* the child leaves at once without touching the stack it shares with the parent */
#if defined(__aarch64__)
        register long x0 __asm__("x0") = CLONE_VM | CLONE_VFORK | SIGCHLD, x1 __asm__("x1") = 0, x2 __asm__("x2") = 0,
                      x3 __asm__("x3") = 0, x4 __asm__("x4") = 0, x8 __asm__("x8") = SYS_clone;
        __asm__ volatile("svc #0\n\t"
                         "cbnz x0, 1f\n\t"
                         "mov x8, #93\n\t" /* exit */
                         "mov x0, #7\n\t"
                         "svc #0\n"
                         "1:"
                         : "+r"(x0) : "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x8) : "memory");
        ret = x0;
#else
        __asm__ volatile("syscall\n\t"
                         "test %%rax, %%rax\n\t"
                         "jnz 1f\n\t"
                         "mov $60, %%eax\n\t"
                         "mov $7, %%edi\n\t"
                         "syscall\n"
                         "1:"
                         : "=a"(ret) : "a"((long)SYS_vfork) : "rcx", "r11", "rdi", "memory");
#endif
        result(ret < 0 ? -1 : 0, ret < 0 ? (int)-ret : 0);
        if (ret > 0) wait_child((pid_t)ret);
    }
    else if (strcmp(op, "clone") == 0 || strcmp(op, "clone_vfork") == 0)
    {
        size_t size = 1 << 20;
        char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        int flags = SIGCHLD | (op[5] == '_' ? CLONE_VM | CLONE_VFORK : 0);
        pid_t pid = clone(clone_child, stack + size, flags, NULL);
        result(pid < 0 ? -1 : 0, errno);
        if (pid > 0) wait_child(pid);
    }
    else if (strcmp(op, "raw_clone") == 0)
    {
        pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
        if (pid == 0) child_body();
        result(pid < 0 ? -1 : 0, errno);
        if (pid > 0) wait_child(pid);
    }
    else if (strcmp(op, "raw_clone3") == 0)
    {
        struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } args = {0};
        args.exit_signal = SIGCHLD;
        pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
        if (pid == 0) child_body();
        result(pid < 0 ? -1 : 0, errno);
        if (pid > 0) wait_child(pid);
    }
    else if (strcmp(op, "chdir_execv") == 0)
    {
        /* chdir_execv <dir> <program>: execv("./program") here, then again after chdir(dir) */
        char relative[4096];
        snprintf(relative, sizeof relative, "./%s", argv[i + 1]);
        char *cargv[] = { relative, NULL };
        execv(relative, cargv);
        result(-1, errno);
        if (chdir(argv[i]) != 0) { perror("chdir"); return 2; }
        execv(relative, cargv);
        result(-1, errno);
    }
    else if (strcmp(op, "threads") == 0)
    {
        pthread_t t[8];
        int made = 0;
        for (int k = 0; k < 8; k++) if (pthread_create(&t[k], NULL, thread_work, (void *)(intptr_t)k) == 0) made++;
        int joined = 0;
        for (int k = 0; k < made; k++) { void *v; if (pthread_join(t[k], &v) == 0 && (intptr_t)v == k) joined++; }
        printf("threads created=%d joined=%d\n", made, joined);
    }
    else if (strcmp(op, "clone_thread") == 0)
    {
        size_t size = 1 << 20;
        char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        static volatile pid_t ctid;
        ctid = 1;
        int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_CLEARTID;
        pid_t tid = clone(raw_thread, stack + size, flags, NULL, NULL, NULL, (pid_t *)&ctid);
        result(tid < 0 ? -1 : 0, errno);
        if (tid > 0)
            while (ctid != 0) syscall(SYS_futex, &ctid, FUTEX_WAIT, ctid, NULL, NULL, 0);
        printf("thread ran=%d\n", clone_thread_ran);
    }
    else if (strcmp(op, "stress") == 0)
    {
        /* stress <n> <file> <program>: n fork+exec of program while 4 threads open file */
        int n = atoi(argv[i]);
        hammer_file = argv[i + 1];
        const char *prog = argv[i + 2];
        char *cargv[] = { (char *)prog, NULL };
        int p[2];
        if (pipe(p) != 0) return 2;
        sink_fd = p[0];
        fcntl(p[0], F_SETFD, FD_CLOEXEC);
        int saved_stderr = fcntl(2, F_DUPFD_CLOEXEC, 3);
        dup2(p[1], 2);
        close(p[1]);
        pthread_t reader, t[4];
        pthread_create(&reader, NULL, sink, NULL);
        for (int k = 0; k < 4; k++) pthread_create(&t[k], NULL, hammer, NULL);
        int ok = 0, failed = 0;
        for (int k = 0; k < n; k++)
        {
            pid_t pid = (k % 2) ? vfork() : fork();
            if (pid == 0) { execv(prog, cargv); _exit(127); }
            if (pid < 0) { failed++; continue; }
            int status;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) ok++; else failed++;
        }
        hammer_stop = 1;
        for (int k = 0; k < 4; k++) pthread_join(t[k], NULL);
        /* the last writer of the pipe: the reader sees its end; what is written from here on (the exit
           flush of repeats still being counted) reaches the real stderr */
        dup2(saved_stderr, 2);
        pthread_join(reader, NULL);
        printf("stress ok=%d failed=%d opens=%s process_events=%ld\n", ok, failed, hammer_count > 0 ? "yes" : "no", process_events);
    }
    else if (strcmp(op, "vfork_hooks") == 0)
    {
        /* vfork_hooks <dir> <file> <program>: the child chdirs to dir, opens file, then execs program */
        const char *dir = argv[i], *file = argv[i + 1], *prog = argv[i + 2];
        char *cargv[] = { (char *)prog, NULL };
        char before[4096], after[4096];
        if (!getcwd(before, sizeof before)) return 2;
        volatile int child_open = -2;
        pid_t pid = vfork();
        if (pid == 0)
        {
            if (chdir(dir) != 0) _exit(3);
            int fd = open(file, O_RDONLY);
            child_open = fd >= 0 ? 0 : errno;
            if (fd >= 0) close(fd);
            execv(prog, cargv);
            _exit(127);
        }
        result(pid < 0 ? -1 : 0, errno);
        if (pid > 0) wait_child(pid);
        if (!getcwd(after, sizeof after)) return 2;
        int fd = open("relative-after-vfork", O_RDONLY);
        printf("child_open=%d cwd_kept=%d parent_relative_open_errno=%d\n", child_open, strcmp(before, after) == 0,
               fd >= 0 ? 0 : errno);
    }
    else if (strcmp(op, "status") == 0)
    {
        /* the kernel's view: NoNewPrivs and Seccomp (0 none, 2 filter) */
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, "NoNewPrivs:", 11) == 0 || strncmp(line, "Seccomp:", 8) == 0)
            {
                char *v = line + strcspn(line, ":") + 1;
                v += strspn(v, " \t");
                line[strcspn(line, ":")] = 0;
                v[strcspn(v, "\n")] = 0;
                printf("%s=%s\n", line, v);
            }
        if (f) fclose(f);
    }
    else { printf("setup-failed unknown operation %s\n", op); return 2; }
    return 0;
}
