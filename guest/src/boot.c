/* Boot of the microVM, done by the agent as PID 1.
 *
 * Stage 1 runs from the initramfs: mount /proc, /sys, /dev; load the modules listed in
 * /etc/a3s/modules.order (finit_module, in file order); then leave the initramfs, because pivot_root
 * cannot pivot away from it (EINVAL): mount a tmpfs on /newroot, copy the agent (and /etc/a3s) there, move
 * /proc, /sys and /dev into it, free the initramfs, MS_MOVE the tmpfs onto / and chroot into it
 * (switch_root style), then re-exec /init with A3S_AGENT_STAGE2=1.
 *
 * Stage 2 runs from the tmpfs root: /dev/pts, /dev/shm, /run, cgroup2 on /sys/fs/cgroup, the loopback
 * interface up, and the 9p share `a3s.share` on /run/a3s/share. Then main finds the virtio-serial port and
 * serves. */
#include "agent.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

extern char **environ;

static void xmount(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
    if (mkdir_p(dst, 0755) < 0)
        log_warn("mkdir `%s`: %s", dst, strerror(errno));
    if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
        log_error("mount %s on `%s`: %s", type, dst, strerror(errno));
}

static void load_modules(void)
{
    char *list = NULL;
    int r = read_file(AGENT_MODULES_ORDER, &list, NULL);
    if (r < 0) {
        if (r != -ENOENT)
            log_warn("read `%s`: %s", AGENT_MODULES_ORDER, strerror(-r));
        return;
    }
    char *save = NULL;
    int loaded = 0;
    for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ' || *line == '\t')
            line++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (!n || line[0] == '#')
            continue;
        int fd = open(line, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            log_error("module `%s`: %s", line, strerror(errno));
            continue;
        }
        if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
            log_error("finit_module `%s`: %s", line, strerror(errno));
        else
            loaded++;
        close(fd);
    }
    free(list);
    log_info("%d kernel modules loaded", loaded);
}

/* Removes what is on the initramfs (not crossing mounts): the memory it holds is otherwise lost. */
static void remove_tree(int dirfd, dev_t dev)
{
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                remove_tree(sub, dev);
            unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
        } else {
            unlinkat(dirfd, e->d_name, 0);
        }
    }
    closedir(d);
}

static void copy_dir(const char *src, const char *dst)
{
    DIR *d = opendir(src);
    if (!d)
        return;
    mkdir_p(dst, 0755);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *s = xasprintf("%s/%s", src, e->d_name), *t = xasprintf("%s/%s", dst, e->d_name);
        struct stat st;
        if (lstat(s, &st) == 0 && S_ISREG(st.st_mode))
            copy_file(s, t);
        else if (S_ISDIR(st.st_mode))
            copy_dir(s, t);
        free(s);
        free(t);
    }
    closedir(d);
}

static int switch_to_tmpfs(char **argv)
{
    struct statfs sf;
    if (statfs("/", &sf) < 0 || (sf.f_type != RAMFS_MAGIC && sf.f_type != TMPFS_MAGIC)) {
        log_info("root is not an initramfs: staying on it");
        return 0;
    }
    struct stat root;
    if (stat("/", &root) < 0)
        return -errno;
    xmount("tmpfs", "/newroot", "tmpfs", 0, "mode=0755");
    int r = copy_file("/proc/self/exe", "/newroot/init");
    if (r < 0) {
        log_error("copy the agent to the new root: %s", strerror(-r));
        umount("/newroot");
        return r;
    }
    chmod("/newroot/init", 0755);
    copy_dir("/etc/a3s", "/newroot/etc/a3s");
    static const char *const moved[] = { "/proc", "/sys", "/dev" };
    for (size_t i = 0; i < ARRAY_SIZE(moved); i++) {
        char *dst = xasprintf("/newroot%s", moved[i]);
        mkdir_p(dst, 0755);
        if (mount(moved[i], dst, NULL, MS_MOVE, NULL) < 0)
            log_error("move `%s`: %s", moved[i], strerror(errno));
        free(dst);
    }
    int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd >= 0)
        remove_tree(rootfd, root.st_dev); /* /newroot is another device: kept */
    if (chdir("/newroot") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0) {
        log_error("switch to the tmpfs root: %s", strerror(errno));
        return -errno;
    }
    setenv("A3S_AGENT_STAGE2", "1", 1);
    execve("/init", argv, environ);
    log_error("re-exec /init: %s", strerror(errno));
    return -errno;
}

/* Mounts a 9p export; the device may be probed a little after its driver loaded: retries until deadline. */
static bool mount_9p(const char *tag, const char *dir, unsigned long flags, const char *opts, uint64_t deadline,
                     const char *without)
{
    mkdir_p(dir, 0755);
    for (;;) {
        if (mount(tag, dir, "9p", flags, opts) == 0) {
            log_info("9p `%s` mounted on %s", tag, dir);
            return true;
        }
        int e = errno;
        if ((e != ENOENT && e != ENODEV) || now_ns(CLOCK_MONOTONIC) > deadline) {
            log_error("mount 9p `%s` on %s: %s (%s)", tag, dir, strerror(e), without);
            return false;
        }
        usleep(10000);
    }
}

/* Whether the host exports a 9p device tagged `tag` (the 9p driver shows each device's tag in sysfs). */
static bool virtio_9p_tag_present(const char *tag)
{
    DIR *d = opendir("/sys/bus/virtio/devices");
    struct dirent *e;
    bool found = false;
    while (d && !found && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *path = xasprintf("/sys/bus/virtio/devices/%s/mount_tag", e->d_name), *text = NULL;
        size_t n = 0;
        if (read_file(path, &text, &n) == 0) {
            size_t len = strlen(tag);
            found = n >= len && memcmp(text, tag, len) == 0 && (n == len || text[len] == '\0' || text[len] == '\n');
        }
        free(text);
        free(path);
    }
    if (d)
        closedir(d);
    return found;
}

/* Makes the agent the kernel's modprobe (modprobe.c): the usermode helper runs in PID 1's root, this tmpfs. */
static void modprobe_install(void)
{
    mkdir_p("/sbin", 0755);
    unlink(AGENT_MODPROBE);
    if (symlink("/init", AGENT_MODPROBE) < 0) {
        log_error("symlink %s: %s; no kernel module can be loaded on demand", AGENT_MODPROBE, strerror(errno));
        return;
    }
    int r = write_file("/proc/sys/kernel/modprobe", AGENT_MODPROBE);
    if (r < 0)
        log_warn("set kernel.modprobe: %s", strerror(-r));
}

/* The containers use the VM's network namespace (a pod's containers share it), whose `lo` the kernel leaves
 * down: without this, 127.0.0.1 is unreachable, where runc's containers (and a pod's, which talk over
 * localhost) have it up. */
static void loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = { 0 };
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
        (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0))
        log_warn("bring up lo: %s; 127.0.0.1 is unreachable in the VM", strerror(errno));
    if (s >= 0)
        close(s);
}

int boot_stage1(void)
{
    xmount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    xmount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    xmount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    /* The kernel gives init /dev/console as stdio only when the initramfs has that node. */
    int con = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (con >= 0) {
        struct stat st;
        for (int fd = 0; fd < 3; fd++) {
            /* ensure_stdio() may have put /dev/null there before /dev existed */
            if (fstat(fd, &st) < 0 || (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)))
                dup2(con, fd);
        }
        close(con);
    }
    load_modules();
    char *args[] = { "/init", NULL };
    return switch_to_tmpfs(args);
}

int boot_stage2(void)
{
    /* Ctrl-Alt-Del becomes SIGINT to us (a clean power-off) instead of an immediate reboot. */
    if (getpid() == 1 && reboot(RB_DISABLE_CAD) < 0)
        log_warn("reboot(RB_DISABLE_CAD): %s", strerror(errno));
    xmount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    xmount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    xmount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    xmount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666");
    xmount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    xmount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    xmount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    /* favordynmods (Linux 6.0+): moving a process into a cgroup, which every container start does, otherwise
     * waits for an RCU grace period (the threadgroup rwsem's write side): about 10 ms under TCG. */
    mkdir_p("/sys/fs/cgroup", 0755);
    if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate,favordynmods") < 0)
        xmount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate");

    loopback_up();

    uint64_t deadline = now_ns(CLOCK_MONOTONIC) + 5000000000ull;
    /* No nosuid or nodev on the rootfs and volume exports: a container's root and binds inherit the flags of
     * these mounts, and under runc neither has them (sudo, su, ping and passwd run setuid from the image; a
     * device node in the rootfs opens); the spec's own options still apply to each bind. */
    A.share_is_9p = mount_9p(AGENT_SHARE_TAG, AGENT_SHARE_DIR, 0, AGENT_SHARE_OPTS, deadline,
                             "containers cannot be created");
    A.volumes_is_9p = mount_9p(AGENT_VOLUMES_TAG, AGENT_VOLUMES_DIR, 0, AGENT_VOLUMES_OPTS, deadline,
                               "bind mounts cannot be made");
    if (!virtio_9p_tag_present(AGENT_MODULES_TAG))
        log_info("no `%s` export: the kernel has only the modules loaded at boot", AGENT_MODULES_TAG);
    else if (mount_9p(AGENT_MODULES_TAG, AGENT_MODULES_DIR, MS_NOSUID | MS_NODEV,
                      AGENT_MODULES_OPTS, deadline,
                      "no kernel module can be loaded on demand"))
        modprobe_install();
    return 0;
}

/* devtmpfs has /dev/vportNpM; the name is in sysfs (udev would make /dev/virtio-ports/<name>). */
int boot_find_port(char *path, size_t len, int timeout_ms)
{
    uint64_t start = now_ns(CLOCK_MONOTONIC), next_log = start + 1000000000ull;
    for (;;) {
        snprintf(path, len, "/dev/virtio-ports/%s", AGENT_PORT_NAME);
        if (access(path, F_OK) == 0)
            return 0;
        DIR *d = opendir("/sys/class/virtio-ports");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char *np = xasprintf("/sys/class/virtio-ports/%s/name", e->d_name), *name = NULL;
            bool match = read_file(np, &name, NULL) == 0 && strncmp(name, AGENT_PORT_NAME, strlen(AGENT_PORT_NAME)) == 0 &&
                         (name[strlen(AGENT_PORT_NAME)] == '\n' || name[strlen(AGENT_PORT_NAME)] == '\0');
            free(np);
            free(name);
            if (!match)
                continue;
            snprintf(path, len, "/dev/%s", e->d_name);
            if (access(path, F_OK) == 0) {
                mkdir_p("/dev/virtio-ports", 0755);
                char *target = xasprintf("../%s", e->d_name);
                char *link = xasprintf("/dev/virtio-ports/%s", AGENT_PORT_NAME);
                if (symlink(target, link) < 0 && errno != EEXIST)
                    log_debug("symlink %s: %s", link, strerror(errno));
                free(target);
                free(link);
                closedir(d);
                log_info("virtio-serial port `%s` is %s", AGENT_PORT_NAME, path);
                return 0;
            }
        }
        if (d)
            closedir(d);
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now - start > (uint64_t)timeout_ms * 1000000ull) {
            log_error("virtio-serial port `%s` did not appear within %d ms", AGENT_PORT_NAME, timeout_ms);
            return -ETIMEDOUT;
        }
        if (now > next_log) {
            log_info("waiting for virtio-serial port `%s`", AGENT_PORT_NAME);
            next_log = now + 5000000000ull;
        }
        usleep(5000);
    }
}

void boot_poweroff(void)
{
    log_info("powering off");
    sync();
    reboot(RB_POWER_OFF);
    _exit(1);
}
