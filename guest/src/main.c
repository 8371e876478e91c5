/* a3s-agent: PID 1 of an a3s-box microVM (or, with --listen, a test-mode agent on a Unix socket).
 *
 * main is linear: arguments, boot (mounts, modules, move to a tmpfs root, 9p share), signals, the
 * channel, then one single-threaded epoll loop that never blocks. Every fork happens from that loop. */
#include "agent.h"
#include "cgroup.h"
#include "container.h"
#include "log.h"
#include "port.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

struct agent A;

/* Lets tools read the version from the binary (`strings a3s-agent | grep ^a3s-agent/`). */
__attribute__((used)) static const char version_tag[] = "a3s-agent/" A3S_AGENT_VERSION;

int ev_set(struct ev *ev, uint32_t events)
{
    if (ev->fd < 0 || events == ev->events)
        return 0;
    struct epoll_event e = { .events = events, .data.ptr = ev };
    int op = ev->events == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (epoll_ctl(A.epfd, op, ev->fd, &e) < 0) {
        int err = errno;
        log_warn("epoll_ctl(%d, fd %d): %s", op, ev->fd, strerror(err));
        return -err;
    }
    ev->events = events;
    return 0;
}

void ev_close(struct ev *ev)
{
    if (ev->fd < 0)
        return;
    if (ev->events)
        epoll_ctl(A.epfd, EPOLL_CTL_DEL, ev->fd, NULL);
    close(ev->fd);
    ev->fd = -1;
    ev->events = 0;
}

void timer_update(void)
{
    int ms = 0;
    if (channel_wants_timer())
        ms = AGENT_RECONNECT_POLL_MS;
    else if (containers_want_fast_timer())
        ms = AGENT_FAST_POLL_MS;
    else if (ports_want_timer())
        ms = PORT_POLL_MS;
    else if (containers_want_oom_timer())
        ms = AGENT_OOM_POLL_MS;
    if (ms == A.timer_ms)
        return;
    struct itimerspec its = { 0 };
    its.it_interval.tv_nsec = its.it_value.tv_nsec = (long)ms * 1000000L;
    if (timerfd_settime(A.ev_timer.fd, 0, &its, NULL) < 0)
        log_warn("timerfd_settime: %s", strerror(errno));
    A.timer_ms = ms;
}

/* tini: every signal goes to the signalfd except the synchronous faults, which must kill us loudly. */
static int setup_signals(void)
{
    sigset_t set;
    sigfillset(&set);
    static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS };
    for (size_t i = 0; i < ARRAY_SIZE(faults); i++)
        sigdelset(&set, faults[i]);
    if (sigprocmask(SIG_SETMASK, &set, NULL) < 0)
        return -errno;
    A.ev_sig = (struct ev){ .kind = EV_SIGNAL, .fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC) };
    if (A.ev_sig.fd < 0)
        return -errno;
    return ev_set(&A.ev_sig, EPOLLIN);
}

/* Test mode: SIGTERM/SIGINT end the agent; its containers die with it. */
_Noreturn static void shutdown_and_exit(int code)
{
    A.shutting_down = true;
    log_info("shutting down");
    for (struct container *c = A.containers; c; c = c->next) {
        if (c->cgroup)
            cgroup_kill_all(c->cgroup, SIGKILL);
        for (struct process *p = c->procs; p; p = p->next)
            if (p->state != P_EXITED && p->pid > 0)
                kill(p->pid, SIGKILL);
    }
    uint64_t deadline = now_ns(CLOCK_MONOTONIC) + 2000000000ull;
    while (now_ns(CLOCK_MONOTONIC) < deadline) {
        pid_t pid = waitpid(-1, NULL, WNOHANG);
        if (pid < 0)
            break; /* ECHILD: all reaped */
        if (pid == 0)
            usleep(5000);
    }
    for (struct container *c = A.containers; c; c = c->next)
        if (c->cgroup)
            cgroup_remove(c->cgroup);
    if (A.cgroup_root[0]) {
        char parent[PATH_MAX + 64];
        snprintf(parent, sizeof(parent), "%s/%s", A.cgroup_root, A.cgroup_parent);
        rmdir(parent); /* test mode: leave the host as found (fails harmlessly if something is left) */
    }
    if (A.listen_path)
        unlink(A.listen_path);
    exit(code);
}

static void on_signals(void)
{
    struct signalfd_siginfo si;
    while (read(A.ev_sig.fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        int sig = (int)si.ssi_signo;
        switch (sig) {
        case SIGCHLD:
            proc_reap_all();
            break;
        case SIGTERM:
        case SIGINT:
        case SIGHUP:
            if (A.mode == MODE_SOCKET)
                shutdown_and_exit(0);
            if (sig == SIGINT) /* ctrl-alt-del */
                boot_poweroff();
            log_info("ignoring signal %d", sig);
            break;
        case SIGPWR:
            if (A.mode == MODE_VM)
                boot_poweroff();
            break;
        default:
            log_debug("ignoring signal %d from %d", sig, (int)si.ssi_pid);
        }
    }
}

static void loop(void)
{
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(A.epfd, evs, ARRAY_SIZE(evs), -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("epoll_wait: %s", strerror(errno));
            usleep(10000);
            continue;
        }
        for (int i = 0; i < n; i++) {
            struct ev *ev = evs[i].data.ptr;
            if (ev->fd < 0)
                continue; /* closed earlier in this batch */
            switch (ev->kind) {
            case EV_LISTEN:
            case EV_CONN:
                channel_on_event(ev, evs[i].events);
                break;
            case EV_SIGNAL:
                on_signals();
                break;
            case EV_TIMER: {
                uint64_t ticks;
                if (read(ev->fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
                    log_warn("timerfd: %s", strerror(errno));
                channel_check_port();
                containers_on_timer();
                ports_on_timer();
                break;
            }
            case EV_STATUS:
                proc_on_status(ev->obj);
                break;
            case EV_OUT:
                stdio_on_readable(ev->obj, ev->idx);
                break;
            case EV_IN:
                stdio_on_writable(ev->obj);
                break;
            case EV_PORTFWD:
                port_on_event(ev->obj);
                break;
            }
        }
        graveyard_flush();
        ports_flush();
        timer_update();
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: a3s-agent [options]\n"
            "  PID 1 of an a3s-box microVM: boots the guest and serves the host on the virtio-serial port\n"
            "  `" AGENT_PORT_NAME "`. Test mode (no VM): --listen SOCKET.\n"
            "\n"
            "  --listen PATH        serve one Unix-socket connection at a time instead of the port (implies --no-boot)\n"
            "  --port PATH          use this device instead of looking up the port by name\n"
            "  --share DIR          share root for relative paths (default " AGENT_SHARE_DIR ")\n"
            "  --no-boot            skip the boot steps (mounts, modules, tmpfs root, 9p)\n"
            "  --cgroup-root DIR    cgroup2 mount to use (default: detected)\n"
            "  --cgroup-parent NAME cgroup of all containers under the root (default a3s)\n"
            "  -v, --debug          debug logging\n"
            "  --version            print the version\n");
}

static void ensure_stdio(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0)
            continue;
        int n = open("/dev/console", O_RDWR | O_NOCTTY);
        if (n < 0)
            n = open("/dev/null", O_RDWR);
        if (n >= 0 && n != fd) {
            dup2(n, fd);
            close(n);
        }
    }
}

static void parse_cmdline(void)
{
    char *cmd = NULL;
    if (read_file("/proc/cmdline", &cmd, NULL) < 0)
        return;
    if (strstr(cmd, "a3s.kmsg"))
        log_open("/dev/kmsg", 1);
    if (strstr(cmd, "a3s.debug") || strstr(cmd, "a3s.log=debug"))
        log_level = LOG_LVL_DEBUG;
    else if (strstr(cmd, "a3s.log=warn"))
        log_level = LOG_LVL_WARN;
    if (strstr(cmd, "a3s.trace"))
        trace_enabled = true;
    free(cmd);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, 'l' }, { "port", required_argument, NULL, 'p' },
        { "share", required_argument, NULL, 's' },  { "no-boot", no_argument, NULL, 'n' },
        { "cgroup-root", required_argument, NULL, 'c' }, { "cgroup-parent", required_argument, NULL, 'g' },
        { "debug", no_argument, NULL, 'v' }, { "version", no_argument, NULL, 'V' }, { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    /* Before anything of PID 1's: the kernel runs the agent as its modprobe, through /sbin/modprobe. */
    const char *self = strrchr(argv[0], '/');
    if (strcmp(self ? self + 1 : argv[0], "modprobe") == 0)
        return modprobe_main(argc, argv);
    bool no_boot = false;
    A.pid1 = getpid() == 1;
    A.mode = MODE_VM;
    A.own_pidns_fd = -1;
    A.ev_timer = (struct ev){ .kind = EV_TIMER, .fd = -1 };
    A.ev_listen = (struct ev){ .kind = EV_LISTEN, .fd = -1 };
    A.ev_conn = (struct ev){ .kind = EV_CONN, .fd = -1 };
    snprintf(A.share_dir, sizeof(A.share_dir), "%s", AGENT_SHARE_DIR);
    snprintf(A.cgroup_parent, sizeof(A.cgroup_parent), "a3s");
    ensure_stdio();

    int c;
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (c) {
        case 'l': A.listen_path = optarg; A.mode = MODE_SOCKET; no_boot = true; break;
        case 'p': A.port_path = optarg; break;
        case 's': snprintf(A.share_dir, sizeof(A.share_dir), "%s", optarg); break;
        case 'n': no_boot = true; break;
        case 'c': snprintf(A.cgroup_root, sizeof(A.cgroup_root), "%s", optarg); break;
        case 'g':
            if (!optarg[0] || strchr(optarg, '/') || strlen(optarg) >= sizeof(A.cgroup_parent)) {
                fprintf(stderr, "a3s-agent: invalid --cgroup-parent `%s`\n", optarg);
                return 2;
            }
            snprintf(A.cgroup_parent, sizeof(A.cgroup_parent), "%s", optarg);
            break;
        case 'v': log_level = LOG_LVL_DEBUG; break;
        case 'V': printf("a3s-agent %s (protocol %d)\n", A3S_AGENT_VERSION, AGENT_PROTOCOL_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc && A.mode == MODE_SOCKET) {
        usage(stderr);
        return 2;
    }

    if (A.mode == MODE_VM && !no_boot) {
        if (!getenv("A3S_AGENT_STAGE2"))
            boot_stage1(); /* re-execs from the tmpfs root on success */
        boot_stage2();
    }
    log_open(NULL, 0);
    if (A.mode == MODE_VM)
        parse_cmdline();
    log_info("a3s-agent %s starting (%s mode, pid %d)", A3S_AGENT_VERSION,
             A.mode == MODE_VM ? "vm" : "socket", (int)getpid());

    A.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (A.epfd < 0) {
        log_error("epoll_create1: %s", strerror(errno));
        return 1;
    }
    int r = setup_signals();
    if (r < 0) {
        log_error("signals: %s", strerror(-r));
        return 1;
    }
    A.ev_timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (A.ev_timer.fd < 0 || ev_set(&A.ev_timer, EPOLLIN) < 0) {
        log_error("timerfd: %s", strerror(errno));
        return 1;
    }
    A.own_pidns_fd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (A.own_pidns_fd < 0) {
        log_error("open /proc/self/ns/pid: %s", strerror(errno));
        return 1;
    }
    if (!A.pid1 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        log_warn("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
    caps_last_cap();
    cgroup_setup(false);
    umask(022);

    if (A.mode == MODE_SOCKET) {
        r = channel_open_listen(A.listen_path);
    } else {
        char port[PATH_MAX];
        if (A.port_path)
            snprintf(port, sizeof(port), "%s", A.port_path);
        else if ((r = boot_find_port(port, sizeof(port), AGENT_PORT_WAIT_MS)) < 0)
            port[0] = '\0';
        r = port[0] ? channel_open_port(port) : -ENODEV;
    }
    if (r < 0) {
        log_error("no channel to the host: %s", strerror(-r));
        if (A.mode == MODE_VM && A.pid1)
            boot_poweroff();
        return 1;
    }
    A.boot_time_ns = now_ns(CLOCK_BOOTTIME);
    log_info("ready after %llu ms since kernel boot", (unsigned long long)(A.boot_time_ns / 1000000));
    loop();
}
