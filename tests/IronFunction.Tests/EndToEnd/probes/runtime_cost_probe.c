/* Probe for the library's footprint on a host: its threads, a main thread that leaves with pthread_exit, and opens
   racing a thread that rewrites the path. One mode per run, chosen by argv[1]:
     threads [N]            N denied opens of /tmp/iron-threads-N (0 by default), then "threads=<tasks of this process>"
                            and "log_image=<1 when lib_iron_function_log.so is mapped, else 0>"
     pthread_exit           main starts a thread and leaves with pthread_exit; the process ends when that thread returns
     race DIR NAME N        N opens (O_CREAT) of a buffer another thread flips, byte by byte, between DIR/../../tmp/NAME
                            and DIR/xx/yy/tmp/NAME (DIR two levels deep: the first is /tmp/NAME); prints
                            "created=<opens that returned a descriptor>" */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tasks(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d))) if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

static int log_image_mapped(void)
{
    char line[4096];
    int found = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && fgets(line, sizeof line, f)) if (strstr(line, "/lib_iron_function_log.so\n")) found = 1;
    if (f) fclose(f);
    return found;
}

static void *leave_later(void *unused)
{
    (void)unused;
    usleep(50000);
    printf("worker done\n");
    fflush(stdout);
    return NULL;
}

static char path[256];
static volatile int stop;
static char a[256], b[256];

static void *flip(void *unused)
{
    (void)unused;
    size_t n = strlen(a) + 1;
    while (!stop)
    {
        /* byte by byte: the opener may see any mix of the two spellings */
        for (size_t i = 0; i < n; i++) path[i] = a[i];
        for (size_t i = 0; i < n; i++) path[i] = b[i];
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "threads") == 0)
    {
        int denied = argc > 2 ? atoi(argv[2]) : 0;
        for (int i = 0; i < denied; i++)
        {
            char p[64];
            snprintf(p, sizeof p, "/tmp/iron-threads-%d", i);
            int fd = open(p, O_WRONLY | O_CREAT, 0600);
            if (fd >= 0) close(fd);
        }
        printf("threads=%d\n", tasks());
        printf("log_image=%d\n", log_image_mapped());
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "pthread_exit") == 0)
    {
        pthread_t t;
        pthread_create(&t, NULL, leave_later, NULL);
        pthread_exit(NULL);
    }
    if (argc >= 5 && strcmp(argv[1], "race") == 0)
    {
        /* the same length, so that a mix is always terminated: a lexical path into /tmp and a normal one that is not */
        snprintf(a, sizeof a, "%s/../../tmp/%s", argv[2], argv[3]);
        snprintf(b, sizeof b, "%s/xx/yy/tmp/%s", argv[2], argv[3]);
        strcpy(path, b);
        long n = atol(argv[4]), created = 0;
        pthread_t t;
        pthread_create(&t, NULL, flip, NULL);
        for (long i = 0; i < n; i++)
        {
            int fd = open(path, O_WRONLY | O_CREAT, 0600);
            if (fd >= 0) { created++; close(fd); }
        }
        stop = 1;
        pthread_join(t, NULL);
        printf("created=%ld\n", created);
        return 0;
    }
    fprintf(stderr, "usage: runtime_cost_probe threads [N] | pthread_exit | race DIR NAME N\n");
    return 2;
}
