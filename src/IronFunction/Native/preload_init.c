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
 * 3. The runtime's random bytes come from getrandom(2): its own source opens /dev/urandom and keeps
 *    that descriptor for the life of the process, which a host program would see (fd 3 taken, or
 *    a closed stdin silently reopened) — nothing allowed may behave differently.
 * 4. An ELF constructor starts the library while the process is still single-threaded.
 * 5. Exit and fork: an atexit handler, registered after the runtime has started (so it runs before
 *    anything the runtime registered during its start), lets the library flush pending events;
 *    pthread_atfork handlers count forks and hold a fork back while the delivery thread sets up,
 *    without entering managed code.
 * 6. send, write and writev are hooked only to see a runtime's Runtime API requests, and are called
 *    everywhere, signal handlers included (libuv's and CPython's signal self-pipes write from one).
 *    Entering managed code from a handler that interrupted this library's managed code aborts the
 *    process, so a C filter in front of those managed hooks (linked with -Wl,--wrap=iron_hook_<name>)
 *    hands them only what could begin "GET /2018-06-01/runtime/invocation/next " and sends everything
 *    else straight to libc.
 * 7. The environment: the library and the runtime read and change it through libc's own getenv,
 *    setenv and unsetenv, never a host program's. bash defines all three over its shell variables;
 *    a setenv there before bash had imported its environment hid every other variable from the
 *    library's later reads (the policy path its children must keep, AWS_LAMBDA_RUNTIME_API).
 * 8. One hook at a time on a thread. A signal handler may call a hooked function (open, say) while its
 *    thread is inside a managed hook, and NativeAOT aborts the process when managed code it was
 *    running is entered again from a handler. Every trampoline therefore marks its thread for the
 *    duration of the hook, and a hooked call on a marked thread goes straight to libc: a handler's,
 *    and the library's own libc calls from inside a hook. The runtime's own threads are marked for life.
 * 9. create_child_process (section at the end): the process functions are C wrappers around a
 *    managed judge, because neither a vfork child (it shares its parent's memory and thread) nor
 *    a forked child (its copy of the runtime may be mid-GC) can safely enter the runtime; see there.
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
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__attribute__((visibility("hidden"))) volatile unsigned char iron_hooks_ready;

/* Set in a vfork child (and a CLONE_VM|CLONE_VFORK child) until it execs or exits: the thread's TLS is
   shared with the suspended parent thread, so the parent clears it when it resumes. */
__attribute__((visibility("hidden"), tls_model("initial-exec"))) __thread unsigned char iron_in_vfork_child;

/* Some control is not allow: new programs must keep the library (and vfork children may judge files). */
__attribute__((visibility("hidden"))) unsigned char iron_process_protect_tree;

/* This thread is inside a hook, or is the library's own (see 8. above); the caller's return address
   while it is in a hook. Written by the trampolines' assembly: active at offset 0, caller at 8. */
struct iron_hook_frame
{
    unsigned char active;
    void *caller;
};
__attribute__((visibility("hidden"), tls_model("initial-exec"))) __thread struct iron_hook_frame iron_hook_frame;

/* A managed function called from C while this thread is marked: the managed code cannot be entered twice. */
#define IRON_MANAGED(call) ({ iron_hook_frame.active = 1; __typeof__(call) r_ = (call); iron_hook_frame.active = 0; r_; })

#define IRON_HOOK(name, control) __attribute__((visibility("hidden"))) void *iron_native_real_##name;
#include "hooked_symbols.h"
#undef IRON_HOOK

/* Resolves every real function; idempotent, callable from any trampoline before the constructor ran. */
__attribute__((visibility("hidden"), used)) void iron_native_resolve(void)
{
#define IRON_HOOK(name, control) if (!iron_native_real_##name) iron_native_real_##name = dlsym(RTLD_NEXT, #name);
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

/* Per list of hooks (Hooks/<control>.symbols): 0 when nothing in this process can be judged through
   them (their controls are allow), set once at start; their calls then go straight to libc. */
__attribute__((visibility("hidden"))) unsigned char iron_control_files = 1, iron_control_network = 1,
                                                   iron_control_lifecycle = 1, iron_control_process = 1;

__attribute__((visibility("hidden"))) void iron_native_set_hook_lists(int files, int network, int lifecycle)
{
    iron_control_files = files != 0;
    iron_control_network = network != 0;
    iron_control_lifecycle = lifecycle != 0;
}

/* <name>: libc until the library has started, while its list has nothing to judge, and on a thread already inside a hook; in a vfork
   child, libc too unless some control needs judging. Else the managed hook, with the thread marked:
   the caller's return address goes to TLS and the hook is called in its place, so that arguments on
   the stack stay where they were (r10 and r11 are scratch at a call boundary and carry no argument
   in or result out). The return address is taken back before the mark is cleared: a handler may
   enter a hook of its own right after. */
#define IRON_EXPORT(name, control)                                                       \
    __asm__(".text\n"                                                                    \
            ".globl " #name "\n"                                                         \
            ".type " #name ",@function\n"                                                \
            #name ":\n"                                                                  \
            "    cmpb $0, iron_hooks_ready(%rip)\n"                                      \
            "    je __wrap_" #name "\n"                                                  \
            "    cmpb $0, iron_control_" #control "(%rip)\n"                             \
            "    je __wrap_" #name "\n"                                                  \
            "    movq iron_in_vfork_child@gottpoff(%rip), %r11\n"                        \
            "    cmpb $0, %fs:(%r11)\n"                                                  \
            "    je 2f\n"                                                                \
            "    cmpb $0, iron_process_protect_tree(%rip)\n"                             \
            "    je __wrap_" #name "\n"                                                  \
            "    jmp iron_hook_" #name "\n"                                              \
            "2:  movq iron_hook_frame@gottpoff(%rip), %r11\n"                            \
            "    cmpb $0, %fs:(%r11)\n"                                                  \
            "    jne __wrap_" #name "\n"                                                 \
            "    movb $1, %fs:(%r11)\n"                                                  \
            "    popq %fs:8(%r11)\n"                                                     \
            "    call iron_hook_" #name "\n"                                             \
            "    movq iron_hook_frame@gottpoff(%rip), %r11\n"                            \
            "    movq %fs:8(%r11), %r10\n"                                               \
            "    movb $0, %fs:(%r11)\n"                                                  \
            "    jmp *%r10\n"                                                            \
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
#define IRON_EXPORT_UNLESS_OWN_0(name, control) IRON_EXPORT(name, control)
#define IRON_EXPORT_UNLESS_OWN_1(name, control)

#define IRON_HOOK(name, control) IRON_WRAP(name) IRON_CAT(IRON_EXPORT_UNLESS_OWN_, IRON_IS_OWN(name))(name, control)
#include "hooked_symbols.h"
#undef IRON_HOOK

#include <sys/types.h>
#include <sys/uio.h>

#define IRON_REQUEST_MIN 40 /* RuntimeApiRequest.DecisiveLength */

static inline int iron_user_pointer(const void *p)
{
    return (uintptr_t)p >= 4096 && (uintptr_t)p < 0x0000800000000000ULL;
}

static inline int iron_may_be_request(const void *buffer, size_t length)
{
    return length >= IRON_REQUEST_MIN && iron_user_pointer(buffer) && *(const char *)buffer == 'G';
}

extern ssize_t __real_iron_hook_send(int fd, const void *buffer, size_t length, int flags);
extern ssize_t __real_iron_hook_write(int fd, const void *buffer, size_t length);
extern ssize_t __real_iron_hook_writev(int fd, const struct iovec *vectors, int count);

__attribute__((visibility("hidden"))) ssize_t __wrap_iron_hook_send(int fd, const void *buffer, size_t length, int flags)
{
    if (iron_may_be_request(buffer, length)) return __real_iron_hook_send(fd, buffer, length, flags);
    return ((ssize_t (*)(int, const void *, size_t, int))iron_native_real_send)(fd, buffer, length, flags);
}

__attribute__((visibility("hidden"))) ssize_t __wrap_iron_hook_write(int fd, const void *buffer, size_t length)
{
    if (iron_may_be_request(buffer, length)) return __real_iron_hook_write(fd, buffer, length);
    return ((ssize_t (*)(int, const void *, size_t))iron_native_real_write)(fd, buffer, length);
}

/* the request line may be split over buffers: an empty first one is left to the managed hook to look past */
__attribute__((visibility("hidden"))) ssize_t __wrap_iron_hook_writev(int fd, const struct iovec *vectors, int count)
{
    if (count > 0 && iron_user_pointer(vectors) &&
        (vectors[0].iov_len == 0 || (iron_user_pointer(vectors[0].iov_base) && *(const char *)vectors[0].iov_base == 'G')))
        return __real_iron_hook_writev(fd, vectors, count);
    return ((ssize_t (*)(int, const struct iovec *, int))iron_native_real_writev)(fd, vectors, count);
}

static int32_t iron_random_bytes(uint8_t *buffer, int32_t length, unsigned int flags)
{
    int saved = errno;
    int32_t done = 0;
    while (done < length) {
        ssize_t n = getrandom(buffer + done, (size_t)(length - done), flags);
        if (n > 0) done += (int32_t)n;
        else if (n < 0 && errno == EINTR) continue;
        else { errno = saved; return -1; }
    }
    errno = saved;
    return 0;
}

__attribute__((visibility("hidden"))) int32_t __wrap_minipal_get_cryptographically_secure_random_bytes(uint8_t *buffer, int32_t length)
{
    return iron_random_bytes(buffer, length, 0);
}

__attribute__((visibility("hidden"))) void __wrap_minipal_get_non_cryptographically_secure_random_bytes(uint8_t *buffer, int32_t length)
{
    if (iron_random_bytes(buffer, length, GRND_NONBLOCK) != 0)
        (void)iron_random_bytes(buffer, length, 0);
}

/* 7. getenv walks the environment as libc's does; setenv and unsetenv are libc's (RTLD_NEXT skips
   the executable, which may define its own). */
__attribute__((visibility("hidden"))) char *__wrap_getenv(const char *name)
{
    if (!name || !environ) return NULL;
    size_t n = strlen(name);
    if (n == 0 || strchr(name, '=')) return NULL;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

static int (*iron_libc_setenv)(const char *, const char *, int);
static int (*iron_libc_unsetenv)(const char *);

__attribute__((visibility("hidden"))) int __wrap_setenv(const char *name, const char *value, int overwrite)
{
    if (!iron_libc_setenv) iron_libc_setenv = (int (*)(const char *, const char *, int))dlsym(RTLD_NEXT, "setenv");
    return iron_libc_setenv(name, value, overwrite);
}

__attribute__((visibility("hidden"))) int __wrap_unsetenv(const char *name)
{
    if (!iron_libc_unsetenv) iron_libc_unsetenv = (int (*)(const char *))dlsym(RTLD_NEXT, "unsetenv");
    return iron_libc_unsetenv(name);
}

extern void iron_function_start(void);
extern void iron_function_exit(void);

static volatile unsigned int iron_fork_generation;
static volatile int iron_fork_wait;

/* fork() waits (200 ms at most) while the delivery thread runs its one-time set-up: a child forked in the
   middle of it would inherit runtime locks (class constructors) held by a thread it does not have. */
static void iron_before_fork(void)
{
    for (int i = 0; i < 200 && __atomic_load_n(&iron_fork_wait, __ATOMIC_ACQUIRE); i++) {
        struct timespec pause = { 0, 1000000 };
        nanosleep(&pause, 0);
    }
}

static void iron_after_fork_child(void) { iron_fork_generation++; }

__attribute__((visibility("hidden"))) void iron_native_set_fork_wait(int on) { __atomic_store_n(&iron_fork_wait, on, __ATOMIC_RELEASE); }

/* Read by managed code (Native/Glue.cs). */
__attribute__((visibility("hidden"))) unsigned int iron_native_fork_generation(void) { return iron_fork_generation; }

/* An exit from inside a hook (a signal handler's) cannot flush: the managed code is busy on this thread. */
static void iron_function_at_exit(void)
{
    if (!iron_hook_frame.active) IRON_MANAGED((iron_function_exit(), 0));
}

/* The runtime's own threads (finalizer, GC, the event delivery), all started through pthread_create in
   this library's link (-Wl,--wrap): marked from their first instruction, so none of their libc calls
   is judged and a signal handler that runs on one of them never enters a hook (see 8.). */
struct iron_thread_start
{
    void *(*start)(void *);
    void *argument;
};

static void *iron_own_thread(void *p)
{
    struct iron_thread_start s = *(struct iron_thread_start *)p;
    free(p);
    iron_hook_frame.active = 1;
    return s.start(s.argument);
}

extern int __real_pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *argument);

__attribute__((visibility("hidden"))) int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                                                                void *(*start)(void *), void *argument)
{
    struct iron_thread_start *s = malloc(sizeof *s);
    if (!s) return EAGAIN;
    s->start = start;
    s->argument = argument;
    int result = __real_pthread_create(thread, attr, iron_own_thread, s);
    if (result != 0) free(s);
    return result;
}

/* Called again when the delivery loads OpenSSL: atexit handlers run last-registered first. */
__attribute__((visibility("hidden"))) int iron_native_register_exit_flush(void) { return atexit(iron_function_at_exit); }

static void iron_process_init(void);

__attribute__((constructor)) static void iron_function_preload_init(void)
{
    iron_native_resolve();
    iron_function_start();
    pthread_atfork(iron_before_fork, 0, iron_after_fork_child);
    atexit(iron_function_at_exit);
    iron_process_init();
    iron_hooks_ready = 1;
}

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

enum { IRON_ALLOW = 0, IRON_ALERT = 1, IRON_BLOCK = 2 };

/* Filled by the managed side at start (iron_process_native_config); read-only afterwards. */
struct iron_process_config
{
    int action;                    /* create_child_process */
    int protect_tree;              /* some control is not allow */
    const char *library;           /* this library's canonical absolute path */
    const char *library_as_loaded; /* the absolute name it was loaded under, or NULL */
    /* Variables a new program gets from this process whatever its caller passed (IRON_FUNCTION_POLICY, and
       any other control's, ProcessProtection.KeepInChildren): "NAME=value", which its owner may change in
       place, or NULL for a variable a new program must not have. */
    const char *const *keep_names;
    const char *const *keep_entries;
    int keep_count;
    const char *event_template;    /* an event line of this control and action, holes marked by bytes 1-6 */
};

static struct iron_process_config cfg;
static char *preload_entry; /* "LD_PRELOAD=<library>" */
#define IRON_MAX_KEEP 8
static pid_t start_pid;
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
static const char *const exec_names[] = { "execve", "execv", "execvp", "execvpe", "execl", "execlp",
                                          "execle", "fexecve", "execveat" };

/* How an exec-like call names its program (ProcessGate.Lookup). */
enum { LOOKUP_PATH, LOOKUP_SEARCH, LOOKUP_FD, LOOKUP_AT };

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
extern pid_t __fork(void);

#define REAL(name) (iron_native_real_##name ? 0 : (iron_native_resolve(), 0), (__typeof__(&name))iron_native_real_##name)

static void free_record(void *record) { free(record); }

/* For the managed side: state it shares with a suspended vfork parent must not change (ProcessProtection.InVforkChild). */
static int in_vfork_child(void) { return iron_in_vfork_child; }

static char *joined(const char *a, const char *b)
{
    char *s = malloc(strlen(a) + strlen(b) + 1);
    if (s) { strcpy(s, a); strcat(s, b); }
    return s;
}

/* The managed side renders the event line at the first fork it judges (Lifecycle/ProcessProtection.cs). */
__attribute__((visibility("hidden"))) void iron_native_set_process_event_template(const char *template)
{
    __atomic_store_n(&cfg.event_template, template, __ATOMIC_RELEASE);
}

static void iron_process_init(void)
{
    start_pid = getpid();
    pthread_key_create(&record_key, free_record);
    iron_process_native_config(&cfg, in_vfork_child);
    if (cfg.library) preload_entry = joined("LD_PRELOAD=", cfg.library);
    if (cfg.keep_count > IRON_MAX_KEEP || cfg.keep_count < 0) cfg.keep_count = 0;
    /* without the library's path the tree cannot be protected (the managed side has said why) */
    iron_process_protect_tree = cfg.protect_tree && preload_entry;
}

enum { SIDE_NONE, SIDE_MANAGED, SIDE_NATIVE };

static pid_t sys_getpid(void);

/* The C judge in a forked child, and on a thread already inside managed code (a signal handler's call). */
static int judge_side(void)
{
    if (!iron_hooks_ready || iron_in_vfork_child || cfg.action == IRON_ALLOW) return SIDE_NONE;
    return sys_getpid() == start_pid && !iron_hook_frame.active ? SIDE_MANAGED : SIDE_NATIVE;
}

/* Evaluates to nonzero when the call is denied: the managed judge or, in a forked child, the C one. */
#define DENIED(managed, native) ({ int side_ = judge_side(); side_ == SIDE_MANAGED ? IRON_MANAGED(managed) != 0 : side_ == SIDE_NATIVE ? (native) != 0 : 0; })

/* A pointer the kernel answers with EFAULT (the first page, kernel space): passed on, never read. */
static int unreadable(const void *p) { return (uintptr_t)p < 4096 || (uintptr_t)p >= 0x800000000000ULL; }

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
static pid_t sys_getpid(void) { return (pid_t)syscall(SYS_getpid); }

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
    const char *template = __atomic_load_n(&cfg.event_template, __ATOMIC_ACQUIRE);
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
        case 4: { char pid[16]; snprintf(pid, sizeof pid, "%d", (int)sys_getpid()); put(&t, pid); break; }
        case 5: put_file_json(&t, "/proc/self/comm", 0); break;
        case 6: put_file_json(&t, "/proc/self/cmdline", 1); break;
        default: put_n(&t, p, 1); break;
        }
    }
    line[t.len++] = '\n';
    for (size_t done = 0; done < t.len;)
    {
        ssize_t n = syscall(SYS_write, 2, line + done, t.len - done);
        if (n > 0) done += (size_t)n;
        else if (n < 0 && errno == EINTR) continue;
        else break;
    }
    errno = saved;
}

/* Reports; in block mode denies with EPERM. 0 to go on, -1 denied. */
static int native_verdict(const char *what, const char *message)
{
    write_event(what, message);
    if (cfg.action != IRON_BLOCK) return 0;
    errno = EPERM;
    return -1;
}

static const char *verdict_text(void)
{
    return cfg.action == IRON_BLOCK ? " was blocked: create_child_process does not allow "
                                    : " was allowed and reported: create_child_process is in alert mode";
}

static void self_executable(char *out, size_t cap)
{
    ssize_t n = sys_readlink("/proc/self/exe", out, cap - 1);
    if (n <= 0) n = 0, strcpy(out, "(this program)"); else out[n] = 0;
}

/* fork, _Fork, vfork, clone in a forked child (ProcessGate.PermitFork) */
static int native_fork(const char *function)
{
    char self[PATH_MAX], message[PATH_MAX + 256];
    self_executable(self, sizeof self);
    snprintf(message, sizeof message, "%s by %s%s%s", function, self, verdict_text(),
             cfg.action == IRON_BLOCK ? "creating processes" : "");
    return native_verdict(self, message);
}

/* the exec family and posix_spawn in a forked child (ProcessGate.PermitExec) */
static int native_exec(const char *function, int lookup, int dirfd, const char *path, char *const argv[], int flags)
{
    int saved = errno;
    char program[PATH_MAX + 1];
    int found = resolve_program(lookup, dirfd, path, flags, program, sizeof program);
    /* an exec of a file that is not there starts nothing (execvp-style searches try every PATH entry) */
    if (cfg.action == IRON_ALERT && (!found || !exists(program))) { errno = saved; return 0; }
    char what[8192], message[16384];
    struct text w = { what, 0, sizeof what }, m = { message, 0, sizeof message };
    what[0] = message[0] = 0;
    put_what(&w, program, argv);
    put(&m, function);
    put(&m, " of ");
    put(&m, what);
    put_arguments(&m, program, argv);
    put(&m, verdict_text());
    if (cfg.action == IRON_BLOCK) put(&m, "starting programs");
    errno = saved;
    return native_verdict(what, message);
}

/* system and popen in a forked child (ProcessGate.PermitShell) */
static int native_shell(const char *function, const char *command)
{
    const char *line = command ? command : strcmp(function, "system") == 0 ? "exit 0" : "";
    char *argv[] = { "sh", "-c", (char *)line, NULL };
    return native_exec(function, LOOKUP_PATH, AT_FDCWD, "/bin/sh", argv, 0);
}

/* ---- the protected environment ---- */

static int is_var(const char *entry, const char *name, size_t n) { return strncmp(entry, name, n) == 0; }

#define LD_PRELOAD_EQ "LD_PRELOAD="

/* Is the entry a definition of the name (NAME=...)? */
static int defines(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* The kept variable an entry defines, or -1. */
static int kept(const char *entry)
{
    for (int k = 0; k < cfg.keep_count; k++)
        if (defines(entry, cfg.keep_names[k])) return k;
    return -1;
}

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
    size_t preloads = 0, seen[IRON_MAX_KEEP] = { 0 }, right[IRON_MAX_KEEP] = { 0 };
    plan->count = 0;
    plan->last_preload = NULL;
    for (char *const *e = envp; e && *e; e++)
    {
        plan->count++;
        if (unreadable(*e)) continue;
        if (is_var(*e, LD_PRELOAD_EQ, sizeof LD_PRELOAD_EQ - 1)) { preloads++; plan->last_preload = *e + sizeof LD_PRELOAD_EQ - 1; continue; }
        int k = kept(*e);
        if (k >= 0) { seen[k]++; right[k] += cfg.keep_entries[k] && strcmp(*e, cfg.keep_entries[k]) == 0; }
    }
    plan->rebuild = !(preloads == 1 && names_library(plan->last_preload));
    for (int k = 0; k < cfg.keep_count; k++)
        if (cfg.keep_entries[k] ? seen[k] != 1 || right[k] != 1 : seen[k] != 0) plan->rebuild = 1;
}

/* Bytes build_env needs: the pointer array, and a merged LD_PRELOAD entry when the caller set another. */
static size_t env_bytes(const struct env_plan *plan)
{
    size_t bytes = (plan->count + 2 + (size_t)cfg.keep_count) * sizeof(char *);
    if (plan->last_preload && *plan->last_preload && !names_library(plan->last_preload))
        bytes += strlen(preload_entry) + 1 + strlen(plan->last_preload) + 1;
    return bytes;
}

/* The caller's environment without its LD_PRELOAD and kept variables, then one LD_PRELOAD that names this
   library (in front of the caller's own preloads) and the kept variables as this process has them. */
static char **build_env(char *const *envp, const struct env_plan *plan, char *scratch)
{
    char **out = (char **)scratch;
    char *merged = scratch + (plan->count + 2 + (size_t)cfg.keep_count) * sizeof(char *);
    size_t j = 0;
    for (char *const *e = envp; e && *e; e++)
    {
        if (!unreadable(*e) && (is_var(*e, LD_PRELOAD_EQ, sizeof LD_PRELOAD_EQ - 1) || kept(*e) >= 0))
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
    for (int k = 0; k < cfg.keep_count; k++)
        if (cfg.keep_entries[k]) out[j++] = (char *)cfg.keep_entries[k];
    out[j] = NULL;
    return out;
}

/* Up to this much scratch goes on the stack; more comes from malloc, except in a vfork child (no allocator there). */
#define IRON_STACK_SCRATCH (64 * 1024)

/* The environment a new program gets: envp itself when nothing needs protecting or it already carries the
   protection, else a rebuilt copy (on the stack of the caller, or in *heap_out to free). NULL and ENOMEM
   when there is no room. A NULL envp is an empty environment, as the kernel reads it. */
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
   process removed the protection from it, it is put back (LD_PRELOAD and the kept variables only). */
static void protect_own_environment(void)
{
    if (!iron_process_protect_tree) return;
    struct env_plan plan;
    plan_env(environ, &plan);
    if (!plan.rebuild) return;
    char *merged = NULL;
    if (plan.last_preload && *plan.last_preload && !names_library(plan.last_preload))
    {
        char *front = joined(cfg.library, ":");
        if (front) merged = joined(front, plan.last_preload);
        free(front);
    }
    else if (plan.last_preload && *plan.last_preload)
        merged = strdup(plan.last_preload);
    unsetenv("LD_PRELOAD");
    setenv("LD_PRELOAD", merged ? merged : cfg.library, 1);
    free(merged);
    for (int k = 0; k < cfg.keep_count; k++)
    {
        unsetenv(cfg.keep_names[k]);
        if (cfg.keep_entries[k]) setenv(cfg.keep_names[k], cfg.keep_entries[k] + strlen(cfg.keep_names[k]) + 1, 1);
    }
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

static void record_exec(int function, int lookup, int dirfd, const char *path, char *const argv[], int flags)
{
    struct iron_exec_record *r = vfork_record;
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
static void native_vfork_report(struct iron_exec_record *r, int child, int via_clone)
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

/* In the parent, before a vfork (or a CLONE_VM|CLONE_VFORK clone): judge it, make room for the record. */
__attribute__((visibility("hidden"), used)) int iron_vfork_prepare(void)
{
    if (cfg.action == IRON_BLOCK)
        return DENIED(iron_hook_vfork(), native_fork("vfork"));
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
    if (cfg.action == IRON_ALERT && child > 0)
    {
        if (sys_getpid() == start_pid && !iron_hook_frame.active) IRON_MANAGED((iron_process_vfork_report(vfork_record, child, via_clone), 0));
        else native_vfork_report(vfork_record, child, via_clone);
    }
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
    if (DENIED(iron_hook_fork(), native_fork("fork"))) return -1;
    return REAL(fork)();
}

pid_t _Fork(void)
{
    if (DENIED(iron_hook__Fork(), native_fork("_Fork"))) return -1;
    return REAL(_Fork)();
}

pid_t __fork(void)
{
    if (DENIED(iron_hook___fork(), native_fork("__fork"))) return -1;
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
    /* no fn or stack: glibc answers EINVAL itself */
    int vm_vfork = (flags & (IRON_CLONE_VM | IRON_CLONE_VFORK)) == (IRON_CLONE_VM | IRON_CLONE_VFORK) && !(flags & IRON_CLONE_SETTLS) && fn && stack;
    /* a CLONE_VM|CLONE_VFORK child is reported once, with what it executes, as a vfork child is */
    if (!(vm_vfork && cfg.action == IRON_ALERT) && DENIED(iron_hook_clone(flags), native_fork("clone"))) return -1;
    if (vm_vfork)
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
        record_exec(function, run == RUN_EXECVPE ? LOOKUP_SEARCH : run == RUN_FEXECVE ? LOOKUP_FD : run == RUN_EXECVEAT ? LOOKUP_AT : LOOKUP_PATH,
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
    if (iron_in_vfork_child && vfork_record && vfork_record->used) vfork_record->error = error;
    free(heap);
    errno = error;
    return result;
}

int execve(const char *path, char *const argv[], char *const envp[])
{
    if (DENIED(iron_hook_execve(path, argv), native_exec("execve", LOOKUP_PATH, AT_FDCWD, path, argv, 0))) return -1;
    return exec_protected(RUN_EXECVE, IRON_FN_EXECVE, AT_FDCWD, path, argv, envp, 0);
}

int execv(const char *path, char *const argv[])
{
    if (DENIED(iron_hook_execv(path, argv), native_exec("execv", LOOKUP_PATH, AT_FDCWD, path, argv, 0))) return -1;
    if (!iron_process_protect_tree && !iron_in_vfork_child) return REAL(execv)(path, argv);
    return exec_protected(RUN_EXECVE, IRON_FN_EXECV, AT_FDCWD, path, argv, environ, 0);
}

int execvp(const char *file, char *const argv[])
{
    if (DENIED(iron_hook_execvp(file, argv), native_exec("execvp", LOOKUP_SEARCH, AT_FDCWD, file, argv, 0))) return -1;
    if (!iron_process_protect_tree && !iron_in_vfork_child) return REAL(execvp)(file, argv);
    return exec_protected(RUN_EXECVPE, IRON_FN_EXECVP, AT_FDCWD, file, argv, environ, 0);
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
    if (DENIED(iron_hook_execvpe(file, argv), native_exec("execvpe", LOOKUP_SEARCH, AT_FDCWD, file, argv, 0))) return -1;
    return exec_protected(RUN_EXECVPE, IRON_FN_EXECVPE, AT_FDCWD, file, argv, envp, 0);
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
    if (DENIED(iron_hook_fexecve(fd, argv), native_exec("fexecve", LOOKUP_FD, fd, NULL, argv, 0))) return -1;
    return exec_protected(RUN_FEXECVE, IRON_FN_FEXECVE, fd, NULL, argv, envp, 0);
}

int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    if (DENIED(iron_hook_execveat(dirfd, path, argv, flags), native_exec("execveat", LOOKUP_AT, dirfd, path, argv, flags))) return -1;
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
    if (DENIED(iron_hook_execl(path, argv), native_exec("execl", LOOKUP_PATH, AT_FDCWD, path, argv, 0))) return -1;
    return exec_protected(RUN_EXECVE, IRON_FN_EXECL, AT_FDCWD, path, argv, environ, 0);
}

int execlp(const char *file, const char *arg, ...)
{
    IRON_ARGV_FROM_VA(arg, argv, (void)0);
    if (DENIED(iron_hook_execlp(file, argv), native_exec("execlp", LOOKUP_SEARCH, AT_FDCWD, file, argv, 0))) return -1;
    return exec_protected(RUN_EXECVPE, IRON_FN_EXECLP, AT_FDCWD, file, argv, environ, 0);
}

int execle(const char *path, const char *arg, ...)
{
    char *const *envp;
    IRON_ARGV_FROM_VA(arg, argv, envp = va_arg(ap_, char *const *));
    if (DENIED(iron_hook_execle(path, argv), native_exec("execle", LOOKUP_PATH, AT_FDCWD, path, argv, 0))) return -1;
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
    PROTECTED_ENV(envp, env, heap);
    if (!env && envp) return ENOMEM;
    int result = real(pid, file, actions, attr, argv, env);
    free(heap);
    return result;
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (DENIED(iron_hook_posix_spawn(path, argv), native_exec("posix_spawn", LOOKUP_PATH, AT_FDCWD, path, argv, 0))) return EPERM;
    return spawn_protected(REAL(posix_spawn), pid, path, actions, attr, argv, envp);
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (DENIED(iron_hook_posix_spawnp(file, argv), native_exec("posix_spawnp", LOOKUP_SEARCH, AT_FDCWD, file, argv, 0))) return EPERM;
    return spawn_protected(REAL(posix_spawnp), pid, file, actions, attr, argv, envp);
}

int system(const char *command)
{
    if (DENIED(iron_hook_system(command), native_shell("system", command))) return command ? -1 : 0;
    if (iron_hooks_ready && !iron_in_vfork_child) protect_own_environment();
    return REAL(system)(command);
}

FILE *popen(const char *command, const char *mode)
{
    if (DENIED(iron_hook_popen(command), native_shell("popen", command))) return NULL;
    if (iron_hooks_ready && !iron_in_vfork_child) protect_own_environment();
    return REAL(popen)(command, mode);
}
