/* The libc calls of io.a3s.box.shim.sys.Linux, for the daemons' native image (NativeLibc.java): each stores
 * errno where the call asks, as the FFM linker's captureCallState("errno") does on the JVM. Fixed arity, so
 * that variadic functions (syscall, open, ioctl) are called as variadic functions. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <signal.h>
#include <unistd.h>

#define CAPTURE(err, expr) do { __typeof__(expr) r_ = (expr); *(err) = errno; return r_; } while (0)

long a3s_syscall2(int *err, long n, long a, long b) { CAPTURE(err, syscall(n, a, b)); }
long a3s_syscall4(int *err, long n, long a, long b, void *c, long d) { CAPTURE(err, syscall(n, a, b, c, d)); }
int a3s_poll(int *err, struct pollfd *fds, long n, int timeout) { CAPTURE(err, poll(fds, (nfds_t)n, timeout)); }
int a3s_open(int *err, const char *path, int flags, int mode) { CAPTURE(err, open(path, flags, mode)); }
int a3s_close(int *err, int fd) { CAPTURE(err, close(fd)); }
int a3s_eventfd(int *err, int initval, int flags) { CAPTURE(err, eventfd((unsigned)initval, flags)); }
long a3s_read(int *err, int fd, void *buf, long n) { CAPTURE(err, read(fd, buf, (size_t)n)); }
long a3s_write(int *err, int fd, const void *buf, long n) { CAPTURE(err, write(fd, buf, (size_t)n)); }
int a3s_setpriority(int *err, int which, int who, int prio) { CAPTURE(err, setpriority(which, (id_t)who, prio)); }
int a3s_kill(int *err, int pid, int sig) { CAPTURE(err, kill(pid, sig)); }
int a3s_umount2(int *err, const char *target, int flags) { CAPTURE(err, umount2(target, flags)); }
int a3s_mount(int *err, const char *src, const char *target, const char *type, long flags, const void *data) {
  CAPTURE(err, mount(src, target, type, (unsigned long)flags, data));
}
int a3s_setns(int *err, int fd, int nstype) { CAPTURE(err, setns(fd, nstype)); }
int a3s_ioctl_ptr(int *err, int fd, long request, void *arg) { CAPTURE(err, ioctl(fd, (unsigned long)request, arg)); }
int a3s_socket(int *err, int domain, int type, int protocol) { CAPTURE(err, socket(domain, type, protocol)); }
int a3s_connect(int *err, int fd, const struct sockaddr *addr, int len) { CAPTURE(err, connect(fd, addr, (socklen_t)len)); }
long a3s_sendmsg(int *err, int fd, const struct msghdr *msg, int flags) { CAPTURE(err, sendmsg(fd, msg, flags)); }
int a3s_bind(int *err, int fd, const struct sockaddr *addr, int len) { CAPTURE(err, bind(fd, addr, (socklen_t)len)); }
int a3s_listen(int *err, int fd, int backlog) { CAPTURE(err, listen(fd, backlog)); }
int a3s_getsockname(int *err, int fd, struct sockaddr *addr, socklen_t *len) { CAPTURE(err, getsockname(fd, addr, len)); }
int a3s_accept4(int *err, int fd, struct sockaddr *addr, socklen_t *len, int flags) { CAPTURE(err, accept4(fd, addr, len, flags)); }
int a3s_getsockopt(int *err, int fd, int level, int name, void *val, socklen_t *len) {
  CAPTURE(err, getsockopt(fd, level, name, val, len));
}
int a3s_shutdown(int *err, int fd, int how) { CAPTURE(err, shutdown(fd, how)); }
char *a3s_strerror(int errnum) { return strerror(errnum); }
