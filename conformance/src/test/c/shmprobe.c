/* A probe of POSIX shared memory as programs use it (shm_open, sem_open, Python's multiprocessing): a file in
 * /dev/shm mapped MAP_SHARED and written through the mapping.
 *   shmprobe set PATH TEXT   create PATH, map it shared, write TEXT through the mapping
 *   shmprobe get PATH        map PATH shared and print what the mapping holds
 * Built static by the conformance tests (the test image has only busybox). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE 4096

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "set") == 0 && argc < 4)) {
        fprintf(stderr, "usage: shmprobe set PATH TEXT | get PATH\n");
        return 2;
    }
    int set = strcmp(argv[1], "set") == 0;
    int fd = open(argv[2], set ? O_RDWR | O_CREAT : O_RDWR, 0600);
    if (fd < 0) {
        fprintf(stderr, "open %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    if (set && ftruncate(fd, SIZE) < 0) {
        fprintf(stderr, "ftruncate %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "mmap MAP_SHARED %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    if (set)
        snprintf(p, SIZE, "%s", argv[3]);
    else
        printf("%.*s\n", (int)strnlen(p, SIZE), p);
    return munmap(p, SIZE) == 0 ? 0 : 1;
}
