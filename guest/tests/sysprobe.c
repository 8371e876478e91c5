/* sysprobe NR: makes syscall NR with zero arguments and prints "ok" or the errno's name (ENOSYS, EPERM, ...).
 * For the agent tests: what a seccomp filter answers a syscall no tool of busybox makes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sysprobe NR\n");
        return 2;
    }
    long r = syscall(strtol(argv[1], NULL, 10), 0, 0, 0, 0, 0, 0);
    int e = errno;
    if (r >= 0)
        puts("ok");
    else if (e == ENOSYS)
        puts("ENOSYS");
    else if (e == EPERM)
        puts("EPERM");
    else
        printf("errno %d\n", e);
    return 0;
}
