/*
 * The only C in the library: what must exist before the NativeAOT runtime can run.
 *
 * 1. The runtime's own native code (GC, PAL, System.Native) calls libc functions that this
 *    library exports as hooks. Were those calls to reach a managed hook during runtime start or
 *    from a GC thread, the runtime would re-enter itself and abort or deadlock. The link maps
 *    them (-Wl,--wrap) to the trampolines below, which jump straight to the real libc function.
 * 2. An ELF constructor starts the library while the process is still single-threaded.
 */
#define _GNU_SOURCE
#include <dlfcn.h>

#define IRON_HOOK(name)                                                                  \
    __attribute__((visibility("hidden"))) void *iron_native_real_##name;                 \
    __asm__(".globl __wrap_" #name "\n"                                                  \
            ".hidden __wrap_" #name "\n"                                                 \
            ".type __wrap_" #name ",@function\n"                                         \
            "__wrap_" #name ":\n"                                                        \
            "    jmp *iron_native_real_" #name "(%rip)\n");
#include "hooked_symbols.h"
#undef IRON_HOOK

extern void iron_function_start(void);

/* Priority 101: resolved before the runtime's own constructors could call through a trampoline. */
__attribute__((constructor(101))) static void iron_native_resolve(void)
{
#define IRON_HOOK(name) iron_native_real_##name = dlsym(RTLD_NEXT, #name);
#include "hooked_symbols.h"
#undef IRON_HOOK
}

__attribute__((constructor)) static void iron_function_preload_init(void)
{
    iron_function_start();
}
