/*
 * The Runtime API filter.
 *
 * 6. send, write and writev are hooked only to see a runtime's Runtime API requests, and are called
 *    everywhere, signal handlers included (libuv's and CPython's signal self-pipes write from one).
 *    Entering managed code from a handler that interrupted this library's managed code aborts the
 *    process, so a C filter in front of those managed hooks (linked with -Wl,--wrap=iron_hook_<name>)
 *    hands them only what could begin "GET /2018-06-01/runtime/invocation/next " and sends everything
 *    else straight to libc.
 */
#include "glue.h"

#define IRON_REQUEST_MIN 40 /* RuntimeApiRequest.DecisiveLength */

static inline int iron_may_be_request(const void *buffer, size_t length)
{
    return length >= IRON_REQUEST_MIN && !unreadable(buffer) && *(const char *)buffer == 'G';
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
    if (count > 0 && !unreadable(vectors) &&
        (vectors[0].iov_len == 0 || (!unreadable(vectors[0].iov_base) && *(const char *)vectors[0].iov_base == 'G')))
        return __real_iron_hook_writev(fd, vectors, count);
    return ((ssize_t (*)(int, const struct iovec *, int))iron_native_real_writev)(fd, vectors, count);
}
