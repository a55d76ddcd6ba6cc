/*
 * The judge and the report of create_child_process where managed code cannot run: a forked child (its copy
 * of the runtime may be mid-GC) and a vfork child (it borrows its parent's stack and thread). Here any libc
 * function may be some control's hook, so the kernel is reached directly.
 */
#include "glue.h"

static const char *const exec_names[] = { "execve", "execv", "execvp", "execvpe", "execl", "execlp",
                                          "execle", "fexecve", "execveat" };

/* The judge and the record below run where no hook may be entered (a forked or vfork child), and any
   libc function may be some control's hook: they reach the kernel directly. */
static int sys_open(const char *path) { return (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0); }
static ssize_t sys_readlink(const char *path, char *buf, size_t n) { return syscall(SYS_readlinkat, AT_FDCWD, path, buf, n); }
static int sys_access(const char *path, int mode) { return (int)syscall(SYS_faccessat, AT_FDCWD, path, mode); }
static int sys_is_directory(const char *path)
{
    struct stat st;
    return syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) == 0 && S_ISDIR(st.st_mode);
}
static char *sys_getcwd(char *buf, size_t n) { return syscall(SYS_getcwd, buf, n) > 0 && buf[0] == '/' ? buf : NULL; }
pid_t iron_sys_getpid(void) { return (pid_t)syscall(SYS_getpid); }

/* ---- bounded text ---- */

struct text { char *buf; size_t len, cap; };

static void put_n(struct text *t, const char *s, size_t n)
{
    if (t->len + 1 >= t->cap) return;
    if (n > t->cap - 1 - t->len) n = t->cap - 1 - t->len;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = 0;
}

static void put(struct text *t, const char *s) { if (s && !unreadable(s)) put_n(t, s, strlen(s)); }

/* in double quotes, backslash and double quote escaped (ProgramDescription.Quote) */
static void put_quoted(struct text *t, const char *s)
{
    put(t, "\"");
    for (; s && *s; s++)
    {
        if (*s == '"' || *s == '\\') put(t, "\\");
        put_n(t, s, 1);
    }
    put(t, "\"");
}

/* ---- naming what starts (mirrors Rules/ProgramDescription.cs, which has the unit tests) ---- */

static const char *const shells[] = { "sh", "bash", "dash", "zsh", "ksh", "mksh", "ksh93", "ash", "yash", "posh" };

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int is_shell_name(const char *path)
{
    for (size_t i = 0; i < sizeof shells / sizeof shells[0]; i++)
        if (strcmp(base_name(path), shells[i]) == 0) return 1;
    return 0;
}

static size_t count_args(char *const argv[])
{
    size_t n = 0;
    if (unreadable(argv)) return 0;
    while (n < 256 && argv[n] && !unreadable(argv[n])) n++;
    return n;
}

/* The command a shell is given with -c, or NULL. */
static const char *shell_command(const char *program, char *const argv[])
{
    size_t argc = count_args(argv);
    if (!is_shell_name(program) && !(argc > 0 && is_shell_name(argv[0]))) return NULL;
    int command = 0;
    size_t i = 1;
    for (; i < argc; i++)
    {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0 || strcmp(a, "-") == 0) { i++; break; }
        if (strlen(a) < 2 || (a[0] != '-' && a[0] != '+')) break;
        if (a[1] == '-')
        {
            if (strcmp(a, "--rcfile") == 0 || strcmp(a, "--init-file") == 0) i++;
            continue;
        }
        int takes_argument = 0;
        for (const char *c = a + 1; *c; c++)
        {
            if (*c == 'c' && a[0] == '-') command = 1;
            else if (*c == 'o' || *c == 'O') takes_argument = 1;
        }
        if (takes_argument) i++;
    }
    return command && i < argc ? argv[i] : NULL;
}

/* what: the program, or "program -c "command"" */
static void put_what(struct text *t, const char *program, char *const argv[])
{
    const char *command = shell_command(program, argv);
    put(t, program);
    if (command) { put(t, " -c "); put_quoted(t, command); }
}

/* " (argv as one line)" unless the program is a shell given a command (ProgramDescription.ArgumentLine) */
static void put_arguments(struct text *t, const char *program, char *const argv[])
{
    size_t argc = count_args(argv);
    if (argc < 2 || shell_command(program, argv)) return;
    put(t, " (");
    for (size_t i = 0; i < argc; i++)
    {
        if (i) put(t, " ");
        const char *a = argv[i];
        if (!*a || strpbrk(a, " \t\n\"'\\")) put_quoted(t, a); else put(t, a);
    }
    put(t, ")");
}

/* Removes ".", "..", and repeated slashes from an absolute path, in place. */
static void lexical_normalize(char *path)
{
    char *out = path + 1;
    const char *in = path + 1;
    while (*in)
    {
        while (*in == '/') in++;
        const char *start = in;
        while (*in && *in != '/') in++;
        size_t n = (size_t)(in - start);
        if (n == 0 || (n == 1 && start[0] == '.')) continue;
        if (n == 2 && start[0] == '.' && start[1] == '.')
        {
            if (out > path + 1) { out--; while (out > path + 1 && out[-1] != '/') out--; }
            continue;
        }
        if (out > path + 1 && out[-1] != '/') *out++ = '/';
        memmove(out, start, n);
        out += n;
    }
    if (out > path + 1 && out[-1] == '/') out--;
    *out = 0;
}

static int fd_path(int fd, char *out, size_t cap)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = sys_readlink(link, out, cap - 1);
    if (n <= 0 || out[0] != '/') return 0;
    out[n] = 0;
    return 1;
}

static int is_executable_file(const char *path)
{
    return sys_access(path, X_OK) == 0 && !sys_is_directory(path);
}

/* As glibc's execvp searches: this process's PATH (default /bin:/usr/bin), an empty entry is the working directory. */
static int search_path(const char *name, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path) path = "/bin:/usr/bin";
    while (1)
    {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        struct text t = { out, 0, cap };
        out[0] = 0;
        if (n == 0) put(&t, "."); else put_n(&t, path, n);
        put(&t, "/");
        put(&t, name);
        if (is_executable_file(out)) return 1;
        if (!end) return 0;
        path = end + 1;
    }
}

int iron_search_path(const char *name, char *out, size_t cap) { return search_path(name, out, cap); }

/* The program as an absolute, lexically normal path where it can be told (ProcessGate.Resolve);
   0 when a PATH search found nothing (out then holds the name). */
static int resolve_program(int lookup, int dirfd, const char *path, int flags, char *out, size_t cap)
{
    struct text t = { out, 0, cap };
    out[0] = 0;
    if (lookup == LOOKUP_FD || (lookup == LOOKUP_AT && (flags & AT_EMPTY_PATH) && path && !unreadable(path) && !*path))
        return fd_path(dirfd, out, cap) || (snprintf(out, cap, "/proc/self/fd/%d", dirfd), 1);
    if (!path || unreadable(path)) return 1;
    if (lookup == LOOKUP_SEARCH && !strchr(path, '/'))
    {
        if (*path && search_path(path, out, cap)) { lexical_normalize(out); return 1; }
        out[0] = 0;
        put(&t, path);
        return 0;
    }
    if (path[0] != '/')
    {
        if (lookup == LOOKUP_AT && dirfd != AT_FDCWD) { if (!fd_path(dirfd, out, cap)) { put(&t, path); return 1; } }
        else if (!sys_getcwd(out, cap)) { put(&t, path); return 1; }
        t.len = strlen(out);
        put(&t, "/");
    }
    put(&t, path);
    lexical_normalize(out);
    return 1;
}

static int exists(const char *path)
{
    return sys_access(path, F_OK) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

/* ---- events from a forked child, through the template the managed event code rendered at start ---- */

static void put_json(struct text *t, const char *s, size_t limit)
{
    size_t start = t->len;
    for (; s && *s && t->len - start < limit; s++)
    {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { char e[2] = { '\\', (char)c }; put_n(t, e, 2); }
        else if (c < 0x20) { char e[8]; snprintf(e, sizeof e, "\\u%04x", c); put(t, e); }
        else put_n(t, s, 1);
    }
}

static void put_file_json(struct text *t, const char *file, int nul_to_space)
{
    char buf[4096];
    int fd = sys_open(file);
    if (fd < 0) return;
    ssize_t n = syscall(SYS_read, fd, buf, sizeof buf - 1);
    syscall(SYS_close, fd);
    if (n <= 0) return;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == 0)) n--;
    for (ssize_t i = 0; i < n; i++) if (buf[i] == 0) buf[i] = nul_to_space ? ' ' : '?';
    buf[n] = 0;
    put_json(t, buf, sizeof buf);
}

/* UTC without the C library's time zone lock, which a thread of the parent may have held at fork */
static void put_time(struct text *t)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long days = ts.tv_sec / 86400, secs = ts.tv_sec % 86400;
    long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    unsigned day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
    long long year = (long long)yoe + era * 400 + (month <= 2);
    char s[96];
    snprintf(s, sizeof s, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03ldZ", year, month, day,
             secs / 3600, secs / 60 % 60, secs % 60, ts.tv_nsec / 1000000);
    put(t, s);
}

static void write_event(const char *what, const char *message)
{
    const char *template = __atomic_load_n(&iron_process_event_template, __ATOMIC_ACQUIRE);
    if (!template) return;
    int saved = errno;
    char line[32768];
    struct text t = { line, 0, sizeof line - 1 };
    line[0] = 0;
    for (const char *p = template; *p; p++)
    {
        switch (*p)
        {
        case 1: put_json(&t, what, 6144); break;
        case 2: put_json(&t, message, 12288); break;
        case 3: put_time(&t); break;
        case 4: { char pid[16]; snprintf(pid, sizeof pid, "%d", (int)iron_sys_getpid()); put(&t, pid); break; }
        case 5: put_file_json(&t, "/proc/self/comm", 0); break;
        case 6: put_file_json(&t, "/proc/self/cmdline", 1); break;
        default: put_n(&t, p, 1); break;
        }
    }
    line[t.len++] = '\n';
    iron_log_line(line, t.len);
    errno = saved;
}

/* Reports; in block mode denies with EPERM. 0 to go on, -1 denied. */
static int native_verdict(const char *what, const char *message)
{
    write_event(what, message);
    if (iron_process_cfg.action != IRON_BLOCK) return 0;
    errno = EPERM;
    return -1;
}

static const char *verdict_text(void)
{
    return iron_process_cfg.action == IRON_BLOCK ? " was blocked: create_child_process does not allow "
                                    : " was allowed and reported: create_child_process is in alert mode";
}

static void self_executable(char *out, size_t cap)
{
    ssize_t n = sys_readlink("/proc/self/exe", out, cap - 1);
    if (n <= 0) n = 0, strcpy(out, "(this program)"); else out[n] = 0;
}

/* fork, _Fork, vfork, clone in a forked child (ProcessGate.PermitFork) */
int iron_native_fork(const char *function)
{
    char self[PATH_MAX], message[PATH_MAX + 256];
    self_executable(self, sizeof self);
    snprintf(message, sizeof message, "%s by %s%s%s", function, self, verdict_text(),
             iron_process_cfg.action == IRON_BLOCK ? "creating processes" : "");
    return native_verdict(self, message);
}

/* the exec family and posix_spawn in a forked child (ProcessGate.PermitExec) */
int iron_native_exec(const char *function, int lookup, int dirfd, const char *path, char *const argv[], int flags)
{
    int saved = errno;
    char program[PATH_MAX + 1];
    int found = resolve_program(lookup, dirfd, path, flags, program, sizeof program);
    /* an exec of a file that is not there starts nothing (execvp-style searches try every PATH entry) */
    if (iron_process_cfg.action == IRON_ALERT && (!found || !exists(program))) { errno = saved; return 0; }
    char what[8192], message[16384];
    struct text w = { what, 0, sizeof what }, m = { message, 0, sizeof message };
    what[0] = message[0] = 0;
    put_what(&w, program, argv);
    put(&m, function);
    put(&m, " of ");
    put(&m, what);
    put_arguments(&m, program, argv);
    put(&m, verdict_text());
    if (iron_process_cfg.action == IRON_BLOCK) put(&m, "starting programs");
    errno = saved;
    return native_verdict(what, message);
}

/* system and popen in a forked child (ProcessGate.PermitShell) */
int iron_native_shell(const char *function, const char *command)
{
    const char *line = command ? command : strcmp(function, "system") == 0 ? "exit 0" : "";
    char *argv[] = { "sh", "-c", (char *)line, NULL };
    return iron_native_exec(function, LOOKUP_PATH, AT_FDCWD, "/bin/sh", argv, 0);
}

/* ---- vfork: what the child executes, kept for the parent's report ---- */

static void record_text(struct iron_exec_record *r, const char *s)
{
    size_t room = IRON_RECORD_TEXT - (size_t)r->length;
    if (room == 0) return;
    size_t n = unreadable(s) ? 0 : strlen(s);
    if (n > room - 1) n = room - 1;
    memcpy(r->text + r->length, s, n);
    r->text[r->length + n] = 0;
    r->length += (int)n + 1;
}

void iron_record_exec(int function, int lookup, int dirfd, const char *path, char *const argv[], int flags)
{
    struct iron_exec_record *r = iron_vfork_record;
    if (!r) return;
    char program[PATH_MAX + 1];
    /* the PATH search is left to the parent: the child's stack is the parent's */
    int search = lookup == LOOKUP_SEARCH && path && !unreadable(path) && !strchr(path, '/');
    if (search) { program[0] = 0; strncat(program, path, PATH_MAX); }
    else resolve_program(lookup, dirfd, path, flags, program, sizeof program);
    r->used = 1;
    r->error = 0;
    r->search = search;
    r->function = function;
    r->argc = 0;
    r->length = 0;
    record_text(r, program);
    size_t argc = count_args(argv);
    for (size_t i = 0; i < argc && r->length < IRON_RECORD_TEXT; i++, r->argc++) record_text(r, argv[i]);
}

/* The parent's report of a vfork child, in C (ProcessGate.ReportVfork) when the parent is itself a forked child. */
void iron_native_vfork_report(struct iron_exec_record *r, int child, int via_clone)
{
    const char *how = via_clone ? "clone" : "vfork";
    char self[PATH_MAX], message[PATH_MAX + 256];
    if (!r || !r->used)
    {
        self_executable(self, sizeof self);
        snprintf(message, sizeof message, "%s by %s (child %d)%s", how, self, child, verdict_text());
        write_event(self, message);
        return;
    }
    char *argv[258];
    size_t argc = 0;
    const char *p = r->text, *end = r->text + r->length;
    const char *program = p;
    p += strlen(p) + 1;
    while (p < end && argc < (size_t)r->argc && argc < 257) { argv[argc++] = (char *)p; p += strlen(p) + 1; }
    argv[argc] = NULL;
    char resolved[PATH_MAX + 1];
    if (r->search && search_path(program, resolved, sizeof resolved)) { lexical_normalize(resolved); program = resolved; }
    char what[8192], text[16384];
    struct text w = { what, 0, sizeof what }, m = { text, 0, sizeof text };
    what[0] = text[0] = 0;
    put_what(&w, program, argv);
    put(&m, how);
    put(&m, "+");
    put(&m, (unsigned)r->function < sizeof exec_names / sizeof exec_names[0] ? exec_names[r->function] : "exec");
    put(&m, " of ");
    put(&m, what);
    put_arguments(&m, program, argv);
    snprintf(message, sizeof message, " in child %d", child);
    put(&m, message);
    put(&m, verdict_text());
    if (r->error) { snprintf(message, sizeof message, "; the exec failed with errno %d", r->error); put(&m, message); }
    write_event(what, text);
}
