package io.a3s.box.shim.daemon;

import io.a3s.box.guest.v1.ProcessSpec;
import io.a3s.box.guest.v1.Rlimit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The rlimits a container process gets for the resources its spec leaves out. runc's container inherits them from
 * its shim, and so from containerd (containerd.service's {@code LimitNOFILE}, {@code LimitNPROC}, ...); in the VM the
 * agent's would apply instead: 1024 open files, and a process limit scaled to the VM's memory (781 in a 256 MiB VM),
 * which Kubernetes pods, whose specs set no rlimits, would all get. So the daemon's own limits, which it inherited
 * from containerd like runc's shim, are added to every process spec sent to the guest.
 *
 * <p>One exception, the soft open-files limit: the JVM raises it to the hard one at start-up ({@code MaxFDLimit})
 * where Go's runtime puts the original back for the processes it starts; the launcher passes the original in
 * {@value #NOFILE_SOFT_ENV}. And no open-files limit above the guest kernel's {@code fs.nr_open} (its default,
 * {@value #GUEST_NR_OPEN}), which setrlimit would refuse.
 */
final class InheritedRlimits {
    private static final Logger log = LoggerFactory.getLogger(InheritedRlimits.class);
    /** Set by the launcher ({@code ulimit -Sn}) before the JVM changes it. */
    static final String NOFILE_SOFT_ENV = "A3S_NOFILE_SOFT";
    static final long GUEST_NR_OPEN = 1_048_576;
    /** RLIM_INFINITY as the guest protocol carries it (uint64 2^64-1 in a Java long). */
    static final long INFINITY = -1;

    /** /proc/PID/limits' names, as the kernel prints them (fs/proc/base.c). */
    private static final Map<String, String> NAMES = Map.ofEntries(
            Map.entry("Max cpu time", "RLIMIT_CPU"), Map.entry("Max file size", "RLIMIT_FSIZE"),
            Map.entry("Max data size", "RLIMIT_DATA"), Map.entry("Max stack size", "RLIMIT_STACK"),
            Map.entry("Max core file size", "RLIMIT_CORE"), Map.entry("Max resident set", "RLIMIT_RSS"),
            Map.entry("Max processes", "RLIMIT_NPROC"), Map.entry("Max open files", "RLIMIT_NOFILE"),
            Map.entry("Max locked memory", "RLIMIT_MEMLOCK"), Map.entry("Max address space", "RLIMIT_AS"),
            Map.entry("Max file locks", "RLIMIT_LOCKS"), Map.entry("Max pending signals", "RLIMIT_SIGPENDING"),
            Map.entry("Max msgqueue size", "RLIMIT_MSGQUEUE"), Map.entry("Max nice priority", "RLIMIT_NICE"),
            Map.entry("Max realtime priority", "RLIMIT_RTPRIO"), Map.entry("Max realtime timeout", "RLIMIT_RTTIME"));

    static final InheritedRlimits NONE = new InheritedRlimits(List.of());

    private final List<Rlimit> limits;

    InheritedRlimits(List<Rlimit> limits) {
        this.limits = List.copyOf(limits);
    }

    /** This process's limits; none (the agent's apply) when they cannot be read, with a warning. */
    static InheritedRlimits ofThisProcess() {
        try {
            return parse(Files.readString(Path.of("/proc/self/limits")), System.getenv(NOFILE_SOFT_ENV));
        } catch (IOException | RuntimeException e) {
            log.warn("containers get the VM's default rlimits, not containerd's: reading /proc/self/limits and ${}: {}",
                    NOFILE_SOFT_ENV, e.toString());
            return NONE;
        }
    }

    /** From the text of /proc/PID/limits; {@code nofileSoft}: the original soft open-files limit, or null. */
    static InheritedRlimits parse(String procLimits, String nofileSoft) {
        List<Rlimit> out = new ArrayList<>();
        for (String line : procLimits.lines().toList()) {
            // "Max open files            1024                 4096                 files     "
            String name = NAMES.keySet().stream().filter(line::startsWith).findFirst().orElse(null);
            if (name == null) {
                continue;
            }
            String[] f = line.substring(name.length()).trim().split("\\s+");
            if (f.length < 2) {
                continue;
            }
            String type = NAMES.get(name);
            long soft = value(f[0]);
            long hard = value(f[1]);
            if (type.equals("RLIMIT_NOFILE")) {
                if (nofileSoft != null && !nofileSoft.isBlank()) {
                    soft = value(nofileSoft.strip());
                }
                hard = atMost(hard, GUEST_NR_OPEN);
                soft = atMost(soft, hard);
            }
            out.add(Rlimit.newBuilder().setType(type).setSoft(soft).setHard(hard).build());
        }
        return new InheritedRlimits(out);
    }

    private static long value(String s) {
        return s.equals("unlimited") ? INFINITY : Long.parseUnsignedLong(s);
    }

    /** The smaller, as uint64 (INFINITY is the largest). */
    private static long atMost(long v, long max) {
        return Long.compareUnsigned(v, max) > 0 ? max : v;
    }

    /** {@code p} with an rlimit added for every resource it does not set. */
    ProcessSpec applyTo(ProcessSpec p) {
        Set<String> set = new HashSet<>();
        p.getRlimitsList().forEach(r -> set.add(r.getType()));
        ProcessSpec.Builder b = p.toBuilder();
        for (Rlimit r : limits) {
            if (!set.contains(r.getType())) {
                b.addRlimits(r);
            }
        }
        return b.build();
    }

    List<Rlimit> limits() {
        return limits;
    }
}
