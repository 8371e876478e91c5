/* The channel to the host: a virtio-serial port in a VM, one accepted Unix-socket connection in test mode.
 *
 * Reads feed the ttrpc decoder; responses go through a bounded outbound queue written without blocking.
 *
 * virtio-serial (drivers/char/virtio_console.c) has no notion of "connection" for the guest: while no host
 * is attached to the port, read() returns 0 and poll reports POLLHUP continuously. So EOF means "host
 * disconnected": the decoder is reset, queued output and every pending call of that connection are
 * dropped (the host re-asks after reconnecting), and the fd stays in the epoll set edge-triggered: the
 * driver wakes the port's waiters when a host attaches and when data arrives, so the next host is noticed at
 * once, not by polling. A read that no longer says EOF means a host is attached again. The timer re-checks
 * every AGENT_RECONNECT_POLL_MS as a fallback.
 * Containers and processes survive this. With a Unix socket, EOF closes the connection and the next one
 * is accepted: one connection at a time, like the port. */
#include "agent.h"
#include "log.h"
#include "port.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

struct obuf {
    struct obuf *next;
    uint8_t *data;
    size_t len, off;
};

static bool broken; /* a write failed: handle the disconnect outside the write path */
static uint8_t scanbuf[16384]; /* poisoned: bytes kept while looking for a Hello */
static size_t scanlen;

static bool connected(void)
{
    return A.ev_conn.fd >= 0 && !A.port_waiting && !A.poisoned;
}

static void update_interest(void)
{
    if (A.ev_conn.fd < 0 || A.port_waiting)
        return;
    uint32_t ev = 0;
    if (!A.input_paused)
        ev |= EPOLLIN;
    if (A.outq_head && !A.poisoned)
        ev |= EPOLLOUT;
    ev_set(&A.ev_conn, ev);
}

static void outq_drop(void)
{
    while (A.outq_head) {
        struct obuf *o = A.outq_head;
        A.outq_head = o->next;
        free(o->data);
        free(o);
    }
    A.outq_tail = NULL;
    A.outq_bytes = 0;
}

/* Forget everything that belongs to the current host connection. */
static void reset_connection(void)
{
    A.conn_gen++;
    outq_drop();
    ttrpc_decoder_reset(&A.dec);
    A.input_paused = false;
    A.last_stream = 0;
    agent_drop_calls();
    ports_close_all();
}

/* No host on the port: POLLHUP holds for as long, so level-triggered interest would spin; edge-triggered,
 * epoll reports the port once now (a read says EOF), then at each wake-up of its waiters (a host attached,
 * data arrived). */
static void port_wait(void)
{
    A.port_waiting = true;
    ev_set(&A.ev_conn, EPOLLIN | EPOLLET);
    timer_update();
}

/* A VM sees few reconnects, each worth a line; test mode sees one per client. */
#define log_conn(...) do { if (A.mode == MODE_VM) log_info(__VA_ARGS__); else log_debug(__VA_ARGS__); } while (0)

static void disconnected(const char *why)
{
    log_conn("host disconnected (%s)", why);
    reset_connection();
    A.poisoned = false;
    scanlen = 0;
    broken = false;
    if (A.mode == MODE_SOCKET) {
        ev_close(&A.ev_conn);
        ev_set(&A.ev_listen, EPOLLIN);
    } else {
        port_wait();
    }
}

static void flush(void)
{
    while (A.outq_head) {
        struct obuf *o = A.outq_head;
        ssize_t n = write(A.ev_conn.fd, o->data + o->off, o->len - o->off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            log_warn("write to host: %s", strerror(errno));
            broken = true;
            return;
        }
        o->off += (size_t)n;
        A.outq_bytes -= (size_t)n;
        if (o->off < o->len)
            continue;
        A.outq_head = o->next;
        if (!A.outq_head)
            A.outq_tail = NULL;
        free(o->data);
        free(o);
    }
    if (A.input_paused && A.outq_bytes < AGENT_OUTQ_LOW)
        A.input_paused = false;
    update_interest();
}

void channel_send(uint8_t *frame, size_t len)
{
    if (!connected() || broken) {
        free(frame);
        return;
    }
    struct obuf *o = xcalloc(1, sizeof(*o));
    o->data = frame;
    o->len = len;
    if (A.outq_tail)
        A.outq_tail->next = o;
    else
        A.outq_head = o;
    A.outq_tail = o;
    A.outq_bytes += len;
    if (A.outq_bytes > AGENT_OUTQ_HIGH)
        A.input_paused = true;
    flush();
}

/* Hello starts a new session (see docs/guest-protocol.md, "Reconnects"): virtio-serial does not tell
 * reliably where one host connection ends and the next begins, the Hello does. Calls pending from before
 * are forgotten, port connections closed (their ids mean nothing to the new host), and responses not yet
 * started are dropped (a partly written one must be finished, or the byte stream would be cut mid-frame). */
void channel_new_session(void)
{
    A.conn_gen++;
    agent_drop_calls();
    ports_close_all();
    struct obuf **pp = &A.outq_head;
    if (*pp && (*pp)->off > 0)
        pp = &(*pp)->next;
    while (*pp) {
        struct obuf *o = *pp;
        *pp = o->next;
        A.outq_bytes -= o->len - o->off;
        free(o->data);
        free(o);
    }
    A.outq_tail = NULL;
    for (struct obuf *o = A.outq_head; o; o = o->next)
        A.outq_tail = o;
    if (A.input_paused && A.outq_bytes < AGENT_OUTQ_LOW)
        A.input_paused = false;
    update_interest();
}

static void consume(const uint8_t *buf, size_t len);

/* A complete ttrpc Request frame for Agent.Hello at p? 1 = yes, 0 = no, -1 = maybe (need more bytes). */
static int hello_at(const uint8_t *p, size_t n, size_t *frame_len)
{
    if (n < TTRPC_HDR_LEN)
        return -1;
    struct ttrpc_hdr h;
    ttrpc_hdr_decode(p, &h);
    if (h.type != TTRPC_TYPE_REQUEST || h.flags != 0 || !(h.stream & 1) || h.length == 0 || h.length > 4096)
        return 0;
    if (n < TTRPC_HDR_LEN + h.length)
        return -1;
    Ttrpc__Request *req = ttrpc__request__unpack(NULL, h.length, p + TTRPC_HDR_LEN);
    if (!req)
        return 0;
    int ok = strcmp(req->service, AGENT_SERVICE) == 0 && strcmp(req->method, "Hello") == 0;
    ttrpc__request__free_unpacked(req, NULL);
    *frame_len = TTRPC_HDR_LEN + h.length;
    return ok;
}

/* Poisoned (VM): the byte stream lost its framing. Skip bytes until a complete Hello request, which
 * starts a new session; everything from there on is parsed normally again. */
static void poisoned_input(const uint8_t *buf, size_t len)
{
    while (len > 0) {
        size_t n = sizeof(scanbuf) - scanlen < len ? sizeof(scanbuf) - scanlen : len;
        memcpy(scanbuf + scanlen, buf, n);
        scanlen += n;
        buf += n;
        len -= n;
        size_t i = 0, flen = 0;
        for (; i < scanlen; i++) {
            int r = hello_at(scanbuf + i, scanlen - i, &flen);
            if (r == 1) {
                log_info("resynchronized on a Hello after %zu skipped bytes", i);
                A.poisoned = false;
                ttrpc_decoder_reset(&A.dec);
                size_t rest = scanlen - i;
                uint8_t *tmp = xmalloc(rest + len);
                memcpy(tmp, scanbuf + i, rest);
                memcpy(tmp + rest, buf, len);
                scanlen = 0;
                update_interest();
                consume(tmp, rest + len);
                free(tmp);
                return;
            }
            if (r == -1 && scanlen - i < 4096 + TTRPC_HDR_LEN)
                break; /* a Hello may start here: wait for more bytes */
        }
        memmove(scanbuf, scanbuf + i, scanlen - i);
        scanlen -= i;
        if (scanlen == sizeof(scanbuf)) /* cannot happen with the bound above; stay safe */
            scanlen = 0;
    }
}

static void on_frame(struct ttrpc_frame *f)
{
    if (f->hdr.type != TTRPC_TYPE_REQUEST) {
        /* Responses and Data frames have no meaning for this unary-only server; ttrpc 1.1 ignores them. */
        log_debug("ignoring frame type %u on stream %u", f->hdr.type, f->hdr.stream);
        return;
    }
    if ((f->hdr.stream & 1) == 0) {
        reply_status(f->hdr.stream, CODE_INVALID_ARGUMENT, "StreamID must be odd for client initiated streams");
        return;
    }
    A.last_stream = f->hdr.stream;
    rpc_dispatch(f->hdr.stream, f->payload, f->hdr.length);
}

/* Feeds received bytes to the decoder and handles what comes out. */
static void consume(const uint8_t *buf, size_t len)
{
    while (len > 0 && !broken) {
        if (A.poisoned) {
            poisoned_input(buf, len);
            return;
        }
        size_t used = 0;
        struct ttrpc_frame f = { 0 };
        enum ttrpc_event e = ttrpc_decode(&A.dec, buf, len, &used, &f);
        buf += used;
        len -= used;
        switch (e) {
        case TTRPC_NEED_MORE:
            break;
        case TTRPC_FRAME:
            on_frame(&f);
            free(f.payload);
            break;
        case TTRPC_OVERSIZE:
            log_warn("frame of %u bytes on stream %u exceeds the maximum of %u", f.hdr.length, f.hdr.stream,
                     TTRPC_MAX_PAYLOAD);
            if (f.hdr.type == TTRPC_TYPE_REQUEST) {
                char msg[128];
                snprintf(msg, sizeof(msg), "message length %u exceed maximum message size of %u", f.hdr.length,
                         TTRPC_MAX_PAYLOAD);
                reply_status(f.hdr.stream, CODE_RESOURCE_EXHAUSTED, msg);
            }
            break;
        case TTRPC_GARBAGE:
            log_warn("garbage on the channel (header type %u, length %u): dropping the connection",
                     A.dec.hdr.type, A.dec.hdr.length);
            if (A.mode == MODE_SOCKET) {
                broken = true;
            } else {
                /* A port cannot be closed from the guest: forget this session and skip input until the
                 * host disconnects or starts a new session with a Hello. */
                reset_connection();
                A.poisoned = true;
                scanlen = 0;
                update_interest();
                continue;
            }
            return;
        }
    }
}

static void on_readable(void)
{
    static uint8_t buf[256 * 1024];
    for (int i = 0; i < 4 && !A.input_paused && A.ev_conn.fd >= 0 && !A.port_waiting && !broken; i++) {
        ssize_t n = read(A.ev_conn.fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return;
            log_warn("read from host: %s", strerror(errno));
            broken = true;
            return;
        }
        if (n == 0) {
            disconnected("EOF");
            return;
        }
        consume(buf, (size_t)n);
    }
}

void channel_on_event(struct ev *ev, uint32_t events)
{
    if (ev->kind == EV_LISTEN) {
        int fd = accept4(A.ev_listen.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                log_warn("accept: %s", strerror(errno));
            return;
        }
        log_conn("host connected");
        A.ev_conn.fd = fd;
        A.ev_conn.events = 0;
        ev_set(&A.ev_listen, 0); /* one connection at a time; the next waits in the backlog */
        update_interest();
        return;
    }
    if (A.ev_conn.fd < 0)
        return;
    if (A.port_waiting) {
        channel_check_port();
        return;
    }
    if (events & EPOLLOUT)
        flush();
    if (!broken && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        on_readable();
    if (broken)
        disconnected("write error");
}

/* While the port's host side is disconnected (a wake-up of the port, or the timer): is a host there again? */
void channel_check_port(void)
{
    if (!A.port_waiting)
        return;
    uint8_t buf[4096];
    ssize_t n = read(A.ev_conn.fd, buf, sizeof(buf));
    if (n == 0)
        return;
    if (n < 0 && errno != EAGAIN) {
        if (errno != EINTR)
            log_warn("read from port: %s", strerror(errno));
        return;
    }
    log_conn("host connected");
    A.port_waiting = false;
    timer_update();
    update_interest();
    if (n > 0)
        consume(buf, (size_t)n);
    if (broken)
        disconnected("write error");
}

bool channel_wants_timer(void)
{
    return A.port_waiting;
}

int channel_open_listen(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        log_error("socket path `%s` too long", path);
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        log_error("socket: %s", strerror(e));
        return -e;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
        int e = errno;
        log_error("listen on `%s`: %s", path, strerror(e));
        close(fd);
        return -e;
    }
    A.ev_listen.fd = fd;
    A.ev_conn.fd = -1;
    return ev_set(&A.ev_listen, EPOLLIN);
}

int channel_open_port(const char *path)
{
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        log_error("open `%s`: %s", path, strerror(e));
        return -e;
    }
    A.ev_conn.fd = fd;
    A.ev_conn.events = 0;
    /* Until proven otherwise the host is not there. */
    port_wait();
    return 0;
}
