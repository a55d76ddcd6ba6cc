/* What a protected process hands the programs it starts, tried as an attacker would (TreeProtectionTests).
 *
 *   tree_probe reopen PATH             open PATH with O_PATH, fdopen it and freopen(NULL, "r", …): prints what it read
 *   tree_probe read PATH               fopen(PATH, "r"): prints what it read
 *   tree_probe create PATH             open(PATH, O_WRONLY|O_CREAT|O_TRUNC)
 *   tree_probe rewrite VAR VALUE -- PROG ARGS…   overwrites VAR's string in this process's environment in place
 *                                      (VALUE no longer than the old one), then execv PROG
 *   tree_probe setenv VAR VALUE -- PROG ARGS…    setenv(VAR, VALUE), then execv PROG
 *   tree_probe overwrite FILE TEXT -- PROG ARGS… writes TEXT over FILE, then execv PROG
 *   tree_probe capture PROG ARGS…      runs PROG with its stderr on a pipe (pipe, fork, dup2, execv) and prints
 *                                      what came through it: "captured=<bytes, newlines as \n>"
 *   tree_probe fork-capture PATH       forks a child that puts its stderr on a pipe and, without exec, creates
 *                                      PATH; prints what came through the pipe and the child's result
 *
 * One line on stdout: "result=… errno=…" (and "read=…" for what was read).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int report_read(FILE *f)
{
    if (!f) { printf("result=NULL errno=%d\n", errno); return 0; }
    char buf[256] = { 0 };
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    for (size_t i = 0; i < n; i++) if (buf[i] == '\n') buf[i] = ' ';
    printf("result=ok read=%s\n", buf);
    return 0;
}

static int exec_rest(char **argv)
{
    fflush(stdout);
    execv(argv[0], argv);
    printf("exec result=-1 errno=%d\n", errno);
    return 1;
}

/* Reads the pipe to its end and prints it on one line. */
static void print_captured(int fd)
{
    char buf[65536];
    size_t used = 0;
    ssize_t n;
    while (used < sizeof buf - 1 && (n = read(fd, buf + used, sizeof buf - 1 - used)) > 0) used += (size_t)n;
    buf[used] = 0;
    printf("captured=");
    for (size_t i = 0; i < used; i++)
        if (buf[i] == '\n') printf("\\n"); else putchar(buf[i]);
    printf("\n");
}

static int capture(char **argv, const char *create)
{
    int p[2];
    if (pipe(p) != 0) return 2;
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) { printf("fork result=-1 errno=%d\n", errno); return 0; }
    if (child == 0)
    {
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        if (create)
        {
            int fd = open(create, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dprintf(1, "child result=%d errno=%d\n", fd < 0 ? -1 : 0, fd < 0 ? errno : 0);
            _exit(0);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    print_captured(p[0]);
    int status;
    waitpid(child, &status, 0);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) return 2;
    const char *what = argv[1];
    if (strcmp(what, "reopen") == 0)
    {
        int fd = open(argv[2], O_PATH);
        if (fd < 0) { printf("open result=-1 errno=%d\n", errno); return 0; }
        FILE *f = fdopen(fd, "r");
        if (!f) { printf("fdopen result=NULL errno=%d\n", errno); return 0; }
        return report_read(freopen(NULL, "r", f));
    }
    if (strcmp(what, "read") == 0) return report_read(fopen(argv[2], "r"));
    if (strcmp(what, "capture") == 0) return capture(argv + 2, NULL);
    if (strcmp(what, "fork-capture") == 0) return capture(NULL, argv[2]);
    if (strcmp(what, "create") == 0)
    {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        printf("result=%d errno=%d\n", fd < 0 ? -1 : 0, fd < 0 ? errno : 0);
        return 0;
    }
    if (argc < 6 || strcmp(argv[4], "--") != 0) return 2;
    if (strcmp(what, "rewrite") == 0)
    {
        char *value = getenv(argv[2]);
        if (!value || strlen(argv[3]) > strlen(value)) { printf("rewrite result=-1\n"); return 0; }
        strcpy(value, argv[3]);
        return exec_rest(argv + 5);
    }
    if (strcmp(what, "setenv") == 0)
    {
        setenv(argv[2], argv[3], 1);
        return exec_rest(argv + 5);
    }
    if (strcmp(what, "overwrite") == 0)
    {
        FILE *f = fopen(argv[2], "w");
        if (!f || fputs(argv[3], f) < 0 || fclose(f) != 0) { printf("overwrite result=-1 errno=%d\n", errno); return 0; }
        return exec_rest(argv + 5);
    }
    return 2;
}
