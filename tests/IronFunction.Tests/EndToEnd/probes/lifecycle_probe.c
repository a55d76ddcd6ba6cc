/*
 * lifecycle_probe: sends one HTTP request line the way a Lambda runtime client would, then opens a file
 * and prints one machine-readable line
 *
 *     result=<fd | -1> errno=<n>
 *
 *   lifecycle_probe <how> <port> <request> <file>
 *
 * how: send | write | writev (the request in one buffer) | writev-split (in three buffers, cut inside the
 * request target) | writev-empty-first (an empty buffer first) | pipe (written down a pipe, no socket).
 * The socket is a TCP connection to 127.0.0.1:<port>; nothing is read back.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 5) { printf("setup-failed usage\n"); return 2; }
    const char *how = argv[1], *request = argv[3], *file = argv[4];
    size_t length = strlen(request);
    int fd;
    if (strcmp(how, "pipe") == 0)
    {
        int p[2];
        if (pipe(p) != 0) { printf("setup-failed pipe errno=%d\n", errno); return 2; }
        fd = p[1];
    }
    else
    {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
        inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
        if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) { printf("setup-failed connect errno=%d\n", errno); return 2; }
    }
    ssize_t sent;
    if (strcmp(how, "send") == 0) sent = send(fd, request, length, MSG_NOSIGNAL);
    else if (strcmp(how, "write") == 0 || strcmp(how, "pipe") == 0) sent = write(fd, request, length);
    else if (strcmp(how, "writev") == 0)
    {
        struct iovec v[1] = {{(void *)request, length}};
        sent = writev(fd, v, 1);
    }
    else if (strcmp(how, "writev-split") == 0)
    {
        struct iovec v[3] = {{(void *)request, 4}, {(void *)(request + 4), 20}, {(void *)(request + 24), length - 24}};
        sent = writev(fd, v, 3);
    }
    else if (strcmp(how, "writev-empty-first") == 0)
    {
        struct iovec v[2] = {{(void *)request, 0}, {(void *)request, length}};
        sent = writev(fd, v, 2);
    }
    else { printf("setup-failed unknown how %s\n", how); return 2; }
    if (sent != (ssize_t)length) { printf("setup-failed sent %zd of %zu errno=%d\n", sent, length, errno); return 2; }
    errno = 0;
    int r = open(file, O_RDONLY);
    int e = errno;
    printf("result=%s errno=%d\n", r >= 0 ? "fd" : "-1", e);
    fflush(stdout);
    return 0;
}
