/* The a3s.guest.v1.Agent service: request decoding, one handler per method, responses.
 *
 * Handlers answer at once or park a struct call on the object whose event completes it (proc.c, stdio.c,
 * port.c). Errors: precondition and lookup failures use their gRPC code (NOT_FOUND, ALREADY_EXISTS,
 * FAILED_PRECONDITION, INVALID_ARGUMENT); a failed syscall is UNKNOWN with an ErrorDetail carrying errno
 * and the operation, except on a port connection, where it is UNAVAILABLE: there the peer failed, not the
 * agent. Messages are lower-case, identifiers in backquotes. */
#include "agent.h"
#include "attrs.h"
#include "cgroup.h"
#include "log.h"
#include "net.h"
#include "port.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

/* --- responses --- */

static void send_response(uint32_t stream, Ttrpc__Response *resp)
{
    size_t len = ttrpc__response__get_packed_size(resp);
    if (len > TTRPC_MAX_PAYLOAD) {
        log_error("response on stream %u is %zu bytes, above the maximum", stream, len);
        Ttrpc__Response small = TTRPC__RESPONSE__INIT;
        Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
        st.code = CODE_RESOURCE_EXHAUSTED;
        st.message = "response too large";
        small.status = &st;
        send_response(stream, &small);
        return;
    }
    uint8_t *frame = ttrpc_frame_alloc(stream, TTRPC_TYPE_RESPONSE, len);
    ttrpc__response__pack(resp, frame + TTRPC_HDR_LEN);
    channel_send(frame, TTRPC_HDR_LEN + len);
}

void reply_msg(uint32_t stream, uint64_t gen, const ProtobufCMessage *msg)
{
    if (gen != A.conn_gen)
        return; /* the connection it came on is gone; the host re-asks */
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *payload = xmalloc(len);
    protobuf_c_message_pack(msg, payload);
    Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
    resp.payload.data = payload;
    resp.payload.len = len;
    send_response(stream, &resp);
    free(payload);
}

void reply_empty(uint32_t stream, uint64_t gen)
{
    A3s__Guest__V1__Empty e = A3S__GUEST__V1__EMPTY__INIT;
    reply_msg(stream, gen, &e.base);
}

void reply_err(uint32_t stream, uint64_t gen, int code, int err, const char *op, const char *fmt, ...)
{
    if (gen != A.conn_gen)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_debug("stream %u: error %d: %s", stream, code, msg);

    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    st.code = code;
    st.message = msg;
    A3s__Guest__V1__ErrorDetail detail = A3S__GUEST__V1__ERROR_DETAIL__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    Google__Protobuf__Any *anys[1] = { &any };
    uint8_t buf[256];
    if (err || (op && op[0])) {
        detail.errno_value = err;
        detail.op = (char *)(op ? op : "");
        any.type_url = ERROR_DETAIL_TYPE_URL;
        any.value.len = a3s__guest__v1__error_detail__pack(&detail, buf);
        any.value.data = buf;
        st.n_details = 1;
        st.details = anys;
    }
    Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
    resp.status = &st;
    send_response(stream, &resp);
}

void reply_status(uint32_t stream, int code, const char *msg)
{
    reply_err(stream, A.conn_gen, code, 0, NULL, "%s", msg);
}

/* --- request context and lookups --- */

struct rctx {
    uint32_t stream;
    uint64_t gen;
};

#define ERR(r, code, err, op, ...) reply_err((r)->stream, (r)->gen, code, err, op, __VA_ARGS__)

static struct call *pend(struct rctx *r)
{
    return call_new(r->stream);
}

/* A call that carries bytes to write: they outlive the request message. */
static struct call *pend_data(struct rctx *r, const ProtobufCBinaryData *data)
{
    struct call *call = pend(r);
    call->len = data->len;
    call->data = xmalloc(call->len);
    memcpy(call->data, data->data, call->len);
    return call;
}

static bool valid_id(const char *id)
{
    if (!id || !id[0] || strlen(id) > 128 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return false;
    for (const char *p = id; *p; p++)
        if (*p == '/' || *p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static struct container *get_container(struct rctx *r, const char *id)
{
    struct container *c = container_find(id ? id : "");
    if (!c)
        ERR(r, CODE_NOT_FOUND, 0, NULL, "container `%s` not found", id ? id : "");
    return c;
}

static struct process *get_process(struct rctx *r, const char *id, const char *exec_id)
{
    struct container *c = get_container(r, id);
    if (!c)
        return NULL;
    struct process *p = process_find(c, exec_id);
    if (!p)
        ERR(r, CODE_NOT_FOUND, 0, NULL, "process `%s` not found in container `%s`", exec_id ? exec_id : "", id);
    return p;
}

static struct process *process_new(struct container *c, const char *exec_id)
{
    struct process *p = xcalloc(1, sizeof(*p));
    p->c = c;
    p->exec_id = xstrdup(exec_id);
    p->start_fd = -1;
    p->ev_status = (struct ev){ .kind = EV_STATUS, .fd = -1, .obj = p };
    for (int i = 0; i < 2; i++)
        p->ev_out[i] = (struct ev){ .kind = EV_OUT, .fd = -1, .idx = i, .obj = p };
    p->ev_in = (struct ev){ .kind = EV_IN, .fd = -1, .obj = p };
    return p;
}

static const char *container_state(struct container *c)
{
    if (c->destroying)
        return "being destroyed";
    if (c->paused)
        return "paused";
    return proc_state_name(c->init->state);
}

static bool validate_process(struct rctx *r, const A3s__Guest__V1__ProcessSpec *ps)
{
    if (!ps) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "process spec is required");
        return false;
    }
    if (ps->n_args == 0 || !ps->args[0][0]) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "process args must not be empty");
        return false;
    }
    if (ps->cwd && ps->cwd[0] && ps->cwd[0] != '/') {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "cwd `%s` is not absolute", ps->cwd);
        return false;
    }
    char err[256];
    if (attrs_check(ps, err, sizeof(err)) < 0) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "%s", err);
        return false;
    }
    return true;
}

/* What the child would only find out halfway through its setup. */
static bool validate_container(struct rctx *r, const char *id, const A3s__Guest__V1__ContainerSpec *spec)
{
    const A3s__Guest__V1__Namespaces *ns = spec->namespaces;
    char err[256];
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const A3s__Guest__V1__Mount *m = spec->mounts[i];
        if (!m->destination || m->destination[0] != '/') {
            ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "container `%s`: mount destination `%s` is not absolute", id,
                m->destination ? m->destination : "");
            return false;
        }
    }
    bool userns = ns && ns->user;
    if (userns && (!spec->n_uid_mappings || !spec->n_gid_mappings)) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "container `%s`: a user namespace needs uid and gid mappings", id);
        return false;
    }
    if (!userns && (spec->n_uid_mappings || spec->n_gid_mappings)) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "container `%s`: uid/gid mappings need a user namespace", id);
        return false;
    }
    /* Namespaces.joins: which process they name is checked by proc_spawn, which opens its namespaces. */
    bool joined[3] = { false, false, false };
    for (size_t i = 0; ns && i < ns->n_joins; i++) {
        const char *type = ns->joins[i]->type ? ns->joins[i]->type : "";
        static const char *const types[] = { "ipc", "uts", "pid" };
        size_t k = 0;
        while (k < ARRAY_SIZE(types) && strcmp(types[k], type) != 0)
            k++;
        if (k == ARRAY_SIZE(types)) {
            ERR(r, CODE_INVALID_ARGUMENT, EINVAL, "setns", "container `%s`: cannot join the `%s` namespace of another"
                " container: only ipc, uts and pid namespaces are joined", id, type);
            return false;
        }
        bool creates = k == 0 ? ns->ipc : k == 1 ? ns->uts : ns->pid;
        if (creates) {
            ERR(r, CODE_INVALID_ARGUMENT, EINVAL, "setns", "container `%s`: both creates and joins the %s namespace",
                id, type);
            return false;
        }
        if (joined[k]) {
            ERR(r, CODE_INVALID_ARGUMENT, EINVAL, "setns", "container `%s`: joins the %s namespace more than once",
                id, type);
            return false;
        }
        joined[k] = true;
        /* A new user namespace would own the container's other new namespaces but not the joined ones, and its
         * child, born in it without the VM's privileges, could not join them. */
        if (userns) {
            ERR(r, CODE_INVALID_ARGUMENT, EINVAL, "setns", "container `%s`: joining namespaces together with a new"
                " user namespace is not supported", id);
            return false;
        }
    }
    if (spec->n_time_offsets && !(ns && ns->time)) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "container `%s`: time offsets need a time namespace", id);
        return false;
    }
    for (size_t i = 0; i < spec->n_time_offsets; i++) {
        const A3s__Guest__V1__TimeOffset *t = spec->time_offsets[i];
        if ((strcmp(t->clock, "monotonic") && strcmp(t->clock, "boottime")) || t->nanosecs > 999999999) {
            ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "container `%s`: time offset of clock `%s` (%u ns)", id, t->clock,
                t->nanosecs);
            return false;
        }
    }
    for (size_t i = 0; i < spec->n_devices; i++) {
        const A3s__Guest__V1__Device *d = spec->devices[i];
        if (!d->path || d->path[0] != '/' || !d->type || strlen(d->type) != 1 || !strchr("cubp", d->type[0])) {
            ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "container `%s`: device `%s` of type `%s`", id,
                d->path ? d->path : "", d->type ? d->type : "");
            return false;
        }
    }
    static const char *const props[] = { "", "private", "rprivate", "shared", "rshared", "slave", "rslave",
                                         "unbindable", "runbindable" };
    size_t k = 0;
    while (k < ARRAY_SIZE(props) && strcmp(props[k], spec->rootfs_propagation ? spec->rootfs_propagation : "") != 0)
        k++;
    if (k == ARRAY_SIZE(props)) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "container `%s`: unknown rootfs propagation `%s`", id,
            spec->rootfs_propagation);
        return false;
    }
    unsigned long pers;
    if (personality_from_name(spec->personality, &pers) < 0) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "container `%s`: unknown personality `%s`", id, spec->personality);
        return false;
    }
    if (cgroup_check(spec->resources, err, sizeof(err)) < 0) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "container `%s`: %s", id, err);
        return false;
    }
    return validate_process(r, spec->process);
}

/* --- handlers --- */

static void h_hello(struct rctx *r, void *msg)
{
    A3s__Guest__V1__HelloRequest *req = msg;
    if (req->protocol_version != AGENT_PROTOCOL_VERSION) {
        ERR(r, CODE_FAILED_PRECONDITION, 0, NULL, "protocol version %u is not supported (agent speaks %u)",
            req->protocol_version, AGENT_PROTOCOL_VERSION);
        return;
    }
    channel_new_session();
    r->gen = A.conn_gen;
    struct utsname u;
    uname(&u);
    A3s__Guest__V1__HelloResponse resp = A3S__GUEST__V1__HELLO_RESPONSE__INIT;
    resp.protocol_version = AGENT_PROTOCOL_VERSION;
    resp.agent_version = A3S_AGENT_VERSION;
    resp.boot_time_ns = A.boot_time_ns;
    resp.kernel_release = u.release;
    resp.now_realtime_ns = now_ns(CLOCK_REALTIME);
    resp.max_frame_bytes = TTRPC_MAX_PAYLOAD;
    reply_msg(r->stream, r->gen, &resp.base);
}

static void h_create(struct rctx *r, void *msg)
{
    A3s__Guest__V1__CreateContainerRequest *req = msg;
    const A3s__Guest__V1__ContainerSpec *spec = req->spec;
    char err[512] = "", op[28] = "";
    if (!valid_id(req->container_id)) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "invalid container id `%s`", req->container_id);
        return;
    }
    if (container_find(req->container_id)) {
        ERR(r, CODE_ALREADY_EXISTS, 0, NULL, "container `%s` already exists", req->container_id);
        return;
    }
    if (A.shutting_down) {
        ERR(r, CODE_UNAVAILABLE, 0, NULL, "the agent is shutting down");
        return;
    }
    if (!spec || !spec->rootfs || !spec->rootfs[0]) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "container `%s`: spec.rootfs is required", req->container_id);
        return;
    }
    if (!validate_container(r, req->container_id, spec))
        return;

    struct container *c = xcalloc(1, sizeof(*c));
    c->id = xstrdup(req->container_id);
    c->devcg_fd = -1;
    if (trace_enabled)
        c->trace_t0 = now_ns(CLOCK_MONOTONIC);
    c->has_personality = personality_from_name(spec->personality, &c->personality) > 0;
    c->kill_all_on_exit = !(spec->namespaces && spec->namespaces->pid);
    int rc = cgroup_create(c->id, &c->cgroup);
    if (rc < 0) {
        ERR(r, CODE_UNKNOWN, -rc, "mkdir", "create container `%s`: cgroup: %s", c->id, strerror(-rc));
        free(c->id);
        free(c);
        return;
    }
    trace_mark(&c->trace, "cgroup");
    if (c->cgroup && (rc = cgroup_apply(c->cgroup, spec->resources, &c->devcg_fd, err, sizeof(err))) < 0) {
        ERR(r, rc == -EINVAL ? CODE_INVALID_ARGUMENT : CODE_UNKNOWN, -rc, "write",
            "create container `%s`: %s: %s", c->id, err, strerror(-rc));
        if (c->devcg_fd >= 0)
            close(c->devcg_fd);
        cgroup_remove(c->cgroup);
        free(c->cgroup);
        free(c->id);
        free(c);
        return;
    }
    struct process *p = process_new(c, "");
    c->init = c->procs = p;
    c->next = A.containers;
    A.containers = c;
    trace_mark(&c->trace, "resources");
    rc = proc_spawn(p, spec, spec->process, err, sizeof(err), op, sizeof(op));
    trace_mark(&c->trace, "spawned");
    if (rc < 0) {
        ERR(r, CODE_UNKNOWN, -rc, op, "create container `%s`: %s", c->id, err);
        A.containers = c->next;
        if (c->cgroup)
            cgroup_remove(c->cgroup);
        container_free_deferred(c);
        return;
    }
    p->create_call = pend(r);
    log_info("container `%s`: creating (init %d)", c->id, (int)p->pid);
}

static void h_exec(struct rctx *r, void *msg)
{
    A3s__Guest__V1__ExecProcessRequest *req = msg;
    char err[512] = "", op[28] = "";
    struct container *c = get_container(r, req->container_id);
    if (!c)
        return;
    if (!req->exec_id || !req->exec_id[0]) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "exec id must not be empty");
        return;
    }
    if (process_find(c, req->exec_id)) {
        ERR(r, CODE_ALREADY_EXISTS, 0, NULL, "exec `%s` already exists in container `%s`", req->exec_id, c->id);
        return;
    }
    /* paused: the new process would freeze on joining the cgroup, before it could park */
    if (c->destroying || c->paused || c->init->state == P_EXITED || c->init->state == P_CREATING) {
        ERR(r, CODE_FAILED_PRECONDITION, 0, NULL, "cannot exec in container `%s`: it is %s", c->id,
            container_state(c));
        return;
    }
    if (!validate_process(r, req->process))
        return;
    struct process *p = process_new(c, req->exec_id);
    /* append: the init stays first */
    struct process **pp = &c->procs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = p;
    int rc = proc_spawn(p, NULL, req->process, err, sizeof(err), op, sizeof(op));
    if (rc < 0) {
        ERR(r, CODE_UNKNOWN, -rc, op, "exec `%s` in container `%s`: %s", p->exec_id, c->id, err);
        *pp = NULL;
        process_free(p);
        return;
    }
    p->create_call = pend(r);
}

static void h_start(struct rctx *r, void *msg)
{
    A3s__Guest__V1__StartProcessRequest *req = msg;
    struct process *p = get_process(r, req->container_id, req->exec_id);
    if (!p)
        return;
    struct container *c = p->c;
    if (c->destroying) {
        ERR(r, CODE_FAILED_PRECONDITION, 0, NULL, "cannot start process `%s` in container `%s`: it is being destroyed",
            p->exec_id, c->id);
        return;
    }
    if (p != c->init && c->init->state == P_EXITED) {
        ERR(r, CODE_FAILED_PRECONDITION, 0, NULL, "cannot start exec `%s`: container `%s` is stopped", p->exec_id, c->id);
        return;
    }
    if (p->state != P_PARKED) {
        if (p == c->init)
            ERR(r, CODE_FAILED_PRECONDITION, 0, NULL, "cannot start container `%s`: it is %s", c->id,
                proc_state_name(p->state));
        else
            ERR(r, CODE_FAILED_PRECONDITION, 0, NULL, "cannot start exec `%s` in container `%s`: it is %s",
                p->exec_id, c->id, proc_state_name(p->state));
        return;
    }
    p->start_call = pend(r);
    proc_release(p);
}

static void h_signal(struct rctx *r, void *msg)
{
    A3s__Guest__V1__SignalProcessRequest *req = msg;
    if (req->signal == 0 || req->signal >= 65) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "invalid signal %u", req->signal);
        return;
    }
    int sig = (int)req->signal;
    if (req->all) {
        struct container *c = get_container(r, req->container_id);
        if (!c)
            return;
        int n = 0;
        if (c->cgroup) {
            int rc = cgroup_kill_all(c->cgroup, sig);
            if (rc < 0) {
                ERR(r, CODE_UNKNOWN, -rc, "kill", "signal all processes of container `%s`: %s", c->id, strerror(-rc));
                return;
            }
            n = 1;
        }
        for (struct process *p = c->procs; p; p = p->next)
            if (p->state != P_EXITED && kill(p->pid, sig) == 0)
                n++;
        if (!n && c->init->state == P_EXITED) {
            ERR(r, CODE_NOT_FOUND, 0, NULL, "container `%s`: process already finished", c->id);
            return;
        }
        reply_empty(r->stream, r->gen);
        return;
    }
    struct process *p = get_process(r, req->container_id, req->exec_id);
    if (!p)
        return;
    /* An exited record keeps its pid for WaitProcess; the pid may belong to someone else now. */
    if (p->state == P_EXITED || p->pid <= 0) {
        ERR(r, CODE_NOT_FOUND, 0, NULL, "process already finished");
        return;
    }
    if (kill(p->pid, sig) < 0) {
        if (errno == ESRCH)
            ERR(r, CODE_NOT_FOUND, ESRCH, "kill", "process already finished");
        else
            ERR(r, CODE_UNKNOWN, errno, "kill", "signal %d to process %d: %s", sig, (int)p->pid, strerror(errno));
        return;
    }
    reply_empty(r->stream, r->gen);
}

static void h_wait(struct rctx *r, void *msg)
{
    A3s__Guest__V1__WaitProcessRequest *req = msg;
    struct process *p = get_process(r, req->container_id, req->exec_id);
    if (!p)
        return;
    if (p->state == P_EXITED) {
        A3s__Guest__V1__WaitProcessResponse resp = A3S__GUEST__V1__WAIT_PROCESS_RESPONSE__INIT;
        resp.pid = (uint32_t)p->pid;
        resp.exit_status = (uint32_t)p->exit_status;
        resp.exited_at_ns = p->exited_at_ns;
        reply_msg(r->stream, r->gen, &resp.base);
        return;
    }
    call_append(&p->waits, pend(r));
}

static void h_read(struct rctx *r, void *msg)
{
    A3s__Guest__V1__ReadOutputRequest *req = msg;
    struct process *p = get_process(r, req->container_id, req->exec_id);
    if (!p)
        return;
    if (req->stream != A3S__GUEST__V1__STREAM__STDOUT && req->stream != A3S__GUEST__V1__STREAM__STDERR) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "unknown stream %d", (int)req->stream);
        return;
    }
    struct call *call = pend(r);
    call->max_bytes = req->max_bytes;
    stdio_read(p, req->stream == A3S__GUEST__V1__STREAM__STDOUT ? 0 : 1, call);
}

static void h_write(struct rctx *r, void *msg)
{
    A3s__Guest__V1__WriteStdinRequest *req = msg;
    struct process *p = get_process(r, req->container_id, req->exec_id);
    if (!p)
        return;
    if (p->stdin_closed || p->close_stdin_after || p->ev_in.fd < 0) {
        ERR(r, CODE_FAILED_PRECONDITION, 0, NULL, "stdin of process `%s` in container `%s` is closed", p->exec_id,
            p->c->id);
        return;
    }
    stdio_write(p, pend_data(r, &req->data));
}

static void h_close_stdin(struct rctx *r, void *msg)
{
    A3s__Guest__V1__CloseStdinRequest *req = msg;
    struct process *p = get_process(r, req->container_id, req->exec_id);
    if (!p)
        return;
    int rc = stdio_close_stdin(p);
    if (rc < 0) {
        ERR(r, CODE_UNKNOWN, -rc, "write", "close stdin of process `%s` in container `%s`: %s", p->exec_id,
            p->c->id, strerror(-rc));
        return;
    }
    reply_empty(r->stream, r->gen);
}

static void h_resize(struct rctx *r, void *msg)
{
    A3s__Guest__V1__ResizePtyRequest *req = msg;
    struct process *p = get_process(r, req->container_id, req->exec_id);
    if (!p)
        return;
    int rc = stdio_resize(p, req->width, req->height);
    if (rc < 0) {
        ERR(r, CODE_UNKNOWN, -rc, "ioctl", "resize the terminal of process `%s` in container `%s`: %s",
            p->exec_id, p->c->id, strerror(-rc));
        return;
    }
    reply_empty(r->stream, r->gen);
}

static struct container *get_cgroup_container(struct rctx *r, const char *id, const char *what)
{
    struct container *c = get_container(r, id);
    if (!c)
        return NULL;
    if (!c->cgroup) {
        ERR(r, CODE_FAILED_PRECONDITION, 0, NULL, "cannot %s container `%s`: cgroups are not available", what, c->id);
        return NULL;
    }
    return c;
}

static void h_pause(struct rctx *r, void *msg)
{
    A3s__Guest__V1__ContainerRequest *req = msg;
    struct container *c = get_cgroup_container(r, req->container_id, "pause");
    if (!c)
        return;
    if (c->destroying || (c->init->state != P_RUNNING && c->init->state != P_STARTING)) {
        ERR(r, CODE_FAILED_PRECONDITION, 0, NULL, "cannot pause container `%s`: it is %s", c->id, container_state(c));
        return;
    }
    int rc = cgroup_freeze(c->cgroup, true);
    if (rc < 0) {
        ERR(r, CODE_UNKNOWN, -rc, "write", "pause container `%s`: cgroup.freeze: %s", c->id, strerror(-rc));
        return;
    }
    c->paused = true;
    struct call *call = pend(r);
    call->deadline_ns = now_ns(CLOCK_MONOTONIC) + (uint64_t)AGENT_FREEZE_TIMEOUT_MS * 1000000ull;
    call_append(&c->pause_calls, call);
    timer_update();
    containers_on_timer(); /* often frozen already */
}

static void h_resume(struct rctx *r, void *msg)
{
    A3s__Guest__V1__ContainerRequest *req = msg;
    struct container *c = get_cgroup_container(r, req->container_id, "resume");
    if (!c)
        return;
    if (c->destroying) {
        ERR(r, CODE_FAILED_PRECONDITION, 0, NULL, "cannot resume container `%s`: it is %s", c->id, container_state(c));
        return;
    }
    int rc = cgroup_freeze(c->cgroup, false);
    if (rc < 0) {
        ERR(r, CODE_UNKNOWN, -rc, "write", "resume container `%s`: cgroup.freeze: %s", c->id, strerror(-rc));
        return;
    }
    c->paused = false;
    reply_empty(r->stream, r->gen);
}

static void h_update(struct rctx *r, void *msg)
{
    A3s__Guest__V1__UpdateContainerRequest *req = msg;
    char err[256];
    struct container *c = get_cgroup_container(r, req->container_id, "update");
    if (!c)
        return;
    int rc = cgroup_apply(c->cgroup, req->resources, &c->devcg_fd, err, sizeof(err));
    if (rc < 0) {
        ERR(r, rc == -EINVAL ? CODE_INVALID_ARGUMENT : CODE_UNKNOWN, -rc, "write", "update container `%s`: %s: %s",
            c->id, err, strerror(-rc));
        return;
    }
    reply_empty(r->stream, r->gen);
}

static void h_stats(struct rctx *r, void *msg)
{
    A3s__Guest__V1__ContainerRequest *req = msg;
    struct container *c = get_container(r, req->container_id);
    if (!c)
        return;
    A3s__Guest__V1__StatsResponse st = A3S__GUEST__V1__STATS_RESPONSE__INIT;
    cgroup_stats(c->cgroup, &st);
    reply_msg(r->stream, r->gen, &st.base);
    cgroup_stats_free(&st);
}

static void h_pids(struct rctx *r, void *msg)
{
    A3s__Guest__V1__ContainerRequest *req = msg;
    struct container *c = get_container(r, req->container_id);
    if (!c)
        return;
    uint32_t *pids = NULL;
    size_t n = 0;
    if (c->cgroup) {
        int rc = cgroup_pids(c->cgroup, &pids, &n);
        if (rc < 0 && rc != -ENOENT) {
            ERR(r, CODE_UNKNOWN, -rc, "read", "list pids of container `%s`: %s", c->id, strerror(-rc));
            return;
        }
    } else {
        for (struct process *p = c->procs; p; p = p->next) {
            if (p->state == P_EXITED)
                continue;
            pids = xrealloc(pids, (n + 1) * sizeof(uint32_t));
            pids[n++] = (uint32_t)p->pid;
        }
    }
    A3s__Guest__V1__ListPidsResponse resp = A3S__GUEST__V1__LIST_PIDS_RESPONSE__INIT;
    resp.pids = pids;
    resp.n_pids = n;
    reply_msg(r->stream, r->gen, &resp.base);
    free(pids);
}

static void h_wait_oom(struct rctx *r, void *msg)
{
    A3s__Guest__V1__WaitOomRequest *req = msg;
    struct container *c = get_container(r, req->container_id);
    if (!c)
        return;
    if (c->destroying) {
        ERR(r, CODE_NOT_FOUND, 0, NULL, "container `%s` is being destroyed", c->id);
        return;
    }
    struct call *call = pend(r);
    call->last_oom = req->last_seen_oom_kills;
    call_append(&c->oom_calls, call);
    timer_update();
    containers_on_timer();
}

static void h_destroy(struct rctx *r, void *msg)
{
    A3s__Guest__V1__ContainerRequest *req = msg;
    struct container *c = container_find(req->container_id ? req->container_id : "");
    if (!c) {
        reply_empty(r->stream, r->gen); /* idempotent: already gone */
        return;
    }
    log_info("container `%s`: destroying", c->id);
    call_append(&c->destroy_calls, pend(r));
    container_destroy(c);
}

static void h_delete_process(struct rctx *r, void *msg)
{
    A3s__Guest__V1__DeleteProcessRequest *req = msg;
    if (!req->exec_id || !req->exec_id[0]) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "the first process of a container is deleted with DestroyContainer");
        return;
    }
    struct process *p = get_process(r, req->container_id, req->exec_id);
    if (!p)
        return;
    if (p->state != P_EXITED) {
        ERR(r, CODE_FAILED_PRECONDITION, 0, NULL, "cannot delete exec `%s` in container `%s`: it is %s", p->exec_id,
            p->c->id, proc_state_name(p->state));
        return;
    }
    process_delete(p);
    reply_empty(r->stream, r->gen);
}

/* Answered at once: its netlink requests wait at most NET_NETLINK_TIMEOUT_MS each (net.c). */
static void h_configure_network(struct rctx *r, void *msg)
{
    A3s__Guest__V1__ConfigureNetworkRequest *req = msg;
    if (A.net_configured) {
        ERR(r, CODE_FAILED_PRECONDITION, 0, NULL, "the network is configured already");
        return;
    }
    struct net_error e;
    if (net_configure(req, &e) < 0) {
        ERR(r, e.code, e.err, e.op, "%s", e.msg);
        return;
    }
    A.net_configured = true;
    reply_empty(r->stream, r->gen);
}

/* Stepped, not slewed: it runs before the VM's first container, so no process of a tenant sees the step. */
static void h_set_clock(struct rctx *r, void *msg)
{
    A3s__Guest__V1__SetClockRequest *req = msg;
    if (req->realtime_ns == 0) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "realtime_ns: 0 is not a time");
        return;
    }
    A3s__Guest__V1__SetClockResponse resp = A3S__GUEST__V1__SET_CLOCK_RESPONSE__INIT;
    resp.previous_realtime_ns = now_ns(CLOCK_REALTIME);
    if (A.mode == MODE_VM) {
        struct timespec ts = { .tv_sec = (time_t)(req->realtime_ns / 1000000000ull),
                               .tv_nsec = (long)(req->realtime_ns % 1000000000ull) };
        if (clock_settime(CLOCK_REALTIME, &ts) < 0) {
            ERR(r, CODE_UNKNOWN, errno, "clock_settime", "set the clock to %" PRIu64 " ns: %s", req->realtime_ns,
                strerror(errno));
            return;
        }
        resp.set = true;
    }
    reply_msg(r->stream, r->gen, &resp.base);
}

/* --- port forwarding (port.c) --- */

static struct port_conn *get_port(struct rctx *r, uint64_t id)
{
    struct port_conn *pc = port_find(id);
    if (!pc)
        ERR(r, CODE_NOT_FOUND, 0, NULL, "port connection %" PRIu64 " does not exist", id);
    return pc;
}

static void h_open_port(struct rctx *r, void *msg)
{
    A3s__Guest__V1__OpenPortRequest *req = msg;
    if (req->port == 0 || req->port > 65535) {
        ERR(r, CODE_INVALID_ARGUMENT, 0, NULL, "port %u is not in 1..65535", req->port);
        return;
    }
    if (port_count() >= PORT_MAX_CONNS) {
        ERR(r, CODE_RESOURCE_EXHAUSTED, 0, NULL, "cannot connect to 127.0.0.1:%u: %d port connections are open already",
            req->port, PORT_MAX_CONNS);
        return;
    }
    port_open((uint16_t)req->port, pend(r));
}

static void h_port_read(struct rctx *r, void *msg)
{
    A3s__Guest__V1__PortReadRequest *req = msg;
    struct port_conn *pc = get_port(r, req->conn_id);
    if (!pc)
        return;
    if (pc->read) {
        ERR(r, CODE_FAILED_PRECONDITION, 0, NULL, "port connection %" PRIu64 " has a PortRead pending already",
            pc->id);
        return;
    }
    struct call *call = pend(r);
    call->max_bytes = req->max_bytes;
    port_read(pc, call);
}

static void h_port_write(struct rctx *r, void *msg)
{
    A3s__Guest__V1__PortWriteRequest *req = msg;
    struct port_conn *pc = get_port(r, req->conn_id);
    if (!pc)
        return;
    if (pc->write_shut) {
        ERR(r, CODE_FAILED_PRECONDITION, 0, NULL, "the write side of port connection %" PRIu64 " is shut", pc->id);
        return;
    }
    struct call *call = pend_data(r, &req->data);
    call->close_write = req->close_write;
    port_write(pc, call);
}

static void h_port_close(struct rctx *r, void *msg)
{
    A3s__Guest__V1__PortCloseRequest *req = msg;
    struct port_conn *pc = get_port(r, req->conn_id);
    if (!pc)
        return;
    port_close(pc);
    reply_empty(r->stream, r->gen);
}

/* --- dispatch --- */

struct method {
    const char *name;
    const ProtobufCMessageDescriptor *req;
    void (*fn)(struct rctx *r, void *msg);
};

static const struct method methods[] = {
    { "Hello", &a3s__guest__v1__hello_request__descriptor, h_hello },
    { "CreateContainer", &a3s__guest__v1__create_container_request__descriptor, h_create },
    { "ExecProcess", &a3s__guest__v1__exec_process_request__descriptor, h_exec },
    { "StartProcess", &a3s__guest__v1__start_process_request__descriptor, h_start },
    { "SignalProcess", &a3s__guest__v1__signal_process_request__descriptor, h_signal },
    { "WaitProcess", &a3s__guest__v1__wait_process_request__descriptor, h_wait },
    { "ReadOutput", &a3s__guest__v1__read_output_request__descriptor, h_read },
    { "WriteStdin", &a3s__guest__v1__write_stdin_request__descriptor, h_write },
    { "CloseStdin", &a3s__guest__v1__close_stdin_request__descriptor, h_close_stdin },
    { "ResizePty", &a3s__guest__v1__resize_pty_request__descriptor, h_resize },
    { "PauseContainer", &a3s__guest__v1__container_request__descriptor, h_pause },
    { "ResumeContainer", &a3s__guest__v1__container_request__descriptor, h_resume },
    { "UpdateContainer", &a3s__guest__v1__update_container_request__descriptor, h_update },
    { "Stats", &a3s__guest__v1__container_request__descriptor, h_stats },
    { "ListPids", &a3s__guest__v1__container_request__descriptor, h_pids },
    { "WaitOom", &a3s__guest__v1__wait_oom_request__descriptor, h_wait_oom },
    { "DestroyContainer", &a3s__guest__v1__container_request__descriptor, h_destroy },
    { "DeleteProcess", &a3s__guest__v1__delete_process_request__descriptor, h_delete_process },
    { "ConfigureNetwork", &a3s__guest__v1__configure_network_request__descriptor, h_configure_network },
    { "SetClock", &a3s__guest__v1__set_clock_request__descriptor, h_set_clock },
    { "OpenPort", &a3s__guest__v1__open_port_request__descriptor, h_open_port },
    { "PortRead", &a3s__guest__v1__port_read_request__descriptor, h_port_read },
    { "PortWrite", &a3s__guest__v1__port_write_request__descriptor, h_port_write },
    { "PortClose", &a3s__guest__v1__port_close_request__descriptor, h_port_close },
};

void rpc_dispatch(uint32_t stream, const uint8_t *payload, size_t len)
{
    struct rctx r = { .stream = stream, .gen = A.conn_gen };
    Ttrpc__Request *req = ttrpc__request__unpack(NULL, len, payload);
    if (!req) {
        ERR(&r, CODE_INVALID_ARGUMENT, 0, NULL, "unmarshal request error: invalid ttrpc.Request");
        return;
    }
    if (strcmp(req->service, AGENT_SERVICE) != 0) {
        ERR(&r, CODE_UNIMPLEMENTED, 0, NULL, "service %s", req->service);
        goto out;
    }
    const struct method *m = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
        if (strcmp(methods[i].name, req->method) == 0)
            m = &methods[i];
    if (!m) {
        ERR(&r, CODE_UNIMPLEMENTED, 0, NULL, "method %s", req->method);
        goto out;
    }
    ProtobufCMessage *msg = protobuf_c_message_unpack(m->req, NULL, req->payload.len, req->payload.data);
    if (!msg) {
        ERR(&r, CODE_INVALID_ARGUMENT, 0, NULL, "unmarshal %s request: invalid %s", m->name, m->req->name);
        goto out;
    }
    log_debug("stream %u: %s", stream, m->name);
    m->fn(&r, msg);
    protobuf_c_message_free_unpacked(msg, NULL);
out:
    ttrpc__request__free_unpacked(req, NULL);
}
