/* Times N write(2) calls of one buffer to a descriptor: what the lifecycle hooks (send/write/writev) add
 * to a call they only look at. argv: [path] [count] [bytes-to-write, default 64 bytes of 'x'] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/dev/null";
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    char fill[64];
    memset(fill, 'x', sizeof fill);
    const char *data = argc > 3 ? argv[3] : fill;
    size_t length = argc > 3 ? strlen(argv[3]) : sizeof fill;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) { perror("open"); return 1; }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        if (write(fd, data, length) < 0) { perror("write"); return 1; }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
    return 0;
}
