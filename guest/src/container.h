/* The child side of a spawn: everything a container's first process (or an exec) does to itself between
 * fork and execve. Runs in the forked child only; never returns. */
#ifndef A3S_CONTAINER_H
#define A3S_CONTAINER_H

#include <stdbool.h>

#include "pb.h"

#define CHILD_MAX_NS 7

struct child_args {
    bool is_init;
    const char *container_id;
    const A3s__Guest__V1__ContainerSpec *spec;   /* init only */
    const A3s__Guest__V1__ProcessSpec *ps;
    const char *cgroup;                          /* cgroup dir to join, or NULL */
    int status_fd;                               /* write end, CLOEXEC */
    int start_fd;                                /* read end */
    int stdio[3];
    bool terminal;                               /* stdio[*] is a pty slave: become its session leader */
    /* init only: born in a new user namespace (clone). The agent puts it in its cgroup, applies
     * oom_score_adj, rlimits and scheduler to its pid and writes its uid/gid maps, then sends one byte on
     * the start pipe; the child waits for that byte before anything else. */
    bool userns_init;
    bool has_personality;                        /* personality(2) before execve, init and execs */
    unsigned long personality;
    const char *pty_slave_path;                  /* bound onto /dev/console (init with a /dev tmpfs) */
    /* Namespaces to join, in this order. An exec: the container init's (user first). A container's first
     * process: those of ContainerSpec.namespaces.joins other than pid (ipc, uts), joined before its unshare. */
    int ns_fd[CHILD_MAX_NS];
    int ns_type[CHILD_MAX_NS];
    int n_ns;
    int root_fd;                                 /* exec only: the init's root */
    uint64_t trace_t0;                           /* a3s.trace: when the agent got the call */
};

_Noreturn void child_main(struct child_args *a);

/* seccomp.c: builds the filter (before parking) and loads it (the last step before execve). */
int seccomp_prepare(const A3s__Guest__V1__Seccomp *spec, void **ctx, char *err, size_t errlen);
int seccomp_install(void *ctx, char *err, size_t errlen);

/* caps.c */
int cap_from_name(const char *name);
int caps_last_cap(void);   /* cached; call once in the agent so children need no /proc */
int caps_drop_bounding(const A3s__Guest__V1__Capabilities *caps, char *err, size_t errlen);
int caps_apply(const A3s__Guest__V1__Capabilities *caps, char *err, size_t errlen);
/* Whether this process has cap in its effective set now. */
bool caps_effective_has(int cap);
bool caps_has(const A3s__Guest__V1__Capabilities *caps, int cap);

#endif
