/*
 * Per-thread marks.
 *
 * 8. One hook at a time on a thread. A signal handler may call a hooked function (open, say) while its
 *    thread is inside a managed hook, and NativeAOT aborts the process when managed code it was
 *    running is entered again from a handler. Every trampoline therefore marks its thread for the
 *    duration of the hook, and a hooked call on a marked thread goes straight to libc: a handler's,
 *    and the library's own libc calls from inside a hook. The runtime's own threads are marked for life.
 */
#include "glue.h"
#include <signal.h>

IRON_THREAD_STATE struct iron_hook_frame iron_hook_frame;

/* The runtime's own threads (finalizer, the event delivery, the log stream's pump), all started through pthread_create in
   this library's link (-Wl,--wrap): marked from their first instruction, so none of their libc calls
   is judged and a signal handler that runs on one of them never enters a hook. They are also started
   with the host's signals blocked: a signal meant for the process must reach one of the host's own
   threads. bash blocks SIGCHLD on its thread around its job table; delivered to the runtime's finalizer
   thread instead, its handler reaped a child mid-update and a subshell's exit status was lost. The
   runtime keeps its activation signal (SIGRTMIN, thread suspension) and the faults it handles, and
   SIGSYS, which the library sends its own threads to apply a Landlock layer on each (landlock.c). */
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

static int iron_start_thread(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *argument)
{
    struct iron_thread_start *s = malloc(sizeof *s);
    if (!s) return EAGAIN;
    s->start = start;
    s->argument = argument;
    sigset_t blocked, host;
    sigfillset(&blocked);
    int kept[] = { SIGRTMIN, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS };
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) sigdelset(&blocked, kept[i]);
    /* a new thread starts with its creator's mask: blocked from its first instruction */
    pthread_sigmask(SIG_BLOCK, &blocked, &host);
    int result = __real_pthread_create(thread, attr, iron_own_thread, s);
    pthread_sigmask(SIG_SETMASK, &host, NULL);
    if (result != 0) free(s);
    return result;
}

/* The runtime's finalizer thread is not started with the runtime. Stock NativeAOT starts it at GC
   initialisation, and a second thread makes glibc take its multi-threaded paths on every system call
   of a single-threaded host (cancellation around each read/write/open, locked malloc and stdio): about
   50 ns a call for a thread that waits. The library finalizes nothing it needs: what it opens it
   disposes. So the start is recorded and made only when the library starts a thread of its own (event
   delivery, the log stream's pump), when the process is multi-threaded because of it anyway; until
   then the GC queues finalizable objects (a handful, from start-up) and nothing waits for them. */
extern unsigned int _Z14FinalizerStartPv(void *);
static void *(*iron_finalizer_start)(void *);
static void *iron_finalizer_argument;
static int iron_finalizer_deferred, iron_finalizer_seen;

static void iron_finalizer_release(void)
{
    if (!__atomic_exchange_n(&iron_finalizer_deferred, 0, __ATOMIC_ACQ_REL)) return;
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    iron_start_thread(&thread, &attr, iron_finalizer_start, iron_finalizer_argument);
    pthread_attr_destroy(&attr);
}

__attribute__((visibility("hidden"))) int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                                                                void *(*start)(void *), void *argument)
{
    if ((void *)start == (void *)_Z14FinalizerStartPv && !__atomic_exchange_n(&iron_finalizer_seen, 1, __ATOMIC_ACQ_REL))
    {
        iron_finalizer_start = start;
        iron_finalizer_argument = argument;
        __atomic_store_n(&iron_finalizer_deferred, 1, __ATOMIC_RELEASE);
        *thread = 0;
        return 0;
    }
    iron_finalizer_release();
    return iron_start_thread(thread, attr, start, argument);
}
