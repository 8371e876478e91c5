/* cgroup v2 of containers: /sys/fs/cgroup/a3s/<id> in the VM (or under --cgroup-root in test mode). */
#ifndef A3S_CGROUP_H
#define A3S_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pb.h"

/* Finds (test mode) or mounts (VM) the cgroup2 hierarchy, creates the parent and enables controllers. */
int cgroup_setup(bool mount_it);
/* Creates the container's cgroup; *path is malloc'ed. */
int cgroup_create(const char *id, char **path);
/* Checks names (hugetlb sizes, unified keys, device rules) without writing anything. */
int cgroup_check(const A3s__Guest__V1__CgroupResources *r, char *err, size_t errlen);
/* Writes the resources; a non-empty device list loads a device program and replaces *devcg_fd's. */
int cgroup_apply(const char *path, const A3s__Guest__V1__CgroupResources *r, int *devcg_fd, char *err,
                 size_t errlen);
int cgroup_remove(const char *path);
int cgroup_kill_all(const char *path, int sig);
int cgroup_freeze(const char *path, bool frozen);
int cgroup_is_frozen(const char *path);          /* 1, 0 or -errno */
int cgroup_pids(const char *path, uint32_t **pids, size_t *n);
int cgroup_oom_kills(const char *path, uint64_t *kills);
void cgroup_stats(const char *path, A3s__Guest__V1__StatsResponse *st);
void cgroup_stats_free(A3s__Guest__V1__StatsResponse *st);

#endif
