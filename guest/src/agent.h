/* The agent's state: one event loop, a channel to the host, containers and their processes.
 *
 * Everything here is touched only by the single thread of the event loop (main.c). Children are forked
 * from that thread and never share memory with it afterwards. */
#ifndef A3S_AGENT_H
#define A3S_AGENT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pb.h"
#include "log.h"
#include "ttrpc.h"

#define AGENT_PROTOCOL_VERSION 1
#define AGENT_PORT_NAME "a3s.agent"
#define AGENT_SHARE_TAG "a3s.share"
#define AGENT_SHARE_DIR "/run/a3s/share"
#define AGENT_SHARE_OPTS "trans=virtio,version=9p2000.L,msize=524288,cache=loose"
/* Bind-mount sources (volumes): the host may write them while a container runs, so no page or attribute
 * cache; mmap still works (cache=none would refuse a shared writable mapping). */
#define AGENT_VOLUMES_TAG "a3s.volumes"
#define AGENT_VOLUMES_DIR "/run/a3s/volumes"
#define AGENT_VOLUMES_OPTS "trans=virtio,version=9p2000.L,msize=524288,cache=mmap"
#define AGENT_MODULES_ORDER "/etc/a3s/modules.order"
/* The guest image's on-demand kernel modules, read-only (modprobe.c); /sbin/modprobe links to the agent. */
#define AGENT_MODULES_TAG "a3s.modules"
#define AGENT_MODULES_DIR "/run/a3s/modules"
#define AGENT_MODULES_OPTS "trans=virtio,version=9p2000.L,msize=524288,cache=loose"
#define AGENT_MODULES_INDEX "modules.index"
#define AGENT_MODPROBE "/sbin/modprobe"
#define AGENT_PORT_WAIT_MS 60000         /* give up (and panic the VM) if the port never shows */
#define AGENT_RECONNECT_POLL_MS 100      /* host-disconnected port: fallback re-check (epoll wakes it first) */
#define AGENT_FAST_POLL_MS 5             /* freeze / destroy progress */
#define AGENT_OOM_POLL_MS 100            /* memory.events oom_kill */
#define AGENT_DESTROY_TIMEOUT_MS 10000
#define AGENT_FREEZE_TIMEOUT_MS 5000
#define AGENT_OUTQ_HIGH (16u << 20)      /* stop reading requests above this much queued output */
#define AGENT_OUTQ_LOW (4u << 20)        /* ... and resume below this */
#define AGENT_PIPE_SIZE (1 << 20)        /* stdout/stderr pipe buffer (F_SETPIPE_SZ, best effort) */
#define AGENT_READ_SLACK 1024            /* ReadOutput data is capped at max frame - this */
#define AGENT_MAX_FINISHED_EXECS 128     /* safety net: the host forgets execs with DeleteProcess; past this
                                            many finished, drained execs the oldest are forgotten */

/* An fd in the epoll set. data.ptr of every epoll event points to one of these. */
enum ev_kind { EV_LISTEN = 1, EV_CONN, EV_SIGNAL, EV_TIMER, EV_STATUS, EV_OUT, EV_IN, EV_PORTFWD };
struct ev {
    int kind;
    int fd;          /* -1 when closed */
    int idx;         /* EV_OUT: 0 stdout, 1 stderr */
    uint32_t events; /* current epoll interest; 0 = not in the set */
    void *obj;       /* struct process * for EV_STATUS/OUT/IN, struct port_conn * for EV_PORTFWD */
};

int ev_set(struct ev *ev, uint32_t events); /* add / modify / remove (events == 0) */
void ev_close(struct ev *ev);               /* remove from the set and close the fd */

/* A call that is answered later (long calls). Belongs to exactly one list. */
struct call {
    struct call *next;
    uint32_t stream;
    uint64_t gen;            /* connection generation it arrived on */
    uint32_t max_bytes;      /* ReadOutput, PortRead */
    uint8_t *data;           /* WriteStdin, PortWrite: bytes to write */
    size_t len, off;
    bool close_write;        /* PortWrite: shut the write side once data is written */
    uint64_t last_oom;       /* WaitOom */
    uint64_t deadline_ns;    /* PauseContainer */
};

struct call *call_new(uint32_t stream);
void call_free(struct call *c);
void call_append(struct call **list, struct call *c);
void calls_free(struct call **list);

/* Process lifecycle in the agent. CREATING: forked, setting itself up. PARKED: set up, blocked on the
 * start pipe. STARTING: released, execve pending (status pipe open). RUNNING: execve succeeded (or failed:
 * exec_errno != 0 and it is about to exit). EXITED: reaped, exit_status valid. */
enum proc_state { P_CREATING, P_PARKED, P_STARTING, P_RUNNING, P_EXITED };
const char *proc_state_name(int s);

struct container;

struct process {
    struct process *next;
    struct container *c;
    char *exec_id;           /* "" for the container's first process */
    pid_t pid;
    int state;
    bool terminal;
    bool failed_exec;        /* execve failed after release */
    bool drop_on_exit;       /* exec whose setup failed: forget the record once reaped */
    bool setup_failed;
    int exit_status;
    uint64_t exited_at_ns;

    struct ev ev_status;     /* status pipe (read end): "ready" or errno, then EOF at execve */
    int start_fd;            /* start pipe (write end): one byte releases the parked child */

    struct ev ev_out[2];     /* stdout, stderr (pty master on stdout with a terminal) */
    bool out_eof[2];
    struct ev ev_in;         /* stdin pipe write end, or a dup of the pty master */
    bool stdin_closed;
    bool close_stdin_after;  /* CloseStdin arrived while writes were pending */

    struct call *create_call;   /* CreateContainer or ExecProcess awaiting "parked" */
    struct call *start_call;    /* StartProcess awaiting the execve result */
    struct call *waits;         /* WaitProcess */
    struct call *reads[2];      /* ReadOutput per stream */
    struct call *writes;        /* WriteStdin */

    /* status message buffer (see struct park_msg) */
    uint8_t msgbuf[512];
    size_t msglen;
};

/* Written by a child on the status pipe: err == 0 means "parked"; otherwise the failure. */
struct park_msg {
    int32_t err;
    char op[28];
    char msg[480];
};

struct container {
    struct container *next;
    char *id;
    char *cgroup;            /* absolute path of its cgroup dir, NULL when cgroups are unavailable */
    int devcg_fd;            /* its device program (BPF), -1 when none */
    bool has_personality;    /* personality(2) of every process of the container */
    /* No pid namespace of its own (the VM's or its pod's): its processes outlive its init unless killed when
     * the init exits, as runc's shim kills them (ShouldKillAllOnExit); left, an orphan holding the stdio
     * pipes would hold the exit up for the host's whole drain bound. */
    bool kill_all_on_exit;
    unsigned long personality;
    struct process *init;
    struct process *procs;   /* init first, then execs */
    bool destroying;
    bool paused;
    uint64_t destroy_deadline_ns;
    struct call *destroy_calls;
    struct call *pause_calls;
    struct call *oom_calls;
    /* CreateContainer that failed: answered (with this error) once the cleanup finished */
    struct call *create_fail_call;
    int fail_code, fail_errno;
    char fail_op[28];
    char *fail_msg;
    /* a3s.trace: the agent's steps of its CreateContainer, since trace_t0 */
    struct trace trace;
    uint64_t trace_t0;
};

enum agent_mode { MODE_VM, MODE_SOCKET };

struct agent {
    int mode;
    bool pid1;
    int epfd;
    struct ev ev_sig, ev_timer, ev_listen, ev_conn;
    int timer_ms;                 /* current timerfd period, 0 = disarmed */

    /* channel (channel.c) */
    const char *listen_path;
    const char *port_path;
    uint64_t conn_gen;            /* bumped on every disconnect: stale calls are dropped */
    bool port_waiting;            /* VM: host side disconnected, polled by the timer */
    bool poisoned;                /* VM: garbage received, discarding until the host disconnects */
    bool input_paused;            /* outbound queue above the high mark */
    struct ttrpc_decoder dec;
    struct obuf *outq_head, *outq_tail;
    size_t outq_bytes;
    uint32_t last_stream;

    /* configuration */
    char share_dir[PATH_MAX];
    bool share_is_9p;             /* the VM's 9p share (cache=loose): what is written there needs a sync */
    bool volumes_is_9p;           /* the VM's 9p volumes export (cache=mmap): mmapped writes need a sync */
    char cgroup_root[PATH_MAX];   /* "" when no cgroup v2 hierarchy is available */
    char cgroup_parent[64];
    uint64_t boot_time_ns;
    int own_pidns_fd;

    struct container *containers;
    struct container *graveyard;  /* freed after the current batch of events */
    bool shutting_down;
    bool net_configured;          /* ConfigureNetwork succeeded (it may succeed once) */
};

extern struct agent A;

/* channel.c */
int channel_open_listen(const char *path);
int channel_open_port(const char *path);
void channel_on_event(struct ev *ev, uint32_t events);
void channel_check_port(void);
void channel_send(uint8_t *frame, size_t len);   /* takes ownership */
bool channel_wants_timer(void);
void channel_new_session(void);                 /* a Hello arrived */

/* rpc.c */
void rpc_dispatch(uint32_t stream, const uint8_t *payload, size_t len);
void reply_msg(uint32_t stream, uint64_t gen, const ProtobufCMessage *msg);
void reply_empty(uint32_t stream, uint64_t gen);
void reply_err(uint32_t stream, uint64_t gen, int code, int err, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void reply_status(uint32_t stream, int code, const char *msg);  /* no detail, current connection */

/* proc.c */
struct container *container_find(const char *id);
struct process *process_find(struct container *c, const char *exec_id);
void proc_on_status(struct process *p);
void proc_reap_all(void);
void agent_drop_calls(void);     /* host disconnected: forget every pending call */
int proc_spawn(struct process *p, const A3s__Guest__V1__ContainerSpec *spec,
               const A3s__Guest__V1__ProcessSpec *ps, char *err, size_t errlen, char *op, size_t oplen);
void proc_release(struct process *p);
void container_destroy(struct container *c);
void containers_on_timer(void);
bool containers_want_fast_timer(void);
bool containers_want_oom_timer(void);
void container_free_deferred(struct container *c);
void graveyard_flush(void);
void process_free(struct process *p);
void container_prune_execs(struct container *c);
void process_delete(struct process *p);  /* DeleteProcess of an exited exec */

/* stdio.c */
int stdio_prepare(struct process *p, const A3s__Guest__V1__ProcessSpec *ps, int child[3], int *pty_slave,
                  char *slave_path, size_t slave_len);
void stdio_on_readable(struct process *p, int idx);
void stdio_on_writable(struct process *p);
void stdio_read(struct process *p, int idx, struct call *call);
void stdio_write(struct process *p, struct call *call);
int stdio_close_stdin(struct process *p);
int stdio_resize(struct process *p, uint32_t width, uint32_t height);
void stdio_close_all(struct process *p);
/* The pull model's I/O on a non-blocking fd, shared with port.c. fd_read_avail reads until buf is full, the fd has
 * nothing more for now, end of file or an error, *n telling how much it read: returns 0 (full), -EAGAIN, 1 (end of
 * file) or another -errno. fd_write_call writes what is left of call's data: 0 once all is written, -EAGAIN when
 * the fd is full (call->off says how far it got), or another -errno. */
int fd_read_avail(int fd, uint8_t *buf, size_t max, size_t *n);
int fd_write_call(int fd, struct call *call);

/* boot.c */
int boot_stage1(void);           /* initramfs: mounts, modules, switch to a tmpfs root (re-execs) */
int boot_stage2(void);           /* tmpfs root: remaining mounts, cgroups, 9p share */
int modprobe_main(int argc, char **argv); /* the agent invoked as /sbin/modprobe, by the kernel */
int boot_find_port(char *path, size_t len, int timeout_ms);
void boot_poweroff(void);

/* timer */
void timer_update(void);

#endif
