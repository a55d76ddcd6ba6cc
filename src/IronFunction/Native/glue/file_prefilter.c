/*
 * The open family's common case, without entering the runtime.
 *
 * 15. Most opens name an absolute path that no rule can cover: a library, a configuration file, /dev/urandom.
 *     The managed hook proves that by copying the path, normalising it, asking every rule, and opening it with
 *     openat2(RESOLVE_NO_SYMLINKS), which succeeds only where no link redirected it. Here the same proof is made
 *     from the bytes alone when they are already normal (absolute, no empty, "." or ".." component): the copy is
 *     compared with the roots the rules can cover, which the managed start hands over once (the temporary roots,
 *     the directories of the handler's files, /proc), and opened the same way. Anything else (a relative path,
 *     a root's prefix, a link on the way, flags openat2 treats differently) takes the managed hook, which decides.
 *     No rule is decided here: a path under a root is never let through by this file.
 */
#include "glue.h"
#include <sys/mman.h>

/* locked.c: 0 while nothing in this process can be judged through the file hooks */
extern IRON_SHARED unsigned char iron_control_files;

extern int iron_hook_open(const char *path, int flags, unsigned mode);
extern int iron_hook_open64(const char *path, int flags, unsigned mode);
extern int iron_hook_openat(int dirfd, const char *path, int flags, unsigned mode);
extern int iron_hook_openat64(int dirfd, const char *path, int flags, unsigned mode);

#define IRON_PREFILTER_ROOTS 32
#define IRON_PREFILTER_BYTES 4096

/* Set once by the managed start, before the hooks are ready; zero roots until then means every call is judged. On pages
   of their own, made read-only with the rest of the judging state (locked.c): zeroing the count would let every path by. */
struct iron_prefilter_roots
{
    int ready, count;
    unsigned short offset[IRON_PREFILTER_ROOTS], length[IRON_PREFILTER_ROOTS];
    char bytes[IRON_PREFILTER_BYTES];
};
static union { struct iron_prefilter_roots s; char pages[2 * 4096]; } iron_prefilter_pages __attribute__((aligned(4096)));
#define iron_prefilter iron_prefilter_pages.s

IRON_SHARED int iron_prefilter_lock(void) { return mprotect(&iron_prefilter_pages, sizeof iron_prefilter_pages, PROT_READ); }

static int iron_openat2_missing;

/* roots: count NUL-terminated normal absolute paths one after another. Too many or too long: no prefilter. */
__attribute__((visibility("hidden"))) void iron_native_set_prefilter_roots(const char *roots, int count)
{
    size_t used = 0;
    if (count > IRON_PREFILTER_ROOTS) return;
    for (int i = 0; i < count; i++)
    {
        size_t n = strlen(roots + used);
        if (n == 0 || used + n + 1 > IRON_PREFILTER_BYTES) return;
        iron_prefilter.offset[i] = (unsigned short)used;
        iron_prefilter.length[i] = (unsigned short)n;
        used += n + 1;
    }
    memcpy(iron_prefilter.bytes, roots, used);
    iron_prefilter.count = count;
    iron_prefilter.ready = 1;
}

/* Flags openat2 treats exactly as open(): the same set FileGate.OpenAt2Equivalent accepts. */
static int iron_openat2_equivalent(int flags)
{
    const int valid = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | FASYNC |
                      O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH |
                      O_TMPFILE;
    if (flags & ~valid) return 0;
    if ((flags & O_PATH) && (flags & ~(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))) return 0;
    return 1;
}

/* Copies the path into copy (PATH_MAX bytes) while checking that it is absolute and every component a plain name, so that
   its lexical target is the path itself; its length, or -1 (not normal, or too long). One pass, each byte read once from
   the caller's buffer (another thread may be rewriting it) and every check made on the copy. */
static long iron_copy_normal_absolute(const char *p, char *copy)
{
    if ((copy[0] = p[0]) != '/') return -1;
    long start = 1; /* where the current component starts */
    for (long i = 1; i < PATH_MAX; i++)
    {
        char c = copy[i] = p[i];
        if (c != '/' && c != 0) continue;
        long length = i - start;
        /* "//" or a trailing "/" (but "/" itself), "." and ".." */
        if (length == 0 && !(c == 0 && i == 1)) return -1;
        if (copy[start] == '.' && (length == 1 || (length == 2 && copy[start + 1] == '.'))) return -1;
        if (c == 0) return i;
        start = i + 1;
    }
    return -1;
}

static int iron_under_a_root(const char *p, size_t n)
{
    for (int i = 0; i < iron_prefilter.count; i++)
    {
        size_t len = iron_prefilter.length[i];
        const char *root = iron_prefilter.bytes + iron_prefilter.offset[i];
        if (n < len || (n > len && p[len] != '/')) continue;
        size_t k = 1; /* both start with '/' */
        while (k < len && p[k] == root[k]) k++;
        if (k == len) return 1;
    }
    return 0;
}

/* 1 when the call was made here (*result its return value, errno as the call left it); 0 when the hook must judge. */
static int iron_open_uncovered(const char *path, int flags, unsigned mode, int *result)
{
    if (!iron_prefilter.ready || iron_openat2_missing || !iron_openat2_equivalent(flags)) return 0;
    /* a bad pointer is the managed hook's to hand to libc */
    if (unreadable(path)) return 0;
    /* the bytes judged are the bytes opened: another thread may rewrite the caller's buffer meanwhile */
    char copy[PATH_MAX];
    long n = iron_copy_normal_absolute(path, copy);
    if (n < 0 || iron_under_a_root(copy, (size_t)n)) return 0;
    struct { unsigned long long flags, mode, resolve; } how = {
        (unsigned)(flags | O_LARGEFILE),
        (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? mode & 07777 : 0,
        0x04 /* RESOLVE_NO_SYMLINKS */,
    };
    int saved = errno;
    long fd = syscall(SYS_openat2, AT_FDCWD, copy, &how, sizeof how);
    if (fd >= 0) { errno = saved; *result = (int)fd; return 1; }
    int error = errno;
    errno = saved;
    if (error == ENOSYS) { iron_openat2_missing = 1; return 0; }
    /* a link on the way (ELOOP), a mount crossing or flag openat2 refuses: the hook resolves it */
    if (error == ELOOP || error == EINVAL || error == EXDEV) return 0;
    errno = error;
    *result = -1;
    return 1;
}

static unsigned iron_open_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, unsigned) : 0;
}

/* As the generated trampoline (trampolines.c): libc before the start, while the file hooks are idle, on a marked thread,
   and in a vfork child unless the tree is protected; else the prefilter, then the managed hook with the thread marked. */
#define IRON_OPEN_BODY(hook_call, real_call, path)                                  \
    if (!iron_hooks_ready || !iron_control_files) return real_call;                      \
    if (iron_in_vfork_child) return iron_process_protect_tree ? hook_call : real_call;   \
    if (iron_hook_frame.active) return real_call;                                        \
    int fast;                                                                            \
    if (iron_open_uncovered(path, flags, mode, &fast)) return fast;                       \
    return IRON_MANAGED(hook_call);

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    unsigned mode = iron_open_mode(flags, ap);
    va_end(ap);
    IRON_OPEN_BODY(iron_hook_open(path, flags, mode), REAL(open)(path, flags, mode), path)
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    unsigned mode = iron_open_mode(flags, ap);
    va_end(ap);
    IRON_OPEN_BODY(iron_hook_open64(path, flags, mode), REAL(open64)(path, flags, mode), path)
}

/* dirfd does not matter to an absolute path, the only kind the prefilter takes */
int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    unsigned mode = iron_open_mode(flags, ap);
    va_end(ap);
    IRON_OPEN_BODY(iron_hook_openat(dirfd, path, flags, mode), REAL(openat)(dirfd, path, flags, mode), path)
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    unsigned mode = iron_open_mode(flags, ap);
    va_end(ap);
    IRON_OPEN_BODY(iron_hook_openat64(dirfd, path, flags, mode), REAL(openat64)(dirfd, path, flags, mode), path)
}

/* libc's other names of these functions (Hooks/libc.aliases: __open, __open64) */
#define IRON_ALIAS_IF_PREFILTERED_0(alias, target)
#define IRON_ALIAS_IF_PREFILTERED_1(alias, target) IRON_ALIAS_OF(alias, target)
#define IRON_ALIAS(alias, target) IRON_CAT(IRON_ALIAS_IF_PREFILTERED_, IRON_IS_PREFILTERED(target))(alias, target)
#include "hooked_aliases.h"
#undef IRON_ALIAS
