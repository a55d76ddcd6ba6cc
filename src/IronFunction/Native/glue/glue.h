/*
 * The C glue: what must run where the NativeAOT runtime cannot. One file per duty, this header
 * shared by all of them; the build compiles every .c in this folder into the library.
 *
 *   trampolines.c          1, 2. the exported names and their way to a managed hook or to libc
 *   random.c               3. the runtime's random bytes, without a kept /dev/urandom descriptor
 *   start.c                4. the ELF constructor that starts the library
 *   exit_fork.c            5. the exit flush and the fork handlers
 *   runtime_api_filter.c   6. send/write/writev: only a possible Runtime API request enters managed code
 *   environment.c          7. libc's own getenv/setenv/unsetenv for the library and the runtime
 *   thread_marks.c         8. one hook at a time on a thread; the runtime's own threads marked for life
 *   process.c              9. create_child_process: the process functions, written in C
 *   process_judge.c           the C judge and report for forked and vfork children
 *   process_environment.c     the environment a new program gets, so that it keeps the library
 *   log_stream.c          10. event lines of the whole process tree go to the first protected process's stderr
 *   resolver_state.c      11. the resolver's configuration as the system made it, compared before each lookup
 *   source_route_filter.c 12. setsockopt: only the options that set a source route enter managed code
 *   lookups.c             13. dlsym/dlvsym: a hooked name looked up any way is the library's entry; dlopen's file
 *   callbacks.c           14. ftw, nftw, scandir, fts, glob: the caller's callbacks run outside the hook, judged
 *   file_prefilter.c      15. open of a normal absolute path no rule can cover, without entering the runtime
 *   process_files.c       16. the files process creation reads: posix_spawn file actions, the program an exec runs
 *   landlock.c            17. "kernel": true on the file controls: Landlock layers on every thread
 *   locked.c              18. the state that decides whether a hook judges, on a page made read-only after start
 *   log_image.c           19. the library's own messages, formatted by a second image loaded at the first one
 *
 * Every generic trampoline is a tail jump, so it forwards any signature, variadic ones included.
 */
#ifndef IRON_GLUE_H
#define IRON_GLUE_H

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
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Shared between the glue's files, never exported (the version script exports the hooked names only). */
#define IRON_SHARED __attribute__((visibility("hidden")))
#define IRON_THREAD_STATE __attribute__((visibility("hidden"), tls_model("initial-exec"))) __thread

/* ---- trampolines.c ---- */

/* The library has started: hooks may enter managed code. */
extern IRON_SHARED volatile unsigned char iron_hooks_ready;
/* Set in a vfork child (and a CLONE_VM|CLONE_VFORK child) until it execs or exits: the thread's TLS is
   shared with the suspended parent thread, so the parent clears it when it resumes. */
extern IRON_THREAD_STATE unsigned char iron_in_vfork_child;
/* Some control is not allow: new programs must keep the library (and vfork children may judge files). */
extern IRON_SHARED unsigned char iron_process_protect_tree;

/* The real libc function behind each hooked name, resolved once (RTLD_NEXT). */
#define IRON_HOOK(name, control) extern IRON_SHARED void *iron_native_real_##name;
#include "hooked_symbols.h"
#undef IRON_HOOK
IRON_SHARED void iron_native_resolve(void);
/* The real function, resolved first if a call comes before the constructor. */
#define REAL(name) (iron_native_real_##name ? 0 : (iron_native_resolve(), 0), (__typeof__(&name))iron_native_real_##name)

/* An exported name at the address of another in this file: libc's own way of giving a function two names. */
#define IRON_ALIAS_OF(alias, target)                                                     \
    __asm__(".globl " #alias "\n"                                                       \
            ".type " #alias ",@function\n"                                              \
            ".set " #alias ", " #target "\n");

#if defined(__aarch64__)
/* aarch64 assembly: a TLS variable's offset from tpidr_el0 (initial-exec, x86-64's @gottpoff), and a load of a
   hidden variable into dst through x16 (scratch at a call boundary). */
#define IRON_A64_TLS_OFFSET(reg, var) "    adrp " reg ", :gottprel:" var "\n    ldr " reg ", [" reg ", #:gottprel_lo12:" var "]\n"
#define IRON_A64_LOAD(op, dst, var) "    adrp x16, " var "\n    " op " " dst ", [x16, #:lo12:" var "]\n"
#endif

/* Names whose exported definition is written in C instead of generated (create_child_process, process.c). */
#define IRON_OWN_fork ~, 1
#define IRON_OWN__Fork ~, 1
#define IRON_OWN___fork ~, 1
#define IRON_OWN_vfork ~, 1
#define IRON_OWN_clone ~, 1
#define IRON_OWN_posix_spawn ~, 1
#define IRON_OWN_posix_spawnp ~, 1
#define IRON_OWN_system ~, 1
#define IRON_OWN_popen ~, 1
#define IRON_OWN__IO_proc_open ~, 1
#define IRON_OWN_execve ~, 1
#define IRON_OWN_execv ~, 1
#define IRON_OWN_execvp ~, 1
#define IRON_OWN_execvpe ~, 1
#define IRON_OWN_execl ~, 1
#define IRON_OWN_execlp ~, 1
#define IRON_OWN_execle ~, 1
#define IRON_OWN_fexecve ~, 1
#define IRON_OWN_execveat ~, 1
/* ... and the walkers that call the caller back (read_write_tmp, callbacks.c; an alias of one would be made there) */
#define IRON_OWN_ftw ~, 1
#define IRON_OWN_ftw64 ~, 1
#define IRON_OWN_fts_open ~, 1
#define IRON_OWN_fts64_open ~, 1
#define IRON_OWN_fts_read ~, 1
#define IRON_OWN_fts64_read ~, 1
#define IRON_OWN_fts_children ~, 1
#define IRON_OWN_fts64_children ~, 1
#define IRON_OWN_glob ~, 1
#define IRON_OWN_glob64 ~, 1
#define IRON_OWN_nftw ~, 1
#define IRON_OWN_nftw64 ~, 1
#define IRON_OWN_scandir ~, 1
#define IRON_OWN_scandir64 ~, 1
#define IRON_OWN_scandirat ~, 1
#define IRON_OWN_scandirat64 ~, 1
/* ... and the open family, whose common case is decided before the runtime is entered (file_prefilter.c, aliases made there) */
#define IRON_OWN_open ~, 1
#define IRON_OWN_open64 ~, 1
#define IRON_OWN_openat ~, 1
#define IRON_OWN_openat64 ~, 1
#define IRON_PREFILTERED_open ~, 1
#define IRON_PREFILTERED_open64 ~, 1
#define IRON_PREFILTERED_openat ~, 1
#define IRON_PREFILTERED_openat64 ~, 1
#define IRON_IS_PREFILTERED(name) IRON_SECOND_(IRON_PREFILTERED_##name, 0, ~)
#define IRON_SECOND(a, b, ...) b
#define IRON_IS_OWN(name) IRON_SECOND_(IRON_OWN_##name, 0, ~)
#define IRON_SECOND_(...) IRON_SECOND(__VA_ARGS__)
#define IRON_CAT(a, b) IRON_CAT_(a, b)
#define IRON_CAT_(a, b) a##b

/* ---- thread_marks.c ---- */

/* This thread is inside a hook, or is the library's own; the caller's return address while it is in a
   hook. Written by the trampolines' assembly: active at offset 0, caller at 8. */
struct iron_hook_frame
{
    unsigned char active;
    void *caller;
};
extern IRON_THREAD_STATE struct iron_hook_frame iron_hook_frame;

/* A managed function called from C while this thread is marked: the managed code cannot be entered twice. */
#define IRON_MANAGED(call) ({ iron_hook_frame.active = 1; __typeof__(call) r_ = (call); iron_hook_frame.active = 0; r_; })

/* ---- the managed side ---- */

extern void iron_function_start(void);
extern void iron_function_exit(void);

/* ---- locked.c ---- */

IRON_SHARED int iron_lock_state(void);
/* file_prefilter.c: its roots, locked with the rest */
IRON_SHARED int iron_prefilter_lock(void);

/* ---- exit_fork.c, process.c: what the constructor (start.c) sets up ---- */

IRON_SHARED void iron_before_fork(void);
IRON_SHARED void iron_after_fork_child(void);
IRON_SHARED void iron_exit_fork_init(void);
IRON_SHARED void iron_function_at_exit(void);
IRON_SHARED void iron_process_init(void);

/* ---- log_stream.c: event lines and the library's own lines, to the first protected process's stderr ---- */

IRON_SHARED void iron_log_init(void);
IRON_SHARED void iron_log_line(const char *line, size_t length);
IRON_SHARED void iron_log_before_child(void);
IRON_SHARED void iron_log_drain(void);
IRON_SHARED void iron_log_after_fork_child(void);
IRON_SHARED const char *iron_log_stream_entry(void);

/* A pointer the kernel answers with EFAULT (the first page, kernel space): passed on, never read. arm64 user
   space reaches 2^48 (2^52 with large addresses) and a top-byte tag leaves a pointer valid (Native/Arch.cs). */
#if defined(__aarch64__)
static inline int unreadable(const void *p) { return (uintptr_t)p < 4096 || ((uintptr_t)p & 0x00FFFFFFFFFFFFFFULL) >= 0x10000000000000ULL; }
#else
static inline int unreadable(const void *p) { return (uintptr_t)p < 4096 || (uintptr_t)p >= 0x800000000000ULL; }
#endif

/* ---- create_child_process: process.c, process_judge.c, process_environment.c ---- */

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
    const char *event_template;    /* unused: iron_process_event_template, which is set after start */
};

extern IRON_SHARED struct iron_process_config iron_process_cfg; /* on the locked page (locked.c) */
/* An event line of this control and action, holes marked by bytes 1-6; set at the first judged fork. */
extern IRON_SHARED const char *iron_process_event_template;
extern IRON_SHARED char *iron_preload_entry; /* "LD_PRELOAD=<library>" */
#define IRON_MAX_KEEP 16

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
extern IRON_THREAD_STATE struct iron_exec_record *iron_vfork_record;

/* Exec functions, as numbered for the managed report (ProcessHooks.ExecFunctionNames). */
enum { IRON_FN_EXECVE, IRON_FN_EXECV, IRON_FN_EXECVP, IRON_FN_EXECVPE, IRON_FN_EXECL, IRON_FN_EXECLP,
       IRON_FN_EXECLE, IRON_FN_FEXECVE, IRON_FN_EXECVEAT };

/* How an exec-like call names its program (ProcessGate.Lookup). */
enum { LOOKUP_PATH, LOOKUP_SEARCH, LOOKUP_FD, LOOKUP_AT };

IRON_SHARED char *iron_joined(const char *a, const char *b);

/* process_judge.c: the judge and report where managed code cannot run. 0 to go on, -1 denied (EPERM). */
IRON_SHARED pid_t iron_sys_getpid(void);
IRON_SHARED int iron_native_fork(const char *function);
IRON_SHARED int iron_native_exec(const char *function, int lookup, int dirfd, const char *path, char *const argv[], int flags);
IRON_SHARED int iron_native_shell(const char *function, const char *command);
IRON_SHARED void iron_record_exec(int function, int lookup, int dirfd, const char *path, char *const argv[], int flags);
IRON_SHARED void iron_native_vfork_report(struct iron_exec_record *r, int child, int via_clone);
/* As glibc's execvp searches this process's PATH: 1 and the file in out, else 0. */
IRON_SHARED int iron_search_path(const char *name, char *out, size_t cap);

/* process_files.c: read_write_tmp (and read_handler) on what process creation reads. 0 to go on, -1 denied (errno
   EACCES). The program an exec runs: */
IRON_SHARED int iron_program_denied(int function, int lookup, int dirfd, const char *path, int flags);
/* The caller's program path in this frame's own memory: judged and run as the same bytes, which another thread cannot
   change in between. A path libc answers itself (bad pointer, no end within PATH_MAX) stays as it is. */
#define OWN_PROGRAM(path) char program_copy_[PATH_MAX]; path = iron_own_program(path, program_copy_)
IRON_SHARED const char *iron_own_program(const char *path, char *copy);
/* posix_spawn's file actions and its program, judged before the child starts when iron_spawn_scratch_bytes is not 0.
   *use is then a copy of the actions holding the judged paths (in scratch, that many bytes), for glibc to run. */
IRON_SHARED size_t iron_spawn_scratch_bytes(const posix_spawn_file_actions_t *actions);
IRON_SHARED int iron_spawn_denied(int spawnp, const char *program, const posix_spawn_file_actions_t *actions,
                                  const posix_spawn_file_actions_t **use, void *scratch, size_t bytes);

/* process_environment.c: the environment a new program gets. */
struct env_plan
{
    size_t count;             /* entries */
    const char *last_preload; /* value of the last LD_PRELOAD entry (the one ld.so uses), or NULL */
    int rebuild;              /* the environment lacks the protection */
};
IRON_SHARED void iron_plan_env(char *const *envp, struct env_plan *plan);
IRON_SHARED size_t iron_env_bytes(const struct env_plan *plan);
IRON_SHARED char **iron_build_env(char *const *envp, const struct env_plan *plan, char *scratch);
IRON_SHARED void iron_protect_own_environment(void);

/* Up to this much scratch goes on the stack; more comes from malloc, except in a vfork child (no allocator there). */
#define IRON_STACK_SCRATCH (64 * 1024)

/* The environment a new program gets: envp itself when nothing needs protecting or it already carries the
   protection, else a rebuilt copy (on the stack of the caller, or in *heap_out to free). NULL and ENOMEM
   when there is no room. A NULL envp is an empty environment, as the kernel reads it. A macro: the copy
   lives in the caller's frame. */
#define PROTECTED_ENV(envp, env_out, heap_out)                                                          \
    do {                                                                                                \
        (env_out) = (char *const *)(envp);                                                              \
        (heap_out) = NULL;                                                                              \
        if (iron_hooks_ready && iron_process_protect_tree && !((envp) && unreadable(envp)))             \
        {                                                                                               \
            struct env_plan plan_;                                                                      \
            iron_plan_env((envp), &plan_);                                                              \
            if (plan_.rebuild)                                                                          \
            {                                                                                           \
                size_t bytes_ = iron_env_bytes(&plan_);                                                 \
                char *scratch_ = bytes_ <= IRON_STACK_SCRATCH || iron_in_vfork_child                    \
                    ? alloca(bytes_) : ((heap_out) = malloc(bytes_));                                   \
                if (scratch_) (env_out) = iron_build_env((envp), &plan_, scratch_);                     \
                else { errno = ENOMEM; (env_out) = NULL; }                                              \
            }                                                                                           \
        }                                                                                               \
    } while (0)

#endif
