/*
 * The setsockopt filter.
 *
 * 12. setsockopt is hooked only for the options that set a source route (IP_OPTIONS, IPV6_RTHDR,
 *     IPV6_2292RTHDR, IPV6_2292PKTOPTIONS), and runtimes call it all the time for others (TCP_NODELAY,
 *     SO_REUSEADDR): a C filter in front of the managed hook (linked with -Wl,--wrap=iron_hook_setsockopt)
 *     hands it only those and sends every other call straight to libc.
 */
#include "glue.h"
#include <netinet/in.h>

extern int __real_iron_hook_setsockopt(int fd, int level, int name, const void *value, socklen_t length);

__attribute__((visibility("hidden"))) int __wrap_iron_hook_setsockopt(int fd, int level, int name, const void *value, socklen_t length)
{
    if ((level == IPPROTO_IP && name == IP_OPTIONS) ||
        (level == IPPROTO_IPV6 && (name == IPV6_RTHDR || name == IPV6_2292RTHDR || name == IPV6_2292PKTOPTIONS)))
        return __real_iron_hook_setsockopt(fd, level, name, value, length);
    return ((int (*)(int, int, int, const void *, socklen_t))iron_native_real_setsockopt)(fd, level, name, value, length);
}
