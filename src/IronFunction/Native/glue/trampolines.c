/*
 * Export trampolines: the hooked names, and their way to a managed hook or to libc.
 *
 * 1. Export trampolines. Each hooked libc name (Hooks/<control>.symbols) is exported here and
 *    jumps to its managed hook (iron_hook_<name>) once the library has started, or straight to
 *    the real libc function before that: other libraries' ELF constructors may run before this
 *    library's, and a managed hook entered before the runtime is set up crashes the process.
 *    libc's other names of a hooked function (Hooks/libc.aliases) are exported at the same code.
 *
 * 2. The runtime's own native code (GC, PAL, System.Native) calls some of the same libc names.
 *    Were those calls to reach a managed hook from a GC thread or during runtime start, the
 *    runtime would re-enter itself; the link maps them (-Wl,--wrap) to __wrap_<name>, which
 *    jumps to the real function.
 *
 * Every generic trampoline is a tail jump, so it forwards any signature, variadic ones included.
 */
#include "glue.h"

IRON_THREAD_STATE unsigned char iron_in_vfork_child;

#define IRON_HOOK(name, control) void *iron_native_real_##name;
#include "hooked_symbols.h"
#undef IRON_HOOK

/* Resolves every real function; idempotent, callable from any trampoline before the constructor ran. */
__attribute__((used)) void iron_native_resolve(void)
{
/* a compat-only symbol (sunrpc) has no default version for dlsym: the architecture's first glibc version has it */
#ifdef __aarch64__
#define IRON_GLIBC_BASE "GLIBC_2.17"
#else
#define IRON_GLIBC_BASE "GLIBC_2.2.5"
#endif
#define IRON_HOOK(name, control)                                                                          \
    if (!iron_native_real_##name) iron_native_real_##name = dlsym(RTLD_NEXT, #name);                      \
    if (!iron_native_real_##name) iron_native_real_##name = dlvsym(RTLD_NEXT, #name, IRON_GLIBC_BASE);
#include "hooked_symbols.h"
#undef IRON_HOOK
}

/* __wrap_<name>: jump to libc, resolving first (argument registers saved) when not yet resolved. */
#if defined(__aarch64__)
/* x0-x7 and v0-v7 carry arguments, x8 an indirect result's address; x16 is scratch at a call boundary */
#define IRON_WRAP(name)                                                                  \
    __asm__(".text\n"                                                                    \
            ".globl __wrap_" #name "\n"                                                  \
            ".hidden __wrap_" #name "\n"                                                 \
            ".type __wrap_" #name ",@function\n"                                         \
            "__wrap_" #name ":\n"                                                        \
            IRON_A64_LOAD("ldr", "x16", "iron_native_real_" #name)                       \
            "    cbnz x16, 1f\n"                                                         \
            "    stp x29, x30, [sp, #-224]!\n"                                           \
            "    stp x0, x1, [sp, #16]\n    stp x2, x3, [sp, #32]\n"                     \
            "    stp x4, x5, [sp, #48]\n    stp x6, x7, [sp, #64]\n"                     \
            "    str x8, [sp, #80]\n"                                                    \
            "    stp q0, q1, [sp, #96]\n    stp q2, q3, [sp, #128]\n"                    \
            "    stp q4, q5, [sp, #160]\n    stp q6, q7, [sp, #192]\n"                   \
            "    bl iron_native_resolve\n"                                               \
            "    ldp q0, q1, [sp, #96]\n    ldp q2, q3, [sp, #128]\n"                    \
            "    ldp q4, q5, [sp, #160]\n    ldp q6, q7, [sp, #192]\n"                   \
            "    ldr x8, [sp, #80]\n"                                                    \
            "    ldp x0, x1, [sp, #16]\n    ldp x2, x3, [sp, #32]\n"                     \
            "    ldp x4, x5, [sp, #48]\n    ldp x6, x7, [sp, #64]\n"                     \
            "    ldp x29, x30, [sp], #224\n"                                             \
            IRON_A64_LOAD("ldr", "x16", "iron_native_real_" #name)                       \
            "1:  br x16\n"                                                               \
            ".size __wrap_" #name ", .-__wrap_" #name "\n");
#else
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
#endif

/* Per list of hooks (Hooks/<control>.symbols): 0 when nothing in this process can be judged through
   them (their controls are allow), set once at start; their calls then go straight to libc.
   On the locked page (locked.c). */
extern IRON_SHARED unsigned char iron_control_files, iron_control_network, iron_control_lifecycle, iron_control_process;

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
#if defined(__aarch64__)
/* aarch64: the return address is in x30, so arguments on the stack stay where they were by themselves;
   x16 and x17 are scratch at a call boundary and carry no argument in or result out. */
#define IRON_EXPORT(name, control)                                                       \
    __asm__(".text\n"                                                                    \
            ".globl " #name "\n"                                                         \
            ".type " #name ",@function\n"                                                \
            #name ":\n"                                                                  \
            IRON_A64_LOAD("ldrb", "w16", "iron_hooks_ready")                             \
            "    cbz w16, __wrap_" #name "\n"                                            \
            IRON_A64_LOAD("ldrb", "w16", "iron_control_" #control)                       \
            "    cbz w16, __wrap_" #name "\n"                                            \
            "    mrs x17, tpidr_el0\n"                                                   \
            IRON_A64_TLS_OFFSET("x16", "iron_in_vfork_child")                            \
            "    ldrb w16, [x17, x16]\n"                                                 \
            "    cbz w16, 2f\n"                                                          \
            IRON_A64_LOAD("ldrb", "w16", "iron_process_protect_tree")                    \
            "    cbz w16, __wrap_" #name "\n"                                            \
            "    b iron_hook_" #name "\n"                                                \
            "2:\n"                                                                       \
            IRON_A64_TLS_OFFSET("x16", "iron_hook_frame")                                \
            "    add x16, x17, x16\n"                                                    \
            "    ldrb w17, [x16]\n"                                                      \
            "    cbnz w17, __wrap_" #name "\n"                                           \
            "    mov w17, #1\n"                                                          \
            "    strb w17, [x16]\n"                                                      \
            "    str x30, [x16, #8]\n"                                                   \
            "    bl iron_hook_" #name "\n"                                               \
            "    mrs x17, tpidr_el0\n"                                                   \
            IRON_A64_TLS_OFFSET("x16", "iron_hook_frame")                                \
            "    add x16, x17, x16\n"                                                    \
            "    ldr x30, [x16, #8]\n"                                                   \
            "    strb wzr, [x16]\n"                                                      \
            "    ret\n"                                                                  \
            ".size " #name ", .-" #name "\n");
#else
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
#endif

#define IRON_EXPORT_UNLESS_OWN_0(name, control) IRON_EXPORT(name, control)
#define IRON_EXPORT_UNLESS_OWN_1(name, control)

#define IRON_HOOK(name, control) IRON_WRAP(name) IRON_CAT(IRON_EXPORT_UNLESS_OWN_, IRON_IS_OWN(name))(name, control)
#include "hooked_symbols.h"
#undef IRON_HOOK

/* libc's other names of a generated export (Hooks/libc.aliases): the same code, so the same judgement.
   Those of a process function are in process.c, beside their target. */
#define IRON_ALIAS_UNLESS_OWN_0(alias, target) IRON_ALIAS_OF(alias, target)
#define IRON_ALIAS_UNLESS_OWN_1(alias, target)
#define IRON_ALIAS(alias, target) IRON_CAT(IRON_ALIAS_UNLESS_OWN_, IRON_IS_OWN(target))(alias, target)
#include "hooked_aliases.h"
#undef IRON_ALIAS

