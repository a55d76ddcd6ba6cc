/*
 * Walkers that call the caller's code back.
 *
 * 11. ftw, nftw, scandir and scandirat call functions of the caller's (the walk's callback, scandir's
 *     filter and comparison). The thread's mark (thread_marks.c) covers the library's own work only: these
 *     exports judge the path with the thread marked, then run libc's walk unmarked, so every hooked call
 *     a callback makes is judged like any other. libc's walk itself reaches the directory through its
 *     internal calls, which no hook sees. On a thread already marked (a signal handler's call inside a
 *     hook, the library's own threads), the walk goes straight to libc, its callbacks included.
 */
#include "glue.h"
#include <dirent.h>
#include <ftw.h>

extern IRON_SHARED unsigned char iron_control_files;

/* The managed judges (Hooks/FileHooks.cs): 1 to go on, 0 denied with errno set. */
#define IRON_WALK_JUDGE(name) extern int iron_hook_##name(int dirfd, const char *path);
IRON_WALK_JUDGE(ftw) IRON_WALK_JUDGE(ftw64) IRON_WALK_JUDGE(nftw) IRON_WALK_JUDGE(nftw64)
IRON_WALK_JUDGE(scandir) IRON_WALK_JUDGE(scandir64) IRON_WALK_JUDGE(scandirat) IRON_WALK_JUDGE(scandirat64)

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
