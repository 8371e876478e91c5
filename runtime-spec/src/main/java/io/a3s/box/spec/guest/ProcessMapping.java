package io.a3s.box.spec.guest;

import io.a3s.box.spec.SpecPath;
import io.a3s.box.spec.oci.Capabilities;
import io.a3s.box.spec.oci.IoPriority;
import io.a3s.box.spec.oci.Process;
import io.a3s.box.spec.oci.Rlimit;
import io.a3s.box.spec.oci.Scheduler;
import io.a3s.box.spec.oci.Seccomp;
import io.a3s.box.spec.oci.SeccompArg;
import io.a3s.box.spec.oci.Syscall;
import io.a3s.box.spec.oci.User;
import io.a3s.box.spec.validate.LinuxNames;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Maps {@code process} (or an exec's process) and {@code linux.seccomp}. Runs on specs that may have failed
 * validation (so that refusals are reported together with validation errors): it never assumes a field is set or
 * in range, it only avoids producing anything from such a field.
 */
final class ProcessMapping {
    private static final Set<String> KNOWN_CAPABILITIES = Set.copyOf(LinuxNames.CAPABILITIES);

    private ProcessMapping() {}

    static GuestProcessSpec map(Process p, SpecPath path, GuestSeccomp seccomp, Report report) {
        User user = p.user();
        if (user != null && user.username() != null && !user.username().isEmpty()) {
            report.warn(path.field("user").field("username"), "a Windows field; ignored");
        }
        if (p.commandLine() != null && !p.commandLine().isEmpty()) {
            report.warn(path.field("commandLine"), "a Windows field; ignored (args is used)");
        }
        if (p.apparmorProfile() != null && !p.apparmorProfile().isEmpty()) {
            report.warn(path.field("apparmorProfile"),
                    "the VM's kernel loads no AppArmor policy; the VM boundary confines the container instead");
        }
        if (p.selinuxLabel() != null && !p.selinuxLabel().isEmpty()) {
            report.warn(path.field("selinuxLabel"),
                    "the VM's kernel loads no SELinux policy; the VM boundary confines the container instead");
        }
        boolean terminal = Boolean.TRUE.equals(p.terminal());
        return new GuestProcessSpec(
                nonNull(p.args()),
                nonNull(p.env()),
                p.cwd(),
                user != null && user.uid() != null ? user.uid() : 0,
                user != null && user.gid() != null ? user.gid() : 0,
                user != null ? nonNull(user.additionalGids()) : List.of(),
                user != null ? toInt(user.umask()) : null,
                terminal,
                p.consoleSize() != null ? toInt(p.consoleSize().width()) : null,
                p.consoleSize() != null ? toInt(p.consoleSize().height()) : null,
                rlimits(p.rlimits()),
                capabilities(p.capabilities(), path.field("capabilities"), report),
                Boolean.TRUE.equals(p.noNewPrivileges()),
                toInt(p.oomScoreAdj()),
                seccomp,
                scheduler(p.scheduler()),
                ioPriority(p.ioPriority()));
    }

    static GuestSeccomp seccomp(Seccomp s, SpecPath path, Report report) {
        if (s.listenerPath() != null && !s.listenerPath().isEmpty()) {
            report.refuse(path.field("listenerPath"), "a seccomp agent on the host cannot receive notifications"
                    + " from a filter inside the VM (SCMP_ACT_NOTIFY is not supported)");
        } else if ("SCMP_ACT_NOTIFY".equals(s.defaultAction())) {
            report.refuse(path.field("defaultAction"), "SCMP_ACT_NOTIFY needs a seccomp agent, which cannot reach"
                    + " a filter inside the VM");
        }
        List<GuestSeccomp.Rule> rules = new ArrayList<>();
        List<Syscall> syscalls = nonNull(s.syscalls());
        for (int i = 0; i < syscalls.size(); i++) {
            Syscall sc = syscalls.get(i);
            if ("SCMP_ACT_NOTIFY".equals(sc.action()) && s.listenerPath() == null) {
                report.refuse(path.field("syscalls").index(i).field("action"), "SCMP_ACT_NOTIFY needs a seccomp"
                        + " agent, which cannot reach a filter inside the VM");
            }
            List<GuestSeccomp.Arg> args = new ArrayList<>();
            for (SeccompArg a : nonNull(sc.args())) {
                if (a.index() != null && a.value() != null) {
                    args.add(new GuestSeccomp.Arg(a.index().intValue(), a.value().longValue(),
                            a.valueTwo() != null ? a.valueTwo().longValue() : 0, a.op()));
                }
            }
            rules.add(new GuestSeccomp.Rule(nonNull(sc.names()), sc.action(), sc.errnoRet(), args));
        }
        return new GuestSeccomp(s.defaultAction(), s.defaultErrnoRet(), nonNull(s.architectures()),
                nonNull(s.flags()), rules);
    }

    private static List<GuestRlimit> rlimits(List<Rlimit> rlimits) {
        List<GuestRlimit> out = new ArrayList<>();
        for (Rlimit r : nonNull(rlimits)) {
            if (r.type() != null && r.soft() != null && r.hard() != null) {
                // longValue keeps the low 64 bits: the unsigned encoding of rlim_t (RLIM_INFINITY becomes -1).
                out.add(new GuestRlimit(r.type(), r.soft().longValue(), r.hard().longValue()));
            }
        }
        return out;
    }

    private static GuestCapabilities capabilities(Capabilities c, SpecPath path, Report report) {
        if (c == null) {
            return null;
        }
        return new GuestCapabilities(
                capabilitySet(c.bounding(), path.field("bounding"), report),
                capabilitySet(c.effective(), path.field("effective"), report),
                capabilitySet(c.inheritable(), path.field("inheritable"), report),
                capabilitySet(c.permitted(), path.field("permitted"), report),
                capabilitySet(c.ambient(), path.field("ambient"), report));
    }

    /**
     * The runtime-spec asks for a warning, not an error, on a capability the kernel does not know: a config written
     * for a newer kernel must still run.
     */
    private static List<String> capabilitySet(List<String> names, SpecPath path, Report report) {
        Set<String> set = new LinkedHashSet<>();
        List<String> given = nonNull(names);
        for (int i = 0; i < given.size(); i++) {
            if (KNOWN_CAPABILITIES.contains(given.get(i))) {
                set.add(given.get(i));
            } else {
                report.warn(path.index(i), '"' + given.get(i) + "\" is not a capability of the VM's kernel; dropped");
            }
        }
        return List.copyOf(set);
    }

    private static GuestScheduler scheduler(Scheduler s) {
        if (s == null || s.policy() == null) {
            return null;
        }
        return new GuestScheduler(s.policy(), intOr0(s.nice()), intOr0(s.priority()), nonNull(s.flags()),
                longOr0(s.runtime()), longOr0(s.deadline()), longOr0(s.period()));
    }

    private static GuestIoPriority ioPriority(IoPriority io) {
        if (io == null || io.ioClass() == null) {
            return null;
        }
        return new GuestIoPriority(io.ioClass(), intOr0(io.priority()));
    }

    /** Lists without their null elements (validation has reported those); never null. */
    static <T> List<T> nonNull(List<T> list) {
        return list == null ? List.of() : list.stream().filter(Objects::nonNull).toList();
    }

    /** Validated fields fit an int; unvalidated ones are not used (the mapping fails), so clamping is harmless. */
    private static Integer toInt(Long value) {
        return value == null ? null : (int) Math.clamp(value, Integer.MIN_VALUE, Integer.MAX_VALUE);
    }

    private static int intOr0(Long value) {
        return value == null ? 0 : toInt(value);
    }

    private static long longOr0(BigInteger value) {
        return value == null ? 0 : value.longValue();
    }
}
