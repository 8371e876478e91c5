/* cgroup v2 for containers. In the VM: cgroup2 mounted at /sys/fs/cgroup, controllers enabled in the root
 * and in /sys/fs/cgroup/a3s, one leaf /sys/fs/cgroup/a3s/<id> per container (its processes and execs).
 * In test mode the hierarchy of the host is used if it is cgroup2 (/sys/fs/cgroup or the hybrid
 * /sys/fs/cgroup/unified); figures of controllers that are not enabled there read as zero. */
#include "cgroup.h"
#include "agent.h"
#include "devcg.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static void enable_controllers(const char *dir)
{
    static const char *const ctrls[] = { "cpu", "cpuset", "memory", "pids", "io", "hugetlb" };
    char path[PATH_MAX], *avail = NULL;
    snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
    if (read_file(path, &avail, NULL) < 0)
        return;
    snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
    for (size_t i = 0; i < ARRAY_SIZE(ctrls); i++) {
        if (!strstr(avail, ctrls[i]))
            continue;
        char v[16];
        snprintf(v, sizeof(v), "+%s", ctrls[i]);
        int r = write_file(path, v);
        if (r < 0)
            log_warn("enable controller %s in `%s`: %s", ctrls[i], dir, strerror(-r));
    }
    free(avail);
}

static bool is_cgroup2(const char *path)
{
    struct statfs sf;
    return statfs(path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

int cgroup_setup(bool mount_it)
{
    const char *root = NULL;
    if (mount_it) {
        if (!is_cgroup2("/sys/fs/cgroup") &&
            mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate") < 0) {
            log_error("mount cgroup2 on /sys/fs/cgroup: %s", strerror(errno));
            A.cgroup_root[0] = '\0';
            return -errno;
        }
        root = "/sys/fs/cgroup";
    } else if (A.cgroup_root[0]) {
        root = A.cgroup_root;
        if (!is_cgroup2(root)) {
            log_error("`%s` is not a cgroup2 mount", root);
            A.cgroup_root[0] = '\0';
            return -EINVAL;
        }
    } else if (is_cgroup2("/sys/fs/cgroup")) {
        root = "/sys/fs/cgroup";
    } else if (is_cgroup2("/sys/fs/cgroup/unified")) {
        root = "/sys/fs/cgroup/unified";
    } else {
        log_warn("no cgroup2 hierarchy: containers run without cgroups (no stats, pause, limits)");
        A.cgroup_root[0] = '\0';
        return 0;
    }
    snprintf(A.cgroup_root, sizeof(A.cgroup_root), "%s", root);
    enable_controllers(root);
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s/%s", root, A.cgroup_parent);
    if (mkdir(parent, 0755) < 0 && errno != EEXIST) {
        log_error("mkdir `%s`: %s", parent, strerror(errno));
        A.cgroup_root[0] = '\0';
        return -errno;
    }
    enable_controllers(parent);
    log_info("cgroups under `%s`", parent);
    return 0;
}

int cgroup_create(const char *id, char **path)
{
    if (!A.cgroup_root[0]) {
        *path = NULL;
        return 0;
    }
    char *p = xasprintf("%s/%s/%s", A.cgroup_root, A.cgroup_parent, id);
    if (mkdir(p, 0755) < 0) {
        int e = errno;
        /* A leftover of an earlier container with this id (a destroy that timed out): retry once. */
        if (e != EEXIST || cgroup_remove(p) < 0 || mkdir(p, 0755) < 0) {
            free(p);
            return -e;
        }
    }
    *path = p;
    return 0;
}

static int write_in(const char *dir, const char *file, const char *val, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    int r = write_file(path, val);
    if (r < 0)
        snprintf(err, errlen, "write `%s` to %s", val, file);
    return r;
}

/* A limit in bytes: negative means "max" (the files do not take -1). */
static void limit_str(char *v, size_t len, int64_t x)
{
    if (x < 0)
        snprintf(v, len, "max");
    else
        snprintf(v, len, "%" PRId64, x);
}

int cgroup_check(const A3s__Guest__V1__CgroupResources *res, char *err, size_t errlen)
{
    if (!res)
        return 0;
    for (size_t i = 0; i < res->n_hugetlb_max; i++) {
        const char *k = res->hugetlb_max[i]->key;
        if (!k[0] || strchr(k, '/') || strchr(k, '.')) {
            snprintf(err, errlen, "hugetlb page size `%s`", k);
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < res->n_unified; i++) {
        const char *k = res->unified[i]->key;
        if (!k[0] || strchr(k, '/') || strcmp(k, ".") == 0 || strcmp(k, "..") == 0) {
            snprintf(err, errlen, "cgroup file name `%s`", k);
            return -EINVAL;
        }
    }
    return devcg_check(res->devices, res->n_devices, err, errlen);
}

int cgroup_apply(const char *dir, const A3s__Guest__V1__CgroupResources *res, int *devcg_fd, char *err,
                 size_t errlen)
{
    char v[64];
    int r;
    if (!res)
        return 0;
    if (!dir) {
        snprintf(err, errlen, "cgroups are not available");
        return -EOPNOTSUPP;
    }
    if ((r = cgroup_check(res, err, errlen)) < 0)
        return r;
#define W(file, ...) do { snprintf(v, sizeof(v), __VA_ARGS__); \
                          if ((r = write_in(dir, file, v, err, errlen)) < 0) return r; } while (0)
#define WL(file, x) do { limit_str(v, sizeof(v), x); \
                         if ((r = write_in(dir, file, v, err, errlen)) < 0) return r; } while (0)
    if (PB_HAS(res, memory_max))
        WL("memory.max", res->memory_max);
    if (PB_HAS(res, memory_low))
        WL("memory.low", res->memory_low);
    if (PB_HAS(res, memory_swap_max))
        WL("memory.swap.max", res->memory_swap_max);
    if (PB_HAS(res, cpu_quota) || PB_HAS(res, cpu_period)) {
        uint64_t period = PB_HAS(res, cpu_period) ? res->cpu_period : 100000;
        if (PB_HAS(res, cpu_quota) && res->cpu_quota > 0)
            W("cpu.max", "%" PRId64 " %" PRIu64, res->cpu_quota, period);
        else
            W("cpu.max", "max %" PRIu64, period);
    }
    if (PB_HAS(res, cpu_burst))
        W("cpu.max.burst", "%" PRIu64, res->cpu_burst);
    if (PB_HAS(res, cpu_weight))
        W("cpu.weight", "%" PRIu64, res->cpu_weight);
    if (PB_HAS(res, cpu_idle))
        W("cpu.idle", "%" PRId64, res->cpu_idle);
    if (res->cpuset_cpus && res->cpuset_cpus[0])
        W("cpuset.cpus", "%s", res->cpuset_cpus);
    if (res->cpuset_mems && res->cpuset_mems[0])
        W("cpuset.mems", "%s", res->cpuset_mems);
    if (PB_HAS(res, pids_max)) {
        if (res->pids_max > 0)
            W("pids.max", "%" PRId64, res->pids_max);
        else
            W("pids.max", "max");
    }
    if (PB_HAS(res, io_weight))
        W("io.weight", "default %" PRIu64, res->io_weight);
    for (size_t i = 0; i < res->n_hugetlb_max; i++) {
        char file[64];
        snprintf(file, sizeof(file), "hugetlb.%s.max", res->hugetlb_max[i]->key);
        WL(file, res->hugetlb_max[i]->value);
    }
#undef W
#undef WL
    if (res->n_devices && (r = devcg_apply(dir, res->devices, res->n_devices, devcg_fd, err, errlen)) < 0)
        return r;
    for (size_t i = 0; i < res->n_unified; i++)
        if ((r = write_in(dir, res->unified[i]->key, res->unified[i]->value, err, errlen)) < 0)
            return r;
    return 0;
}

int cgroup_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *sub = xasprintf("%s/%s", dir, e->d_name);
        cgroup_remove(sub);
        free(sub);
    }
    closedir(d);
    return rmdir(dir) < 0 ? -errno : 0;
}

int cgroup_pids(const char *dir, uint32_t **pids, size_t *n)
{
    char path[PATH_MAX], *buf = NULL;
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    int r = read_file(path, &buf, NULL);
    if (r < 0)
        return r;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        uint64_t v;
        if (parse_u64(line, &v) < 0)
            continue;
        *pids = xrealloc(*pids, (*n + 1) * sizeof(uint32_t));
        (*pids)[(*n)++] = (uint32_t)v;
    }
    free(buf);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *sub = xasprintf("%s/%s", dir, e->d_name);
        cgroup_pids(sub, pids, n);
        free(sub);
    }
    closedir(d);
    return 0;
}

int cgroup_kill_all(const char *dir, int sig)
{
    char path[PATH_MAX];
    if (sig == SIGKILL) {
        snprintf(path, sizeof(path), "%s/cgroup.kill", dir);
        if (write_file(path, "1") == 0)
            return 0;
    }
    uint32_t *pids = NULL;
    size_t n = 0;
    int r = cgroup_pids(dir, &pids, &n);
    for (size_t i = 0; i < n; i++)
        if (kill((pid_t)pids[i], sig) < 0 && errno != ESRCH)
            log_warn("kill %u: %s", pids[i], strerror(errno));
    free(pids);
    return r;
}

int cgroup_freeze(const char *dir, bool frozen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/cgroup.freeze", dir);
    return write_file(path, frozen ? "1" : "0");
}

/* Value of `key` in a "key value" file (cgroup.events, memory.events, cpu.stat ...). */
static int keyed(const char *dir, const char *file, const char *key, uint64_t *out)
{
    char path[PATH_MAX], *buf = NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    int r = read_file(path, &buf, NULL);
    if (r < 0)
        return r;
    r = -ENOENT;
    size_t kl = strlen(key);
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
            *out = strtoull(line + kl + 1, NULL, 10);
            r = 0;
            break;
        }
    }
    free(buf);
    return r;
}

int cgroup_is_frozen(const char *dir)
{
    uint64_t v;
    int r = keyed(dir, "cgroup.events", "frozen", &v);
    return r < 0 ? r : v != 0;
}

int cgroup_oom_kills(const char *dir, uint64_t *kills)
{
    return keyed(dir, "memory.events", "oom_kill", kills);
}

/* A single-number file; "max" reads as 0 (no limit). */
static uint64_t number(const char *dir, const char *file)
{
    char path[PATH_MAX], *buf = NULL;
    uint64_t v = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (read_file(path, &buf, NULL) == 0 && strncmp(buf, "max", 3) != 0)
        parse_u64(buf, &v);
    free(buf);
    return v;
}

void cgroup_stats(const char *dir, A3s__Guest__V1__StatsResponse *st)
{
    if (!dir)
        return;
    st->pids_current = number(dir, "pids.current");
    st->pids_limit = number(dir, "pids.max");
    keyed(dir, "cpu.stat", "usage_usec", &st->cpu_usage_usec);
    keyed(dir, "cpu.stat", "user_usec", &st->cpu_user_usec);
    keyed(dir, "cpu.stat", "system_usec", &st->cpu_system_usec);
    keyed(dir, "cpu.stat", "nr_periods", &st->cpu_nr_periods);
    keyed(dir, "cpu.stat", "nr_throttled", &st->cpu_nr_throttled);
    keyed(dir, "cpu.stat", "throttled_usec", &st->cpu_throttled_usec);
    st->memory_usage = number(dir, "memory.current");
    st->memory_usage_limit = number(dir, "memory.max");
    st->memory_swap_usage = number(dir, "memory.swap.current");
    st->memory_swap_limit = number(dir, "memory.swap.max");
    keyed(dir, "memory.events", "low", &st->memory_events_low);
    keyed(dir, "memory.events", "high", &st->memory_events_high);
    keyed(dir, "memory.events", "max", &st->memory_events_max);
    keyed(dir, "memory.events", "oom", &st->memory_events_oom);
    keyed(dir, "memory.events", "oom_kill", &st->memory_events_oom_kill);

    char path[PATH_MAX], *buf = NULL;
    snprintf(path, sizeof(path), "%s/memory.stat", dir);
    if (read_file(path, &buf, NULL) == 0) {
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *sp = strchr(line, ' ');
            if (!sp)
                continue;
            *sp = '\0';
            A3s__Guest__V1__StatsResponse__MemoryStatEntry *e = xmalloc(sizeof(*e));
            a3s__guest__v1__stats_response__memory_stat_entry__init(e);
            e->key = xstrdup(line);
            e->value = strtoull(sp + 1, NULL, 10);
            st->memory_stat = xrealloc(st->memory_stat, (st->n_memory_stat + 1) * sizeof(e));
            st->memory_stat[st->n_memory_stat++] = e;
        }
        free(buf);
        buf = NULL;
    }
    snprintf(path, sizeof(path), "%s/io.stat", dir);
    if (read_file(path, &buf, NULL) == 0) {
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            unsigned int maj, min;
            char *fields = strchr(line, ' ');
            if (!fields || sscanf(line, "%u:%u", &maj, &min) != 2)
                continue;
            A3s__Guest__V1__IoEntry *e = xmalloc(sizeof(*e));
            a3s__guest__v1__io_entry__init(e);
            e->major = maj;
            e->minor = min;
            char *tok_save = NULL;
            for (char *tok = strtok_r(fields, " ", &tok_save); tok; tok = strtok_r(NULL, " ", &tok_save)) {
                char *eq = strchr(tok, '=');
                if (!eq)
                    continue;
                uint64_t v = strtoull(eq + 1, NULL, 10);
                *eq = '\0';
                if (strcmp(tok, "rbytes") == 0) e->rbytes = v;
                else if (strcmp(tok, "wbytes") == 0) e->wbytes = v;
                else if (strcmp(tok, "rios") == 0) e->rios = v;
                else if (strcmp(tok, "wios") == 0) e->wios = v;
            }
            st->io = xrealloc(st->io, (st->n_io + 1) * sizeof(e));
            st->io[st->n_io++] = e;
        }
        free(buf);
    }
}

void cgroup_stats_free(A3s__Guest__V1__StatsResponse *st)
{
    for (size_t i = 0; i < st->n_memory_stat; i++) {
        free(st->memory_stat[i]->key);
        free(st->memory_stat[i]);
    }
    free(st->memory_stat);
    for (size_t i = 0; i < st->n_io; i++)
        free(st->io[i]);
    free(st->io);
}
