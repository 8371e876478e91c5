/* Helpers shared by the agent and agentctl. */
#include "util.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

int log_level = LOG_LVL_INFO;
int log_fd = -1;
int log_kmsg;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_open(const char *path, int kmsg)
{
    int fd = path ? open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC) : fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
        return; /* keep the previous sink */
    if (log_fd >= 0)
        close(log_fd);
    log_fd = fd;
    log_kmsg = kmsg;
}

void log_msg(int level, const char *fmt, ...)
{
    static const int kmsg_prio[] = { 3, 4, 6, 7 };
    char line[1024];
    int saved = errno;
    int n;
    if (level > log_level)
        return;
    if (log_kmsg)
        n = snprintf(line, sizeof(line), "<%d>a3s-agent[%d]: ", kmsg_prio[level], (int)getpid());
    else
        n = snprintf(line, sizeof(line), "a3s-agent[%d] %s: ", (int)getpid(), level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t r = write(log_fd >= 0 ? log_fd : 2, line, n);
    (void)r;
    errno = saved;
}

bool trace_enabled;

void trace_mark(struct trace *t, const char *name)
{
    if (!trace_enabled || t->n >= TRACE_MAX)
        return;
    t->name[t->n] = name;
    t->ns[t->n++] = now_ns(CLOCK_MONOTONIC);
}

void trace_print(const struct trace *t, const char *who, const char *id, uint64_t t0_ns)
{
    if (!trace_enabled)
        return;
    char line[900];
    size_t n = 0;
    for (int i = 0; i < t->n && n < sizeof(line) - 40; i++) {
        int m = snprintf(line + n, sizeof(line) - n, " %s=%.2f", t->name[i], (double)(t->ns[i] - t0_ns) / 1e6);
        if (m > 0)
            n += (size_t)m;
    }
    line[n < sizeof(line) ? n : sizeof(line) - 1] = '\0';
    log_warn("trace: container `%s` %s (ms):%s", id, who, line);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        log_error("out of memory (%zu bytes)", n);
        abort();
    }
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        log_error("out of memory (%zu x %zu bytes)", n, size);
        abort();
    }
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        log_error("out of memory (%zu bytes)", n);
        abort();
    }
    return q;
}

char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p) {
        log_error("out of memory");
        abort();
    }
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    char *s;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0) {
        log_error("out of memory");
        abort();
    }
    return s;
}

uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int read_file_at(int dirfd, const char *path, char **out, size_t *len)
{
    _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            free(buf);
            return e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

int read_file(const char *path, char **out, size_t *len)
{
    return read_file_at(AT_FDCWD, path, out, len);
}

int write_file_at(int dirfd, const char *path, const char *data)
{
    _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    size_t len = strlen(data);
    ssize_t n = write(fd, data, len);
    if (n < 0)
        return -errno;
    if ((size_t)n != len)
        return -EIO;
    return 0;
}

int write_file(const char *path, const char *data)
{
    return write_file_at(AT_FDCWD, path, data);
}

int mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

int set_cloexec(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0)
        return -errno;
    fl = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
    return fcntl(fd, F_SETFD, fl) < 0 ? -errno : 0;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

int close_fds_except(const int *keep, size_t n)
{
    int sorted[16];
    size_t m = 0;
    for (size_t i = 0; i < n && m < ARRAY_SIZE(sorted); i++)
        if (keep[i] >= 3)
            sorted[m++] = keep[i];
    qsort(sorted, m, sizeof(int), cmp_int);
    unsigned int from = 3;
    for (size_t i = 0; i <= m; i++) {
        unsigned int to = i < m ? (unsigned int)sorted[i] : ~0u;
        if (to > from) {
            if (syscall(SYS_close_range, from, to - 1, 0) < 0) {
                /* Kernels before 5.9: walk the possible descriptors. */
                long max = sysconf(_SC_OPEN_MAX);
                unsigned int lim = (max > 0 && to > (unsigned long)max) ? (unsigned int)max : to;
                for (unsigned int fd = from; fd < lim; fd++)
                    close((int)fd);
            }
        }
        if (i < m)
            from = (unsigned int)sorted[i] + 1;
    }
    return 0;
}

int copy_file(const char *src, const char *dst)
{
    _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    struct stat st;
    if (fstat(in, &st) < 0)
        return -errno;
    _cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
    if (out < 0)
        return -errno;
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        int r = write_all(out, buf, (size_t)n);
        if (r < 0)
            return r;
    }
    return 0;
}

int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s)
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || (*end && *end != '\n'))
        return -EINVAL;
    *out = v;
    return 0;
}
