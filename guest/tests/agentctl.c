/* agentctl: a small ttrpc client of the guest agent, for tests and debugging (not the host's client: the
 * shim speaks the protocol from Java). One connection per invocation; calls are asynchronous, so one
 * invocation can run several processes at once.
 *
 *   agentctl SOCK hello
 *   agentctl SOCK run --rootfs DIR [--id ID] [OPTS] -- CMD...     create, start, stream, wait, destroy
 *   agentctl SOCK create --id ID --rootfs DIR [OPTS] -- CMD...    create (parked)
 *   agentctl SOCK start --id ID [--exec-id E]
 *   agentctl SOCK execcreate --id ID --exec-id E [OPTS] -- CMD...   ExecProcess only (parked)
 *   agentctl SOCK exec --id ID [--exec-id E] [-n N] [OPTS] -- CMD...   N execs at once, streamed
 *   agentctl SOCK wait|output|destroy|pids|stats|pause|resume|waitoom --id ID [--exec-id E]
 *   agentctl SOCK update --id ID [--memory BYTES] [--dev-rule RULE...]
 *   agentctl SOCK delete --id ID --exec-id E                       DeleteProcess
 *   agentctl SOCK kill --id ID [--exec-id E] [--signal N] [--all]
 *   agentctl SOCK raw garbage|oversize|unknown|badstream
 *   agentctl SOCK port PORT        OpenPort 127.0.0.1:PORT in the agent's network namespace; stdin goes to it (its
 *                                  end shuts the write side), what comes back goes to stdout until the peer's end
 *   agentctl SOCK portcheck PORT   the rules around a connection (a second PortRead, PortClose with calls pending,
 *                                  calls on a closed id), against a server on PORT that neither reads nor writes
 *   agentctl SOCK portlimit PORT N opens up to N connections (stops at the first error), closes one and opens
 *                                  one, then sends a Hello on the same connection: the connections must be gone
 *   agentctl SOCK net [--if GUEST_NAME[,name=N][,mac=M][,mtu=N][,addr=CIDR]...]...
 *                     [--route DEST[,via=GW][,dev=D][,src=S][,metric=N]]...      ConfigureNetwork
 *       one --if per NetworkInterface, one --route per NetworkRoute (in order); addr= repeats; DEST is a
 *       CIDR or "default"; an empty GUEST_NAME or DEST is sent as "" (to test the agent's refusal)
 * OPTS: --tty --stdin --cwd DIR --env K=V --user UID[:GID] --size COLSxROWS --resize COLSxROWS
 *       --hostname H --readonly --no-nnp --mount TYPE:SRC:DST[:OPT,...] --timeout SECS
 *       --no-caps (capabilities present, every set empty) --keep-caps (capabilities absent)
 *       --memory BYTES (-1 = max) --seccomp-deny NAME[,NAME...] (default allow, these fail with EPERM)
 *       --seccomp-arg INDEX:OP:VALUE (a condition of the --seccomp-deny rule, OP as SCMP_CMP_EQ; repeatable)
 *       --seccomp-allow NAME[,NAME...] (default SCMP_ACT_ERRNO, EPERM; only these are allowed)
 *       --umask OCTAL --ambient CAP[,CAP...] (the ambient set; the other sets stay the default ones)
 *       --sched POLICY[:NICE[:PRIORITY]] --ioprio CLASS:LEVEL (IOPRIO_CLASS_ prefix optional)
 *       --userns CID:HID:SIZE (user namespace, same map for uids and gids)
 *       --time-offset CLOCK:SECS[:NSECS] (time namespace) --personality LINUX|LINUX32
 *       --device TYPE:MAJOR:MINOR:PATH[:MODE[:UID:GID]] --rootfs-propagation P --sysctl K=V
 *       --dev-rule allow|deny:TYPE[:MAJOR:MINOR[:ACCESS]] ("*" = any) --hugetlb SIZE:BYTES
 *       --cpu-idle N --cpu-burst USEC --no-cgroupns --no-dev (no mount on /dev or under it)
 *       --join-ns TYPE:PID (Namespaces.joins; clears the create flag of TYPE, as a host does; repeatable)
 *       --keep-ns-flags (--join-ns leaves the create flags set: to test the agent's refusal)
 * Exit: the process's status for run/exec; 0 for other commands; 125 when the agent answered an error. */
#include "log.h"
#include "pb.h"
#include "ttrpc.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* --- client --- */

typedef void (*resp_cb)(void *ctx, int code, const char *msg, const Google__Rpc__Status *st,
                        const uint8_t *payload, size_t len);

struct pending {
    struct pending *next;
    uint32_t stream;
    resp_cb cb;
    void *ctx;
};

static int conn = -1;
static uint32_t next_stream = 1;
static struct pending *pendings;
static struct ttrpc_decoder dec;
static uint64_t deadline_ns;

__attribute__((format(printf, 1, 2))) _Noreturn static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "agentctl: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(125);
}

static void connect_to(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (conn < 0 || connect(conn, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect `%s`: %s", path, strerror(errno));
}

static void send_frame(uint32_t stream, uint8_t type, const uint8_t *payload, size_t len)
{
    uint8_t *f = ttrpc_frame_alloc(stream, type, len);
    memcpy(f + TTRPC_HDR_LEN, payload, len);
    if (write_all(conn, f, TTRPC_HDR_LEN + len) < 0)
        die("write: %s", strerror(errno));
    free(f);
}

static uint32_t call_async_svc(const char *service, const char *method, const ProtobufCMessage *req, resp_cb cb,
                               void *ctx)
{
    size_t plen = req ? protobuf_c_message_get_packed_size(req) : 0;
    uint8_t *payload = xmalloc(plen);
    if (req)
        protobuf_c_message_pack(req, payload);
    Ttrpc__Request r = TTRPC__REQUEST__INIT;
    r.service = (char *)service;
    r.method = (char *)method;
    r.payload.data = payload;
    r.payload.len = plen;
    size_t len = ttrpc__request__get_packed_size(&r);
    uint8_t *buf = xmalloc(len);
    ttrpc__request__pack(&r, buf);
    uint32_t stream = next_stream;
    next_stream += 2;
    struct pending *p = xcalloc(1, sizeof(*p));
    p->stream = stream;
    p->cb = cb;
    p->ctx = ctx;
    p->next = pendings;
    pendings = p;
    send_frame(stream, TTRPC_TYPE_REQUEST, buf, len);
    free(buf);
    free(payload);
    return stream;
}

static uint32_t call_async(const char *method, const ProtobufCMessage *req, resp_cb cb, void *ctx)
{
    return call_async_svc(AGENT_SERVICE, method, req, cb, ctx);
}

static void on_frame(struct ttrpc_frame *f)
{
    struct pending **pp = &pendings;
    while (*pp && (*pp)->stream != f->hdr.stream)
        pp = &(*pp)->next;
    if (!*pp) {
        fprintf(stderr, "agentctl: response for unknown stream %u\n", f->hdr.stream);
        return;
    }
    struct pending *p = *pp;
    *pp = p->next;
    Ttrpc__Response *resp = ttrpc__response__unpack(NULL, f->hdr.length, f->payload);
    if (!resp)
        die("undecodable response on stream %u", f->hdr.stream);
    int code = resp->status ? resp->status->code : 0;
    const char *msg = resp->status && resp->status->message ? resp->status->message : "";
    p->cb(p->ctx, code, msg, resp->status, resp->payload.data, resp->payload.len);
    ttrpc__response__free_unpacked(resp, NULL);
    free(p);
}

/* Reads what is available (waiting up to timeout_ms) and runs callbacks. Returns 0 on EOF. */
static int pump(int timeout_ms, int extra_fd, bool *extra_ready)
{
    struct pollfd pfd[2] = { { .fd = conn, .events = POLLIN }, { .fd = extra_fd, .events = POLLIN } };
    if (extra_ready)
        *extra_ready = false;
    if (deadline_ns && now_ns(CLOCK_MONOTONIC) > deadline_ns)
        die("timed out");
    int n = poll(pfd, extra_fd >= 0 ? 2 : 1, timeout_ms);
    if (n < 0 && errno != EINTR)
        die("poll: %s", strerror(errno));
    if (n <= 0)
        return 1;
    if (extra_fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) && extra_ready)
        *extra_ready = true;
    if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
        return 1;
    static uint8_t buf[1 << 20];
    ssize_t r = read(conn, buf, sizeof(buf));
    if (r < 0)
        die("read: %s", strerror(errno));
    if (r == 0)
        return 0;
    size_t off = 0;
    while (off < (size_t)r) {
        size_t used;
        struct ttrpc_frame f;
        enum ttrpc_event e = ttrpc_decode(&dec, buf + off, (size_t)r - off, &used, &f);
        off += used;
        if (e == TTRPC_FRAME) {
            on_frame(&f);
            free(f.payload);
        } else if (e != TTRPC_NEED_MORE) {
            die("bad frame from the agent");
        }
    }
    return 1;
}

static void ignore_cb(void *ctx, int code, const char *msg, const Google__Rpc__Status *st, const uint8_t *payload,
                      size_t len)
{
    (void)ctx, (void)code, (void)msg, (void)st, (void)payload, (void)len;
}

/* The session handshake (docs/guest-protocol.md, "Reconnects"): send Hello with a random odd stream id,
 * again with a new id every 200 ms until one is answered, and skip whatever precedes that answer (bytes
 * meant for a previous host). Later calls use increasing ids after the largest Hello id. */
static void handshake(void)
{
    static uint8_t buf[1 << 16];
    size_t have = 0;
    uint32_t sent[256];
    size_t n_sent = 0;
    uint64_t next_try = 0;
    srandom((unsigned)(now_ns(CLOCK_MONOTONIC) ^ (uint64_t)getpid() << 16));
    A3s__Guest__V1__HelloRequest h = A3S__GUEST__V1__HELLO_REQUEST__INIT;
    h.protocol_version = 1;
    for (;;) {
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (deadline_ns && now > deadline_ns)
            die("no answer to Hello");
        if (now >= next_try && n_sent < ARRAY_SIZE(sent)) {
            next_stream = ((uint32_t)random() & 0x3fffffffu) | 1u;
            sent[n_sent++] = next_stream;
            call_async("Hello", &h.base, ignore_cb, NULL);
            next_try = now + 200000000ull;
        }
        struct pollfd p = { .fd = conn, .events = POLLIN };
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t r = read(conn, buf + have, sizeof(buf) - have);
        if (r < 0)
            die("read: %s", strerror(errno));
        if (r == 0)
            die("connection closed by the agent during the handshake");
        have += (size_t)r;
        for (size_t i = 0; i + TTRPC_HDR_LEN <= have; i++) {
            struct ttrpc_hdr hd;
            ttrpc_hdr_decode(buf + i, &hd);
            bool ours = false;
            for (size_t k = 0; k < n_sent; k++)
                ours = ours || hd.stream == sent[k];
            if (hd.type != TTRPC_TYPE_RESPONSE || hd.flags != 0 || !ours || hd.length > TTRPC_MAX_PAYLOAD)
                continue;
            if (i > 0)
                fprintf(stderr, "agentctl: skipped %zu bytes before the Hello answer\n", i);
            /* Feed the rest to the normal decoder: the Hello answer and what follows. */
            uint32_t max = 0;
            for (size_t k = 0; k < n_sent; k++)
                max = sent[k] > max ? sent[k] : max;
            next_stream = max + 2;
            size_t off = i;
            while (off < have) {
                size_t used;
                struct ttrpc_frame f;
                enum ttrpc_event e = ttrpc_decode(&dec, buf + off, have - off, &used, &f);
                off += used;
                if (e == TTRPC_FRAME) {
                    on_frame(&f);
                    free(f.payload);
                } else if (e != TTRPC_NEED_MORE) {
                    die("bad frame from the agent");
                }
            }
            return;
        }
        if (have == sizeof(buf)) {
            memmove(buf, buf + have - TTRPC_HDR_LEN, TTRPC_HDR_LEN);
            have = TTRPC_HDR_LEN;
        }
    }
}

/* Synchronous call: waits for the answer. */
struct sync_result {
    bool done;
    int code;
    char msg[1024];
    int err;
    char op[32];
    uint8_t *payload;
    size_t len;
};

static void sync_cb(void *ctx, int code, const char *msg, const Google__Rpc__Status *st, const uint8_t *payload,
                    size_t len)
{
    struct sync_result *r = ctx;
    r->done = true;
    r->code = code;
    snprintf(r->msg, sizeof(r->msg), "%s", msg);
    if (st && st->n_details > 0 && strcmp(st->details[0]->type_url, ERROR_DETAIL_TYPE_URL) == 0) {
        A3s__Guest__V1__ErrorDetail *d =
            a3s__guest__v1__error_detail__unpack(NULL, st->details[0]->value.len, st->details[0]->value.data);
        if (d) {
            r->err = d->errno_value;
            snprintf(r->op, sizeof(r->op), "%s", d->op);
            a3s__guest__v1__error_detail__free_unpacked(d, NULL);
        }
    }
    r->payload = xmalloc(len);
    memcpy(r->payload, payload, len);
    r->len = len;
}

static struct sync_result call_sync(const char *method, const ProtobufCMessage *req)
{
    struct sync_result r = { 0 };
    call_async(method, req, sync_cb, &r);
    while (!r.done)
        if (!pump(1000, -1, NULL))
            die("connection closed by the agent");
    return r;
}

static void print_error(const char *what, const struct sync_result *r)
{
    fprintf(stderr, "agentctl: %s: code %d: %s", what, r->code, r->msg);
    if (r->err || r->op[0])
        fprintf(stderr, " (errno %d, op %s)", r->err, r->op);
    fprintf(stderr, "\n");
}

/* An error answered to an asynchronous call, printed as print_error does. */
static void print_cb_error(const char *what, int code, const char *msg, const Google__Rpc__Status *st,
                           const uint8_t *payload, size_t len)
{
    struct sync_result r = { 0 };
    sync_cb(&r, code, msg, st, payload, len);
    print_error(what, &r);
    free(r.payload);
}

static void check(const char *what, struct sync_result *r)
{
    if (r->code != 0) {
        print_error(what, r);
        exit(125);
    }
}

/* --- options and specs --- */

struct opts {
    const char *id, *exec_id, *rootfs, *cwd, *hostname;
    bool tty, stdin_, readonly, no_caps, keep_caps, all, no_nnp;
    unsigned path_skip;
    const char *sched, *ioprio, *userns, *personality, *propagation;
    char *time_offsets[4];
    size_t n_time_offsets;
    char *devices[16];
    size_t n_devices;
    char *dev_rules[32];
    size_t n_dev_rules;
    char *sysctls[8];
    size_t n_sysctls;
    char *hugetlb[4];
    size_t n_hugetlb;
    int64_t cpu_idle, cpu_burst;
    bool has_cpu_idle, has_cpu_burst, no_cgroupns, keep_ns_flags, no_dev;
    char *joins[4];
    size_t n_joins;
    const char *seccomp_deny, *seccomp_allow;
    char *seccomp_args[6];
    size_t n_seccomp_args;
    const char *umask, *ambient;
    int64_t memory;
    uint32_t uid, gid;
    unsigned cols, rows, rcols, rrows;
    int n, signal;
    char *env[64];
    size_t n_env;
    char *mounts[32];
    size_t n_mounts;
    char **args;
    size_t n_args;
};

static const char *const default_caps[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
};

static void parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        { "id", required_argument, NULL, 'i' }, { "exec-id", required_argument, NULL, 'e' },
        { "rootfs", required_argument, NULL, 'r' }, { "cwd", required_argument, NULL, 'w' },
        { "env", required_argument, NULL, 'E' }, { "user", required_argument, NULL, 'u' },
        { "tty", no_argument, NULL, 't' }, { "stdin", no_argument, NULL, 'I' },
        { "size", required_argument, NULL, 'S' }, { "resize", required_argument, NULL, 'R' },
        { "hostname", required_argument, NULL, 'H' }, { "readonly", no_argument, NULL, 'o' },
        { "no-caps", no_argument, NULL, 'C' }, { "mount", required_argument, NULL, 'm' },
        { "timeout", required_argument, NULL, 'T' }, { "signal", required_argument, NULL, 's' },
        { "all", no_argument, NULL, 'a' }, { "count", required_argument, NULL, 'n' },
        { "no-nnp", no_argument, NULL, 'N' }, { "seccomp-deny", required_argument, NULL, 'D' },
        { "memory", required_argument, NULL, 'M' }, { "keep-caps", no_argument, NULL, 'K' },
        { "sched", required_argument, NULL, 1 }, { "ioprio", required_argument, NULL, 2 },
        { "userns", required_argument, NULL, 3 }, { "time-offset", required_argument, NULL, 4 },
        { "personality", required_argument, NULL, 5 }, { "device", required_argument, NULL, 6 },
        { "rootfs-propagation", required_argument, NULL, 7 }, { "dev-rule", required_argument, NULL, 8 },
        { "sysctl", required_argument, NULL, 9 }, { "hugetlb", required_argument, NULL, 10 },
        { "cpu-idle", required_argument, NULL, 11 }, { "cpu-burst", required_argument, NULL, 12 },
        { "no-cgroupns", no_argument, NULL, 13 }, { "path-skip", required_argument, NULL, 14 },
        { "join-ns", required_argument, NULL, 15 }, { "keep-ns-flags", no_argument, NULL, 16 },
        { "seccomp-arg", required_argument, NULL, 17 }, { "umask", required_argument, NULL, 18 },
        { "ambient", required_argument, NULL, 19 }, { "seccomp-allow", required_argument, NULL, 20 },
        { "no-dev", no_argument, NULL, 21 }, { 0 },
    };
    memset(o, 0, sizeof(*o));
    o->n = 1;
    o->signal = SIGTERM;
    o->hostname = "a3s";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+n:", lo, NULL)) != -1) {
        switch (c) {
        case 'i': o->id = optarg; break;
        case 'e': o->exec_id = optarg; break;
        case 'r': o->rootfs = optarg; break;
        case 'w': o->cwd = optarg; break;
        case 'E': if (o->n_env < ARRAY_SIZE(o->env)) o->env[o->n_env++] = optarg; break;
        case 'u': if (sscanf(optarg, "%u:%u", &o->uid, &o->gid) < 1) die("bad --user `%s`", optarg); break;
        case 't': o->tty = true; break;
        case 'I': o->stdin_ = true; break;
        case 'S': if (sscanf(optarg, "%ux%u", &o->cols, &o->rows) != 2) die("bad --size `%s`", optarg); break;
        case 'R': if (sscanf(optarg, "%ux%u", &o->rcols, &o->rrows) != 2) die("bad --resize `%s`", optarg); break;
        case 'H': o->hostname = optarg; break;
        case 'o': o->readonly = true; break;
        case 'C': o->no_caps = true; break;
        case 'm': if (o->n_mounts < ARRAY_SIZE(o->mounts)) o->mounts[o->n_mounts++] = optarg; break;
        case 'T': deadline_ns = now_ns(CLOCK_MONOTONIC) + strtoull(optarg, NULL, 10) * 1000000000ull; break;
        case 's': o->signal = atoi(optarg); break;
        case 'a': o->all = true; break;
        case 'n': o->n = atoi(optarg); break;
        case 'N': o->no_nnp = true; break;
        case 'D': o->seccomp_deny = optarg; break;
        case 'M': o->memory = strtoll(optarg, NULL, 10); break;
        case 'K': o->keep_caps = true; break;
        case 1: o->sched = optarg; break;
        case 2: o->ioprio = optarg; break;
        case 3: o->userns = optarg; break;
        case 4: if (o->n_time_offsets < ARRAY_SIZE(o->time_offsets)) o->time_offsets[o->n_time_offsets++] = optarg; break;
        case 5: o->personality = optarg; break;
        case 14: o->path_skip = (unsigned)strtoul(optarg, NULL, 10); break;
        case 6: if (o->n_devices < ARRAY_SIZE(o->devices)) o->devices[o->n_devices++] = optarg; break;
        case 7: o->propagation = optarg; break;
        case 8: if (o->n_dev_rules < ARRAY_SIZE(o->dev_rules)) o->dev_rules[o->n_dev_rules++] = optarg; break;
        case 9: if (o->n_sysctls < ARRAY_SIZE(o->sysctls)) o->sysctls[o->n_sysctls++] = optarg; break;
        case 10: if (o->n_hugetlb < ARRAY_SIZE(o->hugetlb)) o->hugetlb[o->n_hugetlb++] = optarg; break;
        case 11: o->cpu_idle = strtoll(optarg, NULL, 10); o->has_cpu_idle = true; break;
        case 12: o->cpu_burst = strtoll(optarg, NULL, 10); o->has_cpu_burst = true; break;
        case 13: o->no_cgroupns = true; break;
        case 15: if (o->n_joins < ARRAY_SIZE(o->joins)) o->joins[o->n_joins++] = optarg; break;
        case 16: o->keep_ns_flags = true; break;
        case 17: if (o->n_seccomp_args < ARRAY_SIZE(o->seccomp_args)) o->seccomp_args[o->n_seccomp_args++] = optarg; break;
        case 18: o->umask = optarg; break;
        case 19: o->ambient = optarg; break;
        case 20: o->seccomp_allow = optarg; break;
        case 21: o->no_dev = true; break;
        default: die("bad option");
        }
    }
    o->args = argv + optind;
    o->n_args = (size_t)(argc - optind);
}

static A3s__Guest__V1__ProcessSpec *make_process(const struct opts *o)
{
    A3s__Guest__V1__ProcessSpec *ps = xcalloc(1, sizeof(*ps));
    a3s__guest__v1__process_spec__init(ps);
    ps->n_args = o->n_args;
    ps->args = o->args;
    ps->env = xcalloc(o->n_env + 3, sizeof(char *));
    bool has_path = false;
    for (size_t i = 0; i < o->n_env; i++) {
        ps->env[ps->n_env++] = o->env[i];
        if (strncmp(o->env[i], "PATH=", 5) == 0)
            has_path = true;
    }
    if (!has_path)
        ps->env[ps->n_env++] = DEFAULT_PATH;
    if (o->tty)
        ps->env[ps->n_env++] = "TERM=xterm";
    ps->cwd = (char *)(o->cwd ? o->cwd : "/");
    ps->uid = o->uid;
    ps->gid = o->gid;
    ps->terminal = o->tty;
    ps->stdin = o->stdin_;
    ps->console_width = o->cols;
    ps->console_height = o->rows;
    ps->no_new_privileges = !o->no_nnp;
    ps->path_skip = o->path_skip;
    if (o->umask) {
        ps->opt_umask_case = A3S__GUEST__V1__PROCESS_SPEC__OPT_UMASK_UMASK;
        ps->umask = (uint32_t)strtoul(o->umask, NULL, 8);
    }
    if (o->seccomp_deny || o->seccomp_allow) {
        A3s__Guest__V1__Seccomp *sc = xcalloc(1, sizeof(*sc));
        a3s__guest__v1__seccomp__init(sc);
        A3s__Guest__V1__SeccompRule *rule = xcalloc(1, sizeof(*rule));
        a3s__guest__v1__seccomp_rule__init(rule);
        if (o->seccomp_allow) {
            sc->default_action = "SCMP_ACT_ERRNO"; /* EPERM */
            rule->action = "SCMP_ACT_ALLOW";
        } else {
            sc->default_action = "SCMP_ACT_ALLOW";
            rule->action = "SCMP_ACT_ERRNO";
            rule->opt_errno_ret_case = A3S__GUEST__V1__SECCOMP_RULE__OPT_ERRNO_RET_ERRNO_RET;
            rule->errno_ret = EPERM;
        }
        char *copy = xstrdup(o->seccomp_allow ? o->seccomp_allow : o->seccomp_deny), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            rule->names = xrealloc(rule->names, (rule->n_names + 1) * sizeof(char *));
            rule->names[rule->n_names++] = t;
        }
        rule->args = xcalloc(o->n_seccomp_args + 1, sizeof(*rule->args));
        for (size_t i = 0; i < o->n_seccomp_args; i++) {
            A3s__Guest__V1__SeccompArg *arg = xcalloc(1, sizeof(*arg));
            a3s__guest__v1__seccomp_arg__init(arg);
            char op[32];
            unsigned long long v = 0;
            if (sscanf(o->seccomp_args[i], "%u:%31[^:]:%llu", &arg->index, op, &v) != 3)
                die("bad --seccomp-arg `%s`", o->seccomp_args[i]);
            arg->op = xstrdup(op);
            arg->value = v;
            rule->args[rule->n_args++] = arg;
        }
        sc->n_syscalls = 1;
        sc->syscalls = xcalloc(1, sizeof(*sc->syscalls));
        sc->syscalls[0] = rule;
        ps->seccomp = sc;
    }
    static A3s__Guest__V1__Rlimit nofile = A3S__GUEST__V1__RLIMIT__INIT;
    static A3s__Guest__V1__Rlimit *rl[1] = { &nofile };
    nofile.type = "RLIMIT_NOFILE";
    nofile.soft = nofile.hard = 1024;
    ps->n_rlimits = 1;
    ps->rlimits = rl;
    if (!o->keep_caps) {
        A3s__Guest__V1__Capabilities *caps = xcalloc(1, sizeof(*caps));
        a3s__guest__v1__capabilities__init(caps);
        if (!o->no_caps) {
            caps->n_bounding = caps->n_effective = caps->n_permitted = ARRAY_SIZE(default_caps);
            caps->bounding = caps->effective = caps->permitted = (char **)default_caps;
        }
        char *copy = o->ambient ? xstrdup(o->ambient) : NULL, *save = NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
            caps->ambient = xrealloc(caps->ambient, (caps->n_ambient + 1) * sizeof(char *));
            caps->ambient[caps->n_ambient++] = t;
        }
        ps->capabilities = caps;
    }
    if (o->sched) {
        A3s__Guest__V1__Scheduler *sc = xcalloc(1, sizeof(*sc));
        a3s__guest__v1__scheduler__init(sc);
        char *copy = xstrdup(o->sched), *save = NULL;
        sc->policy = strtok_r(copy, ":", &save);
        char *t = strtok_r(NULL, ":", &save);
        if (t)
            sc->nice = atoi(t);
        if ((t = strtok_r(NULL, ":", &save)))
            sc->priority = (uint32_t)atoi(t);
        ps->scheduler = sc;
    }
    if (o->ioprio) {
        A3s__Guest__V1__IoPriority *io = xcalloc(1, sizeof(*io));
        a3s__guest__v1__io_priority__init(io);
        char cls[64];
        unsigned level = 0;
        if (sscanf(o->ioprio, "%63[^:]:%u", cls, &level) < 1)
            die("bad --ioprio `%s`", o->ioprio);
        io->io_class = strncmp(cls, "IOPRIO_CLASS_", 13) == 0 ? xstrdup(cls) : xasprintf("IOPRIO_CLASS_%s", cls);
        io->priority = level;
        ps->io_priority = io;
    }
    return ps;
}

/* "*" or a number */
static bool any_or_u32(const char *s, uint32_t *out)
{
    if (!s || strcmp(s, "*") == 0)
        return false;
    *out = (uint32_t)strtoul(s, NULL, 10);
    return true;
}

static A3s__Guest__V1__DeviceRule **make_dev_rules(const struct opts *o)
{
    A3s__Guest__V1__DeviceRule **rules = xcalloc(o->n_dev_rules + 1, sizeof(*rules));
    for (size_t i = 0; i < o->n_dev_rules; i++) {
        A3s__Guest__V1__DeviceRule *r = xcalloc(1, sizeof(*r));
        a3s__guest__v1__device_rule__init(r);
        char *copy = xstrdup(o->dev_rules[i]);
        char *f[5] = { 0 };
        char *save = NULL;
        int k = 0;
        for (char *t = strtok_r(copy, ":", &save); t && k < 5; t = strtok_r(NULL, ":", &save))
            f[k++] = t;
        if (k < 2 || (strcmp(f[0], "allow") && strcmp(f[0], "deny")))
            die("bad --dev-rule `%s`", o->dev_rules[i]);
        r->allow = strcmp(f[0], "allow") == 0;
        r->type = f[1];
        if (any_or_u32(f[2], &r->major))
            r->opt_major_case = A3S__GUEST__V1__DEVICE_RULE__OPT_MAJOR_MAJOR;
        if (any_or_u32(f[3], &r->minor))
            r->opt_minor_case = A3S__GUEST__V1__DEVICE_RULE__OPT_MINOR_MINOR;
        r->access = f[4] ? f[4] : "rwm";
        rules[i] = r;
    }
    return rules;
}

static A3s__Guest__V1__CgroupResources *make_resources(const struct opts *o)
{
    if (!o->memory && !o->n_dev_rules && !o->n_hugetlb && !o->has_cpu_idle && !o->has_cpu_burst)
        return NULL;
    A3s__Guest__V1__CgroupResources *res = xcalloc(1, sizeof(*res));
    a3s__guest__v1__cgroup_resources__init(res);
    if (o->memory) {
        res->opt_memory_max_case = A3S__GUEST__V1__CGROUP_RESOURCES__OPT_MEMORY_MAX_MEMORY_MAX;
        res->memory_max = o->memory;
    }
    if (o->has_cpu_idle) {
        res->opt_cpu_idle_case = A3S__GUEST__V1__CGROUP_RESOURCES__OPT_CPU_IDLE_CPU_IDLE;
        res->cpu_idle = o->cpu_idle;
    }
    if (o->has_cpu_burst) {
        res->opt_cpu_burst_case = A3S__GUEST__V1__CGROUP_RESOURCES__OPT_CPU_BURST_CPU_BURST;
        res->cpu_burst = (uint64_t)o->cpu_burst;
    }
    res->n_hugetlb_max = o->n_hugetlb;
    res->hugetlb_max = xcalloc(o->n_hugetlb + 1, sizeof(*res->hugetlb_max));
    for (size_t i = 0; i < o->n_hugetlb; i++) {
        A3s__Guest__V1__CgroupResources__HugetlbMaxEntry *e = xcalloc(1, sizeof(*e));
        a3s__guest__v1__cgroup_resources__hugetlb_max_entry__init(e);
        char *copy = xstrdup(o->hugetlb[i]), *colon = strchr(copy, ':');
        if (!colon)
            die("bad --hugetlb `%s`", o->hugetlb[i]);
        *colon = '\0';
        e->key = copy;
        e->value = strtoll(colon + 1, NULL, 10);
        res->hugetlb_max[i] = e;
    }
    res->n_devices = o->n_dev_rules;
    res->devices = make_dev_rules(o);
    return res;
}

static A3s__Guest__V1__Mount *mount_of(const char *type, const char *src, const char *dst, const char *opts)
{
    A3s__Guest__V1__Mount *m = xcalloc(1, sizeof(*m));
    a3s__guest__v1__mount__init(m);
    m->type = xstrdup(type);
    m->source = xstrdup(src);
    m->destination = xstrdup(dst);
    if (opts && opts[0]) {
        char *copy = xstrdup(opts), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            m->options = xrealloc(m->options, (m->n_options + 1) * sizeof(char *));
            m->options[m->n_options++] = t;
        }
    }
    return m;
}

static A3s__Guest__V1__ContainerSpec *make_spec(const struct opts *o)
{
    static const char *const masked[] = { "/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware",
                                          "/proc/scsi" };
    static const char *const ro[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" };
    A3s__Guest__V1__ContainerSpec *s = xcalloc(1, sizeof(*s));
    a3s__guest__v1__container_spec__init(s);
    s->rootfs = (char *)o->rootfs;
    s->rootfs_readonly = o->readonly;
    s->hostname = (char *)o->hostname;
    A3s__Guest__V1__Mount *ms[48];
    size_t n = 0;
    ms[n++] = mount_of("proc", "proc", "/proc", "nosuid,noexec,nodev");
    if (!o->no_dev) {
        ms[n++] = mount_of("tmpfs", "tmpfs", "/dev", "nosuid,strictatime,mode=755,size=65536k");
        ms[n++] = mount_of("devpts", "devpts", "/dev/pts", "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620");
        ms[n++] = mount_of("tmpfs", "shm", "/dev/shm", "nosuid,noexec,nodev,mode=1777,size=65536k");
        ms[n++] = mount_of("mqueue", "mqueue", "/dev/mqueue", "nosuid,noexec,nodev");
    }
    ms[n++] = mount_of("sysfs", "sysfs", "/sys", "nosuid,noexec,nodev,ro");
    ms[n++] = mount_of("tmpfs", "tmpfs", "/tmp", "nosuid,nodev,mode=1777");
    for (size_t i = 0; i < o->n_mounts && n < ARRAY_SIZE(ms); i++) {
        char *copy = xstrdup(o->mounts[i]);
        char *f[4] = { 0 };
        char *save = NULL;
        int k = 0;
        for (char *t = strtok_r(copy, ":", &save); t && k < 4; t = strtok_r(NULL, ":", &save))
            f[k++] = t;
        if (k < 3)
            die("bad --mount `%s`", o->mounts[i]);
        ms[n++] = mount_of(f[0], f[1], f[2], f[3]);
    }
    s->n_mounts = n;
    s->mounts = xcalloc(n, sizeof(*s->mounts));
    memcpy(s->mounts, ms, n * sizeof(*ms));
    s->n_masked_paths = ARRAY_SIZE(masked);
    s->masked_paths = (char **)masked;
    s->n_readonly_paths = ARRAY_SIZE(ro);
    s->readonly_paths = (char **)ro;
    A3s__Guest__V1__Namespaces *ns = xcalloc(1, sizeof(*ns));
    a3s__guest__v1__namespaces__init(ns);
    ns->mount = ns->pid = ns->uts = ns->ipc = ns->cgroup = true;
    ns->cgroup = !o->no_cgroupns;
    ns->n_joins = o->n_joins;
    ns->joins = xcalloc(o->n_joins + 1, sizeof(*ns->joins));
    for (size_t i = 0; i < o->n_joins; i++) {
        A3s__Guest__V1__NamespaceJoin *j = xcalloc(1, sizeof(*j));
        a3s__guest__v1__namespace_join__init(j);
        char *colon = strrchr(o->joins[i], ':');
        if (!colon || !colon[1])
            die("bad --join-ns `%s`", o->joins[i]);
        j->type = xstrdup(o->joins[i]);
        j->type[colon - o->joins[i]] = '\0';
        j->pid = (uint32_t)strtoul(colon + 1, NULL, 10);
        if (!o->keep_ns_flags) {
            if (strcmp(j->type, "ipc") == 0)
                ns->ipc = false;
            else if (strcmp(j->type, "uts") == 0)
                ns->uts = false;
            else if (strcmp(j->type, "pid") == 0)
                ns->pid = false;
        }
        ns->joins[i] = j;
    }
    s->namespaces = ns;
    s->process = make_process(o);
    s->resources = make_resources(o);
    if (o->memory > 0) {
        s->resources->opt_memory_swap_max_case = A3S__GUEST__V1__CGROUP_RESOURCES__OPT_MEMORY_SWAP_MAX_MEMORY_SWAP_MAX;
        s->resources->memory_swap_max = 0;
    }
    if (o->userns) {
        A3s__Guest__V1__IdMapping *m = xcalloc(1, sizeof(*m));
        a3s__guest__v1__id_mapping__init(m);
        if (sscanf(o->userns, "%u:%u:%u", &m->container_id, &m->host_id, &m->size) != 3)
            die("bad --userns `%s`", o->userns);
        static A3s__Guest__V1__IdMapping *maps[1];
        maps[0] = m;
        ns->user = true;
        s->n_uid_mappings = s->n_gid_mappings = 1;
        s->uid_mappings = s->gid_mappings = maps;
    }
    if (o->n_time_offsets) {
        ns->time = true;
        s->n_time_offsets = o->n_time_offsets;
        s->time_offsets = xcalloc(o->n_time_offsets, sizeof(*s->time_offsets));
        for (size_t i = 0; i < o->n_time_offsets; i++) {
            A3s__Guest__V1__TimeOffset *t = xcalloc(1, sizeof(*t));
            a3s__guest__v1__time_offset__init(t);
            char clock[32];
            long long secs = 0;
            if (sscanf(o->time_offsets[i], "%31[^:]:%lld:%u", clock, &secs, &t->nanosecs) < 2)
                die("bad --time-offset `%s`", o->time_offsets[i]);
            t->clock = xstrdup(clock);
            t->secs = secs;
            s->time_offsets[i] = t;
        }
    }
    s->personality = (char *)(o->personality ? o->personality : "");
    s->rootfs_propagation = (char *)(o->propagation ? o->propagation : "");
    s->n_devices = o->n_devices;
    s->devices = xcalloc(o->n_devices + 1, sizeof(*s->devices));
    for (size_t i = 0; i < o->n_devices; i++) {
        A3s__Guest__V1__Device *d = xcalloc(1, sizeof(*d));
        a3s__guest__v1__device__init(d);
        char *copy = xstrdup(o->devices[i]);
        char *f[7] = { 0 };
        char *save = NULL;
        int k = 0;
        for (char *t = strtok_r(copy, ":", &save); t && k < 7; t = strtok_r(NULL, ":", &save))
            f[k++] = t;
        if (k < 4)
            die("bad --device `%s`", o->devices[i]);
        d->type = f[0];
        d->major = (uint32_t)strtoul(f[1], NULL, 10);
        d->minor = (uint32_t)strtoul(f[2], NULL, 10);
        d->path = f[3];
        if (f[4]) {
            d->opt_file_mode_case = A3S__GUEST__V1__DEVICE__OPT_FILE_MODE_FILE_MODE;
            d->file_mode = (uint32_t)strtoul(f[4], NULL, 8);
        }
        if (f[5] && f[6]) {
            d->opt_uid_case = A3S__GUEST__V1__DEVICE__OPT_UID_UID;
            d->uid = (uint32_t)strtoul(f[5], NULL, 10);
            d->opt_gid_case = A3S__GUEST__V1__DEVICE__OPT_GID_GID;
            d->gid = (uint32_t)strtoul(f[6], NULL, 10);
        }
        s->devices[i] = d;
    }
    s->n_sysctls = o->n_sysctls;
    s->sysctls = xcalloc(o->n_sysctls + 1, sizeof(*s->sysctls));
    for (size_t i = 0; i < o->n_sysctls; i++) {
        A3s__Guest__V1__ContainerSpec__SysctlsEntry *e = xcalloc(1, sizeof(*e));
        a3s__guest__v1__container_spec__sysctls_entry__init(e);
        char *copy = xstrdup(o->sysctls[i]), *eq = strchr(copy, '=');
        if (!eq)
            die("bad --sysctl `%s`", o->sysctls[i]);
        *eq = '\0';
        e->key = copy;
        e->value = eq + 1;
        s->sysctls[i] = e;
    }
    return s;
}

/* --- running processes: create/exec -> start -> (output, stdin, wait) --- */

struct job {
    const char *cid;
    char eid[64];
    bool tty, use_stdin;
    unsigned rcols, rrows;
    bool created, start_done, waited, eof[2], stdin_busy, stdin_eof;
    int status;
    bool failed;
};

static void read_cb(void *ctx, int code, const char *msg, const Google__Rpc__Status *st, const uint8_t *payload,
                    size_t len);

static void issue_read(struct job *j, int idx)
{
    A3s__Guest__V1__ReadOutputRequest r = A3S__GUEST__V1__READ_OUTPUT_REQUEST__INIT;
    r.container_id = (char *)j->cid;
    r.exec_id = j->eid;
    r.stream = idx ? A3S__GUEST__V1__STREAM__STDERR : A3S__GUEST__V1__STREAM__STDOUT;
    r.max_bytes = 1 << 20;
    call_async("ReadOutput", &r.base, read_cb, (void *)((uintptr_t)j | (uintptr_t)idx));
}

static void read_cb(void *ctx, int code, const char *msg, const Google__Rpc__Status *st, const uint8_t *payload,
                    size_t len)
{
    (void)st;
    struct job *j = (struct job *)((uintptr_t)ctx & ~(uintptr_t)1);
    int idx = (int)((uintptr_t)ctx & 1);
    if (code != 0) {
        fprintf(stderr, "agentctl: read output: code %d: %s\n", code, msg);
        j->eof[idx] = true;
        return;
    }
    A3s__Guest__V1__ReadOutputResponse *r = a3s__guest__v1__read_output_response__unpack(NULL, len, payload);
    if (!r)
        die("bad ReadOutputResponse");
    if (r->data.len && write_all(idx ? 2 : 1, r->data.data, r->data.len) < 0)
        die("write output: %s", strerror(errno));
    if (r->eof)
        j->eof[idx] = true;
    else
        issue_read(j, idx);
    a3s__guest__v1__read_output_response__free_unpacked(r, NULL);
}

static void wait_cb(void *ctx, int code, const char *msg, const Google__Rpc__Status *st, const uint8_t *payload,
                    size_t len)
{
    (void)st;
    struct job *j = ctx;
    j->waited = true;
    if (code != 0) {
        fprintf(stderr, "agentctl: wait: code %d: %s\n", code, msg);
        j->status = 125;
        return;
    }
    A3s__Guest__V1__WaitProcessResponse *r = a3s__guest__v1__wait_process_response__unpack(NULL, len, payload);
    j->status = r ? (int)r->exit_status : 125;
    if (r)
        a3s__guest__v1__wait_process_response__free_unpacked(r, NULL);
}

static void start_cb(void *ctx, int code, const char *msg, const Google__Rpc__Status *st, const uint8_t *payload,
                     size_t len)
{
    struct job *j = ctx;
    j->start_done = true;
    if (code != 0) {
        print_cb_error("start", code, msg, st, payload, len);
        return;
    }
    if (j->rcols) {
        struct sync_result dummy;
        (void)dummy;
        A3s__Guest__V1__ResizePtyRequest rz = A3S__GUEST__V1__RESIZE_PTY_REQUEST__INIT;
        rz.container_id = (char *)j->cid;
        rz.exec_id = j->eid;
        rz.width = j->rcols;
        rz.height = j->rrows;
        call_async("ResizePty", &rz.base, sync_cb, xcalloc(1, sizeof(struct sync_result)));
    }
}

static void after_created(struct job *j)
{
    j->created = true;
    A3s__Guest__V1__WaitProcessRequest w = A3S__GUEST__V1__WAIT_PROCESS_REQUEST__INIT;
    w.container_id = (char *)j->cid;
    w.exec_id = j->eid;
    call_async("WaitProcess", &w.base, wait_cb, j);
    issue_read(j, 0);
    issue_read(j, 1);
    A3s__Guest__V1__StartProcessRequest s = A3S__GUEST__V1__START_PROCESS_REQUEST__INIT;
    s.container_id = (char *)j->cid;
    s.exec_id = j->eid;
    call_async("StartProcess", &s.base, start_cb, j);
}

static void created_cb(void *ctx, int code, const char *msg, const Google__Rpc__Status *st, const uint8_t *payload,
                       size_t len)
{
    struct job *j = ctx;
    if (code != 0) {
        print_cb_error(j->eid[0] ? "exec" : "create", code, msg, st, payload, len);
        j->failed = true;
        j->waited = j->eof[0] = j->eof[1] = j->start_done = true;
        j->status = 125;
        return;
    }
    after_created(j);
}

static void stdin_cb(void *ctx, int code, const char *msg, const Google__Rpc__Status *st, const uint8_t *payload,
                     size_t len)
{
    (void)st;
    (void)payload;
    (void)len;
    struct job *j = ctx;
    j->stdin_busy = false;
    if (code != 0) {
        fprintf(stderr, "agentctl: stdin: code %d: %s\n", code, msg);
        j->stdin_eof = true;
    }
}

static void pump_stdin(struct job *j)
{
    static uint8_t buf[65536];
    ssize_t n = read(0, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        j->stdin_eof = true;
        j->stdin_busy = true;
        A3s__Guest__V1__CloseStdinRequest c = A3S__GUEST__V1__CLOSE_STDIN_REQUEST__INIT;
        c.container_id = (char *)j->cid;
        c.exec_id = j->eid;
        call_async("CloseStdin", &c.base, stdin_cb, j);
        return;
    }
    A3s__Guest__V1__WriteStdinRequest w = A3S__GUEST__V1__WRITE_STDIN_REQUEST__INIT;
    w.container_id = (char *)j->cid;
    w.exec_id = j->eid;
    w.data.data = buf;
    w.data.len = (size_t)n;
    j->stdin_busy = true;
    call_async("WriteStdin", &w.base, stdin_cb, j);
}

static bool job_done(const struct job *j)
{
    return j->waited && j->eof[0] && j->eof[1] && j->start_done;
}

static int run_jobs(struct job *jobs, int n)
{
    for (;;) {
        bool all = true;
        for (int i = 0; i < n; i++)
            all = all && job_done(&jobs[i]);
        if (all)
            break;
        struct job *sj = NULL;
        if (jobs[0].use_stdin && jobs[0].created && !jobs[0].stdin_eof && !jobs[0].stdin_busy && !jobs[0].waited)
            sj = &jobs[0];
        bool ready = false;
        if (!pump(200, sj ? 0 : -1, &ready))
            die("connection closed by the agent");
        if (sj && ready)
            pump_stdin(sj);
    }
    int status = 0;
    for (int i = 0; i < n; i++)
        if (jobs[i].status && !status)
            status = jobs[i].status;
    return status;
}

static void destroy(const char *id)
{
    A3s__Guest__V1__ContainerRequest r = A3S__GUEST__V1__CONTAINER_REQUEST__INIT;
    r.container_id = (char *)id;
    struct sync_result res = call_sync("DestroyContainer", &r.base);
    check("destroy", &res);
}

/* --- commands --- */

static int cmd_hello(void)
{
    A3s__Guest__V1__HelloRequest h = A3S__GUEST__V1__HELLO_REQUEST__INIT;
    h.protocol_version = 1;
    struct sync_result r = call_sync("Hello", &h.base);
    check("hello", &r);
    A3s__Guest__V1__HelloResponse *resp = a3s__guest__v1__hello_response__unpack(NULL, r.len, r.payload);
    if (!resp)
        die("bad HelloResponse");
    printf("protocol_version=%u agent_version=%s kernel=%s boot_time_ns=%" PRIu64 " max_frame_bytes=%u\n",
           resp->protocol_version, resp->agent_version, resp->kernel_release, resp->boot_time_ns,
           resp->max_frame_bytes);
    a3s__guest__v1__hello_response__free_unpacked(resp, NULL);
    return 0;
}

/* clock [NS]: SetClock to NS (default: this host's clock now); prints the answer and the host's clock after. */
static int cmd_clock(int argc, char **argv)
{
    A3s__Guest__V1__SetClockRequest q = A3S__GUEST__V1__SET_CLOCK_REQUEST__INIT;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    q.realtime_ns = argc > 0 ? strtoull(argv[0], NULL, 10)
                             : (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
    struct sync_result r = call_sync("SetClock", &q.base);
    check("clock", &r);
    A3s__Guest__V1__SetClockResponse *resp = a3s__guest__v1__set_clock_response__unpack(NULL, r.len, r.payload);
    if (!resp)
        die("bad SetClockResponse");
    clock_gettime(CLOCK_REALTIME, &now);
    printf("previous_realtime_ns=%" PRIu64 " set=%d host_after_ns=%" PRIu64 "\n", resp->previous_realtime_ns,
           resp->set, (uint64_t)now.tv_sec * UINT64_C(1000000000) + (uint64_t)now.tv_nsec);
    a3s__guest__v1__set_clock_response__free_unpacked(resp, NULL);
    return 0;
}

static int cmd_run(struct opts *o, bool keep, bool start)
{
    char idbuf[64];
    if (!o->rootfs || !o->n_args)
        die("run/create need --rootfs and a command");
    if (!o->id) {
        snprintf(idbuf, sizeof(idbuf), "run-%d", (int)getpid());
        o->id = idbuf;
    }
    A3s__Guest__V1__CreateContainerRequest req = A3S__GUEST__V1__CREATE_CONTAINER_REQUEST__INIT;
    req.container_id = (char *)o->id;
    req.spec = make_spec(o);
    if (!start) {
        struct sync_result r = call_sync("CreateContainer", &req.base);
        check("create", &r);
        A3s__Guest__V1__CreateContainerResponse *cr =
            a3s__guest__v1__create_container_response__unpack(NULL, r.len, r.payload);
        printf("%u\n", cr ? cr->pid : 0);
        return 0;
    }
    struct job j = { .cid = o->id, .tty = o->tty, .use_stdin = o->stdin_, .rcols = o->rcols, .rrows = o->rrows };
    call_async("CreateContainer", &req.base, created_cb, &j);
    int status = run_jobs(&j, 1);
    if (!keep && !j.failed)
        destroy(o->id);
    return status;
}

static int cmd_exec(struct opts *o)
{
    if (!o->id || !o->n_args)
        die("exec needs --id and a command");
    if (o->n < 1 || o->n > 256)
        die("bad -n");
    struct job *jobs = xcalloc((size_t)o->n, sizeof(*jobs));
    for (int i = 0; i < o->n; i++) {
        struct job *j = &jobs[i];
        j->cid = o->id;
        if (o->exec_id && o->n == 1)
            snprintf(j->eid, sizeof(j->eid), "%s", o->exec_id);
        else
            snprintf(j->eid, sizeof(j->eid), "%s-%d-%d", o->exec_id ? o->exec_id : "exec", (int)getpid(), i);
        j->tty = o->tty;
        j->use_stdin = o->stdin_ && i == 0;
        j->rcols = o->rcols;
        j->rrows = o->rrows;
        A3s__Guest__V1__ExecProcessRequest req = A3S__GUEST__V1__EXEC_PROCESS_REQUEST__INIT;
        req.container_id = (char *)o->id;
        req.exec_id = j->eid;
        struct opts oi = *o;
        char idx[32];
        snprintf(idx, sizeof(idx), "A3S_EXEC_INDEX=%d", i);
        if (oi.n_env < ARRAY_SIZE(oi.env))
            oi.env[oi.n_env++] = idx;
        req.process = make_process(&oi);
        call_async("ExecProcess", &req.base, created_cb, j);
    }
    return run_jobs(jobs, o->n);
}

static int cmd_exec_create(struct opts *o)
{
    if (!o->id || !o->exec_id || !o->n_args)
        die("execcreate needs --id, --exec-id and a command");
    A3s__Guest__V1__ExecProcessRequest req = A3S__GUEST__V1__EXEC_PROCESS_REQUEST__INIT;
    req.container_id = (char *)o->id;
    req.exec_id = (char *)o->exec_id;
    req.process = make_process(o);
    struct sync_result r = call_sync("ExecProcess", &req.base);
    check("exec", &r);
    A3s__Guest__V1__ExecProcessResponse *er = a3s__guest__v1__exec_process_response__unpack(NULL, r.len, r.payload);
    printf("%u\n", er ? er->pid : 0);
    return 0;
}

/* Reads a process's stdout and stderr to EOF (e.g. after it exited) without starting or waiting. */
static int cmd_output(struct opts *o)
{
    struct job j = { .cid = o->id, .waited = true, .start_done = true };
    snprintf(j.eid, sizeof(j.eid), "%s", o->exec_id ? o->exec_id : "");
    issue_read(&j, 0);
    issue_read(&j, 1);
    return run_jobs(&j, 1);
}

static int cmd_simple(const char *cmd, struct opts *o)
{
    if (!o->id)
        die("%s needs --id", cmd);
    if (strcmp(cmd, "output") == 0)
        return cmd_output(o);
    if (strcmp(cmd, "start") == 0) {
        A3s__Guest__V1__StartProcessRequest r = A3S__GUEST__V1__START_PROCESS_REQUEST__INIT;
        r.container_id = (char *)o->id;
        r.exec_id = (char *)(o->exec_id ? o->exec_id : "");
        struct sync_result res = call_sync("StartProcess", &r.base);
        check("start", &res);
        return 0;
    }
    if (strcmp(cmd, "wait") == 0) {
        A3s__Guest__V1__WaitProcessRequest r = A3S__GUEST__V1__WAIT_PROCESS_REQUEST__INIT;
        r.container_id = (char *)o->id;
        r.exec_id = (char *)(o->exec_id ? o->exec_id : "");
        struct sync_result res = call_sync("WaitProcess", &r.base);
        check("wait", &res);
        A3s__Guest__V1__WaitProcessResponse *w = a3s__guest__v1__wait_process_response__unpack(NULL, res.len, res.payload);
        printf("%u\n", w ? w->exit_status : 0);
        return w ? (int)w->exit_status : 125;
    }
    if (strcmp(cmd, "update") == 0) {
        A3s__Guest__V1__UpdateContainerRequest r = A3S__GUEST__V1__UPDATE_CONTAINER_REQUEST__INIT;
        A3s__Guest__V1__CgroupResources empty = A3S__GUEST__V1__CGROUP_RESOURCES__INIT;
        r.container_id = (char *)o->id;
        r.resources = make_resources(o);
        if (!r.resources)
            r.resources = &empty;
        struct sync_result rs = call_sync("UpdateContainer", &r.base);
        check("update", &rs);
        return 0;
    }
    if (strcmp(cmd, "delete") == 0) {
        A3s__Guest__V1__DeleteProcessRequest r = A3S__GUEST__V1__DELETE_PROCESS_REQUEST__INIT;
        r.container_id = (char *)o->id;
        r.exec_id = (char *)(o->exec_id ? o->exec_id : "");
        struct sync_result rs = call_sync("DeleteProcess", &r.base);
        check("delete", &rs);
        return 0;
    }
    if (strcmp(cmd, "waitoom") == 0) {
        A3s__Guest__V1__WaitOomRequest r = A3S__GUEST__V1__WAIT_OOM_REQUEST__INIT;
        r.container_id = (char *)o->id;
        struct sync_result res = call_sync("WaitOom", &r.base);
        check("waitoom", &res);
        A3s__Guest__V1__WaitOomResponse *w = a3s__guest__v1__wait_oom_response__unpack(NULL, res.len, res.payload);
        printf("%" PRIu64 "\n", w ? w->oom_kills : 0);
        return 0;
    }
    if (strcmp(cmd, "kill") == 0) {
        A3s__Guest__V1__SignalProcessRequest r = A3S__GUEST__V1__SIGNAL_PROCESS_REQUEST__INIT;
        r.container_id = (char *)o->id;
        r.exec_id = (char *)(o->exec_id ? o->exec_id : "");
        r.signal = (uint32_t)o->signal;
        r.all = o->all;
        struct sync_result res = call_sync("SignalProcess", &r.base);
        if (res.code == CODE_NOT_FOUND) {
            print_error("kill", &res);
            return 3;
        }
        check("kill", &res);
        return 0;
    }
    A3s__Guest__V1__ContainerRequest r = A3S__GUEST__V1__CONTAINER_REQUEST__INIT;
    r.container_id = (char *)o->id;
    const char *method = strcmp(cmd, "destroy") == 0 ? "DestroyContainer"
                         : strcmp(cmd, "pids") == 0  ? "ListPids"
                         : strcmp(cmd, "stats") == 0 ? "Stats"
                         : strcmp(cmd, "pause") == 0 ? "PauseContainer"
                         : strcmp(cmd, "resume") == 0 ? "ResumeContainer"
                                                       : NULL;
    if (!method)
        die("unknown command `%s`", cmd);
    struct sync_result res = call_sync(method, &r.base);
    check(cmd, &res);
    if (strcmp(cmd, "pids") == 0) {
        A3s__Guest__V1__ListPidsResponse *l = a3s__guest__v1__list_pids_response__unpack(NULL, res.len, res.payload);
        for (size_t i = 0; l && i < l->n_pids; i++)
            printf("%u\n", l->pids[i]);
    } else if (strcmp(cmd, "stats") == 0) {
        A3s__Guest__V1__StatsResponse *s = a3s__guest__v1__stats_response__unpack(NULL, res.len, res.payload);
        if (s)
            printf("pids_current=%" PRIu64 " cpu_usage_usec=%" PRIu64 " memory_usage=%" PRIu64
                   " memory_limit=%" PRIu64 " memory_stat_keys=%zu\n",
                   s->pids_current, s->cpu_usage_usec, s->memory_usage, s->memory_usage_limit, s->n_memory_stat);
    }
    return 0;
}

/* --- port forwarding --- */

static uint32_t parse_port(const char *arg)
{
    uint64_t port;
    if (parse_u64(arg, &port) < 0 || port > UINT32_MAX)
        die("bad port `%s`", arg);
    return (uint32_t)port; /* out of 1..65535 too: the agent's refusal is tested */
}

/* OpenPort: the connection's id, or 0 with the error in *r. */
static uint64_t try_open_port(uint32_t port, struct sync_result *r)
{
    A3s__Guest__V1__OpenPortRequest q = A3S__GUEST__V1__OPEN_PORT_REQUEST__INIT;
    q.port = port;
    *r = call_sync("OpenPort", &q.base);
    if (r->code != 0)
        return 0;
    A3s__Guest__V1__OpenPortResponse *resp = a3s__guest__v1__open_port_response__unpack(NULL, r->len, r->payload);
    if (!resp || resp->conn_id == 0)
        die("bad OpenPortResponse");
    uint64_t id = resp->conn_id;
    a3s__guest__v1__open_port_response__free_unpacked(resp, NULL);
    return id;
}

static uint64_t open_port(const char *arg)
{
    struct sync_result r;
    uint64_t id = try_open_port(parse_port(arg), &r);
    check("port", &r);
    return id;
}

static struct sync_result port_call(const char *method, uint64_t id, const void *data, size_t len, bool close_write)
{
    A3s__Guest__V1__PortReadRequest rd = A3S__GUEST__V1__PORT_READ_REQUEST__INIT;
    A3s__Guest__V1__PortWriteRequest wr = A3S__GUEST__V1__PORT_WRITE_REQUEST__INIT;
    A3s__Guest__V1__PortCloseRequest cl = A3S__GUEST__V1__PORT_CLOSE_REQUEST__INIT;
    rd.conn_id = wr.conn_id = cl.conn_id = id;
    wr.data.data = (uint8_t *)data;
    wr.data.len = len;
    wr.close_write = close_write;
    const ProtobufCMessage *m = strcmp(method, "PortRead") == 0 ? &rd.base
                                : strcmp(method, "PortWrite") == 0 ? &wr.base : &cl.base;
    return call_sync(method, m);
}

struct fwd {
    uint64_t id;
    bool reading, read_eof, writing, stdin_eof, failed;
};

static void fwd_read_cb(void *ctx, int code, const char *msg, const Google__Rpc__Status *st, const uint8_t *payload,
                        size_t len)
{
    struct fwd *f = ctx;
    f->reading = false;
    if (code != 0) {
        print_cb_error("port read", code, msg, st, payload, len);
        f->failed = true;
        return;
    }
    A3s__Guest__V1__PortReadResponse *r = a3s__guest__v1__port_read_response__unpack(NULL, len, payload);
    if (!r)
        die("bad PortReadResponse");
    if (r->data.len && write_all(1, r->data.data, r->data.len) < 0)
        die("write output: %s", strerror(errno));
    f->read_eof = r->eof;
    a3s__guest__v1__port_read_response__free_unpacked(r, NULL);
}

static void fwd_write_cb(void *ctx, int code, const char *msg, const Google__Rpc__Status *st, const uint8_t *payload,
                         size_t len)
{
    struct fwd *f = ctx;
    f->writing = false;
    if (code != 0) {
        print_cb_error("port write", code, msg, st, payload, len);
        f->failed = true;
    }
}

/* One PortRead is kept pending while stdin is copied, one PortWrite at a time: the agent answers a PortRead as
 * soon as bytes come, whatever the writes are doing. */
static int cmd_port(int argc, char **argv)
{
    if (argc != 1)
        die("usage: port PORT");
    struct fwd f = { .id = open_port(argv[0]) };
    while (!f.failed && !(f.read_eof && !f.writing)) {
        if (!f.reading && !f.read_eof) {
            A3s__Guest__V1__PortReadRequest q = A3S__GUEST__V1__PORT_READ_REQUEST__INIT;
            q.conn_id = f.id; /* max_bytes 0: the agent's maximum */
            f.reading = true;
            call_async("PortRead", &q.base, fwd_read_cb, &f);
        }
        bool use_stdin = !f.writing && !f.stdin_eof && !f.read_eof;
        bool ready = false;
        if (!pump(200, use_stdin ? 0 : -1, &ready))
            die("connection closed by the agent");
        if (!use_stdin || !ready)
            continue;
        static uint8_t buf[1 << 20]; /* large writes: the agent has to wait for the socket to drain */
        ssize_t n = read(0, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        A3s__Guest__V1__PortWriteRequest w = A3S__GUEST__V1__PORT_WRITE_REQUEST__INIT;
        w.conn_id = f.id;
        if (n > 0) {
            w.data.data = buf;
            w.data.len = (size_t)n;
        } else {
            f.stdin_eof = true;
            w.close_write = true;
        }
        f.writing = true;
        call_async("PortWrite", &w.base, fwd_write_cb, &f);
    }
    struct sync_result r = port_call("PortClose", f.id, NULL, 0, false);
    check("port close", &r);
    return f.failed ? 125 : 0;
}

static void print_answer(const char *what, const struct sync_result *r)
{
    if (r->code == 0)
        printf("%s: ok\n", what);
    else
        printf("%s: code %d: %s\n", what, r->code, r->msg);
}

struct tally {
    int ok, unavailable, other;
};

static void tally_cb(void *ctx, int code, const char *msg, const Google__Rpc__Status *st, const uint8_t *payload,
                     size_t len)
{
    struct tally *t = ctx;
    if (code == 0)
        t->ok++;
    else if (code == CODE_UNAVAILABLE)
        t->unavailable++;
    else {
        t->other++;
        print_cb_error("port write", code, msg, st, payload, len);
    }
}

static int cmd_port_check(int argc, char **argv)
{
    if (argc != 1)
        die("usage: portcheck PORT");
    uint64_t id = open_port(argv[0]);
    A3s__Guest__V1__PortReadRequest rq = A3S__GUEST__V1__PORT_READ_REQUEST__INIT;
    rq.conn_id = id;
    struct sync_result first = { 0 };
    call_async("PortRead", &rq.base, sync_cb, &first);
    struct sync_result r = port_call("PortRead", id, NULL, 0, false);
    print_answer("second read", &r);
    /* More than the socket buffers hold while the server reads nothing: the last writes stay pending. */
    enum { N_WRITES = 12, WRITE_LEN = 2 << 20 };
    uint8_t *big = xcalloc(1, WRITE_LEN);
    A3s__Guest__V1__PortWriteRequest w = A3S__GUEST__V1__PORT_WRITE_REQUEST__INIT;
    w.conn_id = id;
    w.data.data = big;
    w.data.len = WRITE_LEN;
    struct tally t = { 0 };
    for (int i = 0; i < N_WRITES; i++)
        call_async("PortWrite", &w.base, tally_cb, &t);
    r = port_call("PortClose", id, NULL, 0, false);
    print_answer("close", &r);
    /* The agent answers what was pending on the connection before the PortClose itself. */
    if (!first.done) {
        printf("first read: not answered\n");
    } else if (first.code) {
        print_answer("first read", &first);
    } else {
        A3s__Guest__V1__PortReadResponse *pr = a3s__guest__v1__port_read_response__unpack(NULL, first.len, first.payload);
        if (!pr)
            die("bad PortReadResponse");
        printf("first read: eof=%d bytes=%zu\n", pr->eof, pr->data.len);
        a3s__guest__v1__port_read_response__free_unpacked(pr, NULL);
    }
    printf("writes: ok=%d unavailable=%d other=%d of %d\n", t.ok, t.unavailable, t.other, N_WRITES);
    r = port_call("PortRead", id, NULL, 0, false);
    print_answer("read after close", &r);
    r = port_call("PortWrite", id, "x", 1, false);
    print_answer("write after close", &r);
    r = port_call("PortClose", id, NULL, 0, false);
    print_answer("close after close", &r);
    uint64_t id2 = open_port(argv[0]);
    printf("ids: %" PRIu64 " %" PRIu64 "\n", id, id2);
    r = port_call("PortWrite", id2, NULL, 0, true);
    print_answer("close_write", &r);
    r = port_call("PortWrite", id2, "x", 1, false);
    print_answer("write after close_write", &r);
    r = port_call("PortClose", id2, NULL, 0, false);
    check("port close", &r);
    return 0;
}

static int cmd_port_limit(int argc, char **argv)
{
    uint64_t n;
    if (argc != 2 || parse_u64(argv[1], &n) < 0 || n == 0 || n > 4096)
        die("usage: portlimit PORT N");
    uint32_t port = parse_port(argv[0]);
    uint64_t *ids = xcalloc(n, sizeof(*ids));
    size_t opened = 0;
    struct sync_result r = { 0 };
    while (opened < n && (ids[opened] = try_open_port(port, &r)) != 0)
        opened++;
    printf("opened %zu\n", opened);
    if (opened == n)
        return 0;
    print_answer("next open", &r);
    if (opened == 0)
        return 0;
    r = port_call("PortClose", ids[0], NULL, 0, false);
    print_answer("close one", &r);
    try_open_port(port, &r);
    print_answer("open after a close", &r);
    A3s__Guest__V1__HelloRequest h = A3S__GUEST__V1__HELLO_REQUEST__INIT;
    h.protocol_version = 1;
    r = call_sync("Hello", &h.base);
    check("hello", &r);
    r = port_call("PortClose", ids[opened - 1], NULL, 0, false);
    print_answer("close after a hello", &r);
    return 0;
}

/* Protocol abuse, for the robustness tests. */
static int cmd_raw(const char *what)
{
    if (strcmp(what, "garbage") == 0) {
        /* A header no ttrpc peer sends: the agent must drop us (EOF), and keep serving others. */
        static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0x01, 0, 'j', 'u', 'n', 'k' };
        if (write_all(conn, junk, sizeof(junk)) < 0)
            die("write: %s", strerror(errno));
        uint8_t b[64];
        struct pollfd p = { .fd = conn, .events = POLLIN };
        if (poll(&p, 1, 2000) > 0) {
            ssize_t n = read(conn, b, sizeof(b));
            if (n != 0 && !(n < 0 && errno == ECONNRESET))
                die("expected EOF, got %zd", n);
            printf("dropped\n"); /* a socket: the agent closed it */
            return 0;
        }
        /* A virtio port cannot be closed by the guest: it must resynchronize on the next Hello. */
        ttrpc_decoder_reset(&dec);
        handshake();
        printf("resynced\n");
        return cmd_hello();
    }
    if (strcmp(what, "oversize") == 0) {
        /* 5 MiB payload: RESOURCE_EXHAUSTED on that stream, and the connection still works. */
        size_t len = 5u << 20;
        uint8_t *big = xcalloc(1, len);
        uint32_t stream = next_stream;
        next_stream += 2;
        struct sync_result r = { 0 };
        struct pending *p = xcalloc(1, sizeof(*p));
        p->stream = stream;
        p->cb = sync_cb;
        p->ctx = &r;
        pendings = p;
        send_frame(stream, TTRPC_TYPE_REQUEST, big, len);
        while (!r.done)
            if (!pump(1000, -1, NULL))
                die("connection closed");
        if (r.code != CODE_RESOURCE_EXHAUSTED)
            die("expected RESOURCE_EXHAUSTED, got %d %s", r.code, r.msg);
        printf("resource_exhausted: %s\n", r.msg);
        return cmd_hello();
    }
    if (strcmp(what, "unknown") == 0) {
        struct sync_result r1 = { 0 }, r2 = { 0 };
        call_async_svc("no.such.Service", "Hello", NULL, sync_cb, &r1);
        call_async("NoSuchMethod", NULL, sync_cb, &r2);
        while (!r1.done || !r2.done)
            if (!pump(1000, -1, NULL))
                die("connection closed");
        printf("%d %s\n%d %s\n", r1.code, r1.msg, r2.code, r2.msg);
        return (r1.code == CODE_UNIMPLEMENTED && r2.code == CODE_UNIMPLEMENTED) ? 0 : 1;
    }
    if (strcmp(what, "badstream") == 0) {
        /* fragmented header + a payload that is not a ttrpc.Request */
        uint8_t hdr[TTRPC_HDR_LEN];
        struct ttrpc_hdr h = { .length = 3, .stream = next_stream, .type = TTRPC_TYPE_REQUEST };
        ttrpc_hdr_encode(hdr, &h);
        struct sync_result r = { 0 };
        struct pending *p = xcalloc(1, sizeof(*p));
        p->stream = next_stream;
        p->cb = sync_cb;
        p->ctx = &r;
        pendings = p;
        next_stream += 2;
        for (size_t i = 0; i < sizeof(hdr); i++) {
            if (write_all(conn, &hdr[i], 1) < 0)
                die("write");
            usleep(1000);
        }
        if (write_all(conn, "\xff\xff\xff", 3) < 0)
            die("write");
        while (!r.done)
            if (!pump(1000, -1, NULL))
                die("connection closed");
        printf("%d %s\n", r.code, r.msg);
        return cmd_hello();
    }
    die("unknown raw test `%s`", what);
}

/* ConfigureNetwork from --if and --route arguments (see the usage at the top). */
static int cmd_net(int argc, char **argv)
{
    A3s__Guest__V1__ConfigureNetworkRequest req = A3S__GUEST__V1__CONFIGURE_NETWORK_REQUEST__INIT;
    req.interfaces = xcalloc((size_t)argc, sizeof(*req.interfaces));
    req.routes = xcalloc((size_t)argc, sizeof(*req.routes));
    for (int i = 0; i < argc; i++) {
        bool is_if = strcmp(argv[i], "--if") == 0;
        if (!is_if && strcmp(argv[i], "--route") != 0)
            die("net: unknown argument `%s` (--if or --route expected)", argv[i]);
        if (i + 1 >= argc)
            die("net: %s needs a value", argv[i]);
        char *rest = xstrdup(argv[++i]);
        size_t n_fields = 1;
        for (const char *c = rest; *c; c++)
            n_fields += *c == ',';
        char *first = strsep(&rest, ",");
        A3s__Guest__V1__NetworkInterface *ni = NULL;
        A3s__Guest__V1__NetworkRoute *nr = NULL;
        if (is_if) {
            ni = xcalloc(1, sizeof(*ni));
            a3s__guest__v1__network_interface__init(ni);
            ni->guest_name = first;
            ni->addresses = xcalloc(n_fields, sizeof(char *));
            req.interfaces[req.n_interfaces++] = ni;
        } else {
            nr = xcalloc(1, sizeof(*nr));
            a3s__guest__v1__network_route__init(nr);
            nr->destination = first;
            req.routes[req.n_routes++] = nr;
        }
        char *kv;
        while ((kv = strsep(&rest, ",")) != NULL) {
            char *v = strchr(kv, '=');
            if (!v)
                die("net: `%s` is not KEY=VALUE", kv);
            *v++ = '\0';
            if (ni && strcmp(kv, "name") == 0)
                ni->name = v;
            else if (ni && strcmp(kv, "mac") == 0)
                ni->mac = v;
            else if (ni && strcmp(kv, "mtu") == 0)
                ni->mtu = (uint32_t)strtoul(v, NULL, 10);
            else if (ni && strcmp(kv, "addr") == 0)
                ni->addresses[ni->n_addresses++] = v;
            else if (nr && strcmp(kv, "via") == 0)
                nr->gateway = v;
            else if (nr && strcmp(kv, "dev") == 0)
                nr->device = v;
            else if (nr && strcmp(kv, "src") == 0)
                nr->source = v;
            else if (nr && strcmp(kv, "metric") == 0)
                nr->metric = (uint32_t)strtoul(v, NULL, 10);
            else
                die("net: unknown key `%s` for %s", kv, is_if ? "--if" : "--route");
        }
    }
    struct sync_result r = call_sync("ConfigureNetwork", &req.base);
    check("net", &r);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 3) {
        fprintf(stderr, "usage: agentctl SOCK COMMAND [OPTIONS] [-- CMD...]\n");
        return 2;
    }
    connect_to(argv[1]);
    handshake();
    const char *cmd = argv[2];
    struct opts o;
    if (strcmp(cmd, "hello") == 0)
        return cmd_hello();
    if (strcmp(cmd, "raw") == 0)
        return argc > 3 ? cmd_raw(argv[3]) : 2;
    if (strcmp(cmd, "net") == 0)
        return cmd_net(argc - 3, argv + 3);
    if (strcmp(cmd, "clock") == 0)
        return cmd_clock(argc - 3, argv + 3);
    if (strcmp(cmd, "port") == 0)
        return cmd_port(argc - 3, argv + 3);
    if (strcmp(cmd, "portcheck") == 0)
        return cmd_port_check(argc - 3, argv + 3);
    if (strcmp(cmd, "portlimit") == 0)
        return cmd_port_limit(argc - 3, argv + 3);
    parse_opts(argc - 2, argv + 2, &o);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(&o, false, true);
    if (strcmp(cmd, "create") == 0)
        return cmd_run(&o, true, false);
    if (strcmp(cmd, "exec") == 0)
        return cmd_exec(&o);
    if (strcmp(cmd, "execcreate") == 0)
        return cmd_exec_create(&o);
    return cmd_simple(cmd, &o);
}
