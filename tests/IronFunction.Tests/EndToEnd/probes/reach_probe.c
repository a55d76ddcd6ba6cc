/*
 * reach_probe: ONE call of a glibc function that reaches files on the caller's behalf, then one line
 *
 *     result=<int | ptr | NULL> errno=<n> [listed=<entries>] [child=<exit status>]
 *
 * Used by ReachedFilesTests (read_write_tmp on posix_spawn file actions, exec, fts, glob, dlopen).
 *
 *   reach_probe spawn_open <path> <flags> [<chdir>]   posix_spawn /bin/sh -c 'echo written' with stdout opened on
 *                                                     path by addopen (after addchdir_np(chdir) when given)
 *   reach_probe spawnp_open <path> <flags>            the same with posix_spawnp of "sh"
 *   reach_probe spawn_fchdir_open <dir> <path> <flags> addfchdir_np to dir (opened here), then addopen of path
 *   reach_probe spawn_read <path>                     posix_spawn /bin/cat with stdin opened on path: prints its bytes
 *   reach_probe spawn <program>                       posix_spawn of program, no file actions
 *   reach_probe execv <program>                       execv of program (its own output on success)
 *   reach_probe execvp <name>                         execvp of name (PATH as given)
 *   reach_probe fts <root> [LOGICAL|PHYSICAL]         fts_open + fts_read to the end: entries seen, directories unread
 *   reach_probe fts_children <root> [LOGICAL]         fts_read to the first directory below the root, fts_children
 *   reach_probe fts64 <root> [LOGICAL|PHYSICAL]       the same through fts64_open, fts64_read
 *   reach_probe fts64_children <root> [LOGICAL]       the same through fts64_read, fts64_children
 *   reach_probe glob <pattern> [ERR]                  glob; listed = matches
 *   reach_probe glob64 <pattern> [ERR]                glob64
 *   reach_probe dlopen <file>                         dlopen(RTLD_NOW); the library's probe_value() when it loaded
 *   reach_probe dlmopen <file>                        dlmopen(LM_ID_BASE, ...)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <glob.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int parse_flags(const char *spec)
{
    static const struct { const char *name; int value; } names[] = {
        {"RDONLY", O_RDONLY}, {"WRONLY", O_WRONLY}, {"RDWR", O_RDWR}, {"CREAT", O_CREAT}, {"EXCL", O_EXCL},
        {"TRUNC", O_TRUNC}, {"APPEND", O_APPEND}, {"DIRECTORY", O_DIRECTORY}, {"NOFOLLOW", O_NOFOLLOW},
    };
    int value = 0;
    char *copy = strdup(spec), *save = NULL;
    for (char *tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
    {
        int found = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(tok, names[i].name) == 0) { value |= names[i].value; found = 1; }
        if (!found) { printf("setup-failed unknown flag %s\n", tok); exit(2); }
    }
    free(copy);
    return value;
}

/* Waits for a spawned child; its exit status, or -1 when nothing was started. */
static int waited(int result, pid_t pid)
{
    if (result != 0) return -1;
    int status = 0;
    if (waitpid(pid, &status, 0) < 0) return -2;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int spawn_with(int spawnp, const char *program, posix_spawn_file_actions_t *fa, char **argv)
{
    pid_t pid = 0;
    fflush(stdout);
    int r = spawnp ? posix_spawnp(&pid, program, fa, NULL, argv, environ) : posix_spawn(&pid, program, fa, NULL, argv, environ);
    int child = waited(r, pid);
    /* posix_spawn returns the error, it does not set errno */
    printf("result=%d errno=%d child=%d\n", r, r, child);
    return 0;
}

/* fts_open + fts_read to the end (or fts_read of the root + fts_children), for FTS and FTS64 */
#define WALK(fts_t, ent_t, open_fn, read_fn, children_fn, close_fn, children_only)                         \
    do {                                                                                                  \
        char *roots[] = { (char *)arg, NULL };                                                            \
        int options = argc > 3 && strcmp(argv[3], "LOGICAL") == 0 ? FTS_LOGICAL : FTS_PHYSICAL;          \
        errno = 0;                                                                                        \
        fts_t *fts = open_fn(roots, options, NULL);                                                       \
        if (!fts) { printf("result=NULL errno=%d\n", errno); return 0; }                                  \
        int listed = 0, unread = 0;                                                                       \
        if (children_only)                                                                                \
        {                                                                                                 \
            ent_t *dir;                                                                                   \
            while ((dir = read_fn(fts)) && !(dir->fts_info == FTS_D && dir->fts_level >= 1)) {}             \
            errno = 0;                                                                                    \
            ent_t *children = dir ? children_fn(fts, 0) : NULL;                                           \
            int e = errno;                                                                                \
            for (ent_t *c = children; c; c = c->fts_link) listed++;                                       \
            printf("result=%s errno=%d listed=%d\n", children ? "ptr" : "NULL", e, listed);               \
            close_fn(fts);                                                                                \
            return 0;                                                                                     \
        }                                                                                                 \
        ent_t *e;                                                                                         \
        errno = 0;                                                                                        \
        while ((e = read_fn(fts)) != NULL)                                                                \
        {                                                                                                 \
            if (e->fts_info == FTS_DNR) { unread++; printf("unread %s errno=%d\n", e->fts_path, e->fts_errno); } \
            else if (e->fts_info != FTS_DP) { listed++; printf("seen %s\n", e->fts_path); }               \
        }                                                                                                 \
        printf("result=ptr errno=%d listed=%d unread=%d\n", errno, listed, unread);                       \
        close_fn(fts);                                                                                    \
        return 0;                                                                                         \
    } while (0)

#define GLOB(glob_t_, glob_fn, free_fn)                                                                   \
    do {                                                                                                  \
        glob_t_ g;                                                                                        \
        memset(&g, 0, sizeof g);                                                                          \
        errno = 0;                                                                                        \
        int r = glob_fn(arg, argc > 3 ? GLOB_ERR : 0, NULL, &g);                                          \
        int e = errno;                                                                                    \
        for (size_t i = 0; r == 0 && i < g.gl_pathc; i++) printf("match %s\n", g.gl_pathv[i]);           \
        printf("result=%d errno=%d listed=%zu\n", r, e, r == 0 ? g.gl_pathc : 0);                         \
        free_fn(&g);                                                                                      \
        return 0;                                                                                         \
    } while (0)

int main(int argc, char **argv)
{
    if (argc < 3) { printf("setup-failed usage\n"); return 2; }
    const char *op = argv[1], *arg = argv[2];
    char *sh_argv[] = { "sh", "-c", "echo written", NULL };

    if (strcmp(op, "spawn_open") == 0 || strcmp(op, "spawnp_open") == 0)
    {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        if (argc > 4) posix_spawn_file_actions_addchdir_np(&fa, argv[4]);
        posix_spawn_file_actions_addopen(&fa, 1, arg, parse_flags(argv[3]), 0644);
        int spawnp = op[5] == 'p';
        return spawn_with(spawnp, spawnp ? "sh" : "/bin/sh", &fa, sh_argv);
    }
    if (strcmp(op, "spawn_fchdir_open") == 0)
    {
        /* a descriptor the library never saw opened, as one inherited from an unprotected parent */
        int dir = (int)syscall(SYS_openat, AT_FDCWD, arg, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (dir < 0) { printf("setup-failed open %s errno=%d\n", arg, errno); return 2; }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addfchdir_np(&fa, dir);
        posix_spawn_file_actions_addopen(&fa, 1, argv[3], parse_flags(argv[4]), 0644);
        return spawn_with(0, "/bin/sh", &fa, sh_argv);
    }
    if (strcmp(op, "spawn_read") == 0)
    {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, arg, O_RDONLY, 0);
        char *cat_argv[] = { "cat", NULL };
        return spawn_with(0, "/bin/cat", &fa, cat_argv);
    }
    if (strcmp(op, "spawn") == 0)
    {
        char *p_argv[] = { (char *)arg, NULL };
        return spawn_with(0, arg, NULL, p_argv);
    }
    if (strcmp(op, "execv") == 0 || strcmp(op, "execvp") == 0)
    {
        char *p_argv[] = { (char *)arg, NULL };
        fflush(stdout);
        int r = op[5] == 'p' ? execvp(arg, p_argv) : execv(arg, p_argv);
        printf("result=%d errno=%d\n", r, errno);
        return 0;
    }
    if (strcmp(op, "fts") == 0 || strcmp(op, "fts_children") == 0)
        WALK(FTS, FTSENT, fts_open, fts_read, fts_children, fts_close, strcmp(op, "fts_children") == 0);
    if (strcmp(op, "fts64") == 0 || strcmp(op, "fts64_children") == 0)
        WALK(FTS64, FTSENT64, fts64_open, fts64_read, fts64_children, fts64_close, strcmp(op, "fts64_children") == 0);
    if (strcmp(op, "glob") == 0) GLOB(glob_t, glob, globfree);
    if (strcmp(op, "glob64") == 0) GLOB(glob64_t, glob64, globfree64);
    if (strcmp(op, "dlopen") == 0 || strcmp(op, "dlmopen") == 0)
    {
        errno = 0;
        void *h = op[2] == 'm' ? dlmopen(LM_ID_BASE, arg, RTLD_NOW) : dlopen(arg, RTLD_NOW);
        int e = errno;
        if (!h) { printf("result=NULL errno=%d\n", e); return 0; }
        int (*value)(void) = (int (*)(void))dlsym(h, "probe_value");
        printf("result=ptr errno=0 value=%d\n", value ? value() : -1);
        return 0;
    }
    printf("setup-failed unknown operation %s\n", op);
    return 2;
}
