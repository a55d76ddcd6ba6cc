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
 *
 * Every trampoline is a tail jump, so it forwards any signature, variadic ones included.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

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

static void iron_function_at_exit(void) { iron_function_exit(); }

/* Called again when the delivery loads OpenSSL: atexit handlers run last-registered first. */
__attribute__((visibility("hidden"))) int iron_native_register_exit_flush(void) { return atexit(iron_function_at_exit); }

__attribute__((constructor)) static void iron_function_preload_init(void)
{
    iron_native_resolve();
    iron_function_start();
    pthread_atfork(iron_before_fork, 0, iron_after_fork_child);
    atexit(iron_function_at_exit);
    iron_hooks_ready = 1;
}
