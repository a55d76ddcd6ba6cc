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

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "lane i of a block is the byte at offset i");
/* 16 bytes (SSE2 on x86-64, NEON on arm64, both always there) */
typedef char iron_block __attribute__((vector_size(16), may_alias));
/* PATH_MAX bytes from any alignment */
#define IRON_COPY_BLOCKS ((PATH_MAX + 15) / 16 + 1)

/* Bit i set when lane i of m (each lane 0 or -1) is. */
static inline unsigned iron_lane_bits(iron_block m)
{
#if defined(__x86_64__)
    return (unsigned)__builtin_ia32_pmovmskb128(m);
#else
    /* each byte's top bit, gathered into the top byte by one multiplication per half */
    typedef uint64_t iron_halves __attribute__((vector_size(16), may_alias));
    iron_halves h = (iron_halves)m & 0x8080808080808080ULL;
    return (unsigned)((h[0] * 0x0002040810204081ULL) >> 56) | (unsigned)((h[1] * 0x0002040810204081ULL) >> 56) << 8;
#endif
}

/* Copies the path into blocks, 16 bytes at a time: where the copy starts in them (its length in *n), or NULL when there is no
   NUL within PATH_MAX bytes. Each byte is read once from the caller's buffer (another thread may be rewriting it), in
   aligned blocks, which never cross into the next page; every check is made on the copy. *suspect is set when some '/' is
   followed by '/', '.' or the end: a component may then be empty, "." or "..", which iron_plain_components decides. */
static const char *iron_copy_path(const char *p, iron_block *blocks, long *n, int *suspect)
{
    unsigned skip = (uintptr_t)p & 15;
    const iron_block *from = (const iron_block *)((uintptr_t)p - skip);
    unsigned inside = ~0u << skip, carry = 0, hits = 0;
    for (long i = 0; i < IRON_COPY_BLOCKS; i++, inside = ~0u)
    {
        iron_block v = blocks[i] = from[i];
        unsigned nul = iron_lane_bits(v == 0) & inside;
        if (nul) inside &= nul ^ (nul - 1); /* up to the first NUL */
        unsigned slashes = iron_lane_bits(v == '/') & inside;
        unsigned ends = iron_lane_bits((v | 1) == '/') | nul; /* '.', '/' or the NUL */
        hits |= ((slashes << 1) | carry) & ends & inside;
        carry = slashes >> 15;
        if (nul)
        {
            *n = 16 * i + __builtin_ctz(nul) - skip;
            *suspect = hits != 0;
            return *n < PATH_MAX ? (const char *)blocks + skip : NULL;
        }
    }
    return NULL;
}

/* Every component of the copy (absolute, n bytes) is a plain name: none empty, "." or "..", but "/" itself. */
static int iron_plain_components(const char *c, long n)
{
    if (n == 1) return 1;
    for (long i = 0; i < n; i++)
    {
        if (c[i] != '/') continue;
        const char *q = c + i + 1;
        if (q[0] == '.') q += q[1] == '.' ? 2 : 1;
        if (q[0] == '/' || q[0] == 0) return 0;
    }
    return 1;
}

/* openat2(AT_FDCWD, path, how, size) without libc's errno: its result, or -errno. */
static inline long iron_openat2(const char *path, const void *how, size_t size)
{
#if defined(__aarch64__)
    register long x8 __asm__("x8") = SYS_openat2, x0 __asm__("x0") = AT_FDCWD, x1 __asm__("x1") = (long)path,
                  x2 __asm__("x2") = (long)how, x3 __asm__("x3") = (long)size;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
#else
    long r;
    register long r10 __asm__("r10") = (long)size;
    __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_openat2), "D"((long)AT_FDCWD), "S"(path), "d"(how), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
#endif
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
    iron_block blocks[IRON_COPY_BLOCKS];
    long n;
    int suspect;
    const char *copy = iron_copy_path(path, blocks, &n, &suspect);
    /* normal: absolute and every component a plain name, so that its lexical target is the path itself */
    if (!copy || copy[0] != '/' || (suspect && !iron_plain_components(copy, n)) || iron_under_a_root(copy, (size_t)n))
        return 0;
    struct { unsigned long long flags, mode, resolve; } how = {
        (unsigned)(flags | O_LARGEFILE),
        (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? mode & 07777 : 0,
        0x04 /* RESOLVE_NO_SYMLINKS */,
    };
    long fd = iron_openat2(copy, &how, sizeof how);
    if (fd >= 0) { *result = (int)fd; return 1; }
    if (fd == -ENOSYS) { iron_openat2_missing = 1; return 0; }
    /* a link on the way (ELOOP), a mount crossing or flag openat2 refuses: the hook resolves it */
    if (fd == -ELOOP || fd == -EINVAL || fd == -EXDEV) return 0;
    errno = (int)-fd;
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
