/*
 * The files process creation reads (read_write_tmp, read_handler).
 *
 * 16. An exec reads and maps the program it runs, and posix_spawn's child runs its file actions (open, chdir,
 *     fchdir) inside glibc before its exec, where no hook sees them. Both are judged here, in the caller, before
 *     anything starts: the program by the managed file judge (iron_files_program), each file action's path by
 *     its open flags (iron_files_spawn_open), against the directory the child will be in when it opens it
 *     (addchdir_np and addfchdir_np move it). glibc then runs a copy of the actions that holds the judged bytes,
 *     so that another thread cannot change a path between the judgement and the child's open.
 */
#include "glue.h"

extern IRON_SHARED unsigned char iron_control_files;

/* The managed judges (Hooks/FileHooks.Indirect.cs): 1 to go on, 0 denied with errno EACCES. */
extern int iron_files_program(int dirfd, const char *path, int flags, int function);
extern int iron_files_spawn_open(int dirfd, const char *path, int flags, int spawnp);

/* glibc's struct __spawn_action (posix/spawn_int.h), the entries of posix_spawn_file_actions_t's __actions; the
   same from 2.34 on (tcsetpgrp came in 2.35). A tag the library does not know cannot be judged. */
struct spawn_action
{
    int tag;
    union
    {
        struct { int fd; } close_action;
        struct { int fd, newfd; } dup2_action;
        struct { int fd; char *path; int oflag; mode_t mode; } open_action;
        struct { char *path; } chdir_action;
        struct { int fd; } fchdir_action;
        struct { int from; } closefrom_action;
        struct { int fd; } setpgrp_action;
    } action;
};
/* After the exec functions' IRON_FN_* numbers, for the managed judge's names. */
enum { FN_POSIX_SPAWN = IRON_FN_EXECVEAT + 1, FN_POSIX_SPAWNP };
enum { DO_CLOSE, DO_DUP2, DO_OPEN, DO_CHDIR, DO_FCHDIR, DO_CLOSEFROM, DO_TCSETPGRP };
/* Codes for an action that cannot be judged (iron_files_spawn_open with a NULL path). */
enum { CANNOT_UNKNOWN_TAG = 0, CANNOT_FCHDIR = 1, CANNOT_TOO_LONG = 2 };

/* As the generated trampolines decide: nothing before start, with every file control allow, on a marked thread. */
static int judged_here(void)
{
    if (!iron_hooks_ready || !iron_control_files) return 0;
    return iron_in_vfork_child ? iron_process_protect_tree : !iron_hook_frame.active;
}

/* A vfork child enters managed code as the trampolines do there: its thread is its parent's, left unmarked. */
#define JUDGE(call) (iron_in_vfork_child ? (call) : IRON_MANAGED(call))

const char *iron_own_program(const char *path, char *copy)
{
    if (!iron_hooks_ready || !path || unreadable(path)) return path;
    size_t n = strnlen(path, PATH_MAX);
    if (n >= PATH_MAX) return path;
    memcpy(copy, path, n + 1);
    return copy;
}

int iron_program_denied(int function, int lookup, int dirfd, const char *path, int flags)
{
    if (!judged_here()) return 0;
    char found[PATH_MAX + 1];
    if (lookup == LOOKUP_FD) path = NULL;
    else if (unreadable(path) || !*path) return 0; /* the exec's own answer */
    else if (lookup == LOOKUP_SEARCH && !strchr(path, '/'))
    {
        if (!iron_search_path(path, found, sizeof found)) return 0; /* nothing to run */
        path = found;
    }
    int saved = errno;
    int from = lookup == LOOKUP_FD || lookup == LOOKUP_AT ? dirfd : AT_FDCWD;
    if (JUDGE(iron_files_program(from, path, lookup == LOOKUP_AT ? flags : 0, function))) { errno = saved; return 0; }
    return -1;
}

static const posix_spawn_file_actions_t *readable_actions(const posix_spawn_file_actions_t *actions)
{
    if (!actions || unreadable(actions) || actions->__used <= 0 || unreadable(actions->__actions)) return NULL;
    return actions;
}

size_t iron_spawn_scratch_bytes(const posix_spawn_file_actions_t *actions)
{
    if (!judged_here()) return 0;
    size_t bytes = sizeof(posix_spawn_file_actions_t);
    if (!(actions = readable_actions(actions))) return bytes;
    const struct spawn_action *a = (const struct spawn_action *)actions->__actions;
    bytes += (size_t)actions->__used * sizeof *a;
    for (int i = 0; i < actions->__used; i++)
    {
        const char *path = a[i].tag == DO_OPEN ? a[i].action.open_action.path : a[i].tag == DO_CHDIR ? a[i].action.chdir_action.path : NULL;
        if (path && !unreadable(path)) bytes += strnlen(path, PATH_MAX) + 1;
    }
    return bytes;
}

/* What the child's descriptors are after the actions so far: dup2 targets name a descriptor of this process,
   an opened or closed number does not (-1). */
#define MAX_FATES 64
struct fates { int count, lost; struct { int fd, from; } at[MAX_FATES]; };

static void fate(struct fates *f, int fd, int from)
{
    if (f->count == MAX_FATES) { f->lost = 1; return; }
    f->at[f->count].fd = fd;
    f->at[f->count++].from = from;
}

/* The descriptor of this process that the child's fd is, or -1 when none (or no longer known). */
static int origin(const struct fates *f, int fd)
{
    if (f->lost) return -1;
    for (int i = f->count - 1; i >= 0; i--)
    {
        if (f->at[i].fd == fd) return f->at[i].from;
        if (f->at[i].fd < 0 && fd >= -f->at[i].fd - 1) return -1; /* closefrom */
    }
    return fd;
}

/* Where the child resolves a relative path: a directory of this process (or AT_FDCWD) and a path from it. */
struct base { int dirfd; char path[PATH_MAX]; };

/* path as the child resolves it, into out (the base's path in front of a relative one); 0 when too long. */
static int composed(const struct base *b, const char *path, char *out)
{
    size_t n = strlen(path), m = path[0] == '/' ? 0 : strlen(b->path);
    if (m + 1 + n >= PATH_MAX) return 0;
    if (m) { memcpy(out, b->path, m); out[m++] = '/'; }
    memcpy(out + m, path, n + 1);
    return 1;
}

static int cannot_judge(int code, int spawnp) { return !JUDGE(iron_files_spawn_open(AT_FDCWD, NULL, code, spawnp)); }

/* 1 when the child's open of path (relative to the base) is denied. */
static int open_denied(const struct base *b, const char *path, int flags, int spawnp)
{
    char full[PATH_MAX];
    if (!composed(b, path, full)) return cannot_judge(CANNOT_TOO_LONG, spawnp);
    return !JUDGE(iron_files_spawn_open(path[0] == '/' ? AT_FDCWD : b->dirfd, full, flags, spawnp));
}

/* The caller's bytes, copied once into scratch: the copy is judged and the copy is what glibc runs. */
static char *copied(const char *path, char **scratch, char *end)
{
    size_t n = strnlen(path, PATH_MAX);
    if (n >= PATH_MAX || (size_t)(end - *scratch) < n + 1) return NULL;
    char *copy = *scratch;
    memcpy(copy, path, n);
    copy[n] = 0;
    *scratch += n + 1;
    return copy;
}

int iron_spawn_denied(int spawnp, const char *program, const posix_spawn_file_actions_t *actions,
                      const posix_spawn_file_actions_t **use, void *scratch, size_t bytes)
{
    int saved = errno;
    struct base base = { AT_FDCWD, "" };
    struct fates fates = { 0, 0, { { 0, 0 } } };
    actions = readable_actions(actions);
    if (actions)
    {
        int n = actions->__used;
        posix_spawn_file_actions_t *copy = scratch;
        struct spawn_action *a = (struct spawn_action *)(copy + 1);
        char *text = (char *)(a + n), *end = (char *)scratch + bytes;
        /* the caller's other threads changed the actions since they were measured */
        if (text > end) return cannot_judge(CANNOT_TOO_LONG, spawnp) ? -1 : 0;
        memcpy(a, actions->__actions, (size_t)n * sizeof *a);
        for (int i = 0; i < n; i++)
        {
            switch (a[i].tag)
            {
            case DO_CLOSE: fate(&fates, a[i].action.close_action.fd, -1); break;
            case DO_DUP2: fate(&fates, a[i].action.dup2_action.newfd, origin(&fates, a[i].action.dup2_action.fd)); break;
            case DO_CLOSEFROM: fate(&fates, -a[i].action.closefrom_action.from - 1, -1); break;
            case DO_TCSETPGRP: break;
            case DO_OPEN:
            {
                char *path = a[i].action.open_action.path;
                if (unreadable(path)) break; /* the child's open answers EFAULT */
                if (!(path = copied(path, &text, end))) { if (cannot_judge(CANNOT_TOO_LONG, spawnp)) return -1; break; }
                a[i].action.open_action.path = path;
                if (open_denied(&base, path, a[i].action.open_action.oflag, spawnp)) return -1;
                fate(&fates, a[i].action.open_action.fd, -1);
                break;
            }
            case DO_CHDIR:
            {
                char *path = a[i].action.chdir_action.path, joined[PATH_MAX];
                if (unreadable(path)) break;
                if (!(path = copied(path, &text, end)) || !composed(&base, path, joined))
                {
                    if (cannot_judge(CANNOT_TOO_LONG, spawnp)) return -1;
                    break;
                }
                a[i].action.chdir_action.path = path;
                if (path[0] == '/') base.dirfd = AT_FDCWD;
                memcpy(base.path, joined, strlen(joined) + 1);
                break;
            }
            case DO_FCHDIR:
            {
                int from = origin(&fates, a[i].action.fchdir_action.fd);
                /* a directory an earlier action opened: not followed here */
                if (from < 0) { if (cannot_judge(CANNOT_FCHDIR, spawnp)) return -1; break; }
                base.dirfd = from;
                base.path[0] = 0;
                break;
            }
            default:
                if (cannot_judge(CANNOT_UNKNOWN_TAG, spawnp)) return -1;
                break;
            }
        }
        memcpy(copy, actions, sizeof *copy);
        copy->__allocated = n;
        copy->__actions = (void *)a;
        *use = copy;
    }
    /* the program, from the directory the actions left the child in (posix_spawnp searches PATH by name) */
    char found[PATH_MAX + 1], full[PATH_MAX];
    if (!unreadable(program) && *program)
    {
        const char *path = program;
        if (spawnp && !strchr(program, '/')) path = iron_search_path(program, found, sizeof found) ? found : NULL;
        if (path && composed(&base, path, full))
        {
            int function = spawnp ? FN_POSIX_SPAWNP : FN_POSIX_SPAWN;
            if (!JUDGE(iron_files_program(path[0] == '/' ? AT_FDCWD : base.dirfd, full, 0, function))) return -1;
        }
    }
    errno = saved;
    return 0;
}
