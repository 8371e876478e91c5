/* Attributes of a process that are set by syscalls on a pid: rlimits (prlimit), scheduler
 * (sched_setattr), I/O priority (ioprio_set), and the personality of a container (personality, self only).
 *
 * The child applies them to itself (pid 0), before it changes credentials. The first process of a
 * container with a user namespace is born inside it (clone), where raising a hard rlimit, a real-time
 * policy or a negative nice would need privileges of the VM's user namespace: the agent applies those to
 * the child's pid instead, before it lets the child go on (proc.c). */
#include "attrs.h"
#include "util.h"

#include <errno.h>
#include <linux/ioprio.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int rlimit_from_name(const char *name)
{
    static const struct { const char *name; int res; } t[] = {
        { "RLIMIT_CPU", RLIMIT_CPU }, { "RLIMIT_FSIZE", RLIMIT_FSIZE }, { "RLIMIT_DATA", RLIMIT_DATA },
        { "RLIMIT_STACK", RLIMIT_STACK }, { "RLIMIT_CORE", RLIMIT_CORE }, { "RLIMIT_RSS", RLIMIT_RSS },
        { "RLIMIT_NPROC", RLIMIT_NPROC }, { "RLIMIT_NOFILE", RLIMIT_NOFILE }, { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
        { "RLIMIT_AS", RLIMIT_AS }, { "RLIMIT_LOCKS", RLIMIT_LOCKS }, { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
        { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE }, { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
        { "RLIMIT_RTTIME", RLIMIT_RTTIME },
    };
    for (size_t i = 0; i < ARRAY_SIZE(t); i++)
        if (strcmp(t[i].name, name) == 0)
            return t[i].res;
    return -1;
}

int attrs_rlimits(pid_t pid, const A3s__Guest__V1__ProcessSpec *ps, char *err, size_t errlen)
{
    for (size_t i = 0; i < ps->n_rlimits; i++) {
        int res = rlimit_from_name(ps->rlimits[i]->type);
        if (res < 0) {
            snprintf(err, errlen, "unknown rlimit `%s`", ps->rlimits[i]->type);
            return -EINVAL;
        }
        struct rlimit rl = { .rlim_cur = ps->rlimits[i]->soft, .rlim_max = ps->rlimits[i]->hard };
        if (prlimit(pid, (enum __rlimit_resource)res, &rl, NULL) < 0) {
            int e = errno;
            snprintf(err, errlen, "%s", ps->rlimits[i]->type);
            return -e;
        }
    }
    return 0;
}

/* The kernel's struct sched_attr (sched_setattr(2)); glibc 2.36 has no declaration of its own, and
 * <linux/sched/types.h> clashes with <sched.h>. */
struct sched_attr_abi {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
    uint32_t sched_util_min;
    uint32_t sched_util_max;
};

static int sched_policy_from_name(const char *name)
{
    /* SCHED_ISO (4) is reserved in Linux and never implemented: the kernel refuses it, as it does for runc. */
    static const char *const names[] = { "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO",
                                         "SCHED_IDLE", "SCHED_DEADLINE" };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

static int64_t sched_flag_from_name(const char *name)
{
    static const struct { const char *name; uint64_t flag; } t[] = {
        { "SCHED_FLAG_RESET_ON_FORK", 0x01 }, { "SCHED_FLAG_RECLAIM", 0x02 }, { "SCHED_FLAG_DL_OVERRUN", 0x04 },
        { "SCHED_FLAG_KEEP_POLICY", 0x08 }, { "SCHED_FLAG_KEEP_PARAMS", 0x10 },
        { "SCHED_FLAG_UTIL_CLAMP_MIN", 0x20 }, { "SCHED_FLAG_UTIL_CLAMP_MAX", 0x40 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(t); i++)
        if (strcmp(t[i].name, name) == 0)
            return (int64_t)t[i].flag;
    return -1;
}

int attrs_check(const A3s__Guest__V1__ProcessSpec *ps, char *err, size_t errlen)
{
    for (size_t i = 0; i < ps->n_rlimits; i++) {
        if (rlimit_from_name(ps->rlimits[i]->type) < 0) {
            snprintf(err, errlen, "unknown rlimit `%s`", ps->rlimits[i]->type);
            return -EINVAL;
        }
    }
    if (ps->scheduler) {
        if (sched_policy_from_name(ps->scheduler->policy) < 0) {
            snprintf(err, errlen, "unknown scheduling policy `%s`", ps->scheduler->policy);
            return -EINVAL;
        }
        for (size_t i = 0; i < ps->scheduler->n_flags; i++) {
            if (sched_flag_from_name(ps->scheduler->flags[i]) < 0) {
                snprintf(err, errlen, "unknown scheduler flag `%s`", ps->scheduler->flags[i]);
                return -EINVAL;
            }
        }
    }
    if (ps->io_priority) {
        const char *c = ps->io_priority->io_class;
        if (strcmp(c, "IOPRIO_CLASS_RT") && strcmp(c, "IOPRIO_CLASS_BE") && strcmp(c, "IOPRIO_CLASS_IDLE")) {
            snprintf(err, errlen, "unknown I/O priority class `%s`", c);
            return -EINVAL;
        }
        if (ps->io_priority->priority > 7) {
            snprintf(err, errlen, "I/O priority %u is not in 0..7", ps->io_priority->priority);
            return -EINVAL;
        }
    }
    return 0;
}

int attrs_sched(pid_t pid, const A3s__Guest__V1__ProcessSpec *ps, char *err, size_t errlen)
{
    const A3s__Guest__V1__Scheduler *s = ps->scheduler;
    if (s) {
        struct sched_attr_abi attr = {
            .size = sizeof(attr),
            .sched_policy = (uint32_t)sched_policy_from_name(s->policy),
            .sched_nice = s->nice,
            .sched_priority = s->priority,
            .sched_runtime = s->runtime,
            .sched_deadline = s->deadline,
            .sched_period = s->period,
        };
        for (size_t i = 0; i < s->n_flags; i++)
            attr.sched_flags |= (uint64_t)sched_flag_from_name(s->flags[i]);
        if (syscall(SYS_sched_setattr, pid, &attr, 0) < 0) {
            int e = errno;
            snprintf(err, errlen, "sched_setattr %s (nice %d, priority %u)", s->policy, s->nice, s->priority);
            return -e;
        }
    }
    const A3s__Guest__V1__IoPriority *io = ps->io_priority;
    if (io) {
        int cls = strcmp(io->io_class, "IOPRIO_CLASS_RT") == 0 ? IOPRIO_CLASS_RT
                  : strcmp(io->io_class, "IOPRIO_CLASS_BE") == 0 ? IOPRIO_CLASS_BE
                                                                  : IOPRIO_CLASS_IDLE;
        if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, pid, IOPRIO_PRIO_VALUE(cls, io->priority)) < 0) {
            int e = errno;
            snprintf(err, errlen, "ioprio_set %s %u", io->io_class, io->priority);
            return -e;
        }
    }
    return 0;
}

int personality_from_name(const char *name, unsigned long *out)
{
    if (!name || !name[0])
        return 0;
    if (strcmp(name, "LINUX") == 0) {
        *out = PER_LINUX;
        return 1;
    }
    if (strcmp(name, "LINUX32") == 0) {
        *out = PER_LINUX32;
        return 1;
    }
    return -EINVAL;
}
