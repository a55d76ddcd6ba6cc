/*
 * Event load for the benchmark: one thread makes denied calls (open of distinct, absent files under /tmp:
 * each one an event under read_write_tmp=block, a plain ENOENT without the library) at a given rate, while
 * the main thread times allowed calls (open+close of an ordinary file) for the same duration.
 *
 *   events_load RATE SECONDS ALLOWED_PATH      RATE 0: as fast as possible
 *
 * Prints "generated=<n> gen_ns=<mean ns per denied call> call_median_ns=<ns> call_p99_ns=<ns> calls=<n>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double rate, seconds;
static volatile int done;
static long generated;
static long long gen_spent;

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *generate(void *unused)
{
    (void)unused;
    char path[128];
    long long start = now_ns(), end = start + (long long)(seconds * 1e9);
    for (long i = 0;; i++) {
        long long t = now_ns();
        if (t >= end) break;
        if (rate > 0) {
            long long due = start + (long long)(i * 1e9 / rate);
            if (due > t) {
                struct timespec pause = { 0, due - t };
                nanosleep(&pause, NULL);
            }
        }
        snprintf(path, sizeof path, "/tmp/iron-bench-%d-%ld", (int)getpid(), i);
        long long c = now_ns();
        int fd = open(path, O_RDONLY);
        gen_spent += now_ns() - c;
        if (fd >= 0) close(fd);
        generated++;
    }
    done = 1;
    return NULL;
}

static int compare(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 4) { fprintf(stderr, "usage: events_load RATE SECONDS ALLOWED_PATH\n"); return 2; }
    rate = atof(argv[1]);
    seconds = atof(argv[2]);
    size_t cap = 1 << 24, n = 0;
    long long *samples = malloc(cap * sizeof *samples);
    pthread_t t;
    pthread_create(&t, NULL, generate, NULL);
    while (!done && n < cap) {
        long long c = now_ns();
        int fd = open(argv[3], O_RDONLY);
        if (fd >= 0) close(fd);
        samples[n++] = now_ns() - c;
        /* an application thread that also does other work: leave the CPU to the rest now and then */
        if ((n & 255) == 0) sched_yield();
    }
    pthread_join(t, NULL);
    qsort(samples, n, sizeof *samples, compare);
    printf("generated=%ld gen_ns=%lld call_median_ns=%lld call_p99_ns=%lld calls=%zu\n", generated,
           generated ? gen_spent / generated : 0, samples[n / 2], samples[n * 99 / 100], n);
    return 0;
}
