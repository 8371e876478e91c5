/* ConfigureNetwork over rtnetlink (NETLINK_ROUTE): one request at a time, each with NLM_F_ACK, and its answer
 * awaited with poll for at most NET_NETLINK_TIMEOUT_MS, so a kernel that never answers costs the event loop
 * a bounded time and never hangs it.
 *
 * The request is validated and resolved into a plan first (struct plan: parsed addresses, interface indexes,
 * the routes' output interfaces); only a valid plan touches the network. The steps are recorded as they
 * succeed so that a failure can undo them (best effort) and the host may retry the call. Interfaces are
 * addressed by index, which survives the renaming. */
#include "net.h"
#include "log.h"
#include "ttrpc.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* --- parsing --- */

struct ipaddr {
    int family;        /* AF_INET, AF_INET6; 0 for the destination "default" */
    uint8_t a[16];
    unsigned plen;     /* prefix length (32 or 128 for a plain address) */
};

static size_t ip_len(int family)
{
    return family == AF_INET ? 4 : 16;
}

static bool parse_ip(const char *s, struct ipaddr *ip)
{
    memset(ip, 0, sizeof(*ip));
    if (!s || !s[0] || strlen(s) >= INET6_ADDRSTRLEN)
        return false;
    if (inet_pton(AF_INET, s, ip->a) == 1) {
        ip->family = AF_INET;
        ip->plen = 32;
        return true;
    }
    if (inet_pton(AF_INET6, s, ip->a) == 1) {
        ip->family = AF_INET6;
        ip->plen = 128;
        return true;
    }
    return false;
}

/* "ADDRESS/PREFIXLEN", the prefix length in decimal (1 to 3 digits) and not above the family's bits. */
static bool parse_cidr(const char *s, struct ipaddr *ip)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    char buf[INET6_ADDRSTRLEN];
    if (!slash || (size_t)(slash - s) >= sizeof(buf))
        return false;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    if (!parse_ip(buf, ip))
        return false;
    unsigned v = 0;
    size_t n = 0;
    for (const char *p = slash + 1; *p; p++, n++) {
        if (*p < '0' || *p > '9' || n == 3)
            return false;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (n == 0 || v > ip->plen)
        return false;
    ip->plen = v;
    return true;
}

/* The bits past the prefix are zero (a network, as a route's destination must be). */
static bool is_network(const struct ipaddr *ip)
{
    for (unsigned bit = ip->plen; bit < ip_len(ip->family) * 8; bit++)
        if (ip->a[bit / 8] & (0x80 >> (bit % 8)))
            return false;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "02:42:ac:11:00:02": six hex pairs separated by colons. */
static bool parse_mac(const char *s, uint8_t mac[6])
{
    if (strlen(s) != 17)
        return false;
    for (int i = 0; i < 6; i++) {
        int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
            return false;
        mac[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* What the kernel accepts as a name (dev_valid_name), without the "%d" templates it would expand. */
static bool valid_ifname(const char *s)
{
    if (!s[0] || strlen(s) >= IFNAMSIZ || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (const char *p = s; *p; p++)
        if (*p == '/' || *p == ':' || *p == '%' || isspace((unsigned char)*p) || (unsigned char)*p < 0x20)
            return false;
    return true;
}

static const char *str(const char *s)
{
    return s ? s : "";
}

/* --- the plan --- */

struct plan_if {
    const A3s__Guest__V1__NetworkInterface *spec;
    int index;
    char orig_name[IFNAMSIZ];
    const char *name;          /* the final name: spec->name, or the current one */
    bool rename;
    bool set_mac;
    uint8_t mac[6];
    struct ipaddr *addrs;      /* spec->addresses, parsed */
    /* done so far, for the undo */
    bool touched;              /* a request about it was sent */
    bool have_old;             /* old_mac and old_mtu were read */
    uint8_t old_mac[6];
    int old_mtu;
    bool mac_set, mtu_set, renamed;
    size_t n_added;            /* addrs[0 .. n_added) were added */
};

struct plan_route {
    const A3s__Guest__V1__NetworkRoute *spec;
    int family;
    struct ipaddr dst;         /* plen 0 for a default route */
    bool has_gw, has_src;
    struct ipaddr gw, src;
    int oif;                   /* 0: none */
    char desc[200];            /* "10.99.0.0/24 via 10.88.0.1 dev eth0", for messages */
    bool added;
};

struct plan {
    struct plan_if *ifs;
    size_t n_ifs;
    struct plan_route *routes;
    size_t n_routes;
};

__attribute__((format(printf, 4, 5))) static int fail(struct net_error *e, int code, int err, const char *fmt, ...)
{
    e->code = code;
    e->err = err;
    snprintf(e->op, sizeof(e->op), "%s", err ? "netlink" : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

static void plan_free(struct plan *p)
{
    for (size_t i = 0; i < p->n_ifs; i++)
        free(p->ifs[i].addrs);
    free(p->ifs);
    free(p->routes);
}

/* The current MAC and MTU of an interface, to restore them on failure (ioctls: answered at once). */
static void read_old(struct plan_if *pi)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return;
    struct ifreq a = { 0 }, m = { 0 };
    snprintf(a.ifr_name, sizeof(a.ifr_name), "%s", pi->orig_name);
    snprintf(m.ifr_name, sizeof(m.ifr_name), "%s", pi->orig_name);
    if (ioctl(s, SIOCGIFHWADDR, &a) == 0 && ioctl(s, SIOCGIFMTU, &m) == 0) {
        memcpy(pi->old_mac, a.ifr_hwaddr.sa_data, 6);
        pi->old_mtu = m.ifr_mtu;
        pi->have_old = true;
    }
    close(s);
}

static int plan_interfaces(const A3s__Guest__V1__ConfigureNetworkRequest *req, struct plan *p, struct net_error *e)
{
    p->ifs = xcalloc(req->n_interfaces, sizeof(*p->ifs));
    p->n_ifs = req->n_interfaces;
    for (size_t i = 0; i < req->n_interfaces; i++) {
        const A3s__Guest__V1__NetworkInterface *s = req->interfaces[i];
        struct plan_if *pi = &p->ifs[i];
        pi->spec = s;
        const char *gname = str(s->guest_name), *name = str(s->name), *mac = str(s->mac);
        if (!gname[0])
            return fail(e, CODE_INVALID_ARGUMENT, 0, "interfaces[%zu].guest_name is required", i);
        if (!valid_ifname(gname))
            return fail(e, CODE_INVALID_ARGUMENT, 0, "interfaces[%zu].guest_name: `%s` is not an interface name", i,
                        gname);
        if (name[0] && !valid_ifname(name))
            return fail(e, CODE_INVALID_ARGUMENT, 0, "interfaces[%zu].name: `%s` is not an interface name", i, name);
        pi->name = name[0] ? name : gname;
        pi->rename = strcmp(pi->name, gname) != 0;
        for (size_t k = 0; k < i; k++) {
            if (strcmp(str(p->ifs[k].spec->guest_name), gname) == 0)
                return fail(e, CODE_INVALID_ARGUMENT, 0, "interfaces[%zu].guest_name: `%s` is configured twice", i,
                            gname);
            if (strcmp(p->ifs[k].name, pi->name) == 0)
                return fail(e, CODE_INVALID_ARGUMENT, 0, "interfaces[%zu]: the name `%s` is given twice", i, pi->name);
        }
        if (mac[0]) {
            if (!parse_mac(mac, pi->mac))
                return fail(e, CODE_INVALID_ARGUMENT, 0, "interfaces[%zu].mac: `%s` is not a MAC address", i, mac);
            static const uint8_t zero[6];
            if ((pi->mac[0] & 1) || memcmp(pi->mac, zero, 6) == 0)
                return fail(e, CODE_INVALID_ARGUMENT, 0, "interfaces[%zu].mac: `%s` is not a unicast MAC address", i,
                            mac);
            pi->set_mac = true;
        }
        if (s->mtu > INT32_MAX)
            return fail(e, CODE_INVALID_ARGUMENT, 0, "interfaces[%zu].mtu: %u is out of range", i, s->mtu);
        pi->addrs = xcalloc(s->n_addresses, sizeof(*pi->addrs));
        for (size_t k = 0; k < s->n_addresses; k++)
            if (!parse_cidr(s->addresses[k], &pi->addrs[k]))
                return fail(e, CODE_INVALID_ARGUMENT, 0,
                            "interfaces[%zu].addresses[%zu]: `%s` is not an IP address with a prefix length", i, k,
                            str(s->addresses[k]));
    }
    /* Only now, with every field valid: which interfaces exist. */
    for (size_t i = 0; i < p->n_ifs; i++) {
        struct plan_if *pi = &p->ifs[i];
        pi->index = (int)if_nametoindex(pi->spec->guest_name);
        if (pi->index <= 0)
            return fail(e, CODE_NOT_FOUND, 0, "network interface `%s` does not exist in the VM", pi->spec->guest_name);
        snprintf(pi->orig_name, sizeof(pi->orig_name), "%s", pi->spec->guest_name);
    }
    return 0;
}

/* A route's interface by its name after the renaming: one of the configured interfaces, or another one of
 * the VM's that keeps its name. */
static int route_oif(const struct plan *p, const char *dev)
{
    for (size_t i = 0; i < p->n_ifs; i++)
        if (strcmp(p->ifs[i].name, dev) == 0)
            return p->ifs[i].index;
    for (size_t i = 0; i < p->n_ifs; i++)
        if (p->ifs[i].rename && strcmp(p->ifs[i].orig_name, dev) == 0)
            return 0; /* renamed away */
    return (int)if_nametoindex(dev);
}

static int plan_routes(const A3s__Guest__V1__ConfigureNetworkRequest *req, struct plan *p, struct net_error *e)
{
    p->routes = xcalloc(req->n_routes, sizeof(*p->routes));
    p->n_routes = req->n_routes;
    for (size_t i = 0; i < req->n_routes; i++) {
        const A3s__Guest__V1__NetworkRoute *s = req->routes[i];
        struct plan_route *r = &p->routes[i];
        r->spec = s;
        const char *dst = str(s->destination), *gw = str(s->gateway), *dev = str(s->device), *src = str(s->source);
        if (strcmp(dst, "default") != 0) {
            if (!parse_cidr(dst, &r->dst))
                return fail(e, CODE_INVALID_ARGUMENT, 0,
                            "routes[%zu].destination: `%s` is neither an IP address with a prefix length nor `default`",
                            i, dst);
            if (!is_network(&r->dst))
                return fail(e, CODE_INVALID_ARGUMENT, 0,
                            "routes[%zu].destination: `%s` has bits set past its prefix length", i, dst);
        }
        if (gw[0] && !(r->has_gw = parse_ip(gw, &r->gw)))
            return fail(e, CODE_INVALID_ARGUMENT, 0, "routes[%zu].gateway: `%s` is not an IP address", i, gw);
        if (src[0] && !(r->has_src = parse_ip(src, &r->src)))
            return fail(e, CODE_INVALID_ARGUMENT, 0, "routes[%zu].source: `%s` is not an IP address", i, src);
        r->family = r->dst.family ? r->dst.family : r->has_gw ? r->gw.family : r->has_src ? r->src.family : AF_INET;
        if (r->has_gw && r->gw.family != r->family)
            return fail(e, CODE_INVALID_ARGUMENT, 0, "routes[%zu].gateway: `%s` is not of the destination's family",
                        i, gw);
        if (r->has_src && r->src.family != r->family)
            return fail(e, CODE_INVALID_ARGUMENT, 0, "routes[%zu].source: `%s` is not of the route's family", i, src);
        if (dev[0] && !valid_ifname(dev))
            return fail(e, CODE_INVALID_ARGUMENT, 0, "routes[%zu].device: `%s` is not an interface name", i, dev);
        if (!dev[0] && !r->has_gw)
            return fail(e, CODE_INVALID_ARGUMENT, 0, "routes[%zu]: `%s` needs a gateway or a device", i, dst);
        int n = snprintf(r->desc, sizeof(r->desc), "%s", dst);
        if (r->has_gw)
            n += snprintf(r->desc + n, sizeof(r->desc) - (size_t)n, " via %s", gw);
        if (dev[0])
            n += snprintf(r->desc + n, sizeof(r->desc) - (size_t)n, " dev %s", dev);
        if (r->has_src)
            n += snprintf(r->desc + n, sizeof(r->desc) - (size_t)n, " src %s", src);
        if (s->metric)
            snprintf(r->desc + n, sizeof(r->desc) - (size_t)n, " metric %u", s->metric);
    }
    for (size_t i = 0; i < p->n_routes; i++) {
        const char *dev = str(p->routes[i].spec->device);
        if (dev[0] && (p->routes[i].oif = route_oif(p, dev)) <= 0)
            return fail(e, CODE_NOT_FOUND, 0, "routes[%zu].device: network interface `%s` does not exist in the VM",
                        i, dev);
    }
    return 0;
}

/* --- rtnetlink --- */

struct nl {
    int fd;
    uint32_t seq;
    bool stuck;        /* a request went unanswered: send no more */
};

/* One request: the header, the family header, attributes. */
struct nlmsg {
    union {
        struct nlmsghdr h;
        char buf[512];
    };
};

static int nl_open(struct nl *nl)
{
    nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (nl->fd < 0)
        return -errno;
    int one = 1;
    /* Best effort: errors answered with the request's header only, and the kernel's reason as text. */
    setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
    if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = errno;
        close(nl->fd);
        nl->fd = -1;
        return -err;
    }
    nl->seq = (uint32_t)now_ns(CLOCK_MONOTONIC);
    nl->stuck = false;
    return 0;
}

/* Starts a request of `type` with a zeroed family header of hdrlen bytes, which it returns. */
static void *nl_init(struct nlmsg *m, uint16_t type, uint16_t flags, size_t hdrlen)
{
    memset(m, 0, sizeof(*m));
    m->h.nlmsg_len = NLMSG_LENGTH(hdrlen);
    m->h.nlmsg_type = type;
    m->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    return NLMSG_DATA(&m->h);
}

/* Appends an attribute. The requests are small and of fixed shape: running out of room is a bug. */
static void nl_attr(struct nlmsg *m, uint16_t type, const void *data, size_t len)
{
    size_t off = NLMSG_ALIGN(m->h.nlmsg_len);
    if (off + RTA_SPACE(len) > sizeof(m->buf)) {
        log_error("netlink request of type %u: attribute %u does not fit", m->h.nlmsg_type, type);
        abort();
    }
    struct rtattr *a = (struct rtattr *)(m->buf + off);
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(a), data, len);
    m->h.nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
}

static void nl_u32(struct nlmsg *m, uint16_t type, uint32_t v)
{
    nl_attr(m, type, &v, sizeof(v));
}

/* The kernel's reason from an extended ack (NLMSGERR_ATTR_MSG), if it gave one. */
static void nl_reason(const struct nlmsghdr *h, char *why, size_t whylen)
{
    if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
        return;
    const struct nlmsgerr *e = NLMSG_DATA(h);
    size_t off = NLMSG_HDRLEN + sizeof(*e);
    if (!(h->nlmsg_flags & NLM_F_CAPPED))
        off += e->msg.nlmsg_len > NLMSG_HDRLEN ? e->msg.nlmsg_len - NLMSG_HDRLEN : 0;
    off = NLMSG_ALIGN(off);
    while (off + sizeof(struct rtattr) <= h->nlmsg_len) {
        const struct rtattr *a = (const struct rtattr *)((const char *)h + off);
        if (a->rta_len < sizeof(*a) || off + a->rta_len > h->nlmsg_len)
            return;
        if (a->rta_type == NLMSGERR_ATTR_MSG && RTA_PAYLOAD(a) > 1) {
            snprintf(why, whylen, "%.*s", (int)RTA_PAYLOAD(a), (const char *)RTA_DATA(a));
            return;
        }
        off += RTA_ALIGN(a->rta_len);
    }
}

/* Sends a request and waits, at most NET_NETLINK_TIMEOUT_MS, for its ack. Returns 0 or -errno (-ETIMEDOUT
 * when the kernel did not answer in time); why gets the kernel's reason for an error, when it gave one. */
static int nl_talk(struct nl *nl, struct nlmsg *m, char *why, size_t whylen)
{
    why[0] = '\0';
    if (nl->stuck) {
        snprintf(why, whylen, "an earlier request was not answered");
        return -ETIMEDOUT;
    }
    m->h.nlmsg_seq = ++nl->seq;
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    ssize_t n;
    do
        n = sendto(nl->fd, m->buf, m->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    uint64_t deadline = now_ns(CLOCK_MONOTONIC) + (uint64_t)NET_NETLINK_TIMEOUT_MS * 1000000ull;
    for (;;) {
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now >= deadline)
            break;
        struct pollfd pfd = { .fd = nl->fd, .events = POLLIN };
        int r = poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000));
        if (r < 0 && errno != EINTR)
            return -errno;
        if (r <= 0)
            continue;
        union {
            struct nlmsghdr h;
            char b[8192];
        } buf;
        n = recv(nl->fd, buf.b, sizeof(buf.b), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS)
                continue;
            return -errno;
        }
        int len = (int)n;
        for (struct nlmsghdr *h = &buf.h; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_seq != nl->seq)
                continue; /* not the answer to this request */
            if (h->nlmsg_type == NLMSG_DONE)
                return 0;
            if (h->nlmsg_type != NLMSG_ERROR)
                continue;
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
                return -EBADMSG;
            const struct nlmsgerr *e = NLMSG_DATA(h);
            if (e->error > 0 || e->error < -4095)
                return -EBADMSG;
            if (e->error)
                nl_reason(h, why, whylen);
            return e->error;
        }
    }
    nl->stuck = true;
    snprintf(why, whylen, "no answer from the kernel within %d ms", NET_NETLINK_TIMEOUT_MS);
    return -ETIMEDOUT;
}

/* RTM_SETLINK on an interface: flags (masked by change) and at most one attribute. */
static int link_set(struct nl *nl, int index, unsigned flags, unsigned change, uint16_t type, const void *data,
                    size_t len, char *why, size_t whylen)
{
    struct nlmsg m;
    struct ifinfomsg *ifi = nl_init(&m, RTM_SETLINK, 0, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
    ifi->ifi_flags = flags;
    ifi->ifi_change = change;
    if (type)
        nl_attr(&m, type, data, len);
    return nl_talk(nl, &m, why, whylen);
}

static int link_updown(struct nl *nl, int index, bool up, char *why, size_t whylen)
{
    return link_set(nl, index, up ? IFF_UP : 0, IFF_UP, 0, NULL, 0, why, whylen);
}

/* RTM_NEWADDR / RTM_DELADDR. IPv6 addresses skip duplicate address detection (IFA_F_NODAD): the host's
 * namespace has them already, and they must be usable at once, not after a second of tentativeness. */
static int addr_change(struct nl *nl, uint16_t cmd, int index, const struct ipaddr *a, char *why, size_t whylen)
{
    struct nlmsg m;
    struct ifaddrmsg *ifa = nl_init(&m, cmd, cmd == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0, sizeof(*ifa));
    ifa->ifa_family = (uint8_t)a->family;
    ifa->ifa_prefixlen = (uint8_t)a->plen;
    ifa->ifa_flags = a->family == AF_INET6 ? IFA_F_NODAD : 0;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (uint32_t)index;
    nl_attr(&m, IFA_LOCAL, a->a, ip_len(a->family));
    nl_attr(&m, IFA_ADDRESS, a->a, ip_len(a->family));
    if (cmd == RTM_NEWADDR && a->family == AF_INET && a->plen < 31) {
        uint8_t brd[4]; /* the address with every host bit set, as CNI's plugins give their interfaces */
        memcpy(brd, a->a, sizeof(brd));
        for (unsigned bit = a->plen; bit < 32; bit++)
            brd[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
        nl_attr(&m, IFA_BROADCAST, brd, sizeof(brd));
    }
    return nl_talk(nl, &m, why, whylen);
}

/* RTM_NEWROUTE / RTM_DELROUTE in the main table, protocol static. IPv4 routes without a gateway are on-link
 * (scope link); IPv6 routes have no scope. */
static int route_change(struct nl *nl, uint16_t cmd, const struct plan_route *r, char *why, size_t whylen)
{
    struct nlmsg m;
    struct rtmsg *rt = nl_init(&m, cmd, cmd == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0, sizeof(*rt));
    rt->rtm_family = (uint8_t)r->family;
    rt->rtm_dst_len = (uint8_t)r->dst.plen;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_STATIC;
    rt->rtm_scope = r->has_gw || r->family == AF_INET6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    rt->rtm_type = RTN_UNICAST;
    if (r->dst.plen)
        nl_attr(&m, RTA_DST, r->dst.a, ip_len(r->family));
    if (r->has_gw)
        nl_attr(&m, RTA_GATEWAY, r->gw.a, ip_len(r->family));
    if (r->oif)
        nl_u32(&m, RTA_OIF, (uint32_t)r->oif);
    if (r->has_src)
        nl_attr(&m, RTA_PREFSRC, r->src.a, ip_len(r->family));
    if (r->spec->metric)
        nl_u32(&m, RTA_PRIORITY, r->spec->metric);
    return nl_talk(nl, &m, why, whylen);
}

/* --- applying --- */

static int step_failed(struct net_error *e, int rc, const char *why, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int step_failed(struct net_error *e, int rc, const char *why, const char *fmt, ...)
{
    char step[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(step, sizeof(step), fmt, ap);
    va_end(ap);
    /* The message is "<step>: <strerror>"; the kernel's reason (extended ack), when it gave one, is logged. */
    snprintf(e->reason, sizeof(e->reason), "%s", why);
    return fail(e, CODE_UNKNOWN, -rc, "%s: %s", step, strerror(-rc));
}

/* Best effort, in reverse: the routes added, then each interface touched goes down, loses the addresses
 * added, and gets its old name, MTU and MAC back. Errors are logged; "already gone" is fine (an interface
 * going down drops its IPv4 routes, and usually its IPv6 addresses). */
static void undo(struct nl *nl, struct plan *p)
{
    char why[160];
    int rc;
    for (size_t i = p->n_routes; i-- > 0;) {
        struct plan_route *r = &p->routes[i];
        if (r->added && (rc = route_change(nl, RTM_DELROUTE, r, why, sizeof(why))) < 0 && rc != -ESRCH)
            log_warn("ConfigureNetwork undo: delete route %s: %s", r->desc, strerror(-rc));
    }
    for (size_t i = p->n_ifs; i-- > 0;) {
        struct plan_if *pi = &p->ifs[i];
        if (pi->touched && (rc = link_updown(nl, pi->index, false, why, sizeof(why))) < 0)
            log_warn("ConfigureNetwork undo: set %s down: %s", pi->renamed ? pi->name : pi->orig_name, strerror(-rc));
    }
    for (size_t i = p->n_ifs; i-- > 0;) {
        struct plan_if *pi = &p->ifs[i];
        for (size_t k = pi->n_added; k-- > 0;)
            if ((rc = addr_change(nl, RTM_DELADDR, pi->index, &pi->addrs[k], why, sizeof(why))) < 0 &&
                rc != -EADDRNOTAVAIL && rc != -ESRCH && rc != -ENOENT)
                log_warn("ConfigureNetwork undo: delete address %s: %s", pi->spec->addresses[k], strerror(-rc));
        if (pi->renamed && (rc = link_set(nl, pi->index, 0, 0, IFLA_IFNAME, pi->orig_name, strlen(pi->orig_name) + 1,
                                          why, sizeof(why))) < 0)
            log_warn("ConfigureNetwork undo: rename %s to %s: %s", pi->name, pi->orig_name, strerror(-rc));
        uint32_t mtu = (uint32_t)pi->old_mtu;
        if (pi->mtu_set && pi->have_old &&
            (rc = link_set(nl, pi->index, 0, 0, IFLA_MTU, &mtu, sizeof(mtu), why, sizeof(why))) < 0)
            log_warn("ConfigureNetwork undo: MTU of %s: %s", pi->orig_name, strerror(-rc));
        if (pi->mac_set && pi->have_old &&
            (rc = link_set(nl, pi->index, 0, 0, IFLA_ADDRESS, pi->old_mac, 6, why, sizeof(why))) < 0)
            log_warn("ConfigureNetwork undo: MAC address of %s: %s", pi->orig_name, strerror(-rc));
    }
}

static int configure_interface(struct nl *nl, struct plan_if *pi, struct net_error *e)
{
    const A3s__Guest__V1__NetworkInterface *s = pi->spec;
    char why[160];
    int rc;
    read_old(pi);
    pi->touched = true;
    if ((rc = link_updown(nl, pi->index, false, why, sizeof(why))) < 0)
        return step_failed(e, rc, why, "set %s down", pi->orig_name);
    if (pi->set_mac) {
        pi->mac_set = true; /* restore even after a failure: it may have half-happened */
        if ((rc = link_set(nl, pi->index, 0, 0, IFLA_ADDRESS, pi->mac, 6, why, sizeof(why))) < 0)
            return step_failed(e, rc, why, "set the MAC address of %s to %s", pi->orig_name, s->mac);
    }
    if (s->mtu) {
        pi->mtu_set = true;
        uint32_t mtu = s->mtu;
        if ((rc = link_set(nl, pi->index, 0, 0, IFLA_MTU, &mtu, sizeof(mtu), why, sizeof(why))) < 0)
            return step_failed(e, rc, why, "set the MTU of %s to %u", pi->orig_name, s->mtu);
    }
    if (pi->rename) {
        if ((rc = link_set(nl, pi->index, 0, 0, IFLA_IFNAME, pi->name, strlen(pi->name) + 1, why, sizeof(why))) < 0)
            return step_failed(e, rc, why, "rename %s to %s", pi->orig_name, pi->name);
        pi->renamed = true;
    }
    for (size_t k = 0; k < s->n_addresses; k++) {
        if ((rc = addr_change(nl, RTM_NEWADDR, pi->index, &pi->addrs[k], why, sizeof(why))) < 0)
            return step_failed(e, rc, why, "add address %s to %s", s->addresses[k], pi->name);
        pi->n_added = k + 1;
    }
    if ((rc = link_updown(nl, pi->index, true, why, sizeof(why))) < 0)
        return step_failed(e, rc, why, "set %s up", pi->name);
    return 0;
}

int net_configure(const A3s__Guest__V1__ConfigureNetworkRequest *req, struct net_error *e)
{
    struct plan p = { 0 };
    memset(e, 0, sizeof(*e));
    if (plan_interfaces(req, &p, e) < 0 || plan_routes(req, &p, e) < 0) {
        plan_free(&p);
        return -1;
    }
    struct nl nl;
    int rc = nl_open(&nl);
    if (rc < 0) {
        fail(e, CODE_UNKNOWN, -rc, "open a netlink socket: %s", strerror(-rc));
        plan_free(&p);
        return -1;
    }
    char why[160];
    int ret = 0;
    /* The VM's `lo` is up since boot (boot.c); this covers an agent that did not boot the VM. */
    int lo = (int)if_nametoindex("lo");
    if (lo > 0 && (rc = link_updown(&nl, lo, true, why, sizeof(why))) < 0)
        ret = step_failed(e, rc, why, "set lo up");
    for (size_t i = 0; ret == 0 && i < p.n_ifs; i++)
        ret = configure_interface(&nl, &p.ifs[i], e);
    for (size_t i = 0; ret == 0 && i < p.n_routes; i++) {
        struct plan_route *r = &p.routes[i];
        if ((rc = route_change(&nl, RTM_NEWROUTE, r, why, sizeof(why))) < 0)
            ret = step_failed(e, rc, why, "add route %s", r->desc);
        else
            r->added = true;
    }
    if (ret < 0) {
        log_warn("ConfigureNetwork: %s%s%s; undoing the steps done", e->msg, e->reason[0] ? "; the kernel says: " : "",
                 e->reason);
        undo(&nl, &p);
    } else {
        for (size_t i = 0; i < p.n_ifs; i++)
            log_info("network: %s (was %s) up with %zu address(es)", p.ifs[i].name, p.ifs[i].orig_name,
                     p.ifs[i].spec->n_addresses);
    }
    close(nl.fd);
    plan_free(&p);
    return ret;
}
