/* Port forwarding (kubectl port-forward): TCP connections from the agent to 127.0.0.1:port in the VM's network
 * namespace, which a pod's containers share, so that a server bound to the loopback only is reached too.
 *
 * A connection is driven like a process's stdio (stdio.c), in the pull model: its socket is in the epoll set only
 * while a call waits on it (the connect, a PortRead with nothing to read yet, a PortWrite the socket cannot take
 * yet), so bytes nobody asks for stay in the kernel and back-pressure that peer only. Unlike a pipe, one socket
 * carries both directions: its interest is the union of what its pending calls wait for, and the peer's end of
 * file leaves our write side usable. A connection belongs to the host's session: a new one closes them all (the
 * host could not tell its connections from a previous host's). */
#include "port.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

static struct port_conn *conns;
static int n_conns;
static struct port_conn *graveyard;  /* closed in this batch of events, freed by ports_flush */
static uint64_t next_id = 1;         /* never reused: a late call on a closed id must not reach a new connection */

int port_count(void)
{
    return n_conns;
}

struct port_conn *port_find(uint64_t id)
{
    for (struct port_conn *pc = conns; pc; pc = pc->next)
        if (pc->id == id && !pc->connecting)
            return pc;
    return NULL;
}

static void update_interest(struct port_conn *pc)
{
    uint32_t want = 0;
    if (pc->connecting || pc->writes)
        want |= EPOLLOUT;
    if (pc->read)
        want |= EPOLLIN;
    ev_set(&pc->ev, want);
}

/* Out of the list with its socket closed; the memory stays until ports_flush, as an event of the current batch
 * may still point to it. */
static void bury(struct port_conn *pc)
{
    struct port_conn **pp = &conns;
    while (*pp && *pp != pc)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = pc->next;
        n_conns--;
    }
    ev_close(&pc->ev);
    pc->next = graveyard;
    graveyard = pc;
}

void ports_flush(void)
{
    while (graveyard) {
        struct port_conn *pc = graveyard;
        graveyard = pc->next;
        call_free(pc->open_call);
        call_free(pc->read);
        calls_free(&pc->writes);
        free(pc);
    }
}

/* The connect finished: err 0 is success. */
static void open_done(struct port_conn *pc, int err)
{
    struct call *call = pc->open_call;
    pc->open_call = NULL;
    pc->connecting = false;
    if (err) {
        reply_err(call->stream, call->gen, CODE_UNAVAILABLE, err, "connect", "connect to 127.0.0.1:%u: %s", pc->port,
                  strerror(err));
        bury(pc);
    } else {
        log_debug("port connection %" PRIu64 " to 127.0.0.1:%u open", pc->id, pc->port);
        A3s__Guest__V1__OpenPortResponse r = A3S__GUEST__V1__OPEN_PORT_RESPONSE__INIT;
        r.conn_id = pc->id;
        reply_msg(call->stream, call->gen, &r.base);
        update_interest(pc);
    }
    call_free(call);
}

void port_open(uint16_t port, struct call *call)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        reply_err(call->stream, call->gen, CODE_UNAVAILABLE, e, "socket", "connect to 127.0.0.1:%u: socket: %s", port,
                  strerror(e));
        call_free(call);
        return;
    }
    struct port_conn *pc = xcalloc(1, sizeof(*pc));
    pc->id = next_id++;
    pc->port = port;
    pc->ev = (struct ev){ .kind = EV_PORTFWD, .fd = fd, .obj = pc };
    pc->open_call = call;
    pc->connecting = true;
    pc->next = conns;
    conns = pc;
    n_conns++;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        open_done(pc, 0);
        return;
    }
    if (errno != EINPROGRESS) {
        open_done(pc, errno);
        return;
    }
    pc->deadline_ns = now_ns(CLOCK_MONOTONIC) + (uint64_t)PORT_CONNECT_TIMEOUT_MS * 1000000ull;
    update_interest(pc);
    timer_update();
}

static void answer_read(struct port_conn *pc, const uint8_t *data, size_t n)
{
    struct call *call = pc->read;
    pc->read = NULL;
    A3s__Guest__V1__PortReadResponse r = A3S__GUEST__V1__PORT_READ_RESPONSE__INIT;
    r.data.data = (uint8_t *)data;
    r.data.len = n;
    r.eof = pc->eof;
    reply_msg(call->stream, call->gen, &r.base);
    call_free(call);
}

static void fail_read(struct port_conn *pc)
{
    struct call *call = pc->read;
    pc->read = NULL;
    reply_err(call->stream, call->gen, CODE_UNAVAILABLE, pc->err, "read",
              "read from 127.0.0.1:%u (port connection %" PRIu64 "): %s", pc->port, pc->id, strerror(pc->err));
    call_free(call);
}

static void try_read(struct port_conn *pc)
{
    if (!pc->read)
        return;
    if (pc->err) {
        fail_read(pc);
        return;
    }
    if (pc->eof) {
        answer_read(pc, NULL, 0);
        return;
    }
    size_t max = pc->read->max_bytes;
    if (max == 0 || max > PORT_MAX_READ)
        max = PORT_MAX_READ;
    static uint8_t buf[PORT_MAX_READ]; /* each read is answered before the next one starts */
    size_t n;
    int rc = fd_read_avail(pc->ev.fd, buf, max, &n);
    if (rc == -EAGAIN && n == 0)
        return;
    if (rc == 1)
        pc->eof = true;
    else if (rc < 0 && rc != -EAGAIN)
        pc->err = -rc; /* what was read before the error goes first; the error is the next read's answer */
    if (n == 0 && pc->err)
        fail_read(pc);
    else
        answer_read(pc, buf, n);
}

static void try_writes(struct port_conn *pc)
{
    while (pc->writes) {
        struct call *call = pc->writes;
        int rc = fd_write_call(pc->ev.fd, call);
        if (rc == -EAGAIN)
            return;
        pc->writes = call->next;
        int shut = rc == 0 && call->close_write && shutdown(pc->ev.fd, SHUT_WR) < 0 ? errno : 0;
        if (rc < 0)
            reply_err(call->stream, call->gen, CODE_UNAVAILABLE, -rc, "write",
                      "write to 127.0.0.1:%u (port connection %" PRIu64 "): %s", pc->port, pc->id, strerror(-rc));
        else if (shut)
            reply_err(call->stream, call->gen, CODE_UNAVAILABLE, shut, "shutdown",
                      "shut the write side of 127.0.0.1:%u (port connection %" PRIu64 "): %s", pc->port, pc->id,
                      strerror(shut));
        else
            reply_empty(call->stream, call->gen);
        call_free(call);
    }
}

void port_read(struct port_conn *pc, struct call *call)
{
    pc->read = call;
    try_read(pc);
    update_interest(pc);
}

void port_write(struct port_conn *pc, struct call *call)
{
    if (call->close_write)
        pc->write_shut = true;
    call_append(&pc->writes, call);
    try_writes(pc);
    update_interest(pc);
}

void port_close(struct port_conn *pc)
{
    log_debug("port connection %" PRIu64 " to 127.0.0.1:%u closed", pc->id, pc->port);
    if (pc->read) {
        pc->eof = true;
        answer_read(pc, NULL, 0);
    }
    while (pc->writes) {
        struct call *call = pc->writes;
        pc->writes = call->next;
        reply_err(call->stream, call->gen, CODE_UNAVAILABLE, 0, NULL, "port connection %" PRIu64 " was closed", pc->id);
        call_free(call);
    }
    bury(pc);
}

void port_on_event(struct port_conn *pc)
{
    if (pc->connecting) {
        /* Only EPOLLOUT is asked for while connecting: the connect is over, SO_ERROR says how it went. */
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(pc->ev.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        open_done(pc, err);
        return;
    }
    try_read(pc);
    try_writes(pc);
    update_interest(pc);
}

void ports_on_timer(void)
{
    uint64_t now = now_ns(CLOCK_MONOTONIC);
    struct port_conn *next;
    for (struct port_conn *pc = conns; pc; pc = next) {
        next = pc->next;
        if (!pc->connecting || now < pc->deadline_ns)
            continue;
        struct call *call = pc->open_call;
        pc->open_call = NULL;
        reply_err(call->stream, call->gen, CODE_DEADLINE_EXCEEDED, 0, NULL,
                  "connect to 127.0.0.1:%u: not connected after %d ms", pc->port, PORT_CONNECT_TIMEOUT_MS);
        call_free(call);
        bury(pc);
    }
}

bool ports_want_timer(void)
{
    for (struct port_conn *pc = conns; pc; pc = pc->next)
        if (pc->connecting)
            return true;
    return false;
}

/* The calls pending on them belong to the old session: they go unanswered, freed with the connections. */
void ports_close_all(void)
{
    if (conns)
        log_debug("closing %d port connections of the previous session", n_conns);
    while (conns)
        bury(conns);
}
