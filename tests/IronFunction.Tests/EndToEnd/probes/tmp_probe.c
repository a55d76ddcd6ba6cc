/*
 * tmp_probe: performs ONE libc call named on the command line and prints one machine-readable line
 *
 *     result=<int | fd | ptr | NULL> errno=<n>
 *
 * then exits 0. Used by TmpCProbeTests (read_write_tmp end to end) with and without the library.
 *
 *   tmp_probe [options] <operation> [<path> [<path2>]]
 *
 * Options (applied in this order before the call):
 *   --chdir P      chdir(P) through libc (the library tracks it)
 *   --fchdir P     open P with a raw syscall, then fchdir() to it through libc
 *   --rawdir P     dirfd for the *at calls: P opened with a raw openat syscall (O_RDONLY|O_DIRECTORY),
 *                  as a descriptor inherited from an unprotected parent would be
 *   --rawpath P    the same with O_PATH|O_DIRECTORY
 *   --rawfile P    P (a file) opened O_RDONLY with a raw syscall, for "{fd}" in paths
 *   --dirfd N      dirfd for the *at calls is the number N, or {fd} for the raw descriptor (default AT_FDCWD)
 *   --oflags F     open flags, e.g. RDONLY, WRONLY|CREAT|TRUNC, RDONLY|DIRECTORY, PATH|DIRECTORY
 *   --mode M       octal mode for creating calls and chmod
 *   --fmode S      fopen/freopen mode string (default "r")
 *   --atflags F    *at flags: SYMLINK_NOFOLLOW, SYMLINK_FOLLOW, REMOVEDIR, EMPTY_PATH
 *
 * Path tokens: "@NULL" is a NULL pointer, "@ONE" is (char*)1, "{fd}" is replaced by the raw dirfd.
 * "snap <root>..." prints an lstat listing of trees (used without the library to check the disk).
 * "threads <outside-file> <tmp-file>" runs 8 threads of opens.
 */
#define _GNU_SOURCE
#define _LARGEFILE64_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <sys/inotify.h>
#include <libintl.h>
#include <unistd.h>
#include <utime.h>

/* glibc's _FORTIFY_SOURCE targets, called directly; the fortified build (PROBE_FORTIFIED) leaves the direct
   calls out, so that any reference to them in that binary comes from the headers' routing */
#ifndef PROBE_FORTIFIED
extern int __open_2(const char *path, int flags);
extern int __open64_2(const char *path, int flags);
extern int __openat_2(int dirfd, const char *path, int flags);
extern int __openat64_2(int dirfd, const char *path, int flags);
#endif

static int dirfd_ = AT_FDCWD;
static int rawfd = -1;
static int oflags = O_RDONLY;
static int mode = -1;
static const char *fmode = "r";
static int atflags = 0;

static int parse_flags(const char *spec)
{
    static const struct { const char *name; int value; } names[] = {
        {"RDONLY", O_RDONLY}, {"WRONLY", O_WRONLY}, {"RDWR", O_RDWR}, {"CREAT", O_CREAT}, {"EXCL", O_EXCL},
        {"TRUNC", O_TRUNC}, {"APPEND", O_APPEND}, {"DIRECTORY", O_DIRECTORY}, {"NOFOLLOW", O_NOFOLLOW},
        {"PATH", O_PATH}, {"CLOEXEC", O_CLOEXEC}, {"TMPFILE", O_TMPFILE},
        {"SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW}, {"SYMLINK_FOLLOW", AT_SYMLINK_FOLLOW},
        {"REMOVEDIR", AT_REMOVEDIR}, {"EMPTY_PATH", AT_EMPTY_PATH},
    };
    int value = 0;
    char *copy = strdup(spec), *save = NULL;
    for (char *tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
    {
        int found = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(tok, names[i].name) == 0) { value |= names[i].value; found = 1; }
        if (!found) { printf("setup-failed unknown flag %s\n", tok); exit(2); }
    }
    free(copy);
    return value;
}

static const char *token(const char *s)
{
    if (s == NULL) return NULL;
    if (strcmp(s, "@NULL") == 0) return NULL;
    if (strcmp(s, "@ONE") == 0) return (const char *)1;
    const char *at = strstr(s, "{fd}");
    if (at == NULL) return s;
    char *out = malloc(strlen(s) + 16);
    sprintf(out, "%.*s%d%s", (int)(at - s), s, rawfd, at + 4);
    return out;
}

static int raw_open_dir(const char *path, int flags)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) { printf("setup-failed raw open of %s errno=%d\n", path, errno); exit(2); }
    return fd;
}

static int count;
static int ftw_cb(const char *p, const struct stat *st, int type) { (void)p; (void)st; (void)type; count++; return 0; }
static int ftw64_cb(const char *p, const struct stat64 *st, int type) { (void)p; (void)st; (void)type; count++; return 0; }
static int nftw_cb(const char *p, const struct stat *st, int type, struct FTW *f) { (void)p; (void)st; (void)type; (void)f; count++; return 0; }
static int nftw64_cb(const char *p, const struct stat64 *st, int type, struct FTW *f) { (void)p; (void)st; (void)type; (void)f; count++; return 0; }

/* ---- snap: a listing of trees, for the tests' before/after comparisons (run without the library) ---- */
static size_t snap_root_len;
static const char *snap_label;
static int snap_cb(const char *p, const struct stat *st, int type, struct FTW *f)
{
    (void)type; (void)f;
    char kind = S_ISREG(st->st_mode) ? 'f' : S_ISDIR(st->st_mode) ? 'd' : S_ISLNK(st->st_mode) ? 'l' : S_ISFIFO(st->st_mode) ? 'p' : '?';
    printf("%s%s\t%c\t%04o\t%u\t%u\tnlink=%lu", snap_label, p + snap_root_len, kind, (unsigned)(st->st_mode & 07777),
           (unsigned)st->st_uid, (unsigned)st->st_gid, (unsigned long)st->st_nlink);
    if (kind != 'd') printf("\tsize=%lld", (long long)st->st_size);
    printf("\tmtime=%lld.%09ld", (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    /* atime only for files and fifos: reading a directory or a link (readlink, below) moves its own atime */
    if (kind == 'f' || kind == 'p') printf("\tatime=%lld.%09ld", (long long)st->st_atim.tv_sec, st->st_atim.tv_nsec);
    if (kind == 'l')
    {
        char target[4096];
        ssize_t n = readlink(p, target, sizeof target - 1);
        target[n < 0 ? 0 : n] = 0;
        printf("\t->%s", target);
    }
    else
    {
        char names[1024];
        ssize_t n = llistxattr(p, names, sizeof names);
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1)
            if (strncmp(names + i, "user.", 5) == 0) printf("\txattr:%s", names + i);
    }
    if (kind == 'f')
    {
        /* O_NOATIME: the listing must not move the atime it reports */
        int fd = open(p, O_RDONLY | O_NOATIME | O_CLOEXEC);
        if (fd < 0) fd = open(p, O_RDONLY | O_CLOEXEC);
        char content[64] = {0};
        if (fd >= 0) { ssize_t n = read(fd, content, sizeof content - 1); content[n < 0 ? 0 : n] = 0; close(fd); }
        for (char *c = content; *c; c++) if (*c == '\n' || *c == '\t') *c = '_';
        printf("\tcontent=%s", content);
    }
    printf("\n");
    return 0;
}

/* ---- threads ---- */
struct worker { const char *outside, *tmp; int ok, denied, wrong; };
static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 2000; i++)
    {
        int fd = open(w->outside, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) { w->ok++; close(fd); } else w->wrong++;
        if (i % 20 == 0)
        {
            errno = 0;
            fd = open(w->tmp, O_RDONLY | O_CLOEXEC);
            if (fd < 0 && errno == EACCES) w->denied++;
            else { w->wrong++; if (fd >= 0) close(fd); }
        }
    }
    return NULL;
}

enum kind { INT, FD, PTR };

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2)
    {
        const char *o = argv[i], *v = argv[i + 1];
        if (v == NULL) { printf("setup-failed %s needs a value\n", o); return 2; }
        if (strcmp(o, "--chdir") == 0) { if (chdir(v) != 0) { printf("setup-failed chdir errno=%d\n", errno); return 2; } }
        else if (strcmp(o, "--fchdir") == 0)
        {
            int fd = raw_open_dir(v, O_RDONLY);
            if (fchdir(fd) != 0) { printf("setup-failed fchdir errno=%d\n", errno); return 2; }
        }
        else if (strcmp(o, "--rawdir") == 0) dirfd_ = rawfd = raw_open_dir(v, O_RDONLY);
        else if (strcmp(o, "--rawpath") == 0) dirfd_ = rawfd = raw_open_dir(v, O_PATH);
        else if (strcmp(o, "--rawfile") == 0)
        {
            rawfd = (int)syscall(SYS_openat, AT_FDCWD, v, O_RDONLY | O_CLOEXEC, 0);
            if (rawfd < 0) { printf("setup-failed raw open of %s errno=%d\n", v, errno); return 2; }
        }
        else if (strcmp(o, "--dirfd") == 0) dirfd_ = strcmp(v, "{fd}") == 0 ? rawfd : atoi(v);
        else if (strcmp(o, "--oflags") == 0) oflags = parse_flags(v);
        else if (strcmp(o, "--mode") == 0) mode = (int)strtol(v, NULL, 8);
        else if (strcmp(o, "--fmode") == 0) fmode = v;
        else if (strcmp(o, "--atflags") == 0) atflags = parse_flags(v);
        else { printf("setup-failed unknown option %s\n", o); return 2; }
    }
    if (i >= argc) { printf("setup-failed no operation\n"); return 2; }
    const char *op = argv[i];
    const char *p = i + 1 < argc ? token(argv[i + 1]) : NULL;
    const char *q = i + 2 < argc ? token(argv[i + 2]) : NULL;
    int fmode_ = mode < 0 ? 0644 : mode;
    int dmode = mode < 0 ? 0755 : mode;
    int cmode = mode < 0 ? 0600 : mode;
    struct utimbuf ub = {1000000000, 1000000000};
    struct timeval tv[2] = {{1000000000, 0}, {1000000000, 0}};
    struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
    struct dirent **list = NULL;
    struct dirent64 **list64 = NULL;
    char template[8192] = {0};
    if (p != NULL && (uintptr_t)p > 4096 && strlen(p) < sizeof template) strcpy(template, p);

    if (strcmp(op, "snap") == 0)
    {
        for (int r = i + 1; r < argc; r++)
        {
            char label[16];
            snprintf(label, sizeof label, "%d:", r - i - 1);
            snap_label = label;
            snap_root_len = strlen(argv[r]);
            nftw(argv[r], snap_cb, 16, FTW_PHYS);
        }
        return 0;
    }
    if (strcmp(op, "threads") == 0)
    {
        pthread_t t[8];
        struct worker w[8];
        for (int k = 0; k < 8; k++) { w[k] = (struct worker){p, q, 0, 0, 0}; pthread_create(&t[k], NULL, work, &w[k]); }
        int ok = 0, denied = 0, wrong = 0;
        for (int k = 0; k < 8; k++) { pthread_join(t[k], NULL); ok += w[k].ok; denied += w[k].denied; wrong += w[k].wrong; }
        printf("result=0 errno=0 ok=%d denied=%d wrong=%d\n", ok, denied, wrong);
        return 0;
    }

    enum kind kind = INT;
    long r = 0;
    void *ptr = NULL;
    FILE *scratch = NULL;
    if (strcmp(op, "freopen") == 0 || strcmp(op, "freopen64") == 0) scratch = fopen("/dev/null", "r");
    errno = 0;

#define IS(name) (strcmp(op, name) == 0)
    if (IS("open")) { kind = FD; r = open(p, oflags, fmode_); }
    else if (IS("open64")) { kind = FD; r = open64(p, oflags, fmode_); }
    else if (IS("openat")) { kind = FD; r = openat(dirfd_, p, oflags, fmode_); }
    else if (IS("openat64")) { kind = FD; r = openat64(dirfd_, p, oflags, fmode_); }
#ifndef PROBE_FORTIFIED
    else if (IS("__open_2")) { kind = FD; r = __open_2(p, oflags); }
    else if (IS("__open64_2")) { kind = FD; r = __open64_2(p, oflags); }
    else if (IS("__openat_2")) { kind = FD; r = __openat_2(dirfd_, p, oflags); }
    else if (IS("__openat64_2")) { kind = FD; r = __openat64_2(dirfd_, p, oflags); }
#endif
    /* two-argument calls with run-time flags: with -D_FORTIFY_SOURCE=2 glibc's headers route these to the _2 forms */
    else if (IS("fortify-open")) { kind = FD; r = open(p, oflags); }
    else if (IS("fortify-open64")) { kind = FD; r = open64(p, oflags); }
    else if (IS("fortify-openat")) { kind = FD; r = openat(dirfd_, p, oflags); }
    else if (IS("fortify-openat64")) { kind = FD; r = openat64(dirfd_, p, oflags); }
    else if (IS("creat")) { kind = FD; r = creat(p, fmode_); }
    else if (IS("creat64")) { kind = FD; r = creat64(p, fmode_); }
    else if (IS("fopen")) { kind = PTR; ptr = fopen(p, fmode); }
    else if (IS("fopen64")) { kind = PTR; ptr = fopen64(p, fmode); }
    else if (IS("freopen")) { kind = PTR; ptr = freopen(p, fmode, scratch); }
    else if (IS("freopen64")) { kind = PTR; ptr = freopen64(p, fmode, scratch); }
    else if (IS("opendir")) { kind = PTR; ptr = opendir(p); }
    else if (IS("scandir")) r = scandir(p, &list, NULL, alphasort);
    else if (IS("scandir64")) r = scandir64(p, &list64, NULL, alphasort64);
    else if (IS("scandirat")) r = scandirat(dirfd_, p, &list, NULL, alphasort);
    else if (IS("scandirat64")) r = scandirat64(dirfd_, p, &list64, NULL, alphasort64);
    else if (IS("ftw")) { r = ftw(p, ftw_cb, 8); if (r == 0) r = count; }
    else if (IS("ftw64")) { r = ftw64(p, ftw64_cb, 8); if (r == 0) r = count; }
    else if (IS("nftw")) { r = nftw(p, nftw_cb, 8, FTW_PHYS); if (r == 0) r = count; }
    else if (IS("nftw64")) { r = nftw64(p, nftw64_cb, 8, FTW_PHYS); if (r == 0) r = count; }
    else if (IS("mkdir")) r = mkdir(p, dmode);
    else if (IS("mkdirat")) r = mkdirat(dirfd_, p, dmode);
    else if (IS("bind")) {
        /* an AF_UNIX socket bound to a path creates a socket file there */
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        strncpy(sun.sun_path, p ? p : "", sizeof sun.sun_path - 1);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        r = bind(s, (struct sockaddr *)&sun, sizeof sun);
        int e = errno;
        close(s);
        errno = e;
    }
    else if (IS("mkfifo")) r = mkfifo(p, fmode_);
    else if (IS("mkfifoat")) r = mkfifoat(dirfd_, p, fmode_);
    else if (IS("mknod")) r = mknod(p, S_IFIFO | fmode_, 0);
    else if (IS("mknodat")) r = mknodat(dirfd_, p, S_IFIFO | fmode_, 0);
    else if (IS("rmdir")) r = rmdir(p);
    else if (IS("unlink")) r = unlink(p);
    else if (IS("unlinkat")) r = unlinkat(dirfd_, p, atflags);
    else if (IS("remove")) r = remove(p);
    else if (IS("rename")) r = rename(p, q);
    else if (IS("renameat")) r = renameat(dirfd_, p, dirfd_, q);
    else if (IS("renameat2")) r = renameat2(dirfd_, p, dirfd_, q, 0);
    else if (IS("link")) r = link(p, q);
    else if (IS("linkat")) r = linkat(dirfd_, p, dirfd_, q, atflags);
    else if (IS("symlink")) r = symlink(p, q);
    else if (IS("symlinkat")) r = symlinkat(p, dirfd_, q);
    else if (IS("truncate")) r = truncate(p, 2);
    else if (IS("truncate64")) r = truncate64(p, 2);
    else if (IS("chmod")) r = chmod(p, cmode);
    else if (IS("lchmod")) r = lchmod(p, cmode);
    else if (IS("fchmodat")) r = fchmodat(dirfd_, p, cmode, atflags);
    else if (IS("chown")) r = chown(p, 1234, 1234);
    else if (IS("lchown")) r = lchown(p, 1234, 1234);
    else if (IS("fchownat")) r = fchownat(dirfd_, p, 1234, 1234, atflags);
    else if (IS("utime")) r = utime(p, &ub);
    else if (IS("utimes")) r = utimes(p, tv);
    else if (IS("lutimes")) r = lutimes(p, tv);
    else if (IS("utimensat")) r = utimensat(dirfd_, p, ts, atflags);
    else if (IS("futimesat")) r = futimesat(dirfd_, p, tv);
    else if (IS("setxattr")) r = setxattr(p, "user.iron", "v", 1, 0);
    else if (IS("lsetxattr")) r = lsetxattr(p, "user.iron", "v", 1, 0);
    else if (IS("removexattr")) r = removexattr(p, "user.iron");
    else if (IS("lremovexattr")) r = lremovexattr(p, "user.iron");
    else if (IS("getxattr")) { char v[64]; r = getxattr(p, "user.iron", v, sizeof v); }
    else if (IS("lgetxattr")) { char v[64]; r = lgetxattr(p, "user.iron", v, sizeof v); }
    else if (IS("listxattr")) { char v[256]; r = listxattr(p, v, sizeof v); }
    else if (IS("llistxattr")) { char v[256]; r = llistxattr(p, v, sizeof v); }
    else if (IS("bindtextdomain")) { kind = PTR; ptr = bindtextdomain("iron-probe", p); }
    else if (IS("inotify_add_watch")) { int in = inotify_init1(IN_CLOEXEC); r = inotify_add_watch(in, p, IN_CREATE | IN_OPEN); }
    else if (IS("mkstemp")) { kind = FD; r = mkstemp(template); }
    else if (IS("mkstemp64")) { kind = FD; r = mkstemp64(template); }
    else if (IS("mkostemp")) { kind = FD; r = mkostemp(template, O_CLOEXEC); }
    else if (IS("mkostemp64")) { kind = FD; r = mkostemp64(template, O_CLOEXEC); }
    else if (IS("mkstemps")) { kind = FD; r = mkstemps(template, 4); }
    else if (IS("mkstemps64")) { kind = FD; r = mkstemps64(template, 4); }
    else if (IS("mkostemps")) { kind = FD; r = mkostemps(template, 4, O_CLOEXEC); }
    else if (IS("mkostemps64")) { kind = FD; r = mkostemps64(template, 4, O_CLOEXEC); }
    else if (IS("mkdtemp")) { kind = PTR; ptr = mkdtemp(template); }
    else if (IS("tmpfile")) { kind = PTR; ptr = tmpfile(); }
    else if (IS("tmpfile64")) { kind = PTR; ptr = tmpfile64(); }
    else { printf("setup-failed unknown operation %s\n", op); return 2; }
#undef IS
    int e = errno;

    if (kind == PTR) printf("result=%s errno=%d\n", ptr ? "ptr" : "NULL", e);
    else if (kind == FD) printf("result=%s errno=%d\n", r >= 0 ? "fd" : r == -1 ? "-1" : "bad", e);
    else printf("result=%ld errno=%d\n", r, e);
    fflush(stdout);
    return 0;
}
