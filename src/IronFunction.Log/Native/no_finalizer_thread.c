/*
 * The log image's runtime never starts its finalizer thread. Stock NativeAOT starts one at GC initialisation; here it
 * would be the only thread of the image, would make a single-threaded host multi-threaded (glibc's slower paths on
 * every system call) from the first log message on, and would keep a process whose main thread left with
 * pthread_exit alive forever. The image finalizes nothing it needs: the few finalizable objects it makes stay queued.
 */
#define _GNU_SOURCE
#include <pthread.h>

extern unsigned int _Z14FinalizerStartPv(void *);
int __real_pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *argument);

__attribute__((visibility("hidden"))) int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                                                                void *(*start)(void *), void *argument)
{
    if ((void *)start == (void *)_Z14FinalizerStartPv)
    {
        *thread = 0;
        return 0;
    }
    return __real_pthread_create(thread, attr, start, argument);
}
