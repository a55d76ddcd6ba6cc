/*
 * The only C in the library: what must run where the NativeAOT runtime cannot.
 *
 * 1. Export trampolines. Each hooked libc name (Hooks/<control>.symbols) is exported here and
 *    jumps to its managed hook (iron_hook_<name>) once the library has started, or straight to
 *    the real libc function before that: other libraries' ELF constructors may run before this
 *    library's, and a managed hook entered before the runtime is set up crashes the process.
 * 2. The runtime's own native code (GC, PAL, System.Native) calls some of the same libc names.
 *    Were those calls to reach a managed hook from a GC thread or during runtime start, the
 *    runtime would re-enter itself; the link maps them (-Wl,--wrap) to __wrap_<name>, which
 *    jumps to the real function.
 * 3. An ELF constructor starts the library while the process is still single-threaded.
 * 4. create_child_process (section at the end): the process functions are C wrappers around a
 *    managed judge, because a vfork child shares its parent's memory and thread state and must
 *    never enter the managed runtime; see there.
 *
 * Every generic trampoline is a tail jump, so it forwards any signature, variadic ones included.
 */
#define _GNU_SOURCE
#include <alloca.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((visibility("hidden"))) volatile unsigned char iron_hooks_ready;

/* Set in a vfork child (and a CLONE_VM|CLONE_VFORK child) until it execs or exits: the thread's TLS is
   shared with the suspended parent thread, so the parent clears it when it resumes. */
__attribute__((visibility("hidden"), tls_model("initial-exec"))) __thread unsigned char iron_in_vfork_child;

/* Some control is not allow: new programs must keep the library (and vfork children may judge files). */
__attribute__((visibility("hidden"))) unsigned char iron_process_protect_tree;

#define IRON_HOOK(name) __attribute__((visibility("hidden"))) void *iron_native_real_##name;
#include "hooked_symbols.h"
#undef IRON_HOOK

/* Resolves every real function; idempotent, callable from any trampoline before the constructor ran. */
__attribute__((visibility("hidden"), used)) void iron_native_resolve(void)
{
#define IRON_HOOK(name) if (!iron_native_real_##name) iron_native_real_##name = dlsym(RTLD_NEXT, #name);
#include "hooked_symbols.h"
#undef IRON_HOOK
}

/* __wrap_<name>: jump to libc, resolving first (argument registers saved) when not yet resolved. */
#define IRON_WRAP(name)                                                                  \
    __asm__(".text\n"                                                                    \
            ".globl __wrap_" #name "\n"                                                  \
            ".hidden __wrap_" #name "\n"                                                 \
            ".type __wrap_" #name ",@function\n"                                         \
            "__wrap_" #name ":\n"                                                        \
            "    cmpq $0, iron_native_real_" #name "(%rip)\n"                            \
            "    jne 1f\n"                                                               \
            "    push %rdi\n    push %rsi\n    push %rdx\n    push %rcx\n"               \
            "    push %r8\n    push %r9\n    push %rax\n"                                \
            "    call iron_native_resolve\n"                                             \
            "    pop %rax\n    pop %r9\n    pop %r8\n    pop %rcx\n"                     \
            "    pop %rdx\n    pop %rsi\n    pop %rdi\n"                                 \
            "1:  jmp *iron_native_real_" #name "(%rip)\n"                                \
            ".size __wrap_" #name ", .-__wrap_" #name "\n");

/* <name>: libc until the library has started; in a vfork child, libc too unless some control needs
   judging (r11 is scratch at a call boundary and carries no argument). */
#define IRON_EXPORT(name)                                                                \
    __asm__(".text\n"                                                                    \
            ".globl " #name "\n"                                                         \
            ".type " #name ",@function\n"                                                \
            #name ":\n"                                                                  \
            "    cmpb $0, iron_hooks_ready(%rip)\n"                                      \
            "    je __wrap_" #name "\n"                                                  \
            "    movq iron_in_vfork_child@gottpoff(%rip), %r11\n"                        \
            "    cmpb $0, %fs:(%r11)\n"                                                  \
            "    je iron_hook_" #name "\n"                                               \
            "    cmpb $0, iron_process_protect_tree(%rip)\n"                             \
            "    je __wrap_" #name "\n"                                                  \
            "    jmp iron_hook_" #name "\n"                                              \
            ".size " #name ", .-" #name "\n");

/* Names whose exported definition is written below instead of generated (create_child_process). */
#define IRON_OWN_fork ~, 1
#define IRON_OWN__Fork ~, 1
#define IRON_OWN___fork ~, 1
#define IRON_OWN_vfork ~, 1
#define IRON_OWN_clone ~, 1
#define IRON_OWN_posix_spawn ~, 1
#define IRON_OWN_posix_spawnp ~, 1
#define IRON_OWN_system ~, 1
#define IRON_OWN_popen ~, 1
#define IRON_OWN_execve ~, 1
#define IRON_OWN_execv ~, 1
#define IRON_OWN_execvp ~, 1
#define IRON_OWN_execvpe ~, 1
#define IRON_OWN_execl ~, 1
#define IRON_OWN_execlp ~, 1
#define IRON_OWN_execle ~, 1
#define IRON_OWN_fexecve ~, 1
#define IRON_OWN_execveat ~, 1
#define IRON_SECOND(a, b, ...) b
#define IRON_IS_OWN(name) IRON_SECOND_(IRON_OWN_##name, 0, ~)
#define IRON_SECOND_(...) IRON_SECOND(__VA_ARGS__)
#define IRON_CAT(a, b) IRON_CAT_(a, b)
#define IRON_CAT_(a, b) a##b
#define IRON_EXPORT_UNLESS_OWN_0(name) IRON_EXPORT(name)
#define IRON_EXPORT_UNLESS_OWN_1(name)

#define IRON_HOOK(name) IRON_WRAP(name) IRON_CAT(IRON_EXPORT_UNLESS_OWN_, IRON_IS_OWN(name))(name)
#include "hooked_symbols.h"
#undef IRON_HOOK

extern void iron_function_start(void);
static void iron_process_init(void);

__attribute__((constructor)) static void iron_function_preload_init(void)
{
    iron_native_resolve();
    iron_function_start();
    iron_process_init();
    iron_hooks_ready = 1;
}

/* ============================================================================================
 * create_child_process
 *
 * Each process function is a C wrapper: it asks a managed judge (iron_hook_<name>, which reports
 * and decides) unless the control is allow, then gives the new program an environment that keeps
 * the library when some control is not allow, then calls the real function. The judging and the
 * events stay managed; what is here is the mechanics that must not need the managed runtime:
 *
 * - vfork: the child borrows the parent's stack and thread (TLS, the runtime's thread object)
 *   while the parent thread is suspended, and returns through the caller's frame. vfork is
 *   judged before it happens, then the real vfork is called with the caller's return address
 *   kept in TLS (the child will overwrite the stack slot); in the child the trampoline sets
 *   iron_in_vfork_child, in the parent it clears it. A vfork child never enters managed code:
 *   its exec goes through the C path below (no allocation, no lock: the environment is built on
 *   the stack), which records what is executed; the parent reports it when it resumes, so a
 *   vfork+exec is one event naming the program. Other hooks in a vfork child go to libc when
 *   every control is allow, and to their managed hook otherwise (a file may still be judged).
 * - fork, _Fork, clone: judged in the parent, then the real call is made from here, outside any
 *   managed frame, as if the library were not there. No pthread_atfork handler: nothing of the
 *   library's needs repairing in a child (the event identity re-reads itself on a new pid).
 * - exec*, posix_spawn*, system, popen: judged, then called with the protected environment.
 * ============================================================================================ */

enum { IRON_ALLOW = 0, IRON_ALERT = 1, IRON_BLOCK = 2 };

/* Filled by the managed side at start (iron_process_native_config); read-only afterwards. */
struct iron_process_config
{
    int action;                    /* create_child_process */
    int protect_tree;              /* some control is not allow */
    const char *library;           /* this library's canonical absolute path */
    const char *library_as_loaded; /* the absolute name it was loaded under, or NULL */
    const char *policy;            /* IRON_FUNCTION_POLICY at start, made absolute; NULL when it was unset */
};

static struct iron_process_config cfg;
static char *preload_entry; /* "LD_PRELOAD=<library>" */
static char *policy_entry;  /* "IRON_FUNCTION_POLICY=<policy>", or NULL */
static pthread_key_t record_key;

/* What a vfork child executed, for its parent to report; the layout is mirrored by ProcessHooks.ExecRecord. */
#define IRON_RECORD_TEXT 8192
struct iron_exec_record
{
    int used;      /* the child attempted an exec */
    int error;     /* errno of that attempt when it returned (failed), else 0 */
    int search;    /* the program is a name to look up in PATH */
    int function;  /* IRON_FN_* of the exec function */
    int argc;      /* argv strings stored after the program */
    int length;    /* bytes of text used */
    char text[IRON_RECORD_TEXT]; /* program \0 argv[0] \0 argv[1] \0 ... (truncated) */
};

__attribute__((visibility("hidden"), tls_model("initial-exec"))) __thread void *iron_vfork_return;
static __attribute__((tls_model("initial-exec"))) __thread struct iron_exec_record *vfork_record;

/* Exec functions, as numbered for the managed report (ProcessHooks.ExecFunctionNames). */
enum { IRON_FN_EXECVE, IRON_FN_EXECV, IRON_FN_EXECVP, IRON_FN_EXECVPE, IRON_FN_EXECL, IRON_FN_EXECLP,
       IRON_FN_EXECLE, IRON_FN_FEXECVE, IRON_FN_EXECVEAT };

/* The managed side (Hooks/ProcessHooks.cs). Judges return 0 to go on, -1 to deny (errno is EPERM). */
extern void iron_process_native_config(struct iron_process_config *config);
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
extern pid_t __fork(void);

#define REAL(name) (iron_native_real_##name ? 0 : (iron_native_resolve(), 0), (__typeof__(&name))iron_native_real_##name)

static void free_record(void *record) { free(record); }

static void iron_process_init(void)
{
    pthread_key_create(&record_key, free_record);
    iron_process_native_config(&cfg);
    if (cfg.library)
    {
        preload_entry = malloc(sizeof "LD_PRELOAD=" + strlen(cfg.library));
        if (preload_entry) { strcpy(preload_entry, "LD_PRELOAD="); strcat(preload_entry, cfg.library); }
    }
    if (cfg.policy)
    {
        policy_entry = malloc(sizeof "IRON_FUNCTION_POLICY=" + strlen(cfg.policy));
        if (policy_entry) { strcpy(policy_entry, "IRON_FUNCTION_POLICY="); strcat(policy_entry, cfg.policy); }
    }
    /* without the strings the tree cannot be protected; say so rather than pretend (the managed side logs) */
    iron_process_protect_tree = cfg.protect_tree && preload_entry && (!cfg.policy || policy_entry);
}

/* Judges run only where the managed runtime may be entered and the control is not allow. */
static int judging(void) { return iron_hooks_ready && !iron_in_vfork_child && cfg.action != IRON_ALLOW; }

/* ---- the protected environment ---- */

/* A pointer the kernel answers with EFAULT (the first page, kernel space): passed on, never read. */
static int unreadable(const void *p) { return (uintptr_t)p < 4096 || (uintptr_t)p >= 0x800000000000ULL; }

static int is_var(const char *entry, const char *name, size_t n) { return strncmp(entry, name, n) == 0; }

#define LD_PRELOAD_EQ "LD_PRELOAD="
#define POLICY_EQ "IRON_FUNCTION_POLICY="

/* Does an LD_PRELOAD value name this library? ld.so splits it on ':' and ' '. */
static int names_library(const char *value)
{
    const char *p = value;
    while (*p)
    {
        while (*p == ':' || *p == ' ') p++;
        const char *start = p;
        while (*p && *p != ':' && *p != ' ') p++;
        size_t n = (size_t)(p - start);
        if (n == 0) continue;
        if (strlen(cfg.library) == n && memcmp(start, cfg.library, n) == 0) return 1;
        if (cfg.library_as_loaded && strlen(cfg.library_as_loaded) == n && memcmp(start, cfg.library_as_loaded, n) == 0)
            return 1;
    }
    return 0;
}

struct env_plan
{
    size_t count;             /* entries */
    const char *last_preload; /* value of the last LD_PRELOAD entry (the one ld.so uses), or NULL */
    int rebuild;              /* the environment lacks the protection */
};

static void plan_env(char *const *envp, struct env_plan *plan)
{
    size_t preloads = 0, policies = 0, policy_ok = 0;
    plan->count = 0;
    plan->last_preload = NULL;
    for (char *const *e = envp; e && *e; e++)
    {
        plan->count++;
        if (unreadable(*e)) continue;
        if (is_var(*e, LD_PRELOAD_EQ, sizeof LD_PRELOAD_EQ - 1)) { preloads++; plan->last_preload = *e + sizeof LD_PRELOAD_EQ - 1; }
        else if (is_var(*e, POLICY_EQ, sizeof POLICY_EQ - 1)) { policies++; policy_ok += policy_entry && strcmp(*e, policy_entry) == 0; }
    }
    int preload_ok = preloads == 1 && names_library(plan->last_preload);
    int policy_right = policy_entry ? policies == 1 && policy_ok == 1 : policies == 0;
    plan->rebuild = !(preload_ok && policy_right);
}

/* Bytes build_env needs: the pointer array, and a merged LD_PRELOAD entry when the caller set another. */
static size_t env_bytes(const struct env_plan *plan)
{
    size_t bytes = (plan->count + 3) * sizeof(char *);
    if (plan->last_preload && *plan->last_preload && !names_library(plan->last_preload))
        bytes += strlen(preload_entry) + 1 + strlen(plan->last_preload) + 1;
    return bytes;
}

/* The caller's environment without its LD_PRELOAD and IRON_FUNCTION_POLICY entries, then one LD_PRELOAD
   that names this library (in front of the caller's own preloads) and the policy in force at start. */
static char **build_env(char *const *envp, const struct env_plan *plan, char *scratch)
{
    char **out = (char **)scratch;
    char *merged = scratch + (plan->count + 3) * sizeof(char *);
    size_t j = 0;
    for (char *const *e = envp; e && *e; e++)
    {
        if (!unreadable(*e) && (is_var(*e, LD_PRELOAD_EQ, sizeof LD_PRELOAD_EQ - 1) || is_var(*e, POLICY_EQ, sizeof POLICY_EQ - 1)))
            continue;
        out[j++] = *e;
    }
    if (plan->last_preload && names_library(plan->last_preload))
        out[j++] = (char *)plan->last_preload - (sizeof LD_PRELOAD_EQ - 1);
    else if (plan->last_preload && *plan->last_preload)
    {
        strcpy(merged, preload_entry);
        strcat(merged, ":");
        strcat(merged, plan->last_preload);
        out[j++] = merged;
    }
    else
        out[j++] = preload_entry;
    if (policy_entry) out[j++] = policy_entry;
    out[j] = NULL;
    return out;
}

/* Up to this much scratch goes on the stack; more comes from malloc, except in a vfork child (no allocator there). */
#define IRON_STACK_SCRATCH (64 * 1024)

/* The environment a new program gets: envp itself when nothing needs protecting or it already carries the
   protection; else a rebuilt copy in *scratch_out (stack from the caller's alloca, or *heap_out to free). */
#define PROTECTED_ENV(envp, env_out, heap_out)                                                          \
    do {                                                                                                \
        (env_out) = (char *const *)(envp);                                                              \
        (heap_out) = NULL;                                                                              \
        if (iron_hooks_ready && iron_process_protect_tree && !((envp) && unreadable(envp)))             \
        {                                                                                               \
            struct env_plan plan_;                                                                      \
            plan_env((envp), &plan_);                                                                   \
            if (plan_.rebuild)                                                                          \
            {                                                                                           \
                size_t bytes_ = env_bytes(&plan_);                                                      \
                char *scratch_ = bytes_ <= IRON_STACK_SCRATCH || iron_in_vfork_child                    \
                    ? alloca(bytes_) : ((heap_out) = malloc(bytes_));                                   \
                if (scratch_) (env_out) = build_env((envp), &plan_, scratch_);                          \
                else { errno = ENOMEM; (env_out) = NULL; }                                              \
            }                                                                                           \
        }                                                                                               \
    } while (0)

/* system() and popen() hand the process's own environment to the shell and take no other: when the
   process removed the protection from it, it is put back (LD_PRELOAD, IRON_FUNCTION_POLICY only). */
static void protect_own_environment(void)
{
    if (!iron_process_protect_tree) return;
    struct env_plan plan;
    plan_env(environ, &plan);
    if (!plan.rebuild) return;
    char *merged = NULL;
    if (plan.last_preload && *plan.last_preload && !names_library(plan.last_preload))
    {
        merged = malloc(strlen(cfg.library) + 1 + strlen(plan.last_preload) + 1);
        if (merged) { strcpy(merged, cfg.library); strcat(merged, ":"); strcat(merged, plan.last_preload); }
    }
    else if (plan.last_preload && *plan.last_preload)
        merged = strdup(plan.last_preload);
    unsetenv("LD_PRELOAD");
    setenv("LD_PRELOAD", merged ? merged : cfg.library, 1);
    free(merged);
    unsetenv("IRON_FUNCTION_POLICY");
    if (cfg.policy) setenv("IRON_FUNCTION_POLICY", cfg.policy, 1);
}

/* ---- what a vfork child executes, kept for the parent's report ---- */

static void record_text(struct iron_exec_record *r, const char *s)
{
    size_t room = IRON_RECORD_TEXT - (size_t)r->length;
    if (room == 0) return;
    size_t n = unreadable(s) ? 0 : strnlen(s, room - 1);
    memcpy(r->text + r->length, s, n);
    r->text[r->length + n] = 0;
    r->length += (int)n + 1;
}

/* The program as an absolute path where it can be told here (relative to the directory or descriptor). */
static void record_program(struct iron_exec_record *r, int dirfd, const char *path, int empty_path)
{
    char buf[PATH_MAX + 1];
    char link[64];
    ssize_t n = -1;
    if (empty_path || (path && !unreadable(path) && path[0] != '/' && dirfd != AT_FDCWD))
    {
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        n = readlink(link, buf, PATH_MAX);
    }
    else if (path && !unreadable(path) && path[0] != '/' && getcwd(buf, PATH_MAX)) n = (ssize_t)strlen(buf);
    if (n < 0) { record_text(r, path ? path : ""); return; }
    buf[n] = 0;
    if (!empty_path && n + 1 + strnlen(path, PATH_MAX) <= PATH_MAX) { strcat(buf, "/"); strcat(buf, path); }
    record_text(r, buf);
}

static void record_exec(int function, int search, int dirfd, const char *path, int empty_path, char *const argv[])
{
    struct iron_exec_record *r = vfork_record;
    if (!r) return;
    r->used = 1;
    r->error = 0;
    r->search = search;
    r->function = function;
    r->argc = 0;
    r->length = 0;
    record_program(r, dirfd, path, empty_path);
    for (char *const *a = argv; a && !unreadable(a) && *a && r->length < IRON_RECORD_TEXT; a++, r->argc++)
        record_text(r, *a);
}

static void record_failure(int error)
{
    if (vfork_record && vfork_record->used) vfork_record->error = error;
}

/* In the parent, before a vfork (or CLONE_VM|CLONE_VFORK clone): judge it, make room for the record. */
__attribute__((visibility("hidden"), used)) int iron_vfork_prepare(void)
{
    if (cfg.action == IRON_BLOCK) return iron_hook_vfork();
    if (cfg.action == IRON_ALERT)
    {
        if (!vfork_record)
        {
            vfork_record = calloc(1, sizeof *vfork_record);
            if (vfork_record) pthread_setspecific(record_key, vfork_record);
        }
        if (vfork_record) vfork_record->used = 0;
    }
    return 0;
}

/* In the parent, once the vfork child has exec'd or exited (the kernel resumes the parent only then). */
__attribute__((visibility("hidden"), used)) void iron_vfork_resumed(int child, int via_clone)
{
    int saved = errno;
    iron_in_vfork_child = 0;
    if (cfg.action == IRON_ALERT && child > 0) iron_process_vfork_report(vfork_record, child, via_clone);
    errno = saved;
}

/*
 * vfork: judged in the parent, then the real vfork with the caller's return address held in TLS
 * (glibc's vfork keeps its own in a register for the same reason: the child reuses the stack).
 * Child: set iron_in_vfork_child, return to the caller. Parent: clear it and report, return.
 * A vfork inside a vfork child is passed straight on.
 */
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

/* ---- fork, _Fork, clone ---- */

pid_t fork(void)
{
    if (judging() && iron_hook_fork() != 0) return -1;
    return REAL(fork)();
}

pid_t _Fork(void)
{
    if (judging() && iron_hook__Fork() != 0) return -1;
    return REAL(_Fork)();
}

pid_t __fork(void)
{
    if (judging() && iron_hook___fork() != 0) return -1;
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
    if (!iron_hooks_ready || iron_in_vfork_child || (flags & IRON_CLONE_THREAD))
        return real(fn, stack, flags, arg, ptid, tls, ctid);
    if (cfg.action != IRON_ALLOW && iron_hook_clone(flags) != 0) return -1;
    if ((flags & (IRON_CLONE_VM | IRON_CLONE_VFORK)) == (IRON_CLONE_VM | IRON_CLONE_VFORK) && !(flags & IRON_CLONE_SETTLS))
    {
        /* the parent waits for the child to exec or exit, so the start record may live on this stack */
        struct clone_start start = { fn, arg };
        if (iron_vfork_prepare() != 0) return -1;
        int result = real(vm_child_start, stack, flags, &start, ptid, tls, ctid);
        iron_vfork_resumed(result, 1);
        return result;
    }
    return real(fn, stack, flags, arg, ptid, tls, ctid);
}

/* ---- exec ---- */

enum { RUN_EXECVE, RUN_EXECVPE, RUN_FEXECVE, RUN_EXECVEAT };

/* Calls the real exec with the protected environment; in a vfork child, first records it. */
static int exec_protected(int run, int function, int dirfd, const char *path, char *const argv[],
                          char *const envp[], int flags)
{
    if (iron_in_vfork_child && cfg.action == IRON_ALERT)
        record_exec(function, run == RUN_EXECVPE && path && !unreadable(path) && !strchr(path, '/'),
                    run == RUN_FEXECVE ? dirfd : run == RUN_EXECVEAT ? dirfd : AT_FDCWD,
                    run == RUN_FEXECVE ? NULL : path,
                    run == RUN_FEXECVE || (run == RUN_EXECVEAT && (flags & AT_EMPTY_PATH) && path && !unreadable(path) && !*path),
                    argv);
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
    if (iron_in_vfork_child) record_failure(error);
    free(heap);
    errno = error;
    return result;
}

int execve(const char *path, char *const argv[], char *const envp[])
{
    if (judging() && iron_hook_execve(path, argv) != 0) return -1;
    return exec_protected(RUN_EXECVE, IRON_FN_EXECVE, AT_FDCWD, path, argv, envp, 0);
}

int execv(const char *path, char *const argv[])
{
    if (judging() && iron_hook_execv(path, argv) != 0) return -1;
    if (!iron_process_protect_tree && !iron_in_vfork_child) return REAL(execv)(path, argv);
    return exec_protected(RUN_EXECVE, IRON_FN_EXECV, AT_FDCWD, path, argv, environ, 0);
}

int execvp(const char *file, char *const argv[])
{
    if (judging() && iron_hook_execvp(file, argv) != 0) return -1;
    if (!iron_process_protect_tree && !iron_in_vfork_child) return REAL(execvp)(file, argv);
    return exec_protected(RUN_EXECVPE, IRON_FN_EXECVP, AT_FDCWD, file, argv, environ, 0);
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
    if (judging() && iron_hook_execvpe(file, argv) != 0) return -1;
    return exec_protected(RUN_EXECVPE, IRON_FN_EXECVPE, AT_FDCWD, file, argv, envp, 0);
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
    if (judging() && iron_hook_fexecve(fd, argv) != 0) return -1;
    return exec_protected(RUN_FEXECVE, IRON_FN_FEXECVE, fd, NULL, argv, envp, 0);
}

int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    if (judging() && iron_hook_execveat(dirfd, path, argv, flags) != 0) return -1;
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
    IRON_ARGV_FROM_VA(arg, argv, (void)0);
    if (judging() && iron_hook_execl(path, argv) != 0) return -1;
    return exec_protected(RUN_EXECVE, IRON_FN_EXECL, AT_FDCWD, path, argv, environ, 0);
}

int execlp(const char *file, const char *arg, ...)
{
    IRON_ARGV_FROM_VA(arg, argv, (void)0);
    if (judging() && iron_hook_execlp(file, argv) != 0) return -1;
    return exec_protected(RUN_EXECVPE, IRON_FN_EXECLP, AT_FDCWD, file, argv, environ, 0);
}

int execle(const char *path, const char *arg, ...)
{
    char *const *envp;
    IRON_ARGV_FROM_VA(arg, argv, envp = va_arg(ap_, char *const *));
    if (judging() && iron_hook_execle(path, argv) != 0) return -1;
    return exec_protected(RUN_EXECVE, IRON_FN_EXECLE, AT_FDCWD, path, argv, envp, 0);
}

/* ---- posix_spawn, system, popen: glibc starts and execs the child internally, past every hook ---- */

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (judging() && iron_hook_posix_spawn(path, argv) != 0) return EPERM;
    char *const *env;
    void *heap;
    PROTECTED_ENV(envp, env, heap);
    if (!env && envp) return ENOMEM;
    int result = REAL(posix_spawn)(pid, path, actions, attr, argv, env);
    free(heap);
    return result;
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (judging() && iron_hook_posix_spawnp(file, argv) != 0) return EPERM;
    char *const *env;
    void *heap;
    PROTECTED_ENV(envp, env, heap);
    if (!env && envp) return ENOMEM;
    int result = REAL(posix_spawnp)(pid, file, actions, attr, argv, env);
    free(heap);
    return result;
}

int system(const char *command)
{
    if (judging() && iron_hook_system(command) != 0) return command ? -1 : 0;
    if (iron_hooks_ready && !iron_in_vfork_child) protect_own_environment();
    return REAL(system)(command);
}

FILE *popen(const char *command, const char *mode)
{
    if (judging() && iron_hook_popen(command) != 0) return NULL;
    if (iron_hooks_ready && !iron_in_vfork_child) protect_own_environment();
    return REAL(popen)(command, mode);
}
