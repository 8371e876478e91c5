/* Process attributes applied by pid (attrs.c): rlimits, scheduler, I/O priority; personality names. */
#ifndef A3S_ATTRS_H
#define A3S_ATTRS_H

#include <stddef.h>
#include <sys/types.h>

#include "pb.h"

int rlimit_from_name(const char *name);
/* Checks the names in a process spec (rlimits, policy, flags, I/O class) before anything is forked. */
int attrs_check(const A3s__Guest__V1__ProcessSpec *ps, char *err, size_t errlen);
/* pid 0 = the calling process. Return 0 or -errno, with what failed in err. */
int attrs_rlimits(pid_t pid, const A3s__Guest__V1__ProcessSpec *ps, char *err, size_t errlen);
int attrs_sched(pid_t pid, const A3s__Guest__V1__ProcessSpec *ps, char *err, size_t errlen);
/* "" -> 0 (unchanged), "LINUX"/"LINUX32" -> 1 and *out, else -EINVAL. */
int personality_from_name(const char *name, unsigned long *out);

#endif
