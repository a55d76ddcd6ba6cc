/*
 * Walkers that call the caller's code back.
 *
 * 11. ftw, nftw, scandir and scandirat call functions of the caller's (the walk's callback, scandir's
 *     filter and comparison). The thread's mark (thread_marks.c) covers the library's own work only: these
 *     exports judge the path with the thread marked, then run libc's walk unmarked, so every hooked call
 *     a callback makes is judged like any other. libc's walk itself reaches the directory through its
 *     internal calls, which no hook sees. On a thread already marked (a signal handler's call inside a
 *     hook, the library's own threads), the walk goes straight to libc, its callbacks included.
 *
 *     fts reads each directory inside fts_read/fts_children (libc's __opendir): the roots are judged at
 *     fts_open, and every directory when fts is about to read it. glob reads directories through
 *     GLOB_ALTDIRFUNC callbacks of the library's own, whose opendir is judged, unless the caller brought
 *     callbacks of its own (their calls are then hooked calls like any other).
 */
#include "glue.h"
#include <dirent.h>
#include <fts.h>
#include <ftw.h>
#include <glob.h>

extern IRON_SHARED unsigned char iron_control_files;

/* The managed judges (Hooks/FileHooks.cs): 1 to go on, 0 denied with errno set. */
#define IRON_WALK_JUDGE(name) extern int iron_hook_##name(int dirfd, const char *path);
IRON_WALK_JUDGE(ftw) IRON_WALK_JUDGE(ftw64) IRON_WALK_JUDGE(nftw) IRON_WALK_JUDGE(nftw64)
IRON_WALK_JUDGE(scandir) IRON_WALK_JUDGE(scandir64) IRON_WALK_JUDGE(scandirat) IRON_WALK_JUDGE(scandirat64)
IRON_WALK_JUDGE(fts_open) IRON_WALK_JUDGE(fts64_open) IRON_WALK_JUDGE(fts_read) IRON_WALK_JUDGE(fts64_read)
IRON_WALK_JUDGE(fts_children) IRON_WALK_JUDGE(fts64_children)
/* glob's opendir: the directory judged and opened as opendir does it (a DIR *, or NULL with errno set) */
extern DIR *iron_hook_glob(const char *path);
extern DIR *iron_hook_glob64(const char *path);

/* The caller's path in this frame's own memory: judged and walked as the same bytes, which another thread cannot
   change in between. A path libc answers itself (bad pointer, no end within PATH_MAX) is passed on as it is. */
#define OWN_COPY(path) char copy_[PATH_MAX]; path = own_copy(path, copy_)
static const char *own_copy(const char *path, char *copy)
{
    if (unreadable(path)) return path;
    size_t n = strnlen(path, PATH_MAX);
    if (n >= PATH_MAX) return path;
    memcpy(copy, path, n + 1);
    return copy;
}

/* As the generated trampolines decide: libc before start, with nothing to judge and on a marked thread. */
static int denied(int (*judge)(int, const char *), int dirfd, const char *path)
{
    if (!iron_hooks_ready || !iron_control_files) return 0;
    if (iron_in_vfork_child) return iron_process_protect_tree && !judge(dirfd, path);
    if (iron_hook_frame.active) return 0;
    return !IRON_MANAGED(judge(dirfd, path));
}

int ftw(const char *dir, __ftw_func_t fn, int descriptors)
{
    OWN_COPY(dir);
    return denied(iron_hook_ftw, AT_FDCWD, dir) ? -1 : REAL(ftw)(dir, fn, descriptors);
}

int ftw64(const char *dir, __ftw64_func_t fn, int descriptors)
{
    OWN_COPY(dir);
    return denied(iron_hook_ftw64, AT_FDCWD, dir) ? -1 : REAL(ftw64)(dir, fn, descriptors);
}

/* FTW_CHDIR walks under way, and a count of their starts and ends: such a walk moves the working directory with
   libc's internal fchdir, which no hook sees, so the hooks' copy of it is not trusted meanwhile (TargetResolver). */
static unsigned cwd_walks, cwd_epoch;

__attribute__((visibility("hidden"))) unsigned long long iron_native_cwd_state(void)
{
    return (unsigned long long)__atomic_load_n(&cwd_walks, __ATOMIC_SEQ_CST) << 32 | __atomic_load_n(&cwd_epoch, __ATOMIC_SEQ_CST);
}

static void walk_moves_cwd(int flags, int delta)
{
    if (!(flags & FTW_CHDIR)) return;
    __atomic_add_fetch(&cwd_walks, delta, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&cwd_epoch, 1, __ATOMIC_SEQ_CST);
}

int nftw(const char *dir, __nftw_func_t fn, int descriptors, int flags)
{
    OWN_COPY(dir);
    if (denied(iron_hook_nftw, AT_FDCWD, dir)) return -1;
    walk_moves_cwd(flags, 1);
    int result = REAL(nftw)(dir, fn, descriptors, flags);
    walk_moves_cwd(flags, -1);
    return result;
}

int nftw64(const char *dir, __nftw64_func_t fn, int descriptors, int flags)
{
    OWN_COPY(dir);
    if (denied(iron_hook_nftw64, AT_FDCWD, dir)) return -1;
    walk_moves_cwd(flags, 1);
    int result = REAL(nftw64)(dir, fn, descriptors, flags);
    walk_moves_cwd(flags, -1);
    return result;
}

int scandir(const char *restrict dir, struct dirent ***restrict list, int (*filter)(const struct dirent *),
            int (*compare)(const struct dirent **, const struct dirent **))
{
    OWN_COPY(dir);
    return denied(iron_hook_scandir, AT_FDCWD, dir) ? -1 : REAL(scandir)(dir, list, filter, compare);
}

int scandir64(const char *restrict dir, struct dirent64 ***restrict list, int (*filter)(const struct dirent64 *),
              int (*compare)(const struct dirent64 **, const struct dirent64 **))
{
    OWN_COPY(dir);
    return denied(iron_hook_scandir64, AT_FDCWD, dir) ? -1 : REAL(scandir64)(dir, list, filter, compare);
}

int scandirat(int dirfd, const char *restrict dir, struct dirent ***restrict list, int (*filter)(const struct dirent *),
              int (*compare)(const struct dirent **, const struct dirent **))
{
    OWN_COPY(dir);
    return denied(iron_hook_scandirat, dirfd, dir) ? -1 : REAL(scandirat)(dirfd, dir, list, filter, compare);
}

int scandirat64(int dirfd, const char *restrict dir, struct dirent64 ***restrict list, int (*filter)(const struct dirent64 *),
                int (*compare)(const struct dirent64 **, const struct dirent64 **))
{
    OWN_COPY(dir);
    return denied(iron_hook_scandirat64, dirfd, dir) ? -1 : REAL(scandirat64)(dirfd, dir, list, filter, compare);
}

/* ---- fts: the roots at fts_open, each directory before fts reads it ---- */

/* Every root judged; 1 when one is denied (errno EACCES). */
static int roots_denied(int (*judge)(int, const char *), char *const *roots)
{
    if (unreadable(roots)) return 0;
    for (size_t i = 0; !unreadable(roots[i]) && roots[i]; i++)
    {
        const char *root = roots[i];
        OWN_COPY(root);
        if (denied(judge, AT_FDCWD, root)) return 1;
    }
    return 0;
}

FTS *fts_open(char *const *roots, int options, int (*compare)(const FTSENT **, const FTSENT **))
{
    return roots_denied(iron_hook_fts_open, roots) ? NULL : REAL(fts_open)(roots, options, compare);
}

FTS64 *fts64_open(char *const *roots, int options, int (*compare)(const FTSENT64 **, const FTSENT64 **))
{
    return roots_denied(iron_hook_fts64_open, roots) ? NULL : REAL(fts64_open)(roots, options, compare);
}

/* The directory the next fts_read (or fts_children) reads, or NULL: the current entry, a directory in preorder
   with no instruction and no list built for it yet. fts reaches it by fts_accpath from the working directory it
   keeps (the directory's parent when it changes directories, else the path from the roots). */
#define FTS_TO_READ(sp, children)                                                                                \
    ({                                                                                                           \
        __typeof__((sp)->fts_cur) p_ = unreadable(sp) ? NULL : (sp)->fts_cur;                                    \
        p_ && !unreadable(p_) && p_->fts_info == FTS_D && p_->fts_instr == FTS_NOINSTR                          \
            && ((children) || !(sp)->fts_child)                                                                  \
            && !(((sp)->fts_options & FTS_XDEV) && p_->fts_dev != (sp)->fts_dev) && !unreadable(p_->fts_accpath) \
            ? p_ : NULL;                                                                                         \
    })

/* A denied directory is skipped and handed back as one libc could not read (FTS_DNR, EACCES), as fts does
   when its opendir fails; the walk goes on with the next entry. */
#define FTS_READ(real, judge, sp)                                                      \
    ({                                                                                 \
        __typeof__((sp)->fts_cur) next_ = FTS_TO_READ(sp, 0), r_;                      \
        int denied_ = next_ && denied(judge, AT_FDCWD, next_->fts_accpath);            \
        if (denied_) next_->fts_instr = FTS_SKIP;                                      \
        r_ = real(sp);                                                                 \
        if (denied_ && r_ == next_ && r_->fts_info == FTS_DP)                          \
        {                                                                              \
            r_->fts_info = FTS_DNR;                                                    \
            r_->fts_errno = EACCES;                                                    \
            errno = EACCES;                                                            \
        }                                                                              \
        r_;                                                                            \
    })

FTSENT *fts_read(FTS *sp) { return FTS_READ(REAL(fts_read), iron_hook_fts_read, sp); }

FTSENT64 *fts64_read(FTS64 *sp) { return FTS_READ(REAL(fts64_read), iron_hook_fts64_read, sp); }

FTSENT *fts_children(FTS *sp, int instr)
{
    FTSENT *next = FTS_TO_READ(sp, 1);
    return next && denied(iron_hook_fts_children, AT_FDCWD, next->fts_accpath) ? NULL : REAL(fts_children)(sp, instr);
}

FTSENT64 *fts64_children(FTS64 *sp, int instr)
{
    FTSENT64 *next = FTS_TO_READ(sp, 1);
    return next && denied(iron_hook_fts64_children, AT_FDCWD, next->fts_accpath) ? NULL : REAL(fts64_children)(sp, instr);
}

/* ---- glob: libc's walk with directory callbacks whose opendir is judged ---- */

/* As the generated trampolines decide, for a call made from inside libc's glob. */
static DIR *judged_opendir(DIR *(*judge)(const char *), const char *path)
{
    if (!iron_hooks_ready || !iron_control_files || (iron_in_vfork_child ? !iron_process_protect_tree : iron_hook_frame.active))
        return opendir(path);
    if (iron_in_vfork_child) return judge(path);
    return IRON_MANAGED(judge(path));
}

static void *glob_opendir(const char *path) { return judged_opendir(iron_hook_glob, path); }
static void *glob64_opendir(const char *path) { return judged_opendir(iron_hook_glob64, path); }
static struct dirent *glob_readdir(void *dir) { return readdir(dir); }
static struct dirent64 *glob64_readdir(void *dir) { return readdir64(dir); }
static void glob_closedir(void *dir) { closedir(dir); }
static int glob_stat(const char *restrict path, struct stat *restrict st) { return stat(path, st); }
static int glob_lstat(const char *restrict path, struct stat *restrict st) { return lstat(path, st); }
static int glob64_stat(const char *restrict path, struct stat64 *restrict st) { return stat64(path, st); }
static int glob64_lstat(const char *restrict path, struct stat64 *restrict st) { return lstat64(path, st); }

/* Nothing to judge, or the caller's own callbacks: libc's glob as it is. Else the library's callbacks, and the
   caller's glob_t shows its own flags afterwards. */
#define GLOB(real, suffix, pattern, flags, errfunc, pglob)                                               \
    ({                                                                                                   \
        int r_;                                                                                          \
        if (!iron_hooks_ready || !iron_control_files || (flags & GLOB_ALTDIRFUNC) || unreadable(pglob)) \
            r_ = real(pattern, flags, errfunc, pglob);                                                   \
        else                                                                                             \
        {                                                                                                \
            pglob->gl_opendir = glob##suffix##_opendir;                                                  \
            pglob->gl_readdir = glob##suffix##_readdir;                                                  \
            pglob->gl_closedir = glob_closedir;                                                          \
            pglob->gl_stat = glob##suffix##_stat;                                                        \
            pglob->gl_lstat = glob##suffix##_lstat;                                                      \
            r_ = real(pattern, flags | GLOB_ALTDIRFUNC, errfunc, pglob);                                 \
            pglob->gl_flags &= ~GLOB_ALTDIRFUNC;                                                         \
        }                                                                                                \
        r_;                                                                                              \
    })

int glob(const char *restrict pattern, int flags, int (*errfunc)(const char *, int), glob_t *restrict pglob)
{
    return GLOB(REAL(glob), , pattern, flags, errfunc, pglob);
}

int glob64(const char *restrict pattern, int flags, int (*errfunc)(const char *, int), glob64_t *restrict pglob)
{
    return GLOB(REAL(glob64), 64, pattern, flags, errfunc, pglob);
}
