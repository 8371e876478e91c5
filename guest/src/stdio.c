/* Process stdio, pull model.
 *
 * stdout/stderr are pipes (or one pty master) whose read ends the agent holds non-blocking. They are in
 * the epoll set only while a ReadOutput call waits on them, so output nobody asks for stays in the pipe
 * and back-pressures that process only. A read answers with what is available (up to max_bytes), and with
 * eof=true once the writers are gone and the pipe is drained: output written just before exit is still
 * read after the exit. stdin is a pipe (or the pty master) written as WriteStdin calls arrive; a call is
 * answered once all its bytes were written. */
#include "agent.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <termios.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* The ptmx of a running container's own devpts instance ("" when it has none), for an exec's terminal:
 * a pty of the VM's devpts would work, but its slave would not exist in the container's /dev/pts, and
 * `tty` there would say "not a tty" (runc allocates an exec's pty inside the container too). The init's
 * terminal comes from the VM's devpts: the container's does not exist yet, and the init's is bound on
 * /dev/console, as runc does. */
static void container_ptmx(const struct process *p, char *path, size_t len)
{
    path[0] = '\0';
    const struct process *init = p->c ? p->c->init : NULL;
    if (init && init != p && init->pid > 0 && init->state != P_EXITED)
        snprintf(path, len, "/proc/%d/root/dev/pts/ptmx", (int)init->pid);
}

static int open_pty(const char *ptmx, int *master, int *slave, char *path, size_t len)
{
    int m = -1;
    if (ptmx[0]) {
        m = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (m < 0)
            log_debug("open `%s`: %s; using the VM's /dev/ptmx", ptmx, strerror(errno));
    }
    if (m < 0)
        m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return -errno;
    int unlock = 0, n;
    if (ioctl(m, TIOCSPTLCK, &unlock) < 0 || ioctl(m, TIOCGPTN, &n) < 0) {
        int e = -errno;
        close(m);
        return e;
    }
    snprintf(path, len, "/dev/pts/%d", n);
    int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0)
        s = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        int e = -errno;
        close(m);
        return e;
    }
    *master = m;
    *slave = s;
    return 0;
}

int stdio_prepare(struct process *p, const A3s__Guest__V1__ProcessSpec *ps, int child[3], int *pty_slave,
                  char *slave_path, size_t slave_len)
{
    int r;
    *pty_slave = -1;
    if (ps->terminal) {
        int m = -1, s = -1;
        char ptmx[64];
        container_ptmx(p, ptmx, sizeof(ptmx));
        r = open_pty(ptmx, &m, &s, slave_path, slave_len);
        if (r < 0) {
            log_error("open a pty: %s", strerror(-r));
            return r;
        }
        if (ps->console_width || ps->console_height) {
            struct winsize ws = { .ws_row = (unsigned short)ps->console_height,
                                  .ws_col = (unsigned short)ps->console_width };
            ioctl(m, TIOCSWINSZ, &ws);
        }
        p->terminal = true;
        child[0] = s;
        child[1] = fcntl(s, F_DUPFD_CLOEXEC, 3);
        child[2] = fcntl(s, F_DUPFD_CLOEXEC, 3);
        set_nonblock(m, true);
        p->ev_out[0].fd = m;
        p->out_eof[1] = true; /* with a terminal all output is on stdout */
        if (ps->stdin)
            p->ev_in.fd = fcntl(m, F_DUPFD_CLOEXEC, 3);
        else
            p->stdin_closed = true;
        if (child[1] < 0 || child[2] < 0 || (ps->stdin && p->ev_in.fd < 0))
            return -EMFILE;
        return 0;
    }
    int fds[2];
    if (ps->stdin) {
        if (pipe2(fds, O_CLOEXEC) < 0)
            return -errno;
        child[0] = fds[0];
        p->ev_in.fd = fds[1];
        set_nonblock(fds[1], true);
    } else {
        child[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (child[0] < 0)
            return -errno;
        p->stdin_closed = true;
    }
    for (int i = 0; i < 2; i++) {
        if (i == 0 ? ps->discard_stdout : ps->discard_stderr) {
            child[1 + i] = open("/dev/null", O_WRONLY | O_CLOEXEC);
            if (child[1 + i] < 0)
                return -errno;
            p->out_eof[i] = true; /* no pipe: a read of it is answered with EOF */
            continue;
        }
        if (pipe2(fds, O_CLOEXEC) < 0)
            return -errno;
        fcntl(fds[0], F_SETPIPE_SZ, AGENT_PIPE_SIZE); /* best effort: fewer round trips for bulk output */
        set_nonblock(fds[0], true);
        p->ev_out[i].fd = fds[0];
        child[1 + i] = fds[1];
    }
    return 0;
}

int fd_read_avail(int fd, uint8_t *buf, size_t max, size_t *n)
{
    *n = 0;
    while (*n < max) {
        ssize_t r = read(fd, buf + *n, max - *n);
        if (r > 0) {
            *n += (size_t)r;
            continue;
        }
        if (r == 0)
            return 1;
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

int fd_write_call(int fd, struct call *call)
{
    while (call->off < call->len) {
        ssize_t n = write(fd, call->data + call->off, call->len - call->off);
        if (n > 0) {
            call->off += (size_t)n;
            continue;
        }
        if (n == 0)
            return -EIO; /* no progress and no reason: do not spin on it */
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

static void answer_read(struct process *p, int idx, const uint8_t *data, size_t n, bool eof)
{
    struct call *call = p->reads[idx];
    p->reads[idx] = call->next;
    A3s__Guest__V1__ReadOutputResponse r = A3S__GUEST__V1__READ_OUTPUT_RESPONSE__INIT;
    r.data.data = (uint8_t *)data;
    r.data.len = n;
    r.eof = eof;
    reply_msg(call->stream, call->gen, &r.base);
    call_free(call);
}

static void try_reads(struct process *p, int idx)
{
    struct ev *ev = &p->ev_out[idx];
    while (p->reads[idx]) {
        if (ev->fd < 0) {
            answer_read(p, idx, NULL, 0, true);
            continue;
        }
        size_t max = p->reads[idx]->max_bytes;
        size_t cap = TTRPC_MAX_PAYLOAD - AGENT_READ_SLACK;
        if (max == 0 || max > cap)
            max = cap;
        uint8_t *buf = xmalloc(max);
        size_t n;
        int rc = fd_read_avail(ev->fd, buf, max, &n);
        if (rc == -EAGAIN && n == 0) {
            free(buf);
            ev_set(ev, EPOLLIN);
            return;
        }
        /* End of file = all writers gone; EIO = the pty slave side is closed. Both mean drained, and so does an
         * error: nothing more will come. */
        bool eof = rc != 0 && rc != -EAGAIN;
        if (rc < 0 && rc != -EAGAIN && rc != -EIO)
            log_warn("read output of process %d: %s", (int)p->pid, strerror(-rc));
        if (eof) {
            ev_close(ev);
            p->out_eof[idx] = true;
        }
        answer_read(p, idx, buf, n, eof);
        free(buf);
    }
    if (ev->fd >= 0)
        ev_set(ev, 0);
    else if (p->state == P_EXITED && !p->c->destroying)
        container_prune_execs(p->c); /* may unlink p (freed after this batch of events) */
}

void stdio_read(struct process *p, int idx, struct call *call)
{
    call_append(&p->reads[idx], call);
    try_reads(p, idx);
}

void stdio_on_readable(struct process *p, int idx)
{
    try_reads(p, idx);
}

static void try_writes(struct process *p)
{
    struct ev *ev = &p->ev_in;
    while (p->writes) {
        struct call *call = p->writes;
        if (ev->fd < 0) {
            p->writes = call->next;
            reply_err(call->stream, call->gen, CODE_FAILED_PRECONDITION, 0, NULL,
                      "stdin of process `%s` in container `%s` is closed", p->exec_id, p->c->id);
            call_free(call);
            continue;
        }
        int rc = fd_write_call(ev->fd, call);
        if (rc == -EAGAIN) {
            ev_set(ev, EPOLLOUT);
            return;
        }
        p->writes = call->next;
        if (rc < 0) {
            reply_err(call->stream, call->gen, CODE_UNKNOWN, -rc, "write", "write stdin of process `%s` in container `%s`: %s",
                      p->exec_id, p->c->id, strerror(-rc));
        } else {
            A3s__Guest__V1__WriteStdinResponse r = A3S__GUEST__V1__WRITE_STDIN_RESPONSE__INIT;
            r.written = (uint32_t)call->len;
            reply_msg(call->stream, call->gen, &r.base);
        }
        call_free(call);
    }
    if (ev->fd >= 0)
        ev_set(ev, 0);
    if (p->close_stdin_after) {
        p->close_stdin_after = false;
        stdio_close_stdin(p);
    }
}

void stdio_write(struct process *p, struct call *call)
{
    call_append(&p->writes, call);
    try_writes(p);
}

void stdio_on_writable(struct process *p)
{
    try_writes(p);
}

/* With a pipe: close it, the process reads EOF after the written bytes. With a terminal there is no
 * end-of-file on a tty: write the VEOF character (^D), which a reader in canonical mode sees as EOF when
 * it arrives on an empty line. */
int stdio_close_stdin(struct process *p)
{
    if (p->writes) {
        p->close_stdin_after = true;
        return 0;
    }
    if (p->ev_in.fd < 0)
        return 0;
    int r = 0;
    if (p->terminal) {
        struct termios t;
        char veof = 4;
        if (tcgetattr(p->ev_in.fd, &t) == 0 && t.c_cc[VEOF])
            veof = (char)t.c_cc[VEOF];
        if (write(p->ev_in.fd, &veof, 1) != 1)
            r = -errno;
    }
    ev_close(&p->ev_in);
    p->stdin_closed = true;
    return r;
}

int stdio_resize(struct process *p, uint32_t width, uint32_t height)
{
    if (!p->terminal || p->ev_out[0].fd < 0)
        return 0;
    struct winsize ws = { .ws_row = (unsigned short)height, .ws_col = (unsigned short)width };
    if (ioctl(p->ev_out[0].fd, TIOCSWINSZ, &ws) < 0)
        return -errno;
    return 0;
}

void stdio_close_all(struct process *p)
{
    ev_close(&p->ev_out[0]);
    ev_close(&p->ev_out[1]);
    ev_close(&p->ev_in);
}
