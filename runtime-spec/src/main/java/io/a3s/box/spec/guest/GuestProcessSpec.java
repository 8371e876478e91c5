package io.a3s.box.spec.guest;

import java.util.List;

/**
 * A process the agent starts in a container: the container's first process, or an exec. Everything here is
 * applied in the child between fork and execve, in the order the agent documents.
 *
 * @param args            argv; {@code args[0]} is looked up in the container's PATH as execvp does
 * @param env             the whole environment, {@code KEY=VALUE}
 * @param cwd             absolute, inside the container; created if missing, as runc does
 * @param uid             unsigned 32-bit
 * @param gid             unsigned 32-bit
 * @param additionalGids  setgroups(2) list
 * @param umask           or null to keep the agent's (0022)
 * @param terminal        allocate a pty; stdin/stdout/stderr are its slave side
 * @param consoleWidth    initial pty columns, or null
 * @param consoleHeight   initial pty rows, or null
 * @param capabilities    or null when the config has none, which keeps the capabilities a root process has
 *                        (runc's reading of an absent {@code process.capabilities})
 * @param noNewPrivileges prctl(PR_SET_NO_NEW_PRIVS)
 * @param oomScoreAdj     written to /proc/self/oom_score_adj, or null
 * @param seccomp         the filter, loaded last before execve, or null for none
 * @param scheduler       or null
 * @param ioPriority      or null
 */
public record GuestProcessSpec(
        List<String> args,
        List<String> env,
        String cwd,
        long uid,
        long gid,
        List<Long> additionalGids,
        Integer umask,
        boolean terminal,
        Integer consoleWidth,
        Integer consoleHeight,
        List<GuestRlimit> rlimits,
        GuestCapabilities capabilities,
        boolean noNewPrivileges,
        Integer oomScoreAdj,
        GuestSeccomp seccomp,
        GuestScheduler scheduler,
        GuestIoPriority ioPriority) {
    public GuestProcessSpec {
        args = List.copyOf(args);
        env = List.copyOf(env);
        additionalGids = List.copyOf(additionalGids);
        rlimits = List.copyOf(rlimits);
    }
}
