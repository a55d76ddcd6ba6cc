/*
 * Exit and fork.
 *
 * 5. Exit and fork: an atexit handler, registered after the runtime has started (so it runs before
 *    anything the runtime registered during its start), lets the library flush pending events;
 *    pthread_atfork handlers count forks and hold a fork back while the delivery thread sets up,
 *    without entering managed code.
 */
#include "glue.h"

static volatile unsigned int iron_fork_generation;
static volatile int iron_fork_wait;

/* fork() waits (200 ms at most) while the delivery thread runs its one-time set-up: a child forked in the
   middle of it would inherit runtime locks (class constructors) held by a thread it does not have. */
void iron_before_fork(void)
{
    for (int i = 0; i < 200 && __atomic_load_n(&iron_fork_wait, __ATOMIC_ACQUIRE); i++) {
        struct timespec pause = { 0, 1000000 };
        nanosleep(&pause, 0);
    }
}

/* The thread has run its thread-local destructors: the runtime has let go of it. glibc's start_thread calls
   exit(0) after them when the thread is the last one of the process, and entering the runtime there aborts
   the process (a thread is never attached twice). A fork from a thread other than the initial one makes
   exactly that thread the whole child, so the fork marks it to be told. */
static __attribute__((tls_model("initial-exec"))) __thread unsigned char thread_ended;
static pthread_key_t end_key;

static void thread_ends(void *unused)
{
    (void)unused;
    thread_ended = 1;
}

void iron_exit_fork_init(void) { pthread_key_create(&end_key, thread_ends); }

void iron_after_fork_child(void)
{
    iron_fork_generation++;
    iron_log_after_fork_child();
    pthread_setspecific(end_key, (void *)1);
}

__attribute__((visibility("hidden"))) void iron_native_set_fork_wait(int on) { __atomic_store_n(&iron_fork_wait, on, __ATOMIC_RELEASE); }

/* Read by managed code (Native/Glue.cs). */
__attribute__((visibility("hidden"))) unsigned int iron_native_fork_generation(void) { return iron_fork_generation; }

/* An exit from inside a hook (a signal handler's) cannot flush: the managed code is busy on this thread; nor
   one from a thread the runtime has let go of (see thread_ends). */
void iron_function_at_exit(void)
{
    if (!iron_hook_frame.active && !thread_ended) IRON_MANAGED((iron_function_exit(), 0));
    iron_log_drain();
}

/* Called again when the delivery loads OpenSSL: atexit handlers run last-registered first. */
__attribute__((visibility("hidden"))) int iron_native_register_exit_flush(void) { return atexit(iron_function_at_exit); }
