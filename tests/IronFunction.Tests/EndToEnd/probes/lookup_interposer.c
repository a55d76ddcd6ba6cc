/* lookup_interposer: a second LD_PRELOAD interposer of connect, after the library's, chaining with
   dlsym(RTLD_NEXT); says on stdout (a raw write) that it ran. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int connect(int fd, const struct sockaddr *address, socklen_t length)
{
    static int (*next)(int, const struct sockaddr *, socklen_t);
    if (!next) next = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    if (address && address->sa_family == AF_INET)
    {
        char line[64];
        int n = snprintf(line, sizeof line, "interposer connect %d\n", ntohs(((const struct sockaddr_in *)address)->sin_port));
        syscall(SYS_write, 1, line, n);
    }
    return next(fd, address, length);
}
