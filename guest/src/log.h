/* Leveled logging for the agent. One line per call, written with a single write(2) so lines from the agent
 * and from a child (which keeps the log fd until execve) do not interleave. The sink is stderr (the console
 * when PID 1) or /dev/kmsg; see log_open(). */
#ifndef A3S_LOG_H
#define A3S_LOG_H

#include <errno.h>
#include <string.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

extern int log_level;
extern int log_fd;       /* CLOEXEC; -1 until log_open */
extern int log_kmsg;     /* non-zero: log_fd is /dev/kmsg, lines get a <prio> prefix */

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes log_fd a private CLOEXEC descriptor of `path` (or of stderr when path is NULL). */
void log_open(const char *path, int kmsg);

/* a3s.trace on the kernel command line: the steps of a container's set-up, timed, one console line per side
 * (the agent's and the child's) once the process is parked. For finding where a create's time goes (docs/vm.md). */
#include <stdbool.h>
#include <stdint.h>
#define TRACE_MAX 32
struct trace {
    int n;
    const char *name[TRACE_MAX];
    uint64_t ns[TRACE_MAX];
};
extern bool trace_enabled;
void trace_mark(struct trace *t, const char *name);
/* One line: `who` of container `id`, each step in ms since t0_ns (CLOCK_MONOTONIC). */
void trace_print(const struct trace *t, const char *who, const char *id, uint64_t t0_ns);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  do { if (log_level >= LOG_LVL_INFO) log_msg(LOG_LVL_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_level >= LOG_LVL_DEBUG) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

#endif
