/* The container's device allowlist as a cgroup v2 BPF device program (devcg.c). */
#ifndef A3S_DEVCG_H
#define A3S_DEVCG_H

#include <stdbool.h>
#include <stddef.h>

#include "pb.h"

/* Checks the rules (types, access letters) without loading anything. */
int devcg_check(A3s__Guest__V1__DeviceRule *const *rules, size_t n, char *err, size_t errlen);
/* Loads the program for these rules and attaches it to the cgroup directory, replacing *prog_fd's program
 * when *prog_fd >= 0; *prog_fd is then the new program (CLOEXEC). 0 or -errno with err set. */
int devcg_apply(const char *cgroup_dir, A3s__Guest__V1__DeviceRule *const *rules, size_t n, int *prog_fd,
                char *err, size_t errlen);

#endif
