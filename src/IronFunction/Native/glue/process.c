/*
 * create_child_process.
 *
 * 9. create_child_process (section at the end): the process functions are C wrappers around a
 *    managed judge, because neither a vfork child (it shares its parent's memory and thread) nor
 *    a forked child (its copy of the runtime may be mid-GC) can safely enter the runtime; see there.
 */
#include "glue.h"

/* ============================================================================================
 * create_child_process
 *
 * Each process function is a C wrapper: it has the call judged unless the control is allow, gives
 * the new program an environment that keeps the library when some control is not allow, then
 * calls the real function. Who judges:
 *
 * - In the process image the library started in, the managed judge (iron_hook_<name>), which
 *   names the program, reports through the event pipeline and decides.
 * - In a forked child (getpid() differs from the pid at start) the judge below, in C. fork copies
 *   the runtime as the parent's other threads left it: a GC or a thread suspension in flight, a
 *   runtime lock held by a thread that does not exist in the child. Entering the runtime there can
 *   wait forever. The C judge reports with a line rendered at start by the managed event code
 *   (ProcessProtection.EventTemplate), so the event is the same schema.
 * - In a vfork child, nobody: the child borrows the parent's stack and thread (TLS, the runtime's
 *   thread object) while the parent thread is suspended. vfork is judged before it happens; the
 *   child's exec is recorded (no allocation, no lock: the environment is built on the stack) and
 *   reported by the parent when it resumes, so a vfork+exec is one event naming the program.
 *   Other hooks in a vfork child go to libc when every control is allow, and to their managed
 *   hook otherwise (a file may still be judged there).
 *
 * fork, _Fork and clone are judged in the parent and then made from here, outside any managed
 * frame. No pthread_atfork handler: the library keeps nothing a child must repair (the event
 * identity re-reads itself on a new pid).
 * ============================================================================================ */

/* iron_process_cfg is on the locked page (locked.c) */
char *iron_preload_entry;
const char *iron_process_event_template;
IRON_THREAD_STATE struct iron_exec_record *iron_vfork_record;
/* The caller's return address across a vfork (the child reuses the stack). */
IRON_THREAD_STATE void *iron_vfork_return;
static pid_t start_pid;
static pthread_key_t record_key;

/* The managed side (Hooks/ProcessHooks.cs). Judges return 0 to go on, -1 to deny (errno is EPERM). */
extern void iron_process_native_config(struct iron_process_config *config, int (*in_vfork_child)(void));
extern void iron_process_vfork_report(struct iron_exec_record *record, int child, int via_clone);
extern int iron_hook_fork(void);
extern int iron_hook__Fork(void);
extern int iron_hook___fork(void);
extern int iron_hook_vfork(void);
extern int iron_hook_clone(int flags);
extern int iron_hook_execve(const char *path, char *const argv[]);
extern int iron_hook_execv(const char *path, char *const argv[]);
extern int iron_hook_execvp(const char *file, char *const argv[]);
extern int iron_hook_execvpe(const char *file, char *const argv[]);
extern int iron_hook_execl(const char *path, char *const argv[]);
extern int iron_hook_execlp(const char *file, char *const argv[]);
extern int iron_hook_execle(const char *path, char *const argv[]);
extern int iron_hook_fexecve(int fd, char *const argv[]);
extern int iron_hook_execveat(int dirfd, const char *path, char *const argv[], int flags);
extern int iron_hook_posix_spawn(const char *path, char *const argv[]);
extern int iron_hook_posix_spawnp(const char *file, char *const argv[]);
extern int iron_hook_system(const char *command);
extern int iron_hook_popen(const char *command);
extern int iron_hook__IO_proc_open(const char *command);
extern FILE *_IO_proc_open(FILE *stream, const char *command, const char *mode);
extern pid_t __fork(void);

static void free_record(void *record) { free(record); }

/* For the managed side: state it shares with a suspended vfork parent must not change (ProcessProtection.InVforkChild). */
static int in_vfork_child(void) { return iron_in_vfork_child; }

char *iron_joined(const char *a, const char *b)
{
    char *s = malloc(strlen(a) + strlen(b) + 1);
    if (s) { strcpy(s, a); strcat(s, b); }
    return s;
}

/* The managed side renders the event line at the first fork it judges (Lifecycle/ProcessProtection.cs). */
__attribute__((visibility("hidden"))) void iron_native_set_process_event_template(const char *template)
{
    __atomic_store_n(&iron_process_event_template, template, __ATOMIC_RELEASE); /* not in iron_process_cfg: that page is locked by then */
}

void iron_process_init(void)
{
    start_pid = getpid();
    pthread_key_create(&record_key, free_record);
    iron_process_native_config(&iron_process_cfg, in_vfork_child);
    if (iron_process_cfg.library) iron_preload_entry = iron_joined("LD_PRELOAD=", iron_process_cfg.library);
    if (iron_process_cfg.keep_count > IRON_MAX_KEEP || iron_process_cfg.keep_count < 0) iron_process_cfg.keep_count = 0;
    /* without the library's path the tree cannot be protected (the managed side has said why) */
    iron_process_protect_tree = iron_process_cfg.protect_tree && iron_preload_entry;
}

enum { SIDE_NONE, SIDE_MANAGED, SIDE_NATIVE };

/* The C judge in a forked child, and on a thread already inside managed code (a signal handler's call). */
static int judge_side(void)
{
    if (!iron_hooks_ready || iron_in_vfork_child || iron_process_cfg.action == IRON_ALLOW) return SIDE_NONE;
    return iron_sys_getpid() == start_pid && !iron_hook_frame.active ? SIDE_MANAGED : SIDE_NATIVE;
}

/* Evaluates to nonzero when the call is denied: the managed judge or, in a forked child, the C one. */
#define DENIED(managed, native) ({ int side_ = judge_side(); side_ == SIDE_MANAGED ? IRON_MANAGED(managed) != 0 : side_ == SIDE_NATIVE ? (native) != 0 : 0; })


/* In the parent, before a vfork (or a CLONE_VM|CLONE_VFORK clone): judge it, make room for the record. */
__attribute__((visibility("hidden"), used)) int iron_vfork_prepare(void)
{
    if (iron_process_cfg.action == IRON_BLOCK)
    {
        if (DENIED(iron_hook_vfork(), iron_native_fork("vfork"))) return -1;
    }
    else if (iron_process_cfg.action == IRON_ALERT)
    {
        if (!iron_vfork_record)
        {
            iron_vfork_record = calloc(1, sizeof *iron_vfork_record);
            if (iron_vfork_record) pthread_setspecific(record_key, iron_vfork_record);
        }
        if (iron_vfork_record) iron_vfork_record->used = 0;
    }
    iron_log_before_child();
    return 0;
}

/* In the parent, once the vfork child has exec'd or exited (the kernel resumes the parent only then). */
__attribute__((visibility("hidden"), used)) void iron_vfork_resumed(int child, int via_clone)
{
    int saved = errno;
    iron_in_vfork_child = 0;
    if (iron_process_cfg.action == IRON_ALERT && child > 0)
    {
        if (iron_sys_getpid() == start_pid && !iron_hook_frame.active) IRON_MANAGED((iron_process_vfork_report(iron_vfork_record, child, via_clone), 0));
        else iron_native_vfork_report(iron_vfork_record, child, via_clone);
    }
    errno = saved;
}

/*
 * vfork: judged in the parent, then the real vfork with the caller's return address held in TLS
 * (glibc's vfork keeps its own in a register for the same reason: the child reuses the stack).
 * Child: set iron_in_vfork_child, return to the caller. Parent: clear it and report, return.
 * A vfork inside a vfork child is passed straight on.
 */
#if defined(__aarch64__)
/* aarch64: the return address is in x30 and glibc's vfork uses no stack, so x30 goes to TLS across the calls */
__asm__(".text\n"
        ".globl vfork\n"
        ".type vfork,@function\n"
        "vfork:\n"
        IRON_A64_LOAD("ldrb", "w16", "iron_hooks_ready")
        "    cbz w16, __wrap_vfork\n"
        "    mrs x17, tpidr_el0\n"
        IRON_A64_TLS_OFFSET("x16", "iron_in_vfork_child")
        "    ldrb w16, [x17, x16]\n"
        "    cbnz w16, __wrap_vfork\n"
        IRON_A64_TLS_OFFSET("x16", "iron_vfork_return")
        "    str x30, [x17, x16]\n"
        "    bl iron_vfork_prepare\n"
        "    cbnz w0, 9f\n"
        IRON_A64_LOAD("ldr", "x16", "iron_native_real_vfork")
        "    cbnz x16, 1f\n"
        "    bl iron_native_resolve\n"
        IRON_A64_LOAD("ldr", "x16", "iron_native_real_vfork")
        "1:  blr x16\n"
        "    cbz w0, 2f\n"
        "    stp x0, xzr, [sp, #-16]!\n"
        "    mov w1, wzr\n"
        "    bl iron_vfork_resumed\n"
        "    ldp x0, xzr, [sp], #16\n"
        "    b 3f\n"
        "2:  mrs x17, tpidr_el0\n"
        IRON_A64_TLS_OFFSET("x16", "iron_in_vfork_child")
        "    mov w9, #1\n"
        "    strb w9, [x17, x16]\n"
        "    b 3f\n"
        "9:  mov w0, #-1\n"
        "3:  mrs x17, tpidr_el0\n"
        IRON_A64_TLS_OFFSET("x16", "iron_vfork_return")
        "    ldr x30, [x17, x16]\n"
        "    ret\n"
        ".size vfork, .-vfork\n");
#else
__asm__(".text\n"
        ".globl vfork\n"
        ".type vfork,@function\n"
        "vfork:\n"
        "    cmpb $0, iron_hooks_ready(%rip)\n"
        "    je __wrap_vfork\n"
        "    movq iron_in_vfork_child@gottpoff(%rip), %r11\n"
        "    cmpb $0, %fs:(%r11)\n"
        "    jne __wrap_vfork\n"
        "    sub $8, %rsp\n"
        "    call iron_vfork_prepare\n"
        "    add $8, %rsp\n"
        "    test %eax, %eax\n"
        "    jnz 9f\n"
        "    cmpq $0, iron_native_real_vfork(%rip)\n"
        "    jne 1f\n"
        "    sub $8, %rsp\n"
        "    call iron_native_resolve\n"
        "    add $8, %rsp\n"
        "1:  movq iron_vfork_return@gottpoff(%rip), %r11\n"
        "    popq %fs:(%r11)\n"
        "    call *iron_native_real_vfork(%rip)\n"
        "    test %eax, %eax\n"
        "    jz 2f\n"
        "    push %rax\n"
        "    sub $8, %rsp\n"
        "    mov %eax, %edi\n"
        "    xor %esi, %esi\n"
        "    call iron_vfork_resumed\n"
        "    add $8, %rsp\n"
        "    pop %rax\n"
        "    movq iron_vfork_return@gottpoff(%rip), %r11\n"
        "    jmp *%fs:(%r11)\n"
        "2:  movq iron_in_vfork_child@gottpoff(%rip), %r11\n"
        "    movb $1, %fs:(%r11)\n"
        "    movq iron_vfork_return@gottpoff(%rip), %r11\n"
        "    jmp *%fs:(%r11)\n"
        "9:  mov $-1, %eax\n"
        "    ret\n"
        ".size vfork, .-vfork\n");
#endif

/* ---- fork, _Fork, clone ---- */

pid_t fork(void)
{
    if (DENIED(iron_hook_fork(), iron_native_fork("fork"))) return -1;
    iron_log_before_child();
    return REAL(fork)();
}

pid_t _Fork(void)
{
    if (DENIED(iron_hook__Fork(), iron_native_fork("_Fork"))) return -1;
    iron_log_before_child();
    return REAL(_Fork)();
}

pid_t __fork(void)
{
    if (DENIED(iron_hook___fork(), iron_native_fork("__fork"))) return -1;
    iron_log_before_child();
    return REAL(__fork)();
}

struct clone_start { int (*fn)(void *); void *arg; };

/* The child of a CLONE_VM|CLONE_VFORK clone shares the parent thread's TLS, as a vfork child does. */
static int vm_child_start(void *start)
{
    struct clone_start *s = start;
    iron_in_vfork_child = 1;
    return s->fn(s->arg);
}

#define IRON_CLONE_VM 0x100
#define IRON_CLONE_VFORK 0x4000
#define IRON_CLONE_SETTLS 0x80000
#define IRON_CLONE_THREAD 0x10000
#define IRON_CLONE_FS 0x200

IRON_SHARED volatile unsigned char iron_cwd_per_thread;

/* Some thread was made with a working directory of its own (clone without CLONE_FS). */
IRON_SHARED int iron_native_cwd_per_thread(void) { return iron_cwd_per_thread; }

int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    /* glibc's clone reads all three whatever the flags; so are they forwarded */
    pid_t *ptid = va_arg(ap, pid_t *);
    void *tls = va_arg(ap, void *);
    pid_t *ctid = va_arg(ap, pid_t *);
    va_end(ap);
    int (*real)(int (*)(void *), void *, int, void *, ...) = REAL(clone);
    /* a thread without CLONE_FS has a working directory of its own: relative paths stop sharing one cache */
    if ((flags & IRON_CLONE_THREAD) && !(flags & IRON_CLONE_FS)) iron_cwd_per_thread = 1;
    if (!iron_hooks_ready || iron_in_vfork_child || (flags & IRON_CLONE_THREAD))
        return real(fn, stack, flags, arg, ptid, tls, ctid);
    /* no fn or stack: glibc answers EINVAL itself */
    int vm_vfork = (flags & (IRON_CLONE_VM | IRON_CLONE_VFORK)) == (IRON_CLONE_VM | IRON_CLONE_VFORK) && !(flags & IRON_CLONE_SETTLS) && fn && stack;
    /* a CLONE_VM|CLONE_VFORK child is reported once, with what it executes, as a vfork child is */
    if (!(vm_vfork && iron_process_cfg.action == IRON_ALERT) && DENIED(iron_hook_clone(flags), iron_native_fork("clone"))) return -1;
    if (vm_vfork)
    {
        /* the parent waits for the child to exec or exit, so the start record may live on this stack */
        struct clone_start start = { fn, arg };
        if (iron_vfork_prepare() != 0) return -1;
        int result = real(vm_child_start, stack, flags, &start, ptid, tls, ctid);
        iron_vfork_resumed(result, 1);
        return result;
    }
    iron_log_before_child();
    return real(fn, stack, flags, arg, ptid, tls, ctid);
}

/* ---- exec ---- */

enum { RUN_EXECVE, RUN_EXECVPE, RUN_FEXECVE, RUN_EXECVEAT };

/* Calls the real exec with the protected environment; in a vfork child, first records it. */
static int exec_protected(int run, int function, int dirfd, const char *path, char *const argv[],
                          char *const envp[], int flags)
{
    if (iron_in_vfork_child && iron_process_cfg.action == IRON_ALERT)
        iron_record_exec(function, run == RUN_EXECVPE ? LOOKUP_SEARCH : run == RUN_FEXECVE ? LOOKUP_FD : run == RUN_EXECVEAT ? LOOKUP_AT : LOOKUP_PATH,
                    dirfd, path, argv, flags);
    char *const *env;
    void *heap;
    PROTECTED_ENV(envp, env, heap);
    if (!env && envp) return -1;
    int result;
    switch (run)
    {
    case RUN_EXECVE: result = REAL(execve)(path, argv, env); break;
    case RUN_EXECVPE: result = REAL(execvpe)(path, argv, env); break;
    case RUN_FEXECVE: result = REAL(fexecve)(dirfd, argv, env); break;
    default: result = REAL(execveat)(dirfd, path, argv, env, flags); break;
    }
    int error = errno;
    if (iron_in_vfork_child && iron_vfork_record && iron_vfork_record->used) iron_vfork_record->error = error;
    free(heap);
    errno = error;
    return result;
}

int execve(const char *path, char *const argv[], char *const envp[])
{
    OWN_PROGRAM(path);
    if (DENIED(iron_hook_execve(path, argv), iron_native_exec("execve", LOOKUP_PATH, AT_FDCWD, path, argv, 0))) return -1;
    if (iron_program_denied(IRON_FN_EXECVE, LOOKUP_PATH, AT_FDCWD, path, 0)) return -1;
    return exec_protected(RUN_EXECVE, IRON_FN_EXECVE, AT_FDCWD, path, argv, envp, 0);
}

int execv(const char *path, char *const argv[])
{
    OWN_PROGRAM(path);
    if (DENIED(iron_hook_execv(path, argv), iron_native_exec("execv", LOOKUP_PATH, AT_FDCWD, path, argv, 0))) return -1;
    if (iron_program_denied(IRON_FN_EXECV, LOOKUP_PATH, AT_FDCWD, path, 0)) return -1;
    if (!iron_process_protect_tree && !iron_in_vfork_child) return REAL(execv)(path, argv);
    return exec_protected(RUN_EXECVE, IRON_FN_EXECV, AT_FDCWD, path, argv, environ, 0);
}

int execvp(const char *file, char *const argv[])
{
    OWN_PROGRAM(file);
    if (DENIED(iron_hook_execvp(file, argv), iron_native_exec("execvp", LOOKUP_SEARCH, AT_FDCWD, file, argv, 0))) return -1;
    if (iron_program_denied(IRON_FN_EXECVP, LOOKUP_SEARCH, AT_FDCWD, file, 0)) return -1;
    if (!iron_process_protect_tree && !iron_in_vfork_child) return REAL(execvp)(file, argv);
    return exec_protected(RUN_EXECVPE, IRON_FN_EXECVP, AT_FDCWD, file, argv, environ, 0);
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
    OWN_PROGRAM(file);
    if (DENIED(iron_hook_execvpe(file, argv), iron_native_exec("execvpe", LOOKUP_SEARCH, AT_FDCWD, file, argv, 0))) return -1;
    if (iron_program_denied(IRON_FN_EXECVPE, LOOKUP_SEARCH, AT_FDCWD, file, 0)) return -1;
    return exec_protected(RUN_EXECVPE, IRON_FN_EXECVPE, AT_FDCWD, file, argv, envp, 0);
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
    if (DENIED(iron_hook_fexecve(fd, argv), iron_native_exec("fexecve", LOOKUP_FD, fd, NULL, argv, 0))) return -1;
    if (iron_program_denied(IRON_FN_FEXECVE, LOOKUP_FD, fd, NULL, 0)) return -1;
    return exec_protected(RUN_FEXECVE, IRON_FN_FEXECVE, fd, NULL, argv, envp, 0);
}

int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    OWN_PROGRAM(path);
    if (DENIED(iron_hook_execveat(dirfd, path, argv, flags), iron_native_exec("execveat", LOOKUP_AT, dirfd, path, argv, flags))) return -1;
    if (iron_program_denied(IRON_FN_EXECVEAT, LOOKUP_AT, dirfd, path, flags)) return -1;
    return exec_protected(RUN_EXECVEAT, IRON_FN_EXECVEAT, dirfd, path, argv, envp, flags);
}

/* The variadic forms: the argument list up to its NULL becomes argv, on the stack as glibc does it. */
#define IRON_ARGV_FROM_VA(first, argv, after_null)                              \
    size_t argc_ = 1;                                                           \
    va_list ap_;                                                                \
    va_start(ap_, first);                                                       \
    while (va_arg(ap_, char *)) argc_++;                                        \
    va_end(ap_);                                                                \
    if (argc_ > (size_t)INT_MAX / sizeof(char *)) { errno = E2BIG; return -1; } \
    char **argv = alloca((argc_ + 1) * sizeof(char *));                         \
    argv[0] = (char *)(first);                                                  \
    va_start(ap_, first);                                                       \
    for (size_t i_ = 1; i_ <= argc_; i_++) argv[i_] = va_arg(ap_, char *);      \
    after_null;                                                                 \
    va_end(ap_)

int execl(const char *path, const char *arg, ...)
{
    OWN_PROGRAM(path);
    IRON_ARGV_FROM_VA(arg, argv, (void)0);
    if (DENIED(iron_hook_execl(path, argv), iron_native_exec("execl", LOOKUP_PATH, AT_FDCWD, path, argv, 0))) return -1;
    if (iron_program_denied(IRON_FN_EXECL, LOOKUP_PATH, AT_FDCWD, path, 0)) return -1;
    return exec_protected(RUN_EXECVE, IRON_FN_EXECL, AT_FDCWD, path, argv, environ, 0);
}

int execlp(const char *file, const char *arg, ...)
{
    OWN_PROGRAM(file);
    IRON_ARGV_FROM_VA(arg, argv, (void)0);
    if (DENIED(iron_hook_execlp(file, argv), iron_native_exec("execlp", LOOKUP_SEARCH, AT_FDCWD, file, argv, 0))) return -1;
    if (iron_program_denied(IRON_FN_EXECLP, LOOKUP_SEARCH, AT_FDCWD, file, 0)) return -1;
    return exec_protected(RUN_EXECVPE, IRON_FN_EXECLP, AT_FDCWD, file, argv, environ, 0);
}

int execle(const char *path, const char *arg, ...)
{
    OWN_PROGRAM(path);
    char *const *envp;
    IRON_ARGV_FROM_VA(arg, argv, envp = va_arg(ap_, char *const *));
    if (DENIED(iron_hook_execle(path, argv), iron_native_exec("execle", LOOKUP_PATH, AT_FDCWD, path, argv, 0))) return -1;
    if (iron_program_denied(IRON_FN_EXECLE, LOOKUP_PATH, AT_FDCWD, path, 0)) return -1;
    return exec_protected(RUN_EXECVE, IRON_FN_EXECLE, AT_FDCWD, path, argv, envp, 0);
}

/* ---- posix_spawn, system, popen: glibc starts and execs the child internally, past every hook ---- */

typedef int (*iron_spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                             char *const[], char *const[]);

/* Calls glibc's spawn with the protected environment (on this frame's stack while it runs, or freed after). */
static int spawn_protected(iron_spawn_fn real, pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    char *const *env;
    void *heap;
    iron_log_before_child();
    PROTECTED_ENV(envp, env, heap);
    if (!env && envp) return ENOMEM;
    int result = real(pid, file, actions, attr, argv, env);
    free(heap);
    return result;
}

/* The program and the file actions judged as files (process_files.c); glibc runs the judged copy of the actions.
   Evaluates to 0, or the error the spawn returns. A macro: the copy lives in the caller's frame. */
#define SPAWN_FILES_JUDGED(spawnp, program, actions, heap_out)                                               \
    ({                                                                                                       \
        int error_ = 0;                                                                                      \
        size_t bytes_ = iron_spawn_scratch_bytes(actions);                                                   \
        if (bytes_)                                                                                          \
        {                                                                                                    \
            void *scratch_ = bytes_ <= IRON_STACK_SCRATCH || iron_in_vfork_child ? alloca(bytes_) : ((heap_out) = malloc(bytes_)); \
            if (!scratch_) error_ = ENOMEM;                                                                  \
            else if (iron_spawn_denied(spawnp, program, actions, &(actions), scratch_, bytes_)) error_ = errno; \
        }                                                                                                    \
        error_;                                                                                              \
    })

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    OWN_PROGRAM(path);
    if (DENIED(iron_hook_posix_spawn(path, argv), iron_native_exec("posix_spawn", LOOKUP_PATH, AT_FDCWD, path, argv, 0))) return EPERM;
    void *heap = NULL;
    int error = SPAWN_FILES_JUDGED(0, path, actions, heap);
    int result = error ? error : spawn_protected(REAL(posix_spawn), pid, path, actions, attr, argv, envp);
    free(heap);
    return result;
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    OWN_PROGRAM(file);
    if (DENIED(iron_hook_posix_spawnp(file, argv), iron_native_exec("posix_spawnp", LOOKUP_SEARCH, AT_FDCWD, file, argv, 0))) return EPERM;
    void *heap = NULL;
    int error = SPAWN_FILES_JUDGED(1, file, actions, heap);
    int result = error ? error : spawn_protected(REAL(posix_spawnp), pid, file, actions, attr, argv, envp);
    free(heap);
    return result;
}

int system(const char *command)
{
    if (DENIED(iron_hook_system(command), iron_native_shell("system", command))) return command ? -1 : 0;
    if (iron_hooks_ready && !iron_in_vfork_child) iron_protect_own_environment();
    iron_log_before_child();
    return REAL(system)(command);
}

FILE *popen(const char *command, const char *mode)
{
    if (DENIED(iron_hook_popen(command), iron_native_shell("popen", command))) return NULL;
    if (iron_hooks_ready && !iron_in_vfork_child) iron_protect_own_environment();
    iron_log_before_child();
    return REAL(popen)(command, mode);
}

/* popen's engine, exported by glibc: a caller that set up the FILE itself starts a shell through it */
FILE *_IO_proc_open(FILE *stream, const char *command, const char *mode)
{
    if (DENIED(iron_hook__IO_proc_open(command), iron_native_shell("_IO_proc_open", command))) return NULL;
    if (iron_hooks_ready && !iron_in_vfork_child) iron_protect_own_environment();
    return REAL(_IO_proc_open)(stream, command, mode);
}

/* libc's other names of these functions (Hooks/libc.aliases: __libc_system, _IO_popen, __libc_fork, ...). */
#define IRON_ALIAS_IF_OWN_00(alias, target)
#define IRON_ALIAS_IF_OWN_10(alias, target) IRON_ALIAS_OF(alias, target)
#define IRON_ALIAS_IF_OWN_11(alias, target)
#define IRON_ALIAS(alias, target) \
    IRON_CAT(IRON_CAT(IRON_ALIAS_IF_OWN_, IRON_IS_OWN(target)), IRON_IS_PREFILTERED(target))(alias, target)
#include "hooked_aliases.h"
#undef IRON_ALIAS
