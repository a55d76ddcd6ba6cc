/*
 * race_probe: races another thread against the library's judgement of a path (check, then use), and a thread
 * with its own working directory. Used by PathRaceTests.
 *
 *   race_probe create <kind> <safe> <tmp> <tries> <ms>
 *       the main thread creates files with every creating call in turn while a flipper thread changes what the
 *       path means; prints "landed=<n> created=<n> calls=<n>" where landed counts files found under <tmp>.
 *       kind: bytes      path "/tmp_/<tmp's name>/f" with byte 4 flipped between '_' and '/'
 *             link-dir   path "<safe>/lnk/f", lnk swapped between <safe>/d and <tmp>
 *             link-last  path "<safe>/lnk", lnk swapped between <safe>/d/f and <tmp>/f (the open family, fopen)
 *             link-appear path "<safe>/lnk", lnk alternately absent and a link to <tmp>/f (the open family, fopen)
 *             cwd        path "f", the working directory flipped between <safe>/d and <tmp>
 *   race_probe read <kind> <task> <elsewhere> <tries> <ms>
 *       the main thread reads <task>/app.py's stand-ins with every reading call while a flipper turns them into the
 *       handler; prints "leaked=<n> read=<n> calls=<n>" where leaked counts reads that returned the handler's bytes
 *       (or another name for it). kind: bytes (app.pz <-> app.py), link-dir (<box>/lnk/app.py, lnk swapped between
 *       <elsewhere> and <task>), link-last (lnk -> <elsewhere>/app.py | <task>/app.py), link-appear (lnk absent |
 *       -> <task>/app.py), cwd.
 *   race_probe descriptor <safe-file> <tmp-file> <tries> <ms>
 *       descriptor 100 is swapped (dup2) between the two files while the main thread sets its times by descriptor
 *       (utimensat(100, NULL), futimesat(100, NULL), fchownat(100, "", AT_EMPTY_PATH)); prints "landed=1" when the
 *       file in /tmp got the times.
 *   race_probe thread-cwd <safe> <tmp> <call>
 *       a thread unshares its filesystem context (unshare(CLONE_FS)) and changes to <tmp>; the main thread then makes
 *       a relative call of its own (from <safe>); the thread creates "f" with <call>: "result=<ret> errno=<n>".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;
static char path[4096];
static const char *kind, *safe, *tmp;
static char d_dir[4096], lnk[4096], lnk_new[4096], target_a[4096], target_b[4096], cwd_a[4096], cwd_b[4096];

static void die(const char *what) { printf("setup-failed %s errno=%d\n", what, errno); exit(2); }

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

/* the flipper: raw system calls, so that it is as fast as the kernel lets it */
static void swap_link(const char *to)
{
    syscall(SYS_unlinkat, AT_FDCWD, lnk_new, 0);
    syscall(SYS_symlinkat, to, AT_FDCWD, lnk_new);
    syscall(SYS_renameat, AT_FDCWD, lnk_new, AT_FDCWD, lnk);
}

static void *flipper(void *arg)
{
    (void)arg;
    volatile char *p = path;
    for (int i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++)
    {
        if (strcmp(kind, "bytes") == 0) p[4] = (i & 1) ? '/' : '_';
        else if (strcmp(kind, "cwd") == 0) { if (chdir((i & 1) ? cwd_b : cwd_a) != 0) die("chdir"); }
        else if (strcmp(kind, "link-appear") == 0)
        {
            if (i & 1) syscall(SYS_symlinkat, target_b, AT_FDCWD, lnk);
            else syscall(SYS_unlinkat, AT_FDCWD, lnk, 0);
        }
        else swap_link((i & 1) ? target_b : target_a);
    }
    return NULL;
}

static void start(pthread_t *t)
{
    if (pthread_create(t, NULL, flipper, NULL) != 0) die("pthread_create");
}

/* ---- create ---- */

static const char *create_calls[] = {"open", "openat", "creat", "fopen", "mkdir", "mkfifo", "symlink", "link", "rename",
                                     "bind", "mkstemp", "mkdtemp", "opendir-mkdir"};

static int create_once(const char *call, char *p, char *made)
{
    int r = -1;
    strcpy(made, p);
    if (!strcmp(call, "open")) { r = open(p, O_WRONLY | O_CREAT, 0644); if (r >= 0) close(r); }
    else if (!strcmp(call, "openat")) { r = openat(AT_FDCWD, p, O_WRONLY | O_CREAT | O_TRUNC, 0644); if (r >= 0) close(r); }
    else if (!strcmp(call, "creat")) { r = creat(p, 0644); if (r >= 0) close(r); }
    else if (!strcmp(call, "fopen")) { FILE *f = fopen(p, "w"); r = f ? 0 : -1; if (f) fclose(f); }
    else if (!strcmp(call, "mkdir") || !strcmp(call, "opendir-mkdir")) r = mkdir(p, 0755);
    /* a name of its own: a FIFO left where it landed (alert, allow) would block the next open of "f" for ever */
    else if (!strcmp(call, "mkfifo")) { strcat(made, "-fifo"); r = mkfifo(made, 0644); }
    else if (!strcmp(call, "symlink")) r = symlink("anything", p);
    else if (!strcmp(call, "link") || !strcmp(call, "rename"))
    {
        char src[4200];
        snprintf(src, sizeof src, "%s/src", safe);
        int fd = (int)syscall(SYS_openat, AT_FDCWD, src, O_WRONLY | O_CREAT, 0644);
        if (fd >= 0) close(fd);
        r = !strcmp(call, "link") ? link(src, p) : rename(src, p);
    }
    else if (!strcmp(call, "bind"))
    {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (strlen(p) >= sizeof a.sun_path) return -1;
        strcpy(a.sun_path, p);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        r = bind(s, (struct sockaddr *)&a, sizeof a);
        close(s);
    }
    else if (!strcmp(call, "mkstemp")) { strcat(made, "XXXXXX"); r = mkstemp(made); if (r >= 0) close(r); }
    else if (!strcmp(call, "mkdtemp")) { strcat(made, "XXXXXX"); r = mkdtemp(made) ? 0 : -1; }
    return r >= 0 ? 0 : -1;
}

/* removes what a call made outside <tmp>, so that the next call can make it again; what landed in <tmp> stays */
static void clean_safe(void)
{
    const char *names[] = {"f", "src"};
    char dirs[2][4200];
    snprintf(dirs[0], sizeof dirs[0], "%s", d_dir);
    snprintf(dirs[1], sizeof dirs[1], "%s", safe);
    for (int d = 0; d < 2; d++)
    {
        DIR *dir = opendir(dirs[d]);
        if (!dir) continue;
        struct dirent *e;
        while ((e = readdir(dir)))
        {
            int ours = 0;
            for (int i = 0; i < 2; i++) ours |= strncmp(e->d_name, names[i], strlen(names[i])) == 0 && d == 0;
            if (d == 1 && !strcmp(e->d_name, "src")) ours = 1;
            if (!ours) continue;
            char full[8400];
            snprintf(full, sizeof full, "%s/%s", dirs[d], e->d_name);
            if (syscall(SYS_unlinkat, AT_FDCWD, full, 0) != 0) syscall(SYS_unlinkat, AT_FDCWD, full, AT_REMOVEDIR);
        }
        closedir(dir);
    }
}

static int count_entries(const char *dir_path)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, dir_path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    DIR *dir = fdopendir(fd);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(dir);
    return n;
}

static void setup_places(void)
{
    snprintf(d_dir, sizeof d_dir, "%s/d", safe);
    if (mkdir(d_dir, 0755) != 0 && errno != EEXIST) die("mkdir d");
    snprintf(lnk, sizeof lnk, "%s/lnk", safe);
    snprintf(lnk_new, sizeof lnk_new, "%s/lnk.new", safe);
}

static int run_create(int tries, long ms)
{
    setup_places();
    const char *base = strrchr(tmp, '/') + 1;
    if (!strcmp(kind, "bytes")) snprintf(path, sizeof path, "/tmp_/%s/f", base);
    else if (!strcmp(kind, "link-dir"))
    {
        snprintf(path, sizeof path, "%s/f", lnk);
        snprintf(target_a, sizeof target_a, "%s", d_dir);
        snprintf(target_b, sizeof target_b, "%s", tmp);
    }
    else if (!strcmp(kind, "link-last") || !strcmp(kind, "link-appear"))
    {
        snprintf(path, sizeof path, "%s", lnk);
        snprintf(target_a, sizeof target_a, "%s/f", d_dir);
        snprintf(target_b, sizeof target_b, "%s/f", tmp);
    }
    else if (!strcmp(kind, "cwd"))
    {
        snprintf(path, sizeof path, "f");
        snprintf(cwd_a, sizeof cwd_a, "%s", d_dir);
        snprintf(cwd_b, sizeof cwd_b, "%s", tmp);
        if (chdir(cwd_a) != 0) die("chdir");
    }
    else die("kind");
    if (strcmp(kind, "bytes") && strcmp(kind, "cwd") && strcmp(kind, "link-appear")) swap_link(target_a);

    /* link-last only makes sense for calls that follow their last component */
    int ncalls = sizeof create_calls / sizeof create_calls[0];
    pthread_t t;
    start(&t);
    long end = now_ms() + ms;
    int calls = 0, created = 0;
    for (int i = 0; i < tries && now_ms() < end; i++)
    {
        const char *call = create_calls[i % ncalls];
        if ((!strcmp(kind, "link-last") || !strcmp(kind, "link-appear")) && strcmp(call, "open") && strcmp(call, "openat") && strcmp(call, "creat") &&
            strcmp(call, "fopen"))
            continue;
        char local[4200], made[4300];
        /* calls get a stable copy except "bytes", whose whole point is the shared buffer */
        char *p = path;
        if (strcmp(kind, "bytes")) { strcpy(local, path); p = local; }
        if (!strcmp(call, "mkstemp") || !strcmp(call, "mkdtemp")) { strcpy(local, path); p = local; }
        calls++;
        errno = 0;
        if (create_once(call, p, made) == 0) { created++; clean_safe(); }
        else if (getenv("RACE_DEBUG")) fprintf(stderr, "%s %d\n", call, errno);
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("landed=%d created=%d calls=%d\n", count_entries(tmp), created, calls);
    return 0;
}

/* ---- read ---- */

static const char *read_calls[] = {"open", "openat", "fopen", "link"};
static char task[4096], elsewhere[4096], copy_name[4200];
static ino_t handler_ino;

/* 1 when the call reached the handler's bytes (or made another name for it) */
static int read_once(const char *call, const char *p)
{
    char buf[16] = {0};
    if (!strcmp(call, "open") || !strcmp(call, "openat"))
    {
        int fd = !strcmp(call, "open") ? open(p, O_RDONLY) : openat(AT_FDCWD, p, O_RDONLY);
        if (fd < 0) return -1;
        ssize_t n = read(fd, buf, 11);
        close(fd);
        return n == 11 && !memcmp(buf, "def handler", 11);
    }
    if (!strcmp(call, "fopen"))
    {
        FILE *f = fopen(p, "r");
        if (!f) return -1;
        size_t n = fread(buf, 1, 11, f);
        fclose(f);
        return n == 11 && !memcmp(buf, "def handler", 11);
    }
    if (!strcmp(call, "link"))
    {
        if (link(p, copy_name) != 0) return -1;
        struct stat st;
        int leaked = lstat(copy_name, &st) == 0 && st.st_ino == handler_ino;
        syscall(SYS_unlinkat, AT_FDCWD, copy_name, 0);
        return leaked;
    }
    return -1;
}

static int run_read(int tries, long ms)
{
    setup_places();
    struct stat st;
    char handler[4200];
    snprintf(handler, sizeof handler, "%s/app.py", task);
    if (stat(handler, &st) != 0) die("stat handler");
    handler_ino = st.st_ino;
    snprintf(copy_name, sizeof copy_name, "%s/copy.py", safe);
    if (!strcmp(kind, "link-dir"))
    {
        snprintf(path, sizeof path, "%s/app.py", lnk);
        snprintf(target_a, sizeof target_a, "%s", elsewhere);
        snprintf(target_b, sizeof target_b, "%s", task);
    }
    else if (!strcmp(kind, "link-last") || !strcmp(kind, "link-appear"))
    {
        snprintf(path, sizeof path, "%s", lnk);
        snprintf(target_a, sizeof target_a, "%s/app.py", elsewhere);
        snprintf(target_b, sizeof target_b, "%s/app.py", task);
    }
    else if (!strcmp(kind, "cwd"))
    {
        snprintf(path, sizeof path, "app.py");
        snprintf(cwd_a, sizeof cwd_a, "%s", elsewhere);
        snprintf(cwd_b, sizeof cwd_b, "%s", task);
        if (chdir(cwd_a) != 0) die("chdir");
    }
    else die("kind");
    if (strcmp(kind, "cwd") && strcmp(kind, "link-appear")) swap_link(target_a);
    int ncalls = 4;
    pthread_t t;
    start(&t);
    long end = now_ms() + ms;
    int calls = 0, reads = 0, leaked = 0;
    for (int i = 0; i < tries && now_ms() < end; i++)
    {
        const char *call = read_calls[i % ncalls];
        char local[4200];
        strcpy(local, path);
        calls++;
        int r = read_once(call, local);
        if (r >= 0) reads++;
        if (r > 0) leaked++;
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("leaked=%d read=%d calls=%d\n", leaked, reads, calls);
    return 0;
}

/* ---- a thread with its own working directory ---- */

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int phase;
static const char *thread_call;

static void wait_phase(int p)
{
    pthread_mutex_lock(&m);
    while (phase < p) pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
}

static void set_phase(int p)
{
    pthread_mutex_lock(&m);
    phase = p;
    pthread_cond_broadcast(&c);
    pthread_mutex_unlock(&m);
}

static void *own_cwd(void *arg)
{
    (void)arg;
    if (unshare(CLONE_FS) != 0) die("unshare");
    if (chdir(tmp) != 0) die("chdir tmp");
    set_phase(1);
    wait_phase(2);
    char made[4300];
    errno = 0;
    int r = create_once(thread_call, "f", made);
    printf("result=%d errno=%d\n", r, r == 0 ? 0 : errno);
    return NULL;
}

static int run_thread_cwd(void)
{
    if (chdir(safe) != 0) die("chdir safe");
    pthread_t t;
    if (pthread_create(&t, NULL, own_cwd, NULL) != 0) die("pthread_create");
    wait_phase(1);
    /* a relative call of the main thread's own, from its own directory */
    int fd = open("probe-main", O_WRONLY | O_CREAT, 0644);
    if (fd >= 0) close(fd);
    set_phase(2);
    pthread_join(t, NULL);
    return 0;
}

/* ---- a descriptor swapped under a call that names a file by descriptor ---- */

static int fd_safe, fd_tmp;
static void *dup_flipper(void *arg)
{
    (void)arg;
    for (int i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++) dup2((i & 1) ? fd_tmp : fd_safe, 100);
    return NULL;
}

static int run_descriptor(const char *safe_file, const char *tmp_file, int tries, long ms)
{
    fd_safe = (int)syscall(SYS_openat, AT_FDCWD, safe_file, O_RDONLY);
    fd_tmp = (int)syscall(SYS_openat, AT_FDCWD, tmp_file, O_RDONLY);
    if (fd_safe < 0 || fd_tmp < 0) die("open fixtures");
    dup2(fd_safe, 100);
    pthread_t t;
    if (pthread_create(&t, NULL, dup_flipper, NULL) != 0) die("pthread_create");
    struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
    const char *volatile none = NULL; /* the descriptor itself, as glibc's futimens does */
    struct timeval tv[2] = {{1000000000, 0}, {1000000000, 0}};
    long end = now_ms() + ms;
    int calls = 0;
    for (int i = 0; i < tries && now_ms() < end; i++, calls++)
    {
        if (i % 3 == 0) utimensat(100, none, times, 0);
        else if (i % 3 == 1) futimesat(100, none, tv);
        else fchownat(100, "", getuid(), getgid(), AT_EMPTY_PATH);
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    struct stat st;
    if (stat(tmp_file, &st) != 0) die("stat");
    printf("landed=%d calls=%d\n", st.st_mtime == 1000000000, calls);
    return 0;
}

/* a flipper for the read "bytes" race: the last byte of the path, app.pz <-> app.py */
static size_t byte_at;
static void *byte_flipper(void *arg)
{
    (void)arg;
    volatile char *p = path;
    for (int i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++) p[byte_at] = (i & 1) ? 'y' : 'z';
    return NULL;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 7 && !strcmp(argv[1], "create"))
    {
        kind = argv[2]; safe = argv[3]; tmp = argv[4];
        return run_create(atoi(argv[5]), atol(argv[6]));
    }
    if (argc >= 7 && !strcmp(argv[1], "read"))
    {
        kind = argv[2];
        snprintf(task, sizeof task, "%s", argv[3]);
        snprintf(elsewhere, sizeof elsewhere, "%s", argv[4]);
        char *box = strdup(argv[4]);
        *strrchr(box, '/') = 0;
        safe = box;
        if (!strcmp(kind, "bytes"))
        {
            /* the bytes race needs its own flipper, on the last byte */
            setup_places();
            snprintf(path, sizeof path, "%s/app.pz", task);
            byte_at = strlen(path) - 1;
            pthread_t t;
            if (pthread_create(&t, NULL, byte_flipper, NULL) != 0) die("pthread_create");
            struct stat st;
            char handler[4200];
            snprintf(handler, sizeof handler, "%s/app.py", task);
            if (stat(handler, &st) != 0) die("stat handler");
            handler_ino = st.st_ino;
            snprintf(copy_name, sizeof copy_name, "%s/copy.py", safe);
            long end = now_ms() + atol(argv[6]);
            int tries = atoi(argv[5]), calls = 0, reads = 0, leaked = 0;
            for (int i = 0; i < tries && now_ms() < end; i++)
            {
                calls++;
                int r = read_once(read_calls[i % 4], path);
                if (r >= 0) reads++;
                if (r > 0) leaked++;
            }
            atomic_store(&stop, 1);
            pthread_join(t, NULL);
            printf("leaked=%d read=%d calls=%d\n", leaked, reads, calls);
            return 0;
        }
        return run_read(atoi(argv[5]), atol(argv[6]));
    }
    if (argc >= 6 && !strcmp(argv[1], "descriptor")) return run_descriptor(argv[2], argv[3], atoi(argv[4]), atol(argv[5]));
    if (argc >= 5 && !strcmp(argv[1], "thread-cwd"))
    {
        safe = argv[2]; tmp = argv[3]; thread_call = argv[4];
        return run_thread_cwd();
    }
    fprintf(stderr, "usage: see the comment at the top\n");
    return 2;
}
