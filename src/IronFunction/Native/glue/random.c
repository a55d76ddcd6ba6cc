/*
 * The runtime's random bytes.
 *
 * 3. The runtime's random bytes come from getrandom(2): its own source opens /dev/urandom and keeps
 *    that descriptor for the life of the process, which a host program would see (fd 3 taken, or
 *    a closed stdin silently reopened) — nothing allowed may behave differently.
 */
#include "glue.h"

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
