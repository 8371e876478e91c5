/* The child side of a spawn: a forked child of the agent turns itself into a container process, parks
 * before execve, and execs when released. Runs only in the child (single-threaded, a copy of the agent's
 * memory); failures are reported on the status pipe as a struct park_msg and the child exits.
 *
 * Order for a container's first process (the order matters, comments say why):
 *   signals, session, stdio, fds -> [user namespace: wait for the agent's maps, become its root]
 *   -> oom_score_adj, rlimits -> [join the ipc, uts namespaces of Namespaces.joins] -> [time namespace with
 *   its offsets] -> unshare(mnt, uts, ipc) -> join cgroup -> scheduler, I/O priority -> unshare(cgroup)
 *   -> mounts private -> bind rootfs -> spec mounts in order (recursive attributes with mount_setattr)
 *   -> spec devices -> /dev nodes -> pivot_root -> the first process's missing cwd
 *   -> hostname, sysctls -> masked and readonly paths -> read-only tmpfs mounts -> readonly rootfs
 *   -> root propagation
 *   -> process setup -> park -> seccomp -> execve.
 * A joined pid namespace is entered by the agent, which forks the child into it.
 * An exec joins the init's cgroup and namespaces (user first) and chroots to its root instead of the
 * mount steps. */
#include "agent.h"
#include "attrs.h"
#include "container.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static struct park_msg g_msg;
static int g_status_fd = -1;
static struct trace g_ctrace; /* a3s.trace: this child's set-up steps */
#define T(name) trace_mark(&g_ctrace, name)
static bool g_userns;   /* this child created or joined a user namespace */
static const char *g_cgroup;  /* the container's cgroup directory (VM path), or NULL */

/* What to add to a "Permission denied" of a path walk in a user namespace. */
static const char *userns_hint(int err)
{
    return err == EACCES && g_userns ? " (in a user namespace the container's root, a mapped id, must be able to"
                                       " search every directory above it)" : "";
}

/* Records the first failure (with strerror(err) appended when err != 0) and returns -err. */
__attribute__((format(printf, 3, 4))) static int fail(int err, const char *op, const char *fmt, ...)
{
    if (g_msg.err == 0) {
        g_msg.err = err ? err : EINVAL;
        snprintf(g_msg.op, sizeof(g_msg.op), "%s", op);
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(g_msg.msg, sizeof(g_msg.msg), fmt, ap);
        va_end(ap);
        if (err && n >= 0 && (size_t)n < sizeof(g_msg.msg))
            snprintf(g_msg.msg + n, sizeof(g_msg.msg) - n, ": %s", strerror(err));
    }
    return -(err ? err : EINVAL);
}

#define FAIL_DIE(...) do { fail(__VA_ARGS__); die(1); } while (0)

_Noreturn static void die(int code)
{
    if (g_msg.err == 0)
        fail(EINVAL, "setup", "setup failed");
    if (write_all(g_status_fd, &g_msg, sizeof(g_msg)) < 0)
        log_error("report setup failure: %s", strerror(errno));
    _exit(code);
}

static int xopenat2(int dirfd, const char *path, int flags)
{
    struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
                            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
    int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    if (fd < 0 && errno == ENOSYS) {
        /* Kernels before 5.6: no scoped resolution (symlinks in the rootfs are trusted). */
        while (*path == '/')
            path++;
        fd = openat(dirfd, *path ? path : ".", flags | O_CLOEXEC);
    }
    return fd;
}

/* Opens path (O_PATH) inside the tree rooted at rootfd, symlinks resolved as if rootfd were "/".
 * With create, missing directories are made, and the last component as an empty file when is_file. */
static int open_in_root(int rootfd, const char *path, bool create, bool is_file)
{
    int fd = xopenat2(rootfd, path, O_PATH);
    if (fd >= 0 || errno != ENOENT || !create)
        return fd;
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int parent = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
    char *save = NULL;
    for (char *comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
        bool last = true;
        for (char *q = save; q && *q; q++)
            if (*q != '/') {
                last = false;
                break;
            }
        /* the path up to this component, from the original (strtok_r wrote NULs into buf) */
        char prefix[PATH_MAX];
        snprintf(prefix, sizeof(prefix), "%.*s", (int)(comp - buf + strlen(comp)), path);
        int next = xopenat2(rootfd, prefix, O_PATH);
        if (next < 0 && errno == ENOENT) {
            int r;
            if (last && is_file) {
                r = openat(parent, comp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (r >= 0)
                    close(r);
            } else {
                r = mkdirat(parent, comp, 0755);
            }
            if (r < 0 && errno != EEXIST) {
                int e = errno;
                close(parent);
                errno = e;
                return -1;
            }
            next = xopenat2(rootfd, prefix, O_PATH);
        }
        if (next < 0) {
            int e = errno;
            close(parent);
            errno = e;
            return -1;
        }
        close(parent);
        parent = next;
    }
    return parent;
}

static const char *fdpath(int fd, char *buf, size_t len)
{
    snprintf(buf, len, "/proc/self/fd/%d", fd);
    return buf;
}

/* An absolute path cleaned lexically, as runc's CleanPath does (repeated slashes, "." and ".." resolved, no
 * trailing slash), so that "/dev/" and "//dev" name /dev. Too long: "" (equal to no path). */
static const char *clean_path(const char *path, char *out, size_t len)
{
    size_t n = 0;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        size_t cl = strcspn(p, "/");
        if (cl == 0 || (cl == 1 && p[0] == '.')) {
            /* nothing */
        } else if (cl == 2 && p[0] == '.' && p[1] == '.') {
            while (n > 0 && out[--n] != '/')
                ;
        } else {
            if (n + 1 + cl >= len) {
                out[0] = '\0';
                return out;
            }
            out[n++] = '/';
            memcpy(out + n, p, cl);
            n += cl;
        }
        p += cl;
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    return out;
}

/* Flags a bind remount must repeat so that it does not clear them (the kernel refuses to drop locked
 * ones and silently changes the others). */
static unsigned long mount_flags_of(const char *path)
{
    struct statvfs sv;
    unsigned long f = 0;
    if (statvfs(path, &sv) < 0)
        return 0;
    if (sv.f_flag & ST_RDONLY) f |= MS_RDONLY;
    if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
    return f;
}

struct mount_opts {
    unsigned long flags;      /* MS_* for the mount itself */
    unsigned long propagation;
    bool bind, recursive;
    uint64_t attr_set, attr_clr;  /* recursive attributes (mount_setattr(2) with AT_RECURSIVE) */
    uint64_t atime;               /* recursive atime mode (MOUNT_ATTR_NOATIME, ...) when attr_clr has __ATIME */
    char data[1024];
};

/* The recursive mount attributes of runtime-spec 1.1. atime is a mode, not a bit: a setting word picks
 * the mode, and a clearing word cancels an earlier setting word of the same mode (no mode is applied then). */
static bool parse_recursive(const char *opt, struct mount_opts *o)
{
    static const struct { const char *name; bool clear; uint64_t attr; } t[] = {
        { "rro", false, MOUNT_ATTR_RDONLY }, { "rrw", true, MOUNT_ATTR_RDONLY },
        { "rnosuid", false, MOUNT_ATTR_NOSUID }, { "rsuid", true, MOUNT_ATTR_NOSUID },
        { "rnodev", false, MOUNT_ATTR_NODEV }, { "rdev", true, MOUNT_ATTR_NODEV },
        { "rnoexec", false, MOUNT_ATTR_NOEXEC }, { "rexec", true, MOUNT_ATTR_NOEXEC },
        { "rnodiratime", false, MOUNT_ATTR_NODIRATIME }, { "rdiratime", true, MOUNT_ATTR_NODIRATIME },
        { "rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW }, { "rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW },
    };
    static const struct { const char *name; bool clear; uint64_t mode; } atime[] = {
        { "rnoatime", false, MOUNT_ATTR_NOATIME }, { "ratime", true, MOUNT_ATTR_NOATIME },
        { "rrelatime", false, MOUNT_ATTR_RELATIME }, { "rnorelatime", true, MOUNT_ATTR_RELATIME },
        { "rstrictatime", false, MOUNT_ATTR_STRICTATIME }, { "rnostrictatime", true, MOUNT_ATTR_STRICTATIME },
    };
    for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
        if (strcmp(opt, t[i].name) != 0)
            continue;
        if (t[i].clear) {
            o->attr_clr |= t[i].attr;
            o->attr_set &= ~t[i].attr;
        } else {
            o->attr_set |= t[i].attr;
            o->attr_clr &= ~t[i].attr;
        }
        return true;
    }
    for (size_t i = 0; i < ARRAY_SIZE(atime); i++) {
        if (strcmp(opt, atime[i].name) != 0)
            continue;
        if (!atime[i].clear) {
            o->attr_clr |= MOUNT_ATTR__ATIME;
            o->atime = atime[i].mode;
        } else if ((o->attr_clr & MOUNT_ATTR__ATIME) && o->atime == atime[i].mode) {
            o->attr_clr &= ~(uint64_t)MOUNT_ATTR__ATIME;
            o->atime = 0;
        }
        return true;
    }
    return false;
}

/* mount(2) flags as mount_setattr(2) attributes (the ones both know). */
static uint64_t attrs_of_flags(unsigned long f)
{
    return ((f & MS_RDONLY) ? MOUNT_ATTR_RDONLY : 0) | ((f & MS_NOSUID) ? MOUNT_ATTR_NOSUID : 0) |
           ((f & MS_NODEV) ? MOUNT_ATTR_NODEV : 0) | ((f & MS_NOEXEC) ? MOUNT_ATTR_NOEXEC : 0);
}

static int parse_options(const A3s__Guest__V1__Mount *m, struct mount_opts *o)
{
    static const struct { const char *name; bool clear; unsigned long flag; } table[] = {
        { "ro", false, MS_RDONLY }, { "rw", true, MS_RDONLY },
        { "nosuid", false, MS_NOSUID }, { "suid", true, MS_NOSUID }, { "nodev", false, MS_NODEV },
        { "dev", true, MS_NODEV }, { "noexec", false, MS_NOEXEC }, { "exec", true, MS_NOEXEC },
        { "sync", false, MS_SYNCHRONOUS }, { "async", true, MS_SYNCHRONOUS }, { "dirsync", false, MS_DIRSYNC },
        { "mand", false, MS_MANDLOCK }, { "nomand", true, MS_MANDLOCK }, { "atime", true, MS_NOATIME },
        { "noatime", false, MS_NOATIME }, { "diratime", true, MS_NODIRATIME },
        { "nodiratime", false, MS_NODIRATIME }, { "relatime", false, MS_RELATIME },
        { "norelatime", true, MS_RELATIME }, { "strictatime", false, MS_STRICTATIME },
        { "nostrictatime", true, MS_STRICTATIME }, { "nosymfollow", false, MS_NOSYMFOLLOW },
        { "symfollow", true, MS_NOSYMFOLLOW }, { "lazytime", false, MS_LAZYTIME }, { "nolazytime", true, MS_LAZYTIME },
        { "silent", false, MS_SILENT }, { "loud", true, MS_SILENT },
    };
    static const struct { const char *name; unsigned long flag; } props[] = {
        { "private", MS_PRIVATE }, { "rprivate", MS_PRIVATE | MS_REC }, { "shared", MS_SHARED },
        { "rshared", MS_SHARED | MS_REC }, { "slave", MS_SLAVE }, { "rslave", MS_SLAVE | MS_REC },
        { "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
    };
    memset(o, 0, sizeof(*o));
    o->bind = strcmp(m->type, "bind") == 0 || strcmp(m->type, "rbind") == 0;
    o->recursive = strcmp(m->type, "rbind") == 0;
    size_t dl = 0;
    for (size_t i = 0; i < m->n_options; i++) {
        const char *opt = m->options[i];
        bool known = false;
        if (strcmp(opt, "bind") == 0) {
            o->bind = known = true;
        } else if (strcmp(opt, "rbind") == 0) {
            o->bind = o->recursive = known = true;
        } else if (strcmp(opt, "defaults") == 0 || strcmp(opt, "tmpcopyup") == 0 ||
                   strcmp(opt, "remount") == 0) {
            known = true;
        } else {
            known = parse_recursive(opt, o);
        }
        for (size_t t = 0; !known && t < ARRAY_SIZE(table); t++) {
            if (strcmp(opt, table[t].name) == 0) {
                if (table[t].clear)
                    o->flags &= ~table[t].flag;
                else
                    o->flags |= table[t].flag;
                known = true;
            }
        }
        for (size_t t = 0; !known && t < ARRAY_SIZE(props); t++) {
            if (strcmp(opt, props[t].name) == 0) {
                o->propagation = props[t].flag;
                known = true;
            }
        }
        if (!known) {
            int n = snprintf(o->data + dl, sizeof(o->data) - dl, "%s%s", dl ? "," : "", opt);
            if (n < 0 || (size_t)n >= sizeof(o->data) - dl)
                return fail(E2BIG, "mount", "options of mount on `%s` too long", m->destination);
            dl += (size_t)n;
        }
    }
    if (strcmp(m->type, "devpts") == 0) {
        /* A private devpts instance whose ptmx everyone may open (the /dev/ptmx symlink points to it). */
        const char *add[] = { "newinstance", "ptmxmode=0666" };
        for (size_t i = 0; i < ARRAY_SIZE(add); i++) {
            if (strstr(o->data, i == 0 ? "newinstance" : "ptmxmode="))
                continue;
            int n = snprintf(o->data + dl, sizeof(o->data) - dl, "%s%s", dl ? "," : "", add[i]);
            if (n > 0 && (size_t)n < sizeof(o->data) - dl)
                dl += (size_t)n;
        }
    }
    return 0;
}

static int do_mount(int rootfd, const A3s__Guest__V1__Mount *m)
{
    struct mount_opts o;
    char target[64];
    int r = parse_options(m, &o);
    if (r < 0)
        return r;
    if (!m->destination || m->destination[0] != '/')
        return fail(EINVAL, "mount", "mount destination `%s` is not absolute", m->destination);
    bool is_file = false;
    char source[PATH_MAX];
    if (o.bind) {
        /* a relative source is relative to the share, like the rootfs */
        int n = m->source[0] == '/' ? snprintf(source, sizeof(source), "%s", m->source)
                                    : snprintf(source, sizeof(source), "%s/%s", A.share_dir, m->source);
        if (n < 0 || (size_t)n >= sizeof(source))
            return fail(ENAMETOOLONG, "mount", "bind mount source `%s`", m->source);
        struct stat st;
        if (stat(source, &st) < 0)
            return fail(errno, "stat", "bind mount source `%s`%s", source, userns_hint(errno));
        is_file = !S_ISDIR(st.st_mode);
    }
    _cleanup_close_ int fd = open_in_root(rootfd, m->destination, true, is_file);
    if (fd < 0)
        return fail(errno, "mkdir", "mountpoint `%s`", m->destination);
    if (o.bind) {
        if (mount(source, fdpath(fd, target, sizeof(target)), NULL, MS_BIND | (o.recursive ? MS_REC : 0), NULL) < 0)
            return fail(errno, "mount", "bind mount `%s` on `%s`", source, m->destination);
        unsigned long want = o.flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |
                                        MS_RELATIME | MS_STRICTATIME | MS_NOSYMFOLLOW);
        if (want) {
            /* A bind ignores these flags: remount. Through a new fd: the old one is the covered dir. */
            _cleanup_close_ int top = open_in_root(rootfd, m->destination, false, false);
            if (top < 0)
                return fail(errno, "open", "mountpoint `%s`", m->destination);
            fdpath(top, target, sizeof(target));
            if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | want | mount_flags_of(target), NULL) < 0)
                return fail(errno, "mount", "remount `%s` with its options", m->destination);
        }
    } else {
        const char *type = m->type;
        if (strcmp(type, "cgroup") == 0)
            type = "cgroup2"; /* the VM has only the unified hierarchy */
        const char *src = m->source && m->source[0] ? m->source : type;
        /* A read-only tmpfs is mounted read-write and made read-only in finish_rootfs, as runc does: mount
         * points under it, and the nodes of a read-only /dev, are made in between. */
        unsigned long flags = strcmp(type, "tmpfs") == 0 ? o.flags & ~MS_RDONLY : o.flags;
        if (mount(src, fdpath(fd, target, sizeof(target)), type, flags, o.data[0] ? o.data : NULL) < 0) {
            bool sysfs = strcmp(type, "sysfs") == 0, cgroup2 = strcmp(type, "cgroup2") == 0;
            /* (cgroup2 says EBUSY when the hierarchy is mounted with nsdelegate, as in the VM) */
            if (!(errno == EPERM || (errno == EBUSY && cgroup2)) || !g_userns || !(sysfs || cgroup2))
                return fail(errno, "mount", "mount `%s` (%s) on `%s`", src, type, m->destination);
            /* In a user namespace, sysfs belongs to the network namespace and cgroup2 to the cgroup namespace;
             * when those are the VM's (not owned by the container's user namespace) the kernel refuses.
             * As runc does: bind the VM's /sys, or the container's own cgroup directory (what a cgroup
             * namespace would show), with the mount's flags made recursive. */
            const char *from = sysfs ? "/sys" : g_cgroup ? g_cgroup : "/sys/fs/cgroup";
            if (mount(from, target, NULL, MS_BIND | MS_REC, NULL) < 0)
                return fail(errno, "mount", "bind `%s` on `%s` (%s in a user namespace)", from, m->destination, type);
            o.attr_set |= attrs_of_flags(o.flags);
        }
    }
    if (o.propagation) {
        _cleanup_close_ int top = open_in_root(rootfd, m->destination, false, false);
        if (top < 0 || mount(NULL, fdpath(top, target, sizeof(target)), NULL, o.propagation, NULL) < 0)
            return fail(errno, "mount", "set propagation of `%s`", m->destination);
    }
    if (o.attr_set || o.attr_clr) {
        struct mount_attr attr = { .attr_set = o.attr_set | o.atime, .attr_clr = o.attr_clr };
        _cleanup_close_ int top = open_in_root(rootfd, m->destination, false, false);
        if (top < 0)
            return fail(errno, "open", "mountpoint `%s`", m->destination);
        if (mount_setattr(top, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
            return fail(errno, "mount_setattr", "recursive attributes of `%s`", m->destination);
    }
    return 0;
}

/* linux.devices: nodes made where the spec says (parents created), before the default /dev nodes so that
 * the spec's mode and owner win. Where mknod is not allowed (a user namespace), the VM's node of the same
 * path is bound instead when it is the same device, as runc binds the host's. */
static int create_devices(int rootfd, const A3s__Guest__V1__ContainerSpec *spec)
{
    char target[64];
    for (size_t i = 0; i < spec->n_devices; i++) {
        const A3s__Guest__V1__Device *d = spec->devices[i];
        const char *slash = strrchr(d->path, '/');
        if (d->path[0] != '/' || !slash || !slash[1] || strcmp(slash, "/..") == 0 || strcmp(slash, "/.") == 0)
            return fail(EINVAL, "mknod", "device path `%s`", d->path);
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%.*s", (int)(slash - d->path), d->path);
        _cleanup_close_ int dfd = open_in_root(rootfd, parent[0] ? parent : "/", true, false);
        if (dfd < 0)
            return fail(errno, "mkdir", "directory of device `%s`", d->path);
        const char *name = slash + 1;
        mode_t type = d->type[0] == 'b' ? S_IFBLK : d->type[0] == 'p' ? S_IFIFO : S_IFCHR;
        mode_t perm = PB_HAS(d, file_mode) ? (mode_t)(d->file_mode & 07777) : 0666;
        dev_t dev = type == S_IFIFO ? 0 : makedev(d->major, d->minor);
        mode_t old = umask(0);
        int r = mknodat(dfd, name, type | perm, dev);
        int e = errno;
        umask(old);
        if (r < 0 && e == EEXIST)
            continue; /* as runc: an existing node is kept */
        if (r < 0 && e == EPERM && type != S_IFIFO) {
            struct stat st;
            if (stat(d->path, &st) < 0 || (st.st_mode & S_IFMT) != type || st.st_rdev != dev)
                return fail(EPERM, "mknod", "device `%s` (%s %u:%u): mknod is not allowed and the VM has no such"
                            " node to bind", d->path, d->type, d->major, d->minor);
            int f = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
            if (f < 0)
                return fail(errno, "open", "device `%s`", d->path);
            close(f);
            _cleanup_close_ int node = openat(dfd, name, O_PATH | O_CLOEXEC | O_NOFOLLOW);
            if (node < 0 || mount(d->path, fdpath(node, target, sizeof(target)), NULL, MS_BIND, NULL) < 0)
                return fail(errno, "mount", "bind the VM's `%s` into the container", d->path);
            continue;
        }
        if (r < 0)
            return fail(e, "mknod", "device `%s`", d->path);
        uid_t uid = PB_HAS(d, uid) ? d->uid : 0;
        gid_t gid = PB_HAS(d, gid) ? d->gid : 0;
        if ((uid || gid) && fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
            return fail(errno, "chown", "device `%s`", d->path);
    }
    return 0;
}

/* The standard device nodes of a container whose /dev is not a bind mount: a fresh tmpfs, or the rootfs's own
 * directory (made if missing, as runc does; the nodes then stay in the rootfs, as runc's). */
static int setup_dev(int rootfd, const struct child_args *a)
{
    static const struct { const char *name; unsigned int major, minor; } devs[] = {
        { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
    };
    static const struct { const char *target, *name; } links[] = {
        { "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" }, { "/proc/self/fd/1", "stdout" },
        { "/proc/self/fd/2", "stderr" }, { "pts/ptmx", "ptmx" }, { "/proc/kcore", "core" },
    };
    char target[64];
    _cleanup_close_ int dev = open_in_root(rootfd, "/dev", true, false);
    if (dev < 0)
        return fail(errno, "open", "container `/dev`");
    mode_t old = umask(0);
    for (size_t i = 0; i < ARRAY_SIZE(devs); i++) {
        if (mknodat(dev, devs[i].name, S_IFCHR | 0666, makedev(devs[i].major, devs[i].minor)) == 0 || errno == EEXIST)
            continue;
        /* No CAP_MKNOD here (a restricted sandbox): bind the VM's node instead. */
        int f = openat(dev, devs[i].name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (f < 0) {
            umask(old);
            return fail(errno, "mknod", "/dev/%s", devs[i].name);
        }
        close(f);
        char src[32];
        snprintf(src, sizeof(src), "/dev/%s", devs[i].name);
        _cleanup_close_ int node = openat(dev, devs[i].name, O_PATH | O_CLOEXEC | O_NOFOLLOW);
        if (node < 0 || mount(src, fdpath(node, target, sizeof(target)), NULL, MS_BIND, NULL) < 0) {
            umask(old);
            return fail(errno, "mount", "bind `%s` into the container", src);
        }
    }
    umask(old);
    for (size_t i = 0; i < ARRAY_SIZE(links); i++)
        if (symlinkat(links[i].target, dev, links[i].name) < 0 && errno != EEXIST)
            return fail(errno, "symlink", "/dev/%s", links[i].name);
    if (a->terminal && a->pty_slave_path) {
        int f = openat(dev, "console", O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (f >= 0)
            close(f);
        _cleanup_close_ int con = openat(dev, "console", O_PATH | O_CLOEXEC | O_NOFOLLOW);
        if (con < 0 || mount(a->pty_slave_path, fdpath(con, target, sizeof(target)), NULL, MS_BIND, NULL) < 0)
            return fail(errno, "mount", "bind the terminal on /dev/console");
    }
    return 0;
}

static int mask_paths(const A3s__Guest__V1__ContainerSpec *spec)
{
    char target[64];
    for (size_t i = 0; i < spec->n_masked_paths; i++) {
        const char *p = spec->masked_paths[i];
        _cleanup_close_ int fd = xopenat2(AT_FDCWD, p, O_PATH);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            return fail(errno, "open", "masked path `%s`", p);
        }
        struct stat st;
        if (fstat(fd, &st) < 0)
            return fail(errno, "stat", "masked path `%s`", p);
        int r = S_ISDIR(st.st_mode)
            ? mount("tmpfs", fdpath(fd, target, sizeof(target)), "tmpfs", MS_RDONLY, "size=0,mode=0555")
            : mount("/dev/null", fdpath(fd, target, sizeof(target)), NULL, MS_BIND, NULL);
        if (r < 0)
            return fail(errno, "mount", "mask `%s`", p);
    }
    for (size_t i = 0; i < spec->n_readonly_paths; i++) {
        const char *p = spec->readonly_paths[i];
        _cleanup_close_ int fd = xopenat2(AT_FDCWD, p, O_PATH);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            return fail(errno, "open", "readonly path `%s`", p);
        }
        fdpath(fd, target, sizeof(target));
        if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0)
            return fail(errno, "mount", "bind readonly path `%s`", p);
        _cleanup_close_ int top = xopenat2(AT_FDCWD, p, O_PATH);
        if (top < 0)
            return fail(errno, "open", "readonly path `%s`", p);
        fdpath(top, target, sizeof(target));
        if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | mount_flags_of(target), NULL) < 0)
            return fail(errno, "mount", "remount `%s` read-only", p);
    }
    return 0;
}

static int setup_rootfs(const struct child_args *a)
{
    const A3s__Guest__V1__ContainerSpec *spec = a->spec;
    char rootfs[PATH_MAX];
    int n = spec->rootfs[0] == '/' ? snprintf(rootfs, sizeof(rootfs), "%s", spec->rootfs)
                                   : snprintf(rootfs, sizeof(rootfs), "%s/%s", A.share_dir, spec->rootfs);
    if (n < 0 || (size_t)n >= sizeof(rootfs))
        return fail(ENAMETOOLONG, "mount", "rootfs `%s`", spec->rootfs);

    /* Nothing done below may propagate back to the VM's mount namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return fail(errno, "mount", "make mounts private");
    /* pivot_root needs the new root to be a mount point. */
    if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        return fail(errno, "mount", "bind rootfs `%s`%s", rootfs, userns_hint(errno));
    _cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return fail(errno, "open", "rootfs `%s`", rootfs);
    T("bind_root");

    /* As runc (needsSetupDev): the standard nodes go into /dev unless /dev is a bind mount, a tmpfs or the
     * rootfs's own directory when the spec mounts nothing there. */
    bool dev_setup = true;
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const A3s__Guest__V1__Mount *m = spec->mounts[i];
        int r = do_mount(rootfd, m);
        if (r < 0)
            return r;
        T(m->destination);
        char dest[PATH_MAX];
        struct mount_opts o;
        if (strcmp(clean_path(m->destination, dest, sizeof(dest)), "/dev") == 0)
            dev_setup = parse_options(m, &o) == 0 && !o.bind;
    }
    T("mounts");
    if (create_devices(rootfd, spec) < 0)
        return -1;
    if (dev_setup) {
        int r = setup_dev(rootfd, a);
        if (r < 0)
            return r;
    }
    T("dev");

    /* pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves the new. */
    if (fchdir(rootfd) < 0)
        return fail(errno, "chdir", "rootfs `%s`", rootfs);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return fail(errno, "pivot_root", "pivot_root to `%s`", rootfs);
    if (umount2(".", MNT_DETACH) < 0)
        return fail(errno, "umount", "detach the old root");
    if (chdir("/") < 0)
        return fail(errno, "chdir", "/");
    T("pivot_root");

    /* runc's rule (prepareRootfs): the first process's cwd is created if missing, here, inside the container's
     * root and as its root, before anything is made read-only and before the process's umask applies. An
     * exec's must exist. */
    const char *cwd = a->ps->cwd && a->ps->cwd[0] ? a->ps->cwd : "/";
    if (access(cwd, F_OK) < 0) {
        mode_t old = umask(0);
        int r = mkdir_p(cwd, 0755);
        umask(old);
        if (r < 0)
            return fail(-r, "mkdir", "cwd `%s`", cwd);
    }
    return 0;
}

/* After hostname and sysctls (a read-only /proc/sys must not stop the sysctls, runc's order). */
static int finish_rootfs(const A3s__Guest__V1__ContainerSpec *spec)
{
    int r = mask_paths(spec);
    if (r < 0)
        return r;
    T("masked_paths");
    /* The read-only tmpfs mounts do_mount left read-write (runc's finalizeRootfs), with their other flags. */
    char target[64];
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const A3s__Guest__V1__Mount *m = spec->mounts[i];
        struct mount_opts o;
        if (strcmp(m->type, "tmpfs") != 0 || parse_options(m, &o) < 0 || o.bind || !(o.flags & MS_RDONLY))
            continue;
        _cleanup_close_ int fd = xopenat2(AT_FDCWD, m->destination, O_PATH);
        if (fd < 0)
            return fail(errno, "open", "tmpfs `%s`", m->destination);
        fdpath(fd, target, sizeof(target));
        if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | mount_flags_of(target), NULL) < 0)
            return fail(errno, "mount", "remount tmpfs `%s` read-only", m->destination);
    }
    if (spec->rootfs_readonly &&
        mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | mount_flags_of("/"), NULL) < 0)
        return fail(errno, "mount", "remount the rootfs read-only");
    /* Its mounts are private copies of the VM's, so no mount event from outside can reach the container:
     * slave is private here, and shared makes the root a peer group of its own, whose mounts propagate to
     * the mount namespaces made inside the container. */
    static const struct { const char *name; unsigned long flag; } props[] = {
        { "private", MS_PRIVATE }, { "rprivate", MS_PRIVATE | MS_REC }, { "shared", MS_SHARED },
        { "rshared", MS_SHARED | MS_REC }, { "slave", MS_SLAVE }, { "rslave", MS_SLAVE | MS_REC },
        { "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
    };
    if (spec->rootfs_propagation && spec->rootfs_propagation[0]) {
        size_t i = 0;
        while (i < ARRAY_SIZE(props) && strcmp(props[i].name, spec->rootfs_propagation) != 0)
            i++;
        if (i == ARRAY_SIZE(props))
            return fail(EINVAL, "mount", "rootfs propagation `%s`", spec->rootfs_propagation);
        if (mount(NULL, "/", NULL, props[i].flag, NULL) < 0)
            return fail(errno, "mount", "set the propagation of the root to %s", spec->rootfs_propagation);
    }
    return 0;
}

static int join_cgroup(const char *cgroup)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
    int r = write_file(path, "0");
    if (r < 0)
        return fail(-r, "write", "join cgroup `%s`", cgroup);
    return 0;
}

/* A time namespace applies to the children of the process that unshares it; its offsets can be written
 * only until a process is in it. So: unshare, write the offsets, then move this process itself in. */
static int setup_timens(const A3s__Guest__V1__ContainerSpec *spec)
{
    if (unshare(CLONE_NEWTIME) < 0)
        return fail(errno, "unshare", "unshare the time namespace");
    char buf[256];
    size_t len = 0;
    for (size_t i = 0; i < spec->n_time_offsets; i++) {
        const A3s__Guest__V1__TimeOffset *t = spec->time_offsets[i];
        int clock = strcmp(t->clock, "monotonic") == 0 ? CLOCK_MONOTONIC
                    : strcmp(t->clock, "boottime") == 0 ? CLOCK_BOOTTIME : -1;
        if (clock < 0)
            return fail(EINVAL, "timens", "clock `%s` has no offset in a time namespace", t->clock);
        int n = snprintf(buf + len, sizeof(buf) - len, "%d %lld %u\n", clock, (long long)t->secs, t->nanosecs);
        if (n < 0 || (size_t)n >= sizeof(buf) - len)
            return fail(E2BIG, "timens", "too many time offsets");
        len += (size_t)n;
    }
    if (len) {
        _cleanup_close_ int f = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
        if (f < 0 || write(f, buf, len) != (ssize_t)len)
            return fail(errno, "write", "time namespace offsets `%.*s`", (int)(len - 1), buf);
    }
    _cleanup_close_ int fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWTIME) < 0)
        return fail(errno, "setns", "enter the new time namespace");
    return 0;
}

static int sched_io(const A3s__Guest__V1__ProcessSpec *ps)
{
    char err[256];
    int r = attrs_sched(0, ps, err, sizeof(err));
    return r < 0 ? fail(-r, "sched_setattr", "%s", err) : 0;
}

static int init_setup(const struct child_args *a)
{
    const A3s__Guest__V1__ContainerSpec *spec = a->spec;
    const A3s__Guest__V1__Namespaces *ns = spec->namespaces;
    g_cgroup = a->cgroup;
    /* Namespaces.joins (a pod's sandbox's ipc and uts): before the unshare below, which must still make the
     * mount namespace private (and never the joined types: their create flags are false). */
    bool joined_uts = false;
    for (int i = 0; i < a->n_ns; i++) {
        bool uts = a->ns_type[i] == CLONE_NEWUTS;
        if (setns(a->ns_fd[i], a->ns_type[i]) < 0)
            return fail(errno, "setns", "join the %s namespace of another container", uts ? "uts" : "ipc");
        joined_uts |= uts;
    }
    if (ns && ns->time && setup_timens(spec) < 0)
        return -1;
    int flags = CLONE_NEWNS; /* always: pivot_root and the spec mounts need a private mount namespace */
    if (ns && ns->uts)
        flags |= CLONE_NEWUTS;
    if (ns && ns->ipc)
        flags |= CLONE_NEWIPC;
    if (unshare(flags) < 0)
        return fail(errno, "unshare", "unshare namespaces");
    T("unshare");
    /* In a user namespace the agent did this (and the scheduler) already: the cgroup files are the VM's. */
    if (!a->userns_init) {
        if (a->cgroup && join_cgroup(a->cgroup) < 0)
            return -1;
        if (sched_io(a->ps) < 0)
            return -1;
    }
    /* After joining: the new cgroup namespace is rooted at the container's cgroup. */
    if (ns && ns->cgroup && unshare(CLONE_NEWCGROUP) < 0)
        return fail(errno, "unshare", "unshare the cgroup namespace");
    T("join_cgroup");
    int r = setup_rootfs(a);
    if (r < 0)
        return r;
    /* As runc: a hostname needs a UTS namespace of the container's own, created or joined (then it renames
     * the namespace for everyone in it, as runc does). */
    bool own_uts = (ns && ns->uts) || joined_uts;
    if (spec->hostname && spec->hostname[0]) {
        if (!own_uts)
            return fail(EINVAL, "sethostname", "a hostname needs a private UTS namespace");
        if (sethostname(spec->hostname, strlen(spec->hostname)) < 0)
            return fail(errno, "sethostname", "hostname `%s`", spec->hostname);
    }
    if (spec->domainname && spec->domainname[0]) {
        if (!own_uts)
            return fail(EINVAL, "setdomainname", "a domainname needs a private UTS namespace");
        if (setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
            return fail(errno, "setdomainname", "domainname `%s`", spec->domainname);
    }
    for (size_t i = 0; i < spec->n_sysctls; i++) {
        const char *k = spec->sysctls[i]->key, *v = spec->sysctls[i]->value;
        char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "/proc/sys/%s", k);
        for (char *q = path + 10; q < path + n; q++)
            if (*q == '.')
                *q = '/';
        if (strstr(k, "..") || strchr(k, '/'))
            return fail(EINVAL, "sysctl", "sysctl name `%s`", k);
        r = write_file(path, v);
        if (r < 0)
            return fail(-r, "sysctl", "sysctl `%s` = `%s`", k, v);
    }
    T("hostname_sysctl");
    return finish_rootfs(spec);
}

static int exec_join(const struct child_args *a)
{
    if (a->cgroup && join_cgroup(a->cgroup) < 0)
        return -1;
    /* still with the VM's privileges: a real-time policy or a negative nice may need them */
    if (sched_io(a->ps) < 0)
        return -1;
    for (int i = 0; i < a->n_ns; i++) {
        if (setns(a->ns_fd[i], a->ns_type[i]) < 0)
            return fail(errno, "setns", "join a namespace of container `%s`", a->container_id);
        if (a->ns_type[i] == CLONE_NEWUSER)
            g_userns = true;
    }
    if (fchdir(a->root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0)
        return fail(errno, "chroot", "enter the root of container `%s`", a->container_id);
    return 0;
}

/* HOME from the container's /etc/passwd, as runc does when the spec has none. */
static void home_of(uid_t uid, char *out, size_t len)
{
    char *passwd = NULL;
    snprintf(out, len, "/");
    if (read_file("/etc/passwd", &passwd, NULL) < 0)
        return;
    char *save = NULL;
    for (char *line = strtok_r(passwd, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[7] = { 0 };
        int n = 0;
        char *s = line;
        while (n < 7) {
            f[n++] = s;
            s = strchr(s, ':');
            if (!s)
                break;
            *s++ = '\0';
        }
        uint64_t u;
        if (n >= 6 && parse_u64(f[2], &u) == 0 && u == uid && f[5][0]) {
            snprintf(out, len, "%s", f[5]);
            break;
        }
    }
    free(passwd);
}

/* args[0] on the spec's PATH (not the agent's). Fills path, or returns -ENOENT. */
static int resolve_exe(const char *arg0, char *const *envp, uint32_t skip, char *path, size_t len)
{
    if (strchr(arg0, '/')) {
        snprintf(path, len, "%s", arg0);
        return 0;
    }
    const char *search = DEFAULT_PATH;
    for (char *const *e = envp; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            search = *e + 5;
    int last_err = ENOENT;
    const char *p = search;
    /* the host's hint: entries it found no such file in */
    for (; skip > 0; skip--) {
        const char *colon = strchr(p, ':');
        if (!colon)
            break; /* never skip the last entry: a stale hint then costs a lookup, not a wrong answer */
        p = colon + 1;
    }
    for (;;) { /* every entry once, an empty one meaning "."; the loop ends after the last */
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        snprintf(path, len, "%.*s%s%s", (int)n, n ? p : ".", "/", arg0);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(path, X_OK) == 0)
                return 0;
            last_err = EACCES;
        }
        if (!colon)
            break;
        p = colon + 1;
    }
    return -last_err;
}

_Noreturn void child_main(struct child_args *a)
{
    const A3s__Guest__V1__ProcessSpec *ps = a->ps;
    g_status_fd = a->status_fd;
    T("forked");

    /* The agent blocks every signal for its signalfd; a container process starts with none blocked. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (!A.pid1)
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* test mode: do not outlive the agent */

    if (setsid() < 0)
        FAIL_DIE(errno, "setsid", "setsid");
    for (int i = 0; i < 3; i++)
        if (dup2(a->stdio[i], i) < 0)
            FAIL_DIE(errno, "dup2", "set up stdio");
    if (a->terminal && ioctl(0, TIOCSCTTY, 0) < 0)
        FAIL_DIE(errno, "ioctl", "make the pty the controlling terminal");
    T("stdio");
    {
        int keep[CHILD_MAX_NS + 4];
        size_t n = 0;
        keep[n++] = a->status_fd;
        keep[n++] = a->start_fd;
        keep[n++] = log_fd;
        keep[n++] = a->root_fd;
        for (int i = 0; i < a->n_ns; i++)
            keep[n++] = a->ns_fd[i];
        close_fds_except(keep, n);
    }
    T("close_fds");
    char err[sizeof(g_msg.msg)];
    int r;
    if (a->userns_init) {
        /* Born in a new user namespace: wait until the agent has mapped it (and done what needs the
         * VM's privileges), then become its root so that files are created with mapped ids. */
        char go;
        ssize_t n;
        do
            n = read(a->start_fd, &go, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
            _exit(1);
        g_userns = true;
        if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
            FAIL_DIE(errno, "setresuid", "become root of the user namespace (container uid and gid 0 must be"
                     " mapped)");
    } else {
        /* Lowering it needs CAP_SYS_RESOURCE, and /proc is still the VM's here. */
        if (PB_HAS(ps, oom_score_adj)) {
            char v[16];
            snprintf(v, sizeof(v), "%d", ps->oom_score_adj);
            r = write_file("/proc/self/oom_score_adj", v);
            if (r < 0)
                FAIL_DIE(-r, "write", "oom_score_adj %d", ps->oom_score_adj);
        }
        /* before joining a user namespace, where raising a hard limit is not allowed */
        if ((r = attrs_rlimits(0, ps, err, sizeof(err))) < 0)
            FAIL_DIE(-r, "setrlimit", "%s", err);
    }

    T("rlimits");
    if ((a->is_init ? init_setup(a) : exec_join(a)) < 0)
        die(1);

    umask(PB_HAS(ps, umask) ? (mode_t)ps->umask : 022);
    /* the init's was created by setup_rootfs when missing */
    const char *cwd = ps->cwd && ps->cwd[0] ? ps->cwd : "/";
    if (chdir(cwd) < 0)
        FAIL_DIE(errno, "chdir", "cwd `%s`", cwd);
    T("cwd");

    /* envp: the spec's, a repeated name keeping its last value where that stands (runc, Go's dedupEnv; the PATH
     * search above read the last PATH too), plus HOME when it has none or an empty one (runc's rule) */
    bool has_home = false;
    char **envp = xcalloc(ps->n_env + 2, sizeof(char *));
    size_t ne = 0;
    for (size_t i = 0; i < ps->n_env; i++) {
        const char *eq = strchr(ps->env[i], '=');
        if (!eq)
            continue;
        size_t klen = (size_t)(eq - ps->env[i]) + 1; /* with the '=' */
        bool later = false;
        for (size_t j = i + 1; j < ps->n_env && !later; j++)
            later = strncmp(ps->env[j], ps->env[i], klen) == 0;
        if (later)
            continue;
        if (strncmp(ps->env[i], "HOME=", 5) == 0) {
            if (!ps->env[i][5])
                continue;
            has_home = true;
        }
        envp[ne++] = ps->env[i];
    }
    if (!has_home) {
        char home[PATH_MAX];
        home_of(ps->uid, home, sizeof(home));
        envp[ne++] = xasprintf("HOME=%s", home);
    }
    char **argv = xcalloc(ps->n_args + 1, sizeof(char *));
    for (size_t i = 0; i < ps->n_args; i++)
        argv[i] = ps->args[i];

    T("env");
    void *filter = NULL;
    if (ps->seccomp && (r = seccomp_prepare(ps->seccomp, &filter, err, sizeof(err))) < 0)
        FAIL_DIE(-r, "seccomp", "%s", err);
    T("seccomp");

    /* kept across execve; before a filter that might not allow it is loaded */
    if (a->has_personality && personality(a->personality) < 0)
        FAIL_DIE(errno, "personality", "personality %#lx", a->personality);

    /* Capabilities present (even all empty): exactly those sets. Absent: untouched, as runc does; the
     * uid change then follows the kernel's rule (a non-zero uid loses them all, root keeps them). */
    const A3s__Guest__V1__Capabilities *caps = ps->capabilities;
    /* Loading a filter needs CAP_SYS_ADMIN or no_new_privs. With neither at the end, load it while still
     * privileged, before the credentials change (runc's rule); otherwise as the very last step. */
    bool late_seccomp = ps->no_new_privileges ||
                        (caps ? caps_has(caps, 21 /* CAP_SYS_ADMIN */) : ps->uid == 0 && caps_effective_has(21));

    if (caps && (r = caps_drop_bounding(caps, err, sizeof(err))) < 0)
        FAIL_DIE(-r, "prctl", "%s", err);
    if (setgroups(ps->n_additional_gids, (const gid_t *)ps->additional_gids) < 0)
        FAIL_DIE(errno, "setgroups", "setgroups");
    if (setresgid(ps->gid, ps->gid, ps->gid) < 0)
        FAIL_DIE(errno, "setresgid", "setresgid %u", ps->gid);
    if (filter && !late_seccomp && (r = seccomp_install(filter, err, sizeof(err))) < 0)
        FAIL_DIE(-r, "seccomp", "%s", err);
    if (caps) {
        if (prctl(PR_SET_KEEPCAPS, 1) < 0 || setresuid(ps->uid, ps->uid, ps->uid) < 0 ||
            prctl(PR_SET_KEEPCAPS, 0) < 0)
            FAIL_DIE(errno, "setresuid", "setresuid %u", ps->uid);
        if ((r = caps_apply(caps, err, sizeof(err))) < 0)
            FAIL_DIE(-r, "capset", "%s", err);
    } else if (setresuid(ps->uid, ps->uid, ps->uid) < 0) {
        FAIL_DIE(errno, "setresuid", "setresuid %u", ps->uid);
    }
    if (ps->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        FAIL_DIE(errno, "prctl", "no_new_privs");

    T("credentials");
    char exe[PATH_MAX];
    int resolved = resolve_exe(argv[0], envp, ps->path_skip, exe, sizeof(exe));
    T("resolve_exe");
    trace_print(&g_ctrace, a->is_init ? "init" : "exec", a->container_id, a->trace_t0);
    /* A container whose command does not exist fails to be created, as with runc (whose init looks it up
     * before it waits for start): CRI reports CreateContainerError, containerd's TestContainerNoBinaryExists
     * expects NewTask to fail. An exec's fails at its start, as runc's exec does. */
    if (a->is_init) {
        struct stat st;
        if (resolved == 0 && stat(exe, &st) < 0)
            resolved = -errno;
        else if (resolved == 0 && (!S_ISREG(st.st_mode) || access(exe, X_OK) < 0))
            resolved = -EACCES;
        if (resolved < 0) {
            if (strchr(argv[0], '/'))
                FAIL_DIE(-resolved, "execve", "exec `%s`", argv[0]);
            FAIL_DIE(-resolved, "execve", "executable file `%s` not found in $PATH", argv[0]);
        }
    }

    /* Park: say "ready", then wait for the release (or EOF: the agent gave up on us). */
    struct park_msg ready = { 0 };
    if (write_all(a->status_fd, &ready, sizeof(ready)) < 0)
        _exit(1);
    char go;
    ssize_t n;
    do
        n = read(a->start_fd, &go, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        _exit(1);
    close(a->start_fd);

    if (resolved < 0) {
        fail(-resolved, "execve", "executable file `%s` not found in $PATH", argv[0]);
        die(-resolved == EACCES ? 126 : 127);
    }
    int sr;
    if (filter && late_seccomp && (sr = seccomp_install(filter, err, sizeof(err))) < 0) {
        fail(-sr, "seccomp", "%s", err);
        die(1);
    }
    execve(exe, argv, envp);
    int e = errno;
    fail(e, "execve", "exec `%s`", exe);
    die(e == ENOENT ? 127 : (e == EACCES || e == ENOEXEC || e == EPERM) ? 126 : 1);
}
