/*
 * resolver_probe: what a function can do to glibc's resolver so that the query that leaves is not the name
 * looked up, or goes to another server. Runs the commands named on the command line, in order, in one
 * process, and prints one line per command ("<command> => ..."). Used by ResolverConfigurationTests inside
 * the test's network namespace (NetNamespace), with and without the library.
 *
 *   env NAME=VALUE          setenv (stays for the later commands)
 *   unenv NAME              unsetenv
 *   resinit                 res_init(): the thread's _res built again (from glibc's kept configuration)
 *   resinit_fresh           res_init() after setting _res.retrans: glibc then reads resolv.conf and the variables afresh
 *   resns IP                res_init(), then _res's only name server is IP (port 53)
 *   resns6 IP6              res_init(), then _res's only name server is IP6, in _res._u._ext.nsaddrs
 *   gai NAME                getaddrinfo(NAME, "7070"): "status=" and "addrs="
 *   ghbn NAME               gethostbyname: "h_errno=" and "addrs="
 *   resq NAME               res_query for an A record: answer length (or -1) and h_errno
 *   resnq_ns IP NAME        res_ninit of a state of its own whose only name server is IP, then res_nquery
 *   ressend NAME            res_mkquery, then res_send of the message
 *   resnsend_extra NAME TEXT  res_ninit, res_nmkquery, then res_nsend of the message with TEXT after it
 *   connect4 IP PORT        TCP connect: result and errno
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void addrs(struct addrinfo *list)
{
    printf(" addrs=");
    const char *sep = "";
    for (struct addrinfo *ai = list; ai; ai = ai->ai_next)
    {
        char text[64] = "";
        if (ai->ai_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, text, sizeof text);
        else if (ai->ai_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, text, sizeof text);
        printf("%s%s", sep, text);
        sep = ",";
    }
}

static void only_server(struct __res_state *s, const char *ip)
{
    s->nscount = 1;
    s->nsaddr_list[0].sin_family = AF_INET;
    s->nsaddr_list[0].sin_port = htons(53);
    inet_pton(AF_INET, ip, &s->nsaddr_list[0].sin_addr);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int a = 1; a < argc; a++)
    {
        char *cmd = argv[a], copy[512], *word[4] = { 0 };
        snprintf(copy, sizeof copy, "%s", cmd);
        int words = 0;
        for (char *t = strtok(copy, " "); t && words < 4; t = strtok(NULL, " ")) word[words++] = t;
        printf("%s =>", cmd);
        errno = 0;
        if (!strcmp(word[0], "env"))
        {
            char *eq = strchr(word[1], '=');
            *eq = 0;
            printf(" result=%d", setenv(word[1], eq + 1, 1));
        }
        else if (!strcmp(word[0], "unenv")) printf(" result=%d", unsetenv(word[1]));
        else if (!strcmp(word[0], "resinit")) printf(" result=%d", res_init());
        else if (!strcmp(word[0], "resinit_fresh"))
        {
            _res.retrans = 3;
            printf(" result=%d", res_init());
        }
        else if (!strcmp(word[0], "resns"))
        {
            printf(" result=%d", res_init());
            only_server(&_res, word[1]);
        }
        else if (!strcmp(word[0], "resns6"))
        {
            printf(" result=%d", res_init());
            /* glibc frees nsaddrs[] when _res is built again */
            struct sockaddr_in6 *six = calloc(1, sizeof *six);
            six->sin6_family = AF_INET6;
            six->sin6_port = htons(53);
            inet_pton(AF_INET6, word[1], &six->sin6_addr);
            _res.nscount = 1;
            _res.nsaddr_list[0].sin_family = 0;
            free(_res._u._ext.nsaddrs[0]);
            _res._u._ext.nsaddrs[0] = six;
        }
        else if (!strcmp(word[0], "gai"))
        {
            struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *list = NULL;
            int status = getaddrinfo(word[1], "7070", &hints, &list);
            printf(" status=%d", status);
            if (status == 0) { addrs(list); freeaddrinfo(list); }
        }
        else if (!strcmp(word[0], "ghbn"))
        {
            struct hostent *h = gethostbyname(word[1]);
            printf(" result=%s h_errno=%d addrs=", h ? "hostent" : "NULL", h_errno);
            for (int i = 0; h && h->h_addr_list[i]; i++)
            {
                char text[64];
                inet_ntop(h->h_addrtype, h->h_addr_list[i], text, sizeof text);
                printf("%s%s", i ? "," : "", text);
            }
        }
        else if (!strcmp(word[0], "resq"))
        {
            unsigned char answer[512];
            int n = res_query(word[1], C_IN, T_A, answer, sizeof answer);
            printf(" result=%s h_errno=%d", n > 0 ? "answer" : "-1", h_errno);
        }
        else if (!strcmp(word[0], "resnq_ns"))
        {
            struct __res_state state;
            memset(&state, 0, sizeof state);
            res_ninit(&state);
            only_server(&state, word[1]);
            unsigned char answer[512];
            int n = res_nquery(&state, word[2], C_IN, T_A, answer, sizeof answer);
            printf(" result=%s h_errno=%d", n > 0 ? "answer" : "-1", h_errno);
            res_nclose(&state);
        }
        else if (!strcmp(word[0], "ressend") || !strcmp(word[0], "resnsend_extra"))
        {
            struct __res_state state;
            memset(&state, 0, sizeof state);
            res_ninit(&state);
            unsigned char message[512], answer[512];
            int n = res_nmkquery(&state, QUERY, word[1], C_IN, T_A, NULL, 0, NULL, message, sizeof message);
            int r;
            if (word[2])
            {
                size_t extra = strlen(word[2]);
                memcpy(message + n, word[2], extra);
                r = res_nsend(&state, message, n + (int)extra, answer, sizeof answer);
            }
            else r = res_send(message, n, answer, sizeof answer);
            printf(" result=%s h_errno=%d", r > 0 ? "answer" : "-1", h_errno);
            res_nclose(&state);
        }
        else if (!strcmp(word[0], "connect4"))
        {
            struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(atoi(word[2])) };
            inet_pton(AF_INET, word[1], &to.sin_addr);
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            int r = connect(fd, (struct sockaddr *)&to, sizeof to);
            printf(" result=%d errno=%d", r, r ? errno : 0);
            close(fd);
        }
        else printf(" unknown command");
        printf("\n");
    }
    return 0;
}
