/* Small helpers shared by the agent and agentctl. Functions return 0 (or a count) on success and -errno on
 * failure; the caller logs, because only it knows what the failure means. */
#ifndef A3S_UTIL_H
#define A3S_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void cleanup_closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void cleanup_freep(void *p) { free(*(void **)p); }
#define _cleanup_close_ __attribute__((cleanup(cleanup_closep)))
#define _cleanup_free_ __attribute__((cleanup(cleanup_freep)))

/* Allocation failure in PID 1 is not recoverable: these abort (the VM then panics and the host sees it). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t now_ns(clockid_t clock);

int write_all(int fd, const void *buf, size_t len);
/* Reads a whole (small) file; *out is NUL-terminated, caller frees. */
int read_file(const char *path, char **out, size_t *len);
int read_file_at(int dirfd, const char *path, char **out, size_t *len);
int write_file(const char *path, const char *data);
int write_file_at(int dirfd, const char *path, const char *data);
int mkdir_p(const char *path, mode_t mode);
int set_nonblock(int fd, bool on);
int set_cloexec(int fd, bool on);
/* Closes every descriptor >= 3 that is not in keep[]. */
int close_fds_except(const int *keep, size_t n);
/* Copies a regular file (mode kept). */
int copy_file(const char *src, const char *dst);
/* Parses an unsigned decimal; returns -EINVAL on junk. */
int parse_u64(const char *s, uint64_t *out);

#endif
