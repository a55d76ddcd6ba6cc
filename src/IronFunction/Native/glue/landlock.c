/*
 * Kernel backstops for the file controls.
 *
 * 17. Landlock layers ("kernel": true on read_write_tmp and read_handler, block mode). Landlock
 *     only grants: a layer handles a set of rights and allows them beneath the paths it names.
 *     To deny beneath a few paths (/tmp, the handler's files) and keep the rest, the layer names
 *     every sibling of every directory on the way down to them; those directories themselves get
 *     READ_DIR only (listing /, which needs a right on /, and a right on / covers /tmp beneath it).
 *     A layer is permanent and inherited by every child, static binaries included, and stacks.
 *
 *     landlock_restrict_self restricts the calling thread only (ABI 7 has no flag for the whole
 *     process): every other thread of /proc/self/task is sent a signal whose handler restricts
 *     itself with the same ruleset, as glibc does for setuid; threads made later inherit it.
 *
 * Raw system calls only (no hooked name, no allocation): this runs inside a hook and in the constructor.
 * Architecture-specific: none (the __NR_ names come from <sys/syscall.h>).
 */
#include "glue.h"
#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

#define LL_CREATE_RULESET_VERSION 1u
#define LL_RULE_PATH_BENEATH 1
#define LL_EXECUTE (1ull << 0)
#define LL_WRITE_FILE (1ull << 1)
#define LL_READ_FILE (1ull << 2)
#define LL_READ_DIR (1ull << 3)
#define LL_REFER (1ull << 13)
#define LL_TRUNCATE (1ull << 14)
#define LL_IOCTL_DEV (1ull << 15)
/* the rights a rule on a file (not a directory) may carry */
#define LL_FILE_RIGHTS (LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_TRUNCATE | LL_IOCTL_DEV)

struct ll_path_beneath
{
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

/* The Landlock ABI of this kernel, 0 where it has none (or it is disabled). */
IRON_SHARED int iron_landlock_abi(void)
{
    long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
    return abi < 0 ? 0 : (int)abi;
}

/* Every filesystem right this kernel's Landlock knows. */
static uint64_t all_fs_rights(int abi)
{
    uint64_t rights = (1ull << 13) - 1; /* ABI 1: EXECUTE .. MAKE_SYM */
    if (abi >= 2) rights |= LL_REFER;
    if (abi >= 3) rights |= LL_TRUNCATE;
    if (abi >= 5) rights |= LL_IOCTL_DEV;
    return rights;
}

struct ll_walk
{
    int ruleset;
    uint64_t handled;
    const char *const *excluded; /* normalised absolute paths */
    int count;
    int rules;
    int failed; /* errno of the first rule the kernel refused */
};

/* path is one of the excluded, or lies beneath one */
static int is_excluded(const struct ll_walk *w, const char *path, size_t length)
{
    for (int i = 0; i < w->count; i++)
    {
        size_t n = strlen(w->excluded[i]);
        if (length >= n && memcmp(path, w->excluded[i], n) == 0 && (length == n || path[n] == '/' || n == 1)) return 1;
    }
    return 0;
}

/* path ("/" or "/a/b") is a strict ancestor of an excluded path */
static int is_ancestor(const struct ll_walk *w, const char *path, size_t length)
{
    for (int i = 0; i < w->count; i++)
    {
        size_t n = strlen(w->excluded[i]);
        if (length == 1 && n > 1) return 1;
        if (n > length && memcmp(path, w->excluded[i], length) == 0 && w->excluded[i][length] == '/') return 1;
    }
    return 0;
}

static void add_rule(struct ll_walk *w, int fd, uint64_t rights)
{
    if (!rights) return;
    struct ll_path_beneath rule = { rights, fd };
    if (syscall(__NR_landlock_add_rule, w->ruleset, LL_RULE_PATH_BENEATH, &rule, 0) == 0) w->rules++;
    else if (!w->failed) w->failed = errno;
}

/* The directory path[0..length) is on the way to an excluded path: READ_DIR on it, every right beneath each entry that is
   neither excluded nor on the way, and the same again in those that are. depth bounds the recursion. */
static void grant_around(struct ll_walk *w, char *path, size_t length, int depth)
{
    int dir = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dir < 0) return; /* not there (a $TMPDIR not made yet): nothing beneath it to grant */
    add_rule(w, dir, w->handled & LL_READ_DIR);
    char entries[4096] __attribute__((aligned(8))); /* struct dirent64 records */
    long got;
    while ((got = syscall(SYS_getdents64, dir, entries, sizeof entries)) > 0)
    {
        for (long at = 0; at < got;)
        {
            struct dirent64 *e = (struct dirent64 *)(entries + at);
            at += e->d_reclen;
            const char *name = e->d_name;
            if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]))) continue;
            size_t n = strlen(name), child = length == 1 ? 1 + n : length + 1 + n;
            if (child >= PATH_MAX) continue;
            char *end = path + length;
            if (length > 1) *end++ = '/';
            memcpy(end, name, n + 1);
            if (is_excluded(w, path, child)) { path[length] = 0; continue; }
            /* never through a link: one could lead into an excluded path (access through it is judged at its target anyway) */
            int fd = (int)syscall(SYS_openat, dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
            struct stat st;
            if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISLNK(st.st_mode))
            {
                if (S_ISDIR(st.st_mode) && is_ancestor(w, path, child) && depth < 64) grant_around(w, path, child, depth + 1);
                else add_rule(w, fd, S_ISDIR(st.st_mode) ? w->handled : w->handled & LL_FILE_RIGHTS);
            }
            if (fd >= 0) syscall(SYS_close, fd);
            path[length] = 0;
        }
    }
    syscall(SYS_close, dir);
}

/* ---- every thread ---- */

static volatile int broadcast_ruleset = -1;
static volatile int broadcast_done, broadcast_failed;

static void restrict_on_signal(int sig, siginfo_t *info, void *context)
{
    (void)sig; (void)info; (void)context;
    int saved = errno;
    if (syscall(__NR_landlock_restrict_self, broadcast_ruleset, 0) == 0) __atomic_add_fetch(&broadcast_done, 1, __ATOMIC_SEQ_CST);
    else __atomic_add_fetch(&broadcast_failed, 1, __ATOMIC_SEQ_CST);
    errno = saved;
}

#define IRON_MAX_THREADS 4096
#define IRON_BROADCAST_SIGNAL SIGSYS /* as libpsx: no runtime the library lives in uses it, and seccomp here answers with errno */

/* The thread blocks IRON_BROADCAST_SIGNAL (the SigBlk line of its status), or cannot be asked. */
static int blocks_signal_now(pid_t tid)
{
    char name[64], text[2048];
    snprintf(name, sizeof name, "/proc/self/task/%d/status", (int)tid);
    int fd = (int)syscall(SYS_openat, AT_FDCWD, name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return 0; /* gone: nothing to restrict */
    long n = syscall(SYS_read, fd, text, sizeof text - 1);
    syscall(SYS_close, fd);
    if (n <= 0) return 1;
    text[n] = 0;
    const char *line = strstr(text, "SigBlk:");
    if (!line) return 1;
    unsigned long long mask = strtoull(line + 7, NULL, 16);
    return (mask >> (IRON_BROADCAST_SIGNAL - 1)) & 1;
}

/* ... for 20 ms: a thread being created has every signal blocked until glibc's start_thread sets its own mask */
static int blocks_signal(pid_t tid)
{
    struct timespec pause = { 0, 1000000 };
    for (int i = 0; i < 20; i++)
    {
        if (!blocks_signal_now(tid)) return 0;
        nanosleep(&pause, NULL);
    }
    return 1;
}

/* Restricts every thread of the process with the ruleset; 0, or the number of threads that could not be restricted. */
static int restrict_every_thread(int ruleset)
{
    if (syscall(__NR_landlock_restrict_self, ruleset, 0) != 0) return -1;
    pid_t pid = (pid_t)syscall(SYS_getpid), self = (pid_t)syscall(SYS_gettid);
    static pid_t done[IRON_MAX_THREADS];
    int ndone = 0, missing = 0;
    struct sigaction action = { 0 }, previous;
    action.sa_sigaction = restrict_on_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&action.sa_mask);
    broadcast_ruleset = ruleset;
    if (sigaction(IRON_BROADCAST_SIGNAL, &action, &previous) != 0) return -1;
    /* until a pass over /proc/self/task finds no thread left: a thread not yet restricted may start one meanwhile */
    for (int pass = 0, found = 1; found && pass < 64; pass++)
    {
        found = 0;
        int tasks = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (tasks < 0) { missing = -1; break; }
        char entries[4096] __attribute__((aligned(8))); /* struct dirent64 records */
        long got;
        while ((got = syscall(SYS_getdents64, tasks, entries, sizeof entries)) > 0)
        {
            for (long at = 0; at < got;)
            {
                struct dirent64 *e = (struct dirent64 *)(entries + at);
                at += e->d_reclen;
                if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
                pid_t tid = (pid_t)strtol(e->d_name, NULL, 10);
                int seen = tid == self;
                for (int i = 0; i < ndone && !seen; i++) seen = done[i] == tid;
                if (seen || ndone == IRON_MAX_THREADS) continue;
                int before = broadcast_done + broadcast_failed;
                done[ndone++] = tid;
                found = 1;
                /* a thread that blocks the signal would take it when it unblocks, with the host's handler back in place */
                if (blocks_signal(tid)) { missing++; continue; }
                if (syscall(SYS_tgkill, pid, tid, IRON_BROADCAST_SIGNAL) != 0) continue; /* gone already */
                /* one thread at a time, 1 s at most */
                struct timespec pause = { 0, 100000 };
                int waited = 0;
                while (broadcast_done + broadcast_failed == before && waited++ < 10000) nanosleep(&pause, NULL);
                if (broadcast_done + broadcast_failed == before)
                {
                    /* still gone is fine; alive and silent is a thread left unrestricted */
                    if (syscall(SYS_tgkill, pid, tid, 0) == 0) missing++;
                }
            }
        }
        syscall(SYS_close, tasks);
    }
    /* a signal still on its way would find the host's handler (or the default: a core dump): ours stays then */
    if (!missing) sigaction(IRON_BROADCAST_SIGNAL, &previous, NULL);
    return missing + broadcast_failed;
}

/*
 * A Landlock layer that handles `handled` (0: every filesystem right) and grants it everywhere except beneath the
 * `count` normalised absolute paths `excluded`. NULL when it is in force on every thread, else why not
 * (a static string).
 */
IRON_SHARED const char *iron_landlock_deny_beneath(const char *const *excluded, int count, uint64_t handled)
{
    int abi = iron_landlock_abi();
    if (abi <= 0) return "this kernel has no Landlock";
    handled = handled ? handled & all_fs_rights(abi) : all_fs_rights(abi);
    uint64_t attr = handled; /* struct landlock_ruleset_attr: handled_access_fs first, the rest zero */
    int ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0) return "landlock_create_ruleset failed";
    struct ll_walk w = { ruleset, handled, excluded, count, 0, 0 };
    char path[PATH_MAX] = "/";
    grant_around(&w, path, 1, 0);
    const char *problem = NULL;
    if (w.failed) problem = "the kernel refused a rule";
    /* restrict_self needs it without CAP_SYS_ADMIN; the seccomp filter sets it too, and it cannot be unset */
    else if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) problem = "prctl(PR_SET_NO_NEW_PRIVS) failed";
    else
    {
        int missing = restrict_every_thread(ruleset);
        if (missing < 0) problem = "landlock_restrict_self failed";
        else if (missing > 0) problem = "in force on every thread but those that block SIGSYS, which landlock_restrict_self cannot reach from outside";
    }
    syscall(SYS_close, ruleset);
    return problem;
}
