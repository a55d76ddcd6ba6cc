/* Event volume: floods /tmp with creations and reads, in one directory or many, optionally forking half-way;
 * or times one denied open against the growth of the log stream.
 *   volume_probe flood <dir> <files> <dirs> <reads> [fork]
 *     file i is <dir>/d<i % dirs>/f<i>, or <dir>/f<i> with one directory (the directories exist); each is created once and opened <reads> times;
 *     prints "pid=<pid> attempts=<n> failed=<m>" for each process (with fork: the parent did the first half,
 *     the child, forked then, the second).
 *   volume_probe latency <path>
 *     stderr must be a regular file: prints "grew=<bytes> elapsed_us=<us> errno=<e>" for one open of <path>,
 *     measured from before the call to the moment the log stream has grown, then waits 1 s before exiting. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long attempts, failed;

static void one_file(const char *dir, int dirs, int i, int reads)
{
    char path[4096];
    if (dirs == 1) snprintf(path, sizeof path, "%s/f%d", dir, i);
    else snprintf(path, sizeof path, "%s/d%d/f%d", dir, i % dirs, i);
    attempts++;
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0) failed++;
    else { if (write(fd, "x", 1) != 1) failed++; close(fd); }
    for (int r = 0; r < reads; r++) {
        attempts++;
        fd = open(path, O_RDONLY);
        if (fd < 0) failed++; else close(fd);
    }
}

static long long now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000LL + t.tv_nsec / 1000;
}

static off_t stderr_size(void)
{
    struct stat st;
    return fstat(2, &st) == 0 ? st.st_size : -1;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "latency") == 0) {
        off_t before = stderr_size();
        long long start = now_us();
        int fd = open(argv[2], O_CREAT | O_WRONLY, 0600);
        int e = fd < 0 ? errno : 0;
        off_t after;
        while ((after = stderr_size()) == before && now_us() - start < 1000000) { }
        long long elapsed = now_us() - start;
        printf("grew=%lld elapsed_us=%lld errno=%d\n", (long long)(after - before), elapsed, e);
        fflush(stdout);
        sleep(1);
        return 0;
    }
    if (argc < 6 || strcmp(argv[1], "flood") != 0) { fprintf(stderr, "usage: see the source\n"); return 2; }
    const char *dir = argv[2];
    int files = atoi(argv[3]), dirs = atoi(argv[4]), reads = atoi(argv[5]);
    int do_fork = argc > 6 && strcmp(argv[6], "fork") == 0;
    int first_end = do_fork ? files / 2 : files;
    for (int i = 0; i < first_end; i++) one_file(dir, dirs, i, reads);
    if (do_fork) {
        fflush(stdout);
        pid_t child = fork();
        if (child == 0) {
            attempts = failed = 0;
            for (int i = first_end; i < files; i++) one_file(dir, dirs, i, reads);
            printf("pid=%d attempts=%ld failed=%ld\n", getpid(), attempts, failed);
            exit(0);
        }
        int status;
        waitpid(child, &status, 0);
    }
    printf("pid=%d attempts=%ld failed=%ld\n", getpid(), attempts, failed);
    return 0;
}
