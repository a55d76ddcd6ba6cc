/*
 * A minimal loopback api_endpoint for the benchmark: HTTP/1.1 with keep-alive, answers every POST with
 * 204, counts the events and the "dropped_before" and "repeat_count" they carry. Single-threaded (epoll),
 * so that it costs as little as possible next to what it measures.
 *
 *   events_endpoint PORTFILE     listens on 127.0.0.1 (a free port, written to PORTFILE), runs until SIGTERM,
 *                                then prints "events=<n> dropped=<sum> repeats=<sum> first_ns=<t> last_ns=<t>"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 64
#define BUF 65536

struct conn { int fd; size_t len; char buf[BUF]; };
static struct conn *conns[MAX_CONN];
static volatile sig_atomic_t stop;
static long long events, dropped, repeats, first_ns, last_ns;

static void on_term(int sig) { (void)sig; stop = 1; }

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long key_value(const char *body, size_t len, const char *key)
{
    /* "key":"123" */
    const char *p = memmem(body, len, key, strlen(key));
    if (!p) return 0;
    p += strlen(key);
    return atoll(p);
}

/* Consumes every complete request in the buffer; returns -1 when the connection must close. */
static int serve(struct conn *c)
{
    static const char answer[] = "HTTP/1.1 204 No Content\r\n\r\n";
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end) return c->len == BUF ? -1 : 0;
        size_t head = (size_t)(end - c->buf) + 4;
        long length = 0;
        for (char *p = c->buf; p < end; p++) {
            if ((p == c->buf || p[-1] == '\n') && strncasecmp(p, "Content-Length:", 15) == 0) length = atol(p + 15);
        }
        if (length < 0 || head + (size_t)length > BUF) return -1;
        if (c->len < head + (size_t)length) return 0;
        const char *body = c->buf + head;
        long long t = now_ns();
        if (events == 0) first_ns = t;
        last_ns = t;
        events++;
        dropped += key_value(body, (size_t)length, "\"dropped_before\":\"");
        long long r = key_value(body, (size_t)length, "\"repeat_count\":\"");
        repeats += r > 0 ? r - 1 : 0;
        if (write(c->fd, answer, sizeof answer - 1) < 0) return -1;
        memmove(c->buf, c->buf + head + length, c->len - head - length);
        c->len -= head + length;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: events_endpoint PORTFILE\n"); return 2; }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 64) || getsockname(ls, (struct sockaddr *)&a, &alen)) {
        perror("listen");
        return 1;
    }
    FILE *pf = fopen(argv[1], "w");
    fprintf(pf, "%d\n", ntohs(a.sin_port));
    fclose(pf);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = -1 };
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    while (!stop) {
        struct epoll_event ready[16];
        int n = epoll_wait(ep, ready, 16, 100);
        for (int i = 0; i < n; i++) {
            if (ready[i].data.fd == -1) {
                int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) continue;
                int slot = 0;
                while (slot < MAX_CONN && conns[slot]) slot++;
                if (slot == MAX_CONN) { close(fd); continue; }
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                conns[slot] = calloc(1, sizeof(struct conn));
                conns[slot]->fd = fd;
                struct epoll_event cev = { .events = EPOLLIN, .data.fd = slot };
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                continue;
            }
            struct conn *c = conns[ready[i].data.fd];
            ssize_t got = read(c->fd, c->buf + c->len, BUF - c->len);
            if (got <= 0 || (c->len += (size_t)got, serve(c) < 0)) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                conns[ready[i].data.fd] = NULL;
                free(c);
            }
        }
    }
    printf("events=%lld dropped=%lld repeats=%lld first_ns=%lld last_ns=%lld\n", events, dropped, repeats, first_ns, last_ns);
    return 0;
}
