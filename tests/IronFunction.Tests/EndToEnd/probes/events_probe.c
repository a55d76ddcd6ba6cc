/*
 * Event-delivery probe: makes denied /tmp calls in a chosen pattern, then ends the process in a chosen way,
 * so that tests can check what reached the api_endpoint by then.
 *
 *   events_probe <end> <action> <args...>
 *
 * end:    return       return from main
 *         exit         exit(0) from a nested function
 *         thread-exit  another thread calls exit(0) while main waits for it
 *         stdin        print "ready", wait for a line on stdin, then return from main
 * action: deny PATH...            open(PATH, O_WRONLY|O_CREAT) for each PATH
 *         burst PREFIX N          open(PREFIX<i>) for i in 0..N-1: N distinct targets
 *         same PATH N             open(PATH) N times: identical repeats
 *         fork P1 P2 PCHILD P3    P1 and P2 in the parent, fork, PCHILD in the child (which exits with exit(0)),
 *                                 the parent waits for it, then P3
 *
 * Prints "pid=<pid> uid=<uid> denied=<n> ns=<time spent in the action's calls>" before ending.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long denied, other;

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void deny(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    if (fd >= 0) { close(fd); other++; }
    else if (errno == EACCES) denied++;
    else other++;
}

static void *exit_from_thread(void *unused)
{
    (void)unused;
    exit(0);
}

static void __attribute__((noinline)) end_with_exit(void) { exit(0); }

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: events_probe <end> <action> <args...>\n"); return 2; }
    const char *end = argv[1], *action = argv[2];
    long long start = now_ns(), spent;

    if (strcmp(action, "deny") == 0) {
        for (int i = 3; i < argc; i++) deny(argv[i]);
    } else if (strcmp(action, "burst") == 0 && argc == 5) {
        long n = atol(argv[4]);
        char path[4096];
        for (long i = 0; i < n; i++) {
            snprintf(path, sizeof path, "%s%ld", argv[3], i);
            deny(path);
        }
    } else if (strcmp(action, "same") == 0 && argc == 5) {
        long n = atol(argv[4]);
        for (long i = 0; i < n; i++) deny(argv[3]);
    } else if (strcmp(action, "fork") == 0 && argc == 7) {
        deny(argv[3]);
        deny(argv[4]);
        fflush(stdout);
        pid_t child = fork();
        if (child == 0) {
            deny(argv[5]);
            printf("child=%d denied=%ld\n", (int)getpid(), denied);
            exit(0);
        }
        int status = 0;
        waitpid(child, &status, 0);
        printf("child-status=%d\n", status);
        deny(argv[6]);
    } else {
        fprintf(stderr, "events_probe: bad action %s\n", action);
        return 2;
    }
    spent = now_ns() - start;
    printf("pid=%d uid=%d denied=%ld other=%ld ns=%lld\n", (int)getpid(), (int)getuid(), denied, other, spent);
    fflush(stdout);

    if (strcmp(end, "exit") == 0) end_with_exit();
    if (strcmp(end, "thread-exit") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, exit_from_thread, NULL);
        pthread_join(t, NULL);
    }
    if (strcmp(end, "stdin") == 0) {
        char line[64];
        printf("ready\n");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin)) return 0;
    }
    return 0;
}
