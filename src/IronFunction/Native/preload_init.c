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
 *
 * Every trampoline is a tail jump, so it forwards any signature, variadic ones included.
 */
#define _GNU_SOURCE
#include <dlfcn.h>

__attribute__((visibility("hidden"))) volatile unsigned char iron_hooks_ready;

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

/* real_<name>: jump to libc, resolving first (argument registers saved) when not yet resolved. */
#define IRON_HOOK(name)                                                                  \
    __asm__(".text\n"                                                                    \
            ".globl " #name "\n"                                                         \
            ".type " #name ",@function\n"                                                \
            #name ":\n"                                                                  \
            "    cmpb $0, iron_hooks_ready(%rip)\n"                                      \
            "    je __wrap_" #name "\n"                                                  \
            "    jmp iron_hook_" #name "\n"                                              \
            ".size " #name ", .-" #name "\n"                                             \
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
#include "hooked_symbols.h"
#undef IRON_HOOK

extern void iron_function_start(void);

__attribute__((constructor)) static void iron_function_preload_init(void)
{
    iron_native_resolve();
    iron_function_start();
    iron_hooks_ready = 1;
}
