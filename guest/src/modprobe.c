/* The guest's /sbin/modprobe, which the kernel runs (request_module: `modprobe -q -- NAME`) when something
 * needs a module it does not have: a bridge ioctl asks for `bridge`, nft's netlink socket for
 * `nfnetlink-subsys-10`, `ip link add type dummy` for `rtnl-link-dummy`, an iptables target for
 * `ipt_REDIRECT`. /sbin/modprobe is a symlink to the agent, which runs this when invoked under that name.
 *
 * The modules are the guest image's on-demand set, which the host exports read-only over 9p
 * (AGENT_MODULES_DIR) with an index built by scripts/build-guest-image, one line per module:
 *     NAME PATH DEPENDS ALIAS...
 * PATH relative to the export, DEPENDS comma-separated module names or `-` (`?NAME`: a soft dependency,
 * whose failure does not fail the module), each ALIAS a pattern of the
 * names the kernel may ask for (fnmatch). NAME is matched first (`-` and `_` alike, as modprobe does), then
 * the aliases; the dependencies are loaded before the module. Runs as root in the VM's initial namespaces,
 * with no stdio: what it did goes to the kernel log (/dev/kmsg), where the console shows it. */
#include "agent.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct module {
    const char *name, *path, *deps, *aliases;
    bool visited; /* loaded, or on the current dependency path: a cycle ends there */
};

static struct module *mods;
static size_t nmods;

static void kmsg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kmsg(int level, const char *fmt, ...)
{
    int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char line[512];
    int n = snprintf(line, sizeof(line), "<%d>a3s-modprobe: ", level);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    write_all(fd, line, strlen(line));
    close(fd);
}

/* Splits the index (in place) into mods; lines without the three fixed fields are skipped. */
static void parse_index(char *text)
{
    size_t cap = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *rest = line, *f[3];
        int i = 0;
        for (; i < 3 && (f[i] = strsep(&rest, " ")) && f[i][0]; i++)
            ;
        if (i < 3)
            continue;
        if (nmods == cap) {
            cap = cap ? cap * 2 : 256;
            mods = xrealloc(mods, cap * sizeof(*mods));
        }
        mods[nmods++] = (struct module){ .name = f[0], .path = f[1], .deps = f[2], .aliases = rest ? rest : "" };
    }
}

/* Whether module names a and b (b of length n) are the same, `-` and `_` alike. */
static bool same_name(const char *a, const char *b, size_t n)
{
    size_t i = 0;
    for (; i < n && a[i]; i++) {
        char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
        if (x != y)
            return false;
    }
    return i == n && !a[i];
}

static struct module *find_name(const char *name, size_t n)
{
    for (size_t i = 0; i < nmods; i++)
        if (same_name(mods[i].name, name, n))
            return &mods[i];
    return NULL;
}

static struct module *find(const char *request)
{
    struct module *m = find_name(request, strlen(request));
    if (m)
        return m;
    char pattern[256];
    for (size_t i = 0; i < nmods; i++) {
        for (const char *a = mods[i].aliases; *a;) {
            size_t n = strcspn(a, " ");
            if (n && n < sizeof(pattern)) {
                memcpy(pattern, a, n);
                pattern[n] = '\0';
                if (fnmatch(pattern, request, 0) == 0)
                    return &mods[i];
            }
            a += n;
            a += strspn(a, " ");
        }
    }
    return NULL;
}

static int load(struct module *m)
{
    if (m->visited)
        return 0;
    m->visited = true;
    if (strcmp(m->deps, "-") != 0) {
        for (const char *d = m->deps; *d;) {
            bool soft = *d == '?'; /* a soft dependency: tried first, its failure not the module's */
            d += soft;
            size_t n = strcspn(d, ",");
            struct module *dep = n ? find_name(d, n) : NULL;
            int r = dep ? load(dep) : 0; /* not in the index: built into the kernel, or loaded at boot */
            if (r < 0 && !soft)
                return r;
            d += n;
            d += strspn(d, ",");
        }
    }
    char *path = xasprintf("%s/%s", AGENT_MODULES_DIR, m->path);
    int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
    if (fd < 0) {
        r = -errno;
        kmsg(3, "open %s: %s\n", path, strerror(errno));
    } else if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST) {
        r = -errno;
        kmsg(3, "load %s: %s (the module's init failed)\n", m->name, strerror(errno));
    }
    if (fd >= 0)
        close(fd);
    free(path);
    return r;
}

int modprobe_main(int argc, char **argv)
{
    const char *request = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            request = i + 1 < argc ? argv[i + 1] : NULL;
            break;
        }
        if (argv[i][0] != '-') {
            request = argv[i];
            break;
        }
    }
    if (!request || !request[0]) {
        fprintf(stderr, "usage: modprobe [-q] [--] MODULE (the a3s guest's: loads from %s)\n", AGENT_MODULES_DIR);
        return 1;
    }
    char *index = NULL;
    int r = read_file(AGENT_MODULES_DIR "/" AGENT_MODULES_INDEX, &index, NULL);
    if (r < 0) {
        kmsg(4, "%s: no module index (%s/%s: %s)\n", request, AGENT_MODULES_DIR, AGENT_MODULES_INDEX,
             strerror(-r));
        return 1;
    }
    parse_index(index);
    struct module *m = find(request);
    if (!m) {
        /* the kernel asks for names nothing provides, and goes on without (net-pf-N families, ...) */
        kmsg(7, "%s: not in the guest image\n", request);
        return 1;
    }
    r = load(m);
    if (r == 0)
        kmsg(6, "%s: loaded %s\n", request, m->name);
    return r < 0 ? 1 : 0;
}
