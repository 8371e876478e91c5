/* Port forwarding (OpenPort, PortRead, PortWrite, PortClose): TCP connections from the agent to 127.0.0.1:port in
 * the VM's network namespace, for kubectl port-forward. See port.c and docs/guest-protocol.md ("Port forwarding"). */
#ifndef A3S_PORT_H
#define A3S_PORT_H

#include "agent.h"

#define PORT_MAX_CONNS 256              /* open connections (connecting ones included) */
#define PORT_CONNECT_TIMEOUT_MS 5000
#define PORT_POLL_MS 100                /* connect deadlines are checked on the timer at this period */
#define PORT_MAX_READ (1u << 20)        /* PortRead.max_bytes 0 or above this means this */

struct port_conn {
    struct port_conn *next;
    uint64_t id;
    uint16_t port;
    struct ev ev;               /* the socket, EV_PORTFWD */
    bool connecting;            /* OpenPort not answered yet: the host does not know the id */
    bool eof;                   /* the peer shut its side and everything was read */
    bool write_shut;            /* a PortWrite with close_write arrived (written or pending) */
    int err;                    /* the read side failed (e.g. ECONNRESET): every later PortRead says so */
    uint64_t deadline_ns;       /* connecting: CLOCK_MONOTONIC */
    struct call *open_call;     /* OpenPort while connecting */
    struct call *read;          /* the one pending PortRead */
    struct call *writes;        /* pending PortWrites, in order */
};

/* The number of open connections (connecting ones included). */
int port_count(void);
/* A connected connection by id; NULL when unknown, closed, or not answered by OpenPort yet. */
struct port_conn *port_find(uint64_t id);
/* These take the call and answer it, at once or once its event happened. */
void port_open(uint16_t port, struct call *call);
void port_read(struct port_conn *pc, struct call *call);
void port_write(struct port_conn *pc, struct call *call);
/* PortClose: the pending PortRead gets eof, the pending PortWrites UNAVAILABLE; the socket is closed. */
void port_close(struct port_conn *pc);
void port_on_event(struct port_conn *pc);
void ports_on_timer(void);
bool ports_want_timer(void);
/* The session ended (a Hello, or the host went away): every connection is closed, its calls forgotten. */
void ports_close_all(void);
/* Between batches of events: frees the connections closed in the batch (an event may still point to them). */
void ports_flush(void);

#endif
