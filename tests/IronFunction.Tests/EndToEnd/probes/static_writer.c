/* static_writer: built with gcc -static, so no preload reaches it; creates PATH with libc's open and prints result=/errno=. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) { printf("setup-failed usage\n"); return 2; }
    errno = 0;
    int fd = open(argv[1], O_WRONLY | O_CREAT, 0644);
    printf("result=%s errno=%d\n", fd >= 0 ? "fd" : "-1", fd >= 0 ? 0 : errno);
    return 0;
}
