/*
 * socket_probe: source routes, AF_UNIX socket files and a race on a socket address. Runs the commands named
 * on the command line, in order, in one process, and prints one line per command ("<command> => ...").
 * Used by SourceRouteTests, UnixSocketFileTests and SocketAddressRaceTests.
 *
 *   lsrr HOP | ssrr HOP     UDP socket: setsockopt(IP_OPTIONS) with a loose/strict source route via HOP to
 *                           127.0.0.1; then the options the socket holds ("held=<bytes>") and a sendto of
 *                           "route-<cmd>" to 127.0.0.1:9999 ("send=")
 *   rthdr6 HOP6 | rthdr2292 HOP6  UDP6 socket: setsockopt(IPV6_RTHDR / IPV6_2292RTHDR) with a segment routing
 *                           header via HOP6; then the header the socket holds ("held=<bytes>")
 *   retopts HOP             sendmsg to 127.0.0.1:9999 with an IP_RETOPTS control message (loose source route via HOP)
 *   retopts_mmsg HOP        sendmmsg of one such message
 *   rthdrmsg HOP6           sendmsg to [::1]:9999 with an IPV6_RTHDR control message via HOP6
 *   plainopts               setsockopt(IP_OPTIONS) with a NOP and a timestamp option only (no route)
 *   unix_connect PATH       AF_UNIX stream connect
 *   unix_sendto PATH TEXT   AF_UNIX datagram sendto
 *   unix_sendmsg PATH TEXT  AF_UNIX datagram sendmsg with msg_name
 *   unix_sendmmsg PATH TEXT AF_UNIX datagram sendmmsg of one message
 *   unix_abstract NAME      AF_UNIX stream connect to an abstract name
 *   settle MS               sleep, so that the namespace's servers log what arrived before the run ends
 *   race ALLOWED BLOCKED N  N TCP connects to one sockaddr_in whose address another thread flips between
 *                           ALLOWED and BLOCKED all the while; this process listens on both (port 7171) and
 *                           counts what reached each ("allowed_reached=", "blocked_reached="); then the same
 *                           with N UDP sendto calls to port 7172 ("udp_allowed=", "udp_blocked=")
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef IPV6_RTHDR
#define IPV6_RTHDR 57
#endif
#define IPV6_2292RTHDR_ 5
#define IP_RETOPTS_ 7

static struct sockaddr_in in4(const char *ip, int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

/* NOP, then a loose (0x83) or strict (0x89) route: type, length 7, pointer 4, the hop */
static int route_options(unsigned char *o, int type, const char *hop)
{
    o[0] = 1;
    o[1] = type;
    o[2] = 7;
    o[3] = 4;
    inet_pton(AF_INET, hop, o + 4);
    return 8;
}

/* A routing header with one address: segment routing (type 4, what setsockopt accepts) or type 2 (the only
   one a control message may carry, where the kernel has Mobile IPv6) */
static int routing_header(unsigned char *h, const char *hop, int type)
{
    memset(h, 0, 24);
    h[0] = IPPROTO_UDP;         /* next header */
    h[1] = 2;                   /* length in 8-byte units past the first 8 */
    h[2] = type;
    h[3] = type == 2 ? 1 : 0;   /* segments left */
    inet_pton(AF_INET6, hop, h + 8);
    return 24;
}

static void held(int fd, int level, int name)
{
    unsigned char buffer[256];
    socklen_t length = sizeof buffer;
    int r = getsockopt(fd, level, name, buffer, &length);
    printf(" held=%d", r == 0 ? (int)length : -1);
}

static int unix_address(struct sockaddr_un *a, const char *path)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strncpy(a->sun_path, path, sizeof a->sun_path - 1);
    return (int)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static volatile int racing, flips;
static struct sockaddr_in shared;
static struct in_addr race_allowed, race_blocked;

static void *flip(void *unused)
{
    (void)unused;
    volatile struct in_addr *target = &shared.sin_addr;
    while (racing)
    {
        *target = race_blocked;
        *target = race_allowed;
        flips++;
    }
    return NULL;
}

static int listener(struct in_addr at, int port, int type)
{
    int fd = socket(AF_INET, type | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = at };
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) { printf(" bind_failed=%d", errno); return -1; }
    if (type == SOCK_STREAM) listen(fd, 4096);
    return fd;
}

static int drain(int fd, int stream)
{
    int n = 0;
    for (;;)
    {
        if (stream)
        {
            int c = accept(fd, NULL, NULL);
            if (c < 0) break;
            close(c);
        }
        else
        {
            char b[64];
            if (recv(fd, b, sizeof b, 0) < 0) break;
        }
        n++;
    }
    return n;
}

static void race(const char *allowed, const char *blocked, int attempts)
{
    inet_pton(AF_INET, allowed, &race_allowed);
    inet_pton(AF_INET, blocked, &race_blocked);
    int la = listener(race_allowed, 7171, SOCK_STREAM), lb = listener(race_blocked, 7171, SOCK_STREAM);
    int ua = listener(race_allowed, 7172, SOCK_DGRAM), ub = listener(race_blocked, 7172, SOCK_DGRAM);
    if (la < 0 || lb < 0 || ua < 0 || ub < 0) return;
    int reached_allowed = 0, reached_blocked = 0, udp_allowed = 0, udp_blocked = 0;
    for (int round = 0; round < 2; round++)
    {
        shared = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(round == 0 ? 7171 : 7172), .sin_addr = race_allowed };
        racing = 1;
        pthread_t t;
        flips = 0;
        pthread_create(&t, NULL, flip, NULL);
        while (flips == 0) { } /* the race starts when the other thread does */
        int udp = socket(AF_INET, SOCK_DGRAM, 0);
        for (int i = 0; i < attempts; i++)
        {
            if (round == 0)
            {
                int fd = socket(AF_INET, SOCK_STREAM, 0);
                connect(fd, (struct sockaddr *)&shared, sizeof shared);
                close(fd);
                if (i % 64 == 63) { reached_allowed += drain(la, 1); reached_blocked += drain(lb, 1); }
            }
            else
            {
                sendto(udp, "race", 4, 0, (struct sockaddr *)&shared, sizeof shared);
                if (i % 64 == 63) { udp_allowed += drain(ua, 0); udp_blocked += drain(ub, 0); }
            }
        }
        racing = 0;
        pthread_join(t, NULL);
        close(udp);
        usleep(20000);
    }
    reached_allowed += drain(la, 1);
    reached_blocked += drain(lb, 1);
    udp_allowed += drain(ua, 0);
    udp_blocked += drain(ub, 0);
    printf(" attempts=%d allowed_reached=%d blocked_reached=%d udp_allowed=%d udp_blocked=%d",
           attempts, reached_allowed, reached_blocked, udp_allowed, udp_blocked);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int a = 1; a < argc; a++)
    {
        char *cmd = argv[a], copy[512], *word[5] = { 0 };
        snprintf(copy, sizeof copy, "%s", cmd);
        int words = 0;
        for (char *t = strtok(copy, " "); t && words < 5; t = strtok(NULL, " ")) word[words++] = t;
        printf("%s =>", cmd);
        errno = 0;
        unsigned char option[64];
        struct sockaddr_in loopback = in4("127.0.0.1", 9999);
        char text[64];
        snprintf(text, sizeof text, "route-%s", word[0]);
        struct iovec iov = { .iov_base = text, .iov_len = strlen(text) };
        if (!strcmp(word[0], "lsrr") || !strcmp(word[0], "ssrr") || !strcmp(word[0], "plainopts"))
        {
            int fd = socket(AF_INET, SOCK_DGRAM, 0);
            int n;
            if (!strcmp(word[0], "plainopts"))
            {
                /* NOP, NOP, then a timestamp option with room for one stamp: type 0x44, length 8, pointer 5, flags 0 */
                unsigned char o[12] = { 1, 1, 0x44, 8, 5, 0, 0, 0, 0, 0, 0, 0 };
                memcpy(option, o, sizeof o);
                n = 12;
            }
            else n = route_options(option, word[0][0] == 'l' ? 0x83 : 0x89, word[1]);
            int r = setsockopt(fd, IPPROTO_IP, IP_OPTIONS, option, n);
            printf(" result=%d errno=%d", r, r ? errno : 0);
            held(fd, IPPROTO_IP, IP_OPTIONS);
            long s = sendto(fd, text, strlen(text), 0, (struct sockaddr *)&loopback, sizeof loopback);
            printf(" send=%ld", s);
            close(fd);
        }
        else if (!strcmp(word[0], "rthdr6") || !strcmp(word[0], "rthdr2292"))
        {
            int fd = socket(AF_INET6, SOCK_DGRAM, 0);
            int name = word[0][5] == '6' ? IPV6_RTHDR : IPV6_2292RTHDR_;
            int n = routing_header(option, word[1], 4);
            int r = setsockopt(fd, IPPROTO_IPV6, name, option, n);
            printf(" result=%d errno=%d", r, r ? errno : 0);
            held(fd, IPPROTO_IPV6, IPV6_RTHDR);
            close(fd);
        }
        else if (!strcmp(word[0], "retopts") || !strcmp(word[0], "retopts_mmsg"))
        {
            int fd = socket(AF_INET, SOCK_DGRAM, 0);
            union { char buffer[CMSG_SPACE(40)]; struct cmsghdr align; } control;
            memset(&control, 0, sizeof control);
            struct msghdr m = { .msg_name = &loopback, .msg_namelen = sizeof loopback, .msg_iov = &iov, .msg_iovlen = 1,
                                .msg_control = control.buffer, .msg_controllen = CMSG_SPACE(8) };
            struct cmsghdr *c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = IPPROTO_IP;
            c->cmsg_type = IP_RETOPTS_;
            c->cmsg_len = CMSG_LEN(8);
            route_options(CMSG_DATA(c), 0x83, word[1]);
            long r;
            if (word[0][7] == '_')
            {
                struct mmsghdr mm = { .msg_hdr = m };
                r = sendmmsg(fd, &mm, 1, 0);
            }
            else r = sendmsg(fd, &m, 0);
            printf(" result=%ld errno=%d", r, r < 0 ? errno : 0);
            close(fd);
        }
        else if (!strcmp(word[0], "rthdrmsg"))
        {
            int fd = socket(AF_INET6, SOCK_DGRAM, 0);
            struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(9999), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
            union { char buffer[CMSG_SPACE(24)]; struct cmsghdr align; } control;
            memset(&control, 0, sizeof control);
            struct msghdr m = { .msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov, .msg_iovlen = 1,
                                .msg_control = control.buffer, .msg_controllen = sizeof control.buffer };
            struct cmsghdr *c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = IPPROTO_IPV6;
            c->cmsg_type = IPV6_RTHDR;
            c->cmsg_len = CMSG_LEN(24);
            routing_header(CMSG_DATA(c), word[1], 2);
            long r = sendmsg(fd, &m, 0);
            printf(" result=%ld errno=%d", r, r < 0 ? errno : 0);
            close(fd);
        }
        else if (!strncmp(word[0], "unix_", 5))
        {
            struct sockaddr_un to;
            int length;
            if (!strcmp(word[0], "unix_abstract"))
            {
                memset(&to, 0, sizeof to);
                to.sun_family = AF_UNIX;
                strncpy(to.sun_path + 1, word[1], sizeof to.sun_path - 2);
                length = (int)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(word[1]));
            }
            else length = unix_address(&to, word[1]);
            int stream = !strcmp(word[0], "unix_connect") || !strcmp(word[0], "unix_abstract");
            int fd = socket(AF_UNIX, stream ? SOCK_STREAM : SOCK_DGRAM, 0);
            const char *payload = word[2] ? word[2] : "";
            struct iovec v = { .iov_base = (void *)payload, .iov_len = strlen(payload) };
            struct msghdr m = { .msg_name = &to, .msg_namelen = length, .msg_iov = &v, .msg_iovlen = 1 };
            long r;
            if (stream) r = connect(fd, (struct sockaddr *)&to, length);
            else if (!strcmp(word[0], "unix_sendto")) r = sendto(fd, payload, strlen(payload), 0, (struct sockaddr *)&to, length);
            else if (!strcmp(word[0], "unix_sendmsg")) r = sendmsg(fd, &m, 0);
            else
            {
                struct mmsghdr mm = { .msg_hdr = m };
                r = sendmmsg(fd, &mm, 1, 0);
            }
            printf(" result=%ld errno=%d", r, r < 0 ? errno : 0);
            close(fd);
        }
        else if (!strcmp(word[0], "race")) race(word[1], word[2], atoi(word[3]));
        else if (!strcmp(word[0], "settle")) printf(" slept=%d", usleep(atoi(word[1]) * 1000));
        else printf(" unknown command");
        printf("\n");
    }
    return 0;
}
