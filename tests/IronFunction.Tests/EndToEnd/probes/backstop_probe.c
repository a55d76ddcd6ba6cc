/*
 * backstop_probe: what the libc layer cannot see, made one way chosen on the command line; prints
 *
 *     result=<fd | 0 | -1> errno=<n>
 *
 *   backstop_probe raw-openat PATH        syscall(SYS_openat, AT_FDCWD, PATH, O_WRONLY|O_CREAT, 0644)
 *   backstop_probe raw-open PATH          syscall(SYS_open, ...) (x86-64 only)
 *   backstop_probe uring PATH             an io_uring IORING_OP_OPENAT with the same flags (raw io_uring_setup)
 *   backstop_probe raw-read PATH          syscall(SYS_openat, ..., O_RDONLY)
 *   backstop_probe thread-read PORT PATH  a thread started first; then the Runtime API's next-invocation request goes to
 *                                         127.0.0.1:PORT (read_handler arms); then that thread reads PATH with a raw openat
 *   backstop_probe spawn PROGRAM ARG...   fork + execv of PROGRAM; prints its output, then "exit=<status>"
 *   backstop_probe ptrace PID             PTRACE_ATTACH, PTRACE_SEIZE and process_vm_writev on PID, one line each
 *   backstop_probe flag-off PATH          writes 0 into the library's ready flag (found through the first instruction of
 *                                         a generated export, creat: cmpb $0, flag(%rip)) through libc's open of /proc/self/mem, then
 *                                         open(PATH, O_CREAT)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int report(long r)
{
    int e = r < 0 ? errno : 0;
    printf("result=%s errno=%d\n", r >= 0 ? (r > 0 ? "fd" : "0") : "-1", e);
    fflush(stdout);
    return 0;
}

static long uring_openat(const char *path, int flags, int mode)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int ring = (int)syscall(__NR_io_uring_setup, 4, &p);
    if (ring < 0) { printf("setup-failed io_uring_setup errno=%d\n", errno); exit(2); }
    size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    char *sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
    char *cq = mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
    struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                                     MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
    if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) { printf("setup-failed mmap errno=%d\n", errno); exit(2); }
    unsigned tail = *(unsigned *)(sq + p.sq_off.tail), mask = *(unsigned *)(sq + p.sq_off.ring_mask);
    struct io_uring_sqe *sqe = &sqes[tail & mask];
    memset(sqe, 0, sizeof *sqe);
    sqe->opcode = IORING_OP_OPENAT;
    sqe->fd = AT_FDCWD;
    sqe->addr = (uint64_t)(uintptr_t)path;
    sqe->len = (unsigned)mode;
    sqe->open_flags = (unsigned)flags;
    ((unsigned *)(sq + p.sq_off.array))[tail & mask] = tail & mask;
    __atomic_store_n((unsigned *)(sq + p.sq_off.tail), tail + 1, __ATOMIC_RELEASE);
    if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) { printf("setup-failed io_uring_enter errno=%d\n", errno); exit(2); }
    unsigned head = __atomic_load_n((unsigned *)(cq + p.cq_off.head), __ATOMIC_ACQUIRE);
    struct io_uring_cqe *cqe = (struct io_uring_cqe *)(cq + p.cq_off.cqes) + (head & *(unsigned *)(cq + p.cq_off.ring_mask));
    int res = cqe->res;
    if (res < 0) { errno = -res; return -1; }
    return res;
}

static int arm_pipe[2];
static const char *thread_path;
static long thread_result;
static int thread_errno;

static void *reader(void *unused)
{
    (void)unused;
    char c;
    while (read(arm_pipe[0], &c, 1) < 0 && errno == EINTR) {}
    thread_result = syscall(SYS_openat, AT_FDCWD, thread_path, O_RDONLY, 0);
    thread_errno = errno;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) { printf("setup-failed usage\n"); return 2; }
    const char *what = argv[1];
    errno = 0;
    if (!strcmp(what, "raw-openat")) return report(syscall(SYS_openat, AT_FDCWD, argv[2], O_WRONLY | O_CREAT, 0644));
#ifdef SYS_open
    if (!strcmp(what, "raw-open")) return report(syscall(SYS_open, argv[2], O_WRONLY | O_CREAT, 0644));
#endif
    if (!strcmp(what, "uring")) return report(uring_openat(argv[2], O_WRONLY | O_CREAT, 0644));
    if (!strcmp(what, "raw-read")) return report(syscall(SYS_openat, AT_FDCWD, argv[2], O_RDONLY, 0));
    if (!strcmp(what, "thread-read") && argc == 4)
    {
        thread_path = argv[3];
        pthread_t t;
        if (pipe(arm_pipe) != 0 || pthread_create(&t, NULL, reader, NULL) != 0) { printf("setup-failed thread\n"); return 2; }
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
        inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
        if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) { printf("setup-failed connect errno=%d\n", errno); return 2; }
        const char *next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        if (write(fd, next, strlen(next)) != (ssize_t)strlen(next)) { printf("setup-failed send errno=%d\n", errno); return 2; }
        if (write(arm_pipe[1], "x", 1) != 1) { printf("setup-failed pipe\n"); return 2; }
        pthread_join(t, NULL);
        errno = thread_errno;
        return report(thread_result);
    }
    if (!strcmp(what, "spawn"))
    {
        fflush(stdout);
        pid_t child = fork();
        if (child < 0) { printf("setup-failed fork errno=%d\n", errno); return 2; }
        if (child == 0) { execv(argv[2], argv + 2); _exit(127); }
        int status;
        waitpid(child, &status, 0);
        printf("exit=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return 0;
    }
    if (!strcmp(what, "ptrace"))
    {
        pid_t pid = (pid_t)atoi(argv[2]);
        report(ptrace(PTRACE_ATTACH, pid, NULL, NULL));
        report(ptrace(PTRACE_SEIZE, pid, NULL, NULL));
        long word = 0;
        struct iovec local = { &word, sizeof word }, remote = { (void *)0x10000, sizeof word };
        errno = 0;
        return report(process_vm_writev(pid, &local, 1, &remote, 1, 0));
    }
    if (!strcmp(what, "flag-off"))
    {
#ifdef __x86_64__
        /* the review's attack: a generated export's first instruction is cmpb $0, disp32(%rip) (80 3d disp32 00);
           open itself is C now (file_prefilter.c), creat still the generated trampoline */
        unsigned char *code = dlsym(RTLD_DEFAULT, "creat");
        if (!code || code[0] != 0x80 || code[1] != 0x3d) { printf("setup-failed creat does not start with cmpb\n"); return 2; }
        int32_t disp;
        memcpy(&disp, code + 2, 4);
        unsigned char *flag = code + 7 + disp;
        int mem = open("/proc/self/mem", O_RDWR);
        unsigned char zero = 0;
        long wrote = mem < 0 ? -1 : pwrite(mem, &zero, 1, (off_t)(uintptr_t)flag);
        printf("flag=%d mem=%d wrote=%ld\n", *flag, mem >= 0, wrote);
        errno = 0;
        return report(open(argv[2], O_WRONLY | O_CREAT, 0644));
#else
        printf("setup-failed x86-64 only\n");
        return 2;
#endif
    }
    printf("setup-failed unknown %s\n", what);
    return 2;
}
