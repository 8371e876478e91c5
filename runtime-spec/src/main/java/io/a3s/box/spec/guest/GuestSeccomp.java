package io.a3s.box.spec.guest;

import java.util.List;

/**
 * A seccomp filter in the terms the agent hands to libseccomp: actions, operators, architectures and flags keep
 * their OCI (= libseccomp) names, {@code SCMP_ACT_*}, {@code SCMP_CMP_*}, {@code SCMP_ARCH_*},
 * {@code SECCOMP_FILTER_FLAG_*}. Rules stay in config order; libseccomp resolves syscall names for the guest
 * kernel and skips names it does not know, as runc does.
 *
 * @param defaultErrnoRet errno for a default action of {@code SCMP_ACT_ERRNO}/{@code SCMP_ACT_TRACE}, or null for
 *                        the libseccomp default (EPERM)
 */
public record GuestSeccomp(
        String defaultAction,
        Long defaultErrnoRet,
        List<String> architectures,
        List<String> flags,
        List<Rule> syscalls) {
    public GuestSeccomp {
        architectures = List.copyOf(architectures);
        flags = List.copyOf(flags);
        syscalls = List.copyOf(syscalls);
    }

    /**
     * One rule: the syscalls it names, what happens when they are called, and optional argument conditions (all
     * must hold).
     *
     * @param errnoRet errno for {@code SCMP_ACT_ERRNO}/{@code SCMP_ACT_TRACE}, or null for EPERM
     */
    public record Rule(List<String> names, String action, Long errnoRet, List<Arg> args) {
        public Rule {
            names = List.copyOf(names);
            args = List.copyOf(args);
        }
    }

    /**
     * A condition on argument {@code index} (0-5). {@code value} and {@code valueTwo} are unsigned 64-bit
     * ({@code scmp_datum_t}); {@code valueTwo} is the mask's operand for {@code SCMP_CMP_MASKED_EQ}.
     */
    public record Arg(int index, long value, long valueTwo, String op) {}
}
