/* Processes: spawn (fork into the container), park/release, reap, and container teardown.
 *
 * The agent is the only reaper in the VM: every exit comes through proc_reap_all (SIGCHLD), is matched to
 * its record by pid, and the status stays in the record until the container is destroyed. A pid without a
 * record is an orphan (a container's grandchild) and is reaped silently. */
#include "agent.h"
#include "attrs.h"
#include "cgroup.h"
#include "container.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static struct process *proc_graveyard;

const char *proc_state_name(int s)
{
    switch (s) {
    case P_CREATING: return "creating";
    case P_PARKED: return "created";
    case P_STARTING: return "starting";
    case P_RUNNING: return "running";
    case P_EXITED: return "stopped";
    }
    return "unknown";
}

struct call *call_new(uint32_t stream)
{
    struct call *c = xcalloc(1, sizeof(*c));
    c->stream = stream;
    c->gen = A.conn_gen;
    return c;
}

void call_free(struct call *c)
{
    if (!c)
        return;
    free(c->data);
    free(c);
}

void call_append(struct call **list, struct call *c)
{
    while (*list)
        list = &(*list)->next;
    c->next = NULL;
    *list = c;
}

void calls_free(struct call **list)
{
    while (*list) {
        struct call *c = *list;
        *list = c->next;
        call_free(c);
    }
}

struct container *container_find(const char *id)
{
    for (struct container *c = A.containers; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

struct process *process_find(struct container *c, const char *exec_id)
{
    for (struct process *p = c->procs; p; p = p->next)
        if (strcmp(p->exec_id, exec_id ? exec_id : "") == 0)
            return p;
    return NULL;
}

static struct process *find_by_pid(pid_t pid)
{
    for (struct container *c = A.containers; c; c = c->next)
        for (struct process *p = c->procs; p; p = p->next)
            if (p->pid == pid && p->state != P_EXITED)
                return p;
    return NULL;
}

/* Host disconnected: every pending call belongs to the old connection. Work in progress (a create, a
 * start, a destroy, a freeze) goes on; only the answers are forgotten. */
void agent_drop_calls(void)
{
    for (struct container *c = A.containers; c; c = c->next) {
        calls_free(&c->destroy_calls);
        calls_free(&c->pause_calls);
        calls_free(&c->oom_calls);
        calls_free(&c->create_fail_call);
        for (struct process *p = c->procs; p; p = p->next) {
            calls_free(&p->create_call);
            calls_free(&p->start_call);
            calls_free(&p->waits);
            for (int i = 0; i < 2; i++) {
                calls_free(&p->reads[i]);
                if (p->ev_out[i].fd >= 0)
                    ev_set(&p->ev_out[i], 0);
            }
            calls_free(&p->writes);
            if (p->ev_in.fd >= 0)
                ev_set(&p->ev_in, 0);
            if (p->close_stdin_after) {
                p->close_stdin_after = false;
                stdio_close_stdin(p);
            }
        }
    }
    timer_update();
}

static int open_ns(pid_t pid, const char *name, int *fd)
{
    char path[64];
    struct stat mine, theirs;
    *fd = -1;
    snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
    if (stat(path, &mine) < 0)
        return errno == ENOENT ? 0 : -errno; /* kernel without this namespace type */
    snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, name);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -errno;
    if (fstat(f, &theirs) < 0) {
        int e = -errno;
        close(f);
        return e;
    }
    if (theirs.st_ino == mine.st_ino && theirs.st_dev == mine.st_dev) {
        close(f); /* shared with the agent: nothing to join */
        return 0;
    }
    *fd = f;
    return 0;
}

static int write_id_map(pid_t pid, const char *file, A3s__Guest__V1__IdMapping *const *m, size_t n)
{
    char path[64];
    char *buf = xmalloc(n * 36 + 1);
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(buf + len, "%u %u %u\n", m[i]->container_id, m[i]->host_id, m[i]->size);
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    int r = write_file(path, buf); /* one write: the kernel takes the map whole or not at all */
    free(buf);
    return r;
}

/* The first process of a container with a user namespace was born in it: what needs the VM's privileges
 * is done here, to its pid, before it may go on. */
static int userns_prepare(struct process *p, pid_t pid, const A3s__Guest__V1__ContainerSpec *spec,
                          const A3s__Guest__V1__ProcessSpec *ps, char *err, size_t errlen, char *op, size_t oplen)
{
    struct container *c = p->c;
    char path[PATH_MAX], v[32], what[256];
    int r;
#define PREP_FAIL(e, o, ...) do { snprintf(err, errlen, __VA_ARGS__); snprintf(op, oplen, "%s", o); \
                                  return (e); } while (0)
    if (c->cgroup) {
        snprintf(path, sizeof(path), "%s/cgroup.procs", c->cgroup);
        snprintf(v, sizeof(v), "%d", (int)pid);
        if ((r = write_file(path, v)) < 0)
            PREP_FAIL(r, "write", "join cgroup `%s`: %s", c->cgroup, strerror(-r));
    }
    if (PB_HAS(ps, oom_score_adj)) {
        snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
        snprintf(v, sizeof(v), "%d", ps->oom_score_adj);
        if ((r = write_file(path, v)) < 0)
            PREP_FAIL(r, "write", "oom_score_adj %d: %s", ps->oom_score_adj, strerror(-r));
    }
    if ((r = attrs_rlimits(pid, ps, what, sizeof(what))) < 0)
        PREP_FAIL(r, "setrlimit", "%s: %s", what, strerror(-r));
    if ((r = attrs_sched(pid, ps, what, sizeof(what))) < 0)
        PREP_FAIL(r, "sched_setattr", "%s: %s", what, strerror(-r));
    if ((r = write_id_map(pid, "uid_map", spec->uid_mappings, spec->n_uid_mappings)) < 0)
        PREP_FAIL(r, "write", "uid_map of the user namespace: %s", strerror(-r));
    if ((r = write_id_map(pid, "gid_map", spec->gid_mappings, spec->n_gid_mappings)) < 0)
        PREP_FAIL(r, "write", "gid_map of the user namespace: %s", strerror(-r));
#undef PREP_FAIL
    return 0;
}

/* The process a Namespaces.join names: a live process of a container of this agent, set up (its namespaces
 * are final once it parked), not one being torn down. NULL otherwise; *why says which. */
static struct process *join_target(uint32_t pid, const char **why)
{
    *why = "not a process of a container in this VM";
    for (struct container *c = A.containers; c; c = c->next)
        for (struct process *p = c->procs; p; p = p->next) {
            if (pid == 0 || p->pid != (pid_t)pid || p->state == P_EXITED)
                continue;
            if (c->destroying || p->setup_failed) {
                *why = c->destroying ? "its container is being destroyed" : "its setup failed";
                return NULL;
            }
            if (p->state == P_CREATING) {
                *why = "the process is still being set up";
                return NULL;
            }
            return p;
        }
    return NULL;
}

#define SPAWN_FAIL(e, o, ...) do { snprintf(err, errlen, __VA_ARGS__); snprintf(op, oplen, "%s", o); \
                                   r = (e); goto out; } while (0)

/* Waits (bounded: `ms`) for a child just sent SIGKILL, and reaps it. A child that does not die in time is left to
 * the orphan reaper, with a warning. */
static void reap_now(pid_t pid, int ms)
{
    for (int i = 0; i < ms; i++) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return;
        struct timespec t = { 0, 1000000 };
        nanosleep(&t, NULL);
    }
    log_warn("process %d did not die within %d ms of SIGKILL", (int)pid, ms);
}

int proc_spawn(struct process *p, const A3s__Guest__V1__ContainerSpec *spec,
               const A3s__Guest__V1__ProcessSpec *ps, char *err, size_t errlen, char *op, size_t oplen)
{
    struct container *c = p->c;
    struct child_args a = { 0 };
    int st[2] = { -1, -1 }, sp[2] = { -1, -1 }, child_stdio[3] = { -1, -1, -1 };
    int slave = -1, pidns = -1;
    char slave_path[64] = "";
    bool pidns_changed = false;
    uint32_t join_pid = 0; /* the pid whose pid namespace a container's first process joins */
    int r = 0;

    for (int i = 0; i < CHILD_MAX_NS; i++)
        a.ns_fd[i] = -1;
    a.root_fd = -1;

    if (pipe2(st, O_CLOEXEC) < 0 || pipe2(sp, O_CLOEXEC) < 0)
        SPAWN_FAIL(-errno, "pipe2", "pipe2: %s", strerror(errno));
    r = stdio_prepare(p, ps, child_stdio, &slave, slave_path, sizeof(slave_path));
    if (r < 0)
        SPAWN_FAIL(r, "stdio", "set up stdio: %s", strerror(-r));

    a.is_init = spec != NULL;
    a.trace_t0 = spec ? c->trace_t0 : trace_enabled ? now_ns(CLOCK_MONOTONIC) : 0;
    a.container_id = c->id;
    a.spec = spec;
    a.ps = ps;
    a.cgroup = c->cgroup;
    a.status_fd = st[1];
    a.start_fd = sp[0];
    a.stdio[0] = child_stdio[0];
    a.stdio[1] = child_stdio[1];
    a.stdio[2] = child_stdio[2];
    a.terminal = ps->terminal;
    a.pty_slave_path = slave_path[0] ? slave_path : NULL;
    a.has_personality = c->has_personality;
    a.personality = c->personality;
    a.userns_init = a.is_init && spec->namespaces && spec->namespaces->user;

    if (!a.is_init) {
        /* Join what the container's init created. The user ns first (the others are owned by it, and
         * joining it gives the rights to join them), the cgroup ns next and mnt last (setns(mnt) changes
         * how later paths resolve); pid is joined by the agent itself, for the fork below. */
        static const char *const names[] = { "user", "cgroup", "ipc", "uts", "net", "time", "mnt" };
        static const int types[] = { CLONE_NEWUSER, CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET,
                                     CLONE_NEWTIME, CLONE_NEWNS };
        pid_t ipid = c->init->pid;
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
            int fd;
            r = open_ns(ipid, names[i], &fd);
            if (r < 0)
                SPAWN_FAIL(r, "open", "open /proc/%d/ns/%s: %s", (int)ipid, names[i], strerror(-r));
            if (fd >= 0) {
                a.ns_fd[a.n_ns] = fd;
                a.ns_type[a.n_ns++] = types[i];
            }
        }
        r = open_ns(ipid, "pid", &pidns);
        if (r < 0)
            SPAWN_FAIL(r, "open", "open /proc/%d/ns/pid: %s", (int)ipid, strerror(-r));
        char root[64];
        snprintf(root, sizeof(root), "/proc/%d/root", (int)ipid);
        a.root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (a.root_fd < 0)
            SPAWN_FAIL(-errno, "open", "open %s: %s", root, strerror(errno));
    }

    for (size_t i = 0; a.is_init && spec->namespaces && i < spec->namespaces->n_joins; i++) {
        /* Namespaces.joins (validated by the caller: ipc, uts or pid, once each, never with a new user namespace).
         * Opened by the agent: the pid is one it answered, in its own pid namespace. ipc and uts are joined by
         * the child before its unshare, pid by the agent around the fork, as for an exec. */
        const A3s__Guest__V1__NamespaceJoin *j = spec->namespaces->joins[i];
        int type = strcmp(j->type, "ipc") == 0 ? CLONE_NEWIPC : strcmp(j->type, "uts") == 0 ? CLONE_NEWUTS
                   : strcmp(j->type, "pid") == 0 ? CLONE_NEWPID : 0;
        if (!type || a.userns_init || a.n_ns >= 2 || (type == CLONE_NEWPID && join_pid))
            SPAWN_FAIL(-EINVAL, "setns", "join the `%s` namespace of pid %u: not supported", j->type, j->pid);
        const char *why;
        struct process *t = join_target(j->pid, &why);
        if (!t)
            SPAWN_FAIL(-ESRCH, "setns", "join the %s namespace of pid %u: %s", j->type, j->pid, why);
        int fd;
        r = open_ns(t->pid, j->type, &fd);
        if (r < 0)
            SPAWN_FAIL(r, "open", "join the %s namespace of pid %u (container `%s`): open /proc/%u/ns/%s: %s",
                       j->type, j->pid, t->c->id, j->pid, j->type, strerror(-r));
        if (type == CLONE_NEWPID)
            join_pid = j->pid;
        if (fd < 0)
            continue; /* the agent's own, which the child is in already */
        if (type == CLONE_NEWPID) {
            pidns = fd;
        } else {
            a.ns_fd[a.n_ns] = fd;
            a.ns_type[a.n_ns++] = type;
        }
    }

    pid_t pid;
    if (a.userns_init) {
        /* clone, not unshare + fork: namespaces created with CLONE_NEWUSER in one call are owned by the new
         * user namespace, so its root may mount proc for its pid namespace. The child waits on the start
         * pipe until the maps are written. A raw clone is a fork as far as this child is concerned: it is
         * single-threaded and touches no glibc state that a fork would reset (no threads, no raise). */
        unsigned long flags = CLONE_NEWUSER | SIGCHLD;
        if (spec->namespaces->pid)
            flags |= CLONE_NEWPID;
        pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
        if (pid == 0)
            child_main(&a);
        if (pid < 0)
            SPAWN_FAIL(-errno, "clone", "clone a user namespace: %s", strerror(errno));
        r = userns_prepare(p, pid, spec, ps, err, errlen, op, oplen);
        static const char mapped = 'm';
        if (r == 0 && write(sp[1], &mapped, 1) != 1)
            r = -errno;
        if (r < 0) {
            /* Reaped here, not by the orphan reaper later: the caller removes the container's cgroup before it
             * answers, and a child that has not finished exiting still holds it (the id would stay taken). */
            kill(pid, SIGKILL);
            reap_now(pid, 1000);
            if (!err[0]) {
                snprintf(err, errlen, "release the user namespace child: %s", strerror(-r));
                snprintf(op, oplen, "write");
            }
            goto out;
        }
        goto spawned;
    }

    /* A new (or the container's) pid namespace applies to children only: switch the agent's
     * pid_for_children, fork, and switch it back at once. */
    if (a.is_init && spec->namespaces && spec->namespaces->pid) {
        if (unshare(CLONE_NEWPID) < 0)
            SPAWN_FAIL(-errno, "unshare", "unshare(CLONE_NEWPID): %s", strerror(errno));
        pidns_changed = true;
    } else if (pidns >= 0) {
        if (setns(pidns, CLONE_NEWPID) < 0) {
            if (join_pid)
                SPAWN_FAIL(-errno, "setns", "join the pid namespace of pid %u: %s", join_pid, strerror(errno));
            SPAWN_FAIL(-errno, "setns", "setns into the pid namespace of container `%s`: %s", c->id,
                       strerror(errno));
        }
        pidns_changed = true;
    }

    pid = fork();
    if (pid == 0)
        child_main(&a);
    int fork_errno = errno;
    if (pidns_changed && setns(A.own_pidns_fd, CLONE_NEWPID) < 0)
        log_error("restoring the agent's pid namespace for children: %s", strerror(errno));
    if (pid < 0 && join_pid) /* ENOMEM: that namespace's init has exited */
        SPAWN_FAIL(-fork_errno, "fork", "fork into the pid namespace of pid %u: %s", join_pid, strerror(fork_errno));
    if (pid < 0)
        SPAWN_FAIL(-fork_errno, "fork", "fork: %s", strerror(fork_errno));

spawned:
    p->pid = pid;
    p->state = P_CREATING;
    p->ev_status.fd = st[0];
    st[0] = -1;
    set_nonblock(p->ev_status.fd, true);
    ev_set(&p->ev_status, EPOLLIN);
    p->start_fd = sp[1];
    sp[1] = -1;
    log_debug("container `%s`: spawned %s process %d", c->id, a.is_init ? "init" : "exec", (int)pid);
    r = 0;

out:
    for (int i = 0; i < 2; i++) {
        if (st[i] >= 0)
            close(st[i]);
        if (sp[i] >= 0)
            close(sp[i]);
    }
    for (int i = 0; i < 3; i++)
        if (child_stdio[i] >= 0)
            close(child_stdio[i]);
    if (slave >= 0)
        close(slave);
    for (int i = 0; i < a.n_ns; i++)
        close(a.ns_fd[i]);
    if (pidns >= 0)
        close(pidns);
    if (a.root_fd >= 0)
        close(a.root_fd);
    if (r < 0)
        stdio_close_all(p);
    return r;
}

void proc_release(struct process *p)
{
    static const char go = 'g';
    if (write(p->start_fd, &go, 1) != 1)
        log_warn("release of process %d: %s", (int)p->pid, strerror(errno));
    close(p->start_fd);
    p->start_fd = -1;
    p->state = P_STARTING;
}

static void answer_created(struct process *p)
{
    struct call *call = p->create_call;
    p->create_call = NULL;
    if (!call)
        return;
    if (p == p->c->init) {
        A3s__Guest__V1__CreateContainerResponse r = A3S__GUEST__V1__CREATE_CONTAINER_RESPONSE__INIT;
        r.pid = (uint32_t)p->pid;
        reply_msg(call->stream, call->gen, &r.base);
    } else {
        A3s__Guest__V1__ExecProcessResponse r = A3S__GUEST__V1__EXEC_PROCESS_RESPONSE__INIT;
        r.pid = (uint32_t)p->pid;
        reply_msg(call->stream, call->gen, &r.base);
    }
    call_free(call);
}

static void unlink_process(struct process *p)
{
    struct process **pp = &p->c->procs;
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp)
        *pp = p->next;
    stdio_close_all(p);
    ev_close(&p->ev_status);
    p->next = proc_graveyard;
    proc_graveyard = p;
}

/* The host forgets an exec with DeleteProcess when containerd deletes it. As a safety net against a host
 * that does not (probes exec forever): keep the records of the most recent AGENT_MAX_FINISHED_EXECS
 * finished execs whose exit was reported and whose output reached EOF, and forget older ones. */
void container_prune_execs(struct container *c)
{
    int finished = 0;
    for (struct process *p = c->procs; p; p = p->next)
        if (p != c->init && p->state == P_EXITED && p->ev_out[0].fd < 0 && p->ev_out[1].fd < 0 && !p->waits &&
            !p->reads[0] && !p->reads[1])
            finished++;
    for (struct process *p = c->procs, *next; p && finished > AGENT_MAX_FINISHED_EXECS; p = next) {
        next = p->next;
        if (p != c->init && p->state == P_EXITED && p->ev_out[0].fd < 0 && p->ev_out[1].fd < 0 && !p->waits &&
            !p->reads[0] && !p->reads[1]) {
            unlink_process(p); /* oldest first: execs are appended */
            finished--;
        }
    }
}

static void fail_calls(struct call **list, int code, const char *fmt, const char *id);

void process_delete(struct process *p)
{
    /* What is still pending has its natural answer: output at EOF, nowhere to write. */
    for (int i = 0; i < 2; i++) {
        while (p->reads[i]) {
            struct call *call = p->reads[i];
            p->reads[i] = call->next;
            A3s__Guest__V1__ReadOutputResponse r = A3S__GUEST__V1__READ_OUTPUT_RESPONSE__INIT;
            r.eof = true;
            reply_msg(call->stream, call->gen, &r.base);
            call_free(call);
        }
    }
    fail_calls(&p->writes, CODE_NOT_FOUND, "process `%s` was deleted", p->exec_id);
    log_debug("container `%s`: exec `%s` deleted", p->c->id, p->exec_id);
    unlink_process(p);
    timer_update();
}

/* The child could not set itself up (or died before saying so). */
static void setup_failed(struct process *p, int err, const char *op, const char *msg)
{
    struct container *c = p->c;
    if (p->setup_failed)
        return; /* the status pipe's EOF after the failure message */
    p->setup_failed = true;
    log_warn("container `%s`: %s process setup failed: %s", c->id, p == c->init ? "init" : "exec", msg);
    if (p->pid > 0 && p->state != P_EXITED)
        kill(p->pid, SIGKILL);
    if (p == c->init) {
        /* The container never existed for the host: tear it down, then answer with the error. */
        c->fail_code = CODE_UNKNOWN;
        c->fail_errno = err;
        snprintf(c->fail_op, sizeof(c->fail_op), "%s", op);
        free(c->fail_msg);
        c->fail_msg = xasprintf("create container `%s`: %s", c->id, msg);
        c->create_fail_call = p->create_call;
        p->create_call = NULL;
        container_destroy(c);
        return;
    }
    struct call *call = p->create_call;
    p->create_call = NULL;
    if (call) {
        reply_err(call->stream, call->gen, CODE_UNKNOWN, err, op, "exec `%s` in container `%s`: %s", p->exec_id,
                  c->id, msg);
        call_free(call);
    }
    p->drop_on_exit = true;
    if (p->state == P_EXITED)
        unlink_process(p);
}

static void on_status_msg(struct process *p, struct park_msg *m)
{
    m->op[sizeof(m->op) - 1] = '\0';
    m->msg[sizeof(m->msg) - 1] = '\0';
    if (p->state == P_CREATING) {
        if (m->err == 0) {
            p->state = P_PARKED;
            if (p == p->c->init) {
                trace_mark(&p->c->trace, "parked");
                trace_print(&p->c->trace, "agent", p->c->id, p->c->trace_t0);
            }
            log_debug("container `%s`: process %d parked", p->c->id, (int)p->pid);
            answer_created(p);
        } else {
            setup_failed(p, m->err, m->op, m->msg);
        }
        return;
    }
    if (p->state == P_STARTING && m->err != 0) {
        p->failed_exec = true;
        p->state = P_RUNNING;
        struct call *call = p->start_call;
        p->start_call = NULL;
        if (call) {
            reply_err(call->stream, call->gen, CODE_UNKNOWN, m->err, m->op, "start process `%s` in container `%s`: %s",
                      p->exec_id, p->c->id, m->msg);
            call_free(call);
        }
        return;
    }
    log_warn("process %d: unexpected status message in state %s", (int)p->pid, proc_state_name(p->state));
}

static void on_status_eof(struct process *p)
{
    if (p->state == P_CREATING) {
        setup_failed(p, 0, "setup", "the process exited during setup");
    } else if (p->state == P_STARTING) {
        /* The pipe is CLOEXEC: EOF without a message after the release means execve succeeded. */
        p->state = P_RUNNING;
        struct call *call = p->start_call;
        p->start_call = NULL;
        if (call) {
            A3s__Guest__V1__StartProcessResponse r = A3S__GUEST__V1__START_PROCESS_RESPONSE__INIT;
            r.pid = (uint32_t)p->pid;
            reply_msg(call->stream, call->gen, &r.base);
            call_free(call);
        }
    }
}

void proc_on_status(struct process *p)
{
    while (p->ev_status.fd >= 0) {
        ssize_t n = read(p->ev_status.fd, p->msgbuf + p->msglen, sizeof(struct park_msg) - p->msglen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            ev_close(&p->ev_status);
            on_status_eof(p);
            return;
        }
        p->msglen += (size_t)n;
        if (p->msglen == sizeof(struct park_msg)) {
            struct park_msg m;
            memcpy(&m, p->msgbuf, sizeof(m));
            p->msglen = 0;
            on_status_msg(p, &m);
        }
    }
}

static void destroy_progress(struct container *c);
static void oom_progress(struct container *c);

/* Writes back what processes wrote through 9p (their rootfs, their bind mounts). The share is mounted
 * cache=loose, which keeps writes in the guest's page cache, and the volumes export keeps mmapped writes there;
 * the host may read those files, or kill the VM, as soon as it hears of an exit, and would find them empty.
 * Only the VM's 9p mounts are synced (9p reports the host file system's type to statfs, hence the flags): in
 * test mode the share is a host directory, whose file system syncfs would flush whole. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || syncfs(fd) < 0)
        log_warn("sync `%s`: %s", dir, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void share_sync(void)
{
    if (A.share_is_9p)
        sync_dir(A.share_dir);
    if (A.volumes_is_9p)
        sync_dir(AGENT_VOLUMES_DIR);
}

static void proc_exited(struct process *p, int status)
{
    /* The child's descriptors close before its exit is reported: whatever it said is readable now. */
    if (p->ev_status.fd >= 0)
        proc_on_status(p);
    p->state = P_EXITED;
    p->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : (128 + WTERMSIG(status)) & 0xff;
    p->exited_at_ns = now_ns(CLOCK_REALTIME);
    if (p->start_fd >= 0) {
        close(p->start_fd);
        p->start_fd = -1;
    }
    log_debug("container `%s`: process %d (`%s`) exited with %d", p->c->id, (int)p->pid, p->exec_id,
              p->exit_status);
    if (p == p->c->init && p->c->kill_all_on_exit && p->c->cgroup && !p->c->destroying) {
        int r = cgroup_kill_all(p->c->cgroup, SIGKILL);
        if (r < 0)
            log_warn("container `%s`: kill all after its init exited: %s", p->c->id, strerror(-r));
    }
    /* what it wrote is on the host before anyone hears of its exit */
    share_sync();
    /* An OOM kill is answered before the exit it caused: the host deletes the container as soon as it hears
     * of the exit, and the 100 ms poll would never see the counter. */
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        oom_progress(p->c);
    while (p->waits) {
        struct call *call = p->waits;
        p->waits = call->next;
        A3s__Guest__V1__WaitProcessResponse r = A3S__GUEST__V1__WAIT_PROCESS_RESPONSE__INIT;
        r.pid = (uint32_t)p->pid;
        r.exit_status = (uint32_t)p->exit_status;
        r.exited_at_ns = p->exited_at_ns;
        reply_msg(call->stream, call->gen, &r.base);
        call_free(call);
    }
    struct container *c = p->c;
    if (p->drop_on_exit)
        unlink_process(p);
    if (c->destroying)
        destroy_progress(c);
    else
        container_prune_execs(c);
}

void proc_reap_all(void)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid <= 0)
            return;
        struct process *p = find_by_pid(pid);
        if (!p) {
            log_debug("reaped orphan %d", (int)pid);
            continue;
        }
        proc_exited(p, status);
    }
}

void process_free(struct process *p)
{
    stdio_close_all(p);
    ev_close(&p->ev_status);
    if (p->start_fd >= 0)
        close(p->start_fd);
    calls_free(&p->create_call);
    calls_free(&p->start_call);
    calls_free(&p->waits);
    calls_free(&p->reads[0]);
    calls_free(&p->reads[1]);
    calls_free(&p->writes);
    free(p->exec_id);
    free(p);
}

/* --- container teardown --- */

static void fail_calls(struct call **list, int code, const char *fmt, const char *id)
{
    while (*list) {
        struct call *call = *list;
        *list = call->next;
        reply_err(call->stream, call->gen, code, 0, NULL, fmt, id);
        call_free(call);
    }
}

void container_destroy(struct container *c)
{
    if (c->destroying) {
        destroy_progress(c);
        return;
    }
    c->destroying = true;
    c->destroy_deadline_ns = now_ns(CLOCK_MONOTONIC) + (uint64_t)AGENT_DESTROY_TIMEOUT_MS * 1000000ull;
    fail_calls(&c->oom_calls, CODE_NOT_FOUND, "container `%s` was destroyed", c->id);
    fail_calls(&c->pause_calls, CODE_NOT_FOUND, "container `%s` was destroyed", c->id);
    if (c->cgroup) {
        cgroup_freeze(c->cgroup, false);
        int r = cgroup_kill_all(c->cgroup, SIGKILL);
        if (r < 0)
            log_warn("container `%s`: kill all: %s", c->id, strerror(-r));
    }
    for (struct process *p = c->procs; p; p = p->next) {
        if (p->state != P_EXITED && p->pid > 0 && kill(p->pid, SIGKILL) < 0 && errno != ESRCH)
            log_warn("kill %d: %s", (int)p->pid, strerror(errno));
        if (p->start_fd >= 0) {
            close(p->start_fd);
            p->start_fd = -1;
        }
    }
    timer_update();
    destroy_progress(c);
}

static void destroy_finish(struct container *c, int err)
{
    struct container **pp = &A.containers;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    while (c->destroy_calls) {
        struct call *call = c->destroy_calls;
        c->destroy_calls = call->next;
        if (err)
            reply_err(call->stream, call->gen, CODE_UNKNOWN, err, "rmdir", "destroy container `%s`: cgroup `%s`: %s",
                      c->id, c->cgroup, strerror(err));
        else
            reply_empty(call->stream, call->gen);
        call_free(call);
    }
    if (c->create_fail_call) {
        struct call *call = c->create_fail_call;
        c->create_fail_call = NULL;
        reply_err(call->stream, call->gen, c->fail_code, c->fail_errno, c->fail_op, "%s", c->fail_msg);
        call_free(call);
    }
    /* What is still pending has its natural answer now: output at EOF, nothing to wait for. */
    for (struct process *p = c->procs; p; p = p->next) {
        for (int i = 0; i < 2; i++) {
            while (p->reads[i]) {
                struct call *call = p->reads[i];
                p->reads[i] = call->next;
                A3s__Guest__V1__ReadOutputResponse r = A3S__GUEST__V1__READ_OUTPUT_RESPONSE__INIT;
                r.eof = true;
                reply_msg(call->stream, call->gen, &r.base);
                call_free(call);
            }
        }
        fail_calls(&p->writes, CODE_NOT_FOUND, "container `%s` was destroyed", c->id);
        fail_calls(&p->waits, CODE_NOT_FOUND, "container `%s` was destroyed", c->id);
        fail_calls(&p->start_call, CODE_NOT_FOUND, "container `%s` was destroyed", c->id);
        fail_calls(&p->create_call, CODE_NOT_FOUND, "container `%s` was destroyed", c->id);
        stdio_close_all(p);
        ev_close(&p->ev_status);
    }
    log_info("container `%s` destroyed", c->id);
    container_free_deferred(c);
    timer_update();
}

static void destroy_progress(struct container *c)
{
    bool late = now_ns(CLOCK_MONOTONIC) > c->destroy_deadline_ns;
    for (struct process *p = c->procs; p; p = p->next) {
        if (p->state != P_EXITED) {
            if (!late)
                return;
            log_warn("container `%s`: process %d still not reaped", c->id, (int)p->pid);
        }
    }
    if (c->cgroup) {
        int r = cgroup_remove(c->cgroup);
        if (r == -EBUSY && !late) {
            cgroup_kill_all(c->cgroup, SIGKILL);
            return;
        }
        if (r < 0 && r != -ENOENT) {
            log_warn("container `%s`: remove cgroup `%s`: %s", c->id, c->cgroup, strerror(-r));
            destroy_finish(c, -r);
            return;
        }
    }
    destroy_finish(c, 0);
}

static void pause_progress(struct container *c)
{
    if (!c->pause_calls)
        return;
    int frozen = cgroup_is_frozen(c->cgroup);
    uint64_t now = now_ns(CLOCK_MONOTONIC);
    struct call **pp = &c->pause_calls;
    while (*pp) {
        struct call *call = *pp;
        if (frozen == 1 || frozen < 0 || now > call->deadline_ns) {
            *pp = call->next;
            if (frozen == 1)
                reply_empty(call->stream, call->gen);
            else if (frozen < 0)
                reply_err(call->stream, call->gen, CODE_UNKNOWN, -frozen, "read", "pause container `%s`: %s",
                          c->id, strerror(-frozen));
            else
                reply_err(call->stream, call->gen, CODE_DEADLINE_EXCEEDED, 0, NULL,
                          "pause container `%s`: not frozen after %d ms", c->id, AGENT_FREEZE_TIMEOUT_MS);
            call_free(call);
        } else {
            pp = &call->next;
        }
    }
}

static void oom_progress(struct container *c)
{
    if (!c->oom_calls || !c->cgroup)
        return;
    uint64_t kills;
    if (cgroup_oom_kills(c->cgroup, &kills) < 0)
        return;
    struct call **pp = &c->oom_calls;
    while (*pp) {
        struct call *call = *pp;
        if (kills > call->last_oom) {
            *pp = call->next;
            A3s__Guest__V1__WaitOomResponse r = A3S__GUEST__V1__WAIT_OOM_RESPONSE__INIT;
            r.oom_kills = kills;
            reply_msg(call->stream, call->gen, &r.base);
            call_free(call);
        } else {
            pp = &call->next;
        }
    }
}

void containers_on_timer(void)
{
    struct container *next;
    for (struct container *c = A.containers; c; c = next) {
        next = c->next;
        if (c->destroying) {
            destroy_progress(c);
            continue;
        }
        pause_progress(c);
        oom_progress(c);
    }
}

bool containers_want_fast_timer(void)
{
    for (struct container *c = A.containers; c; c = c->next)
        if (c->destroying || c->pause_calls)
            return true;
    return false;
}

bool containers_want_oom_timer(void)
{
    for (struct container *c = A.containers; c; c = c->next)
        if (c->oom_calls)
            return true;
    return false;
}

void container_free_deferred(struct container *c)
{
    c->next = A.graveyard;
    A.graveyard = c;
}

/* Called between batches of events: nothing in flight refers to these any more. */
void graveyard_flush(void)
{
    while (A.graveyard) {
        struct container *c = A.graveyard;
        A.graveyard = c->next;
        while (c->procs) {
            struct process *p = c->procs;
            c->procs = p->next;
            process_free(p);
        }
        calls_free(&c->destroy_calls);
        calls_free(&c->pause_calls);
        calls_free(&c->oom_calls);
        calls_free(&c->create_fail_call);
        if (c->devcg_fd >= 0)
            close(c->devcg_fd);
        free(c->fail_msg);
        free(c->cgroup);
        free(c->id);
        free(c);
    }
    while (proc_graveyard) {
        struct process *p = proc_graveyard;
        proc_graveyard = p->next;
        process_free(p);
    }
}
