package io.a3s.box.shim.daemon;

import io.a3s.box.guest.v1.ProcessSpec;
import io.a3s.box.guest.v1.Rlimit;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InheritedRlimitsTest {
    /** /proc/PID/limits of a containerd started by systemd with LimitNOFILE=infinity on a host that raised nr_open. */
    static final String LIMITS = """
            Limit                     Soft Limit           Hard Limit           Units    \s
            Max cpu time              unlimited            unlimited            seconds  \s
            Max file size             unlimited            unlimited            bytes    \s
            Max data size             unlimited            unlimited            bytes    \s
            Max stack size            8388608              unlimited            bytes    \s
            Max core file size        unlimited            unlimited            bytes    \s
            Max resident set          unlimited            unlimited            bytes    \s
            Max processes             96367                96367                processes\s
            Max open files            1073741816           1073741816           files    \s
            Max locked memory         8388608              8388608              bytes    \s
            Max address space         unlimited            unlimited            bytes    \s
            Max file locks            unlimited            unlimited            locks    \s
            Max pending signals       96367                96367                signals  \s
            Max msgqueue size         819200               819200               bytes    \s
            Max nice priority         0                    0                    \s
            Max realtime priority     0                    0                    \s
            Max realtime timeout      unlimited            unlimited            us       \s
            """;

    private static Map<String, Rlimit> byType(InheritedRlimits r) {
        return r.limits().stream().collect(Collectors.toMap(Rlimit::getType, l -> l));
    }

    @Test
    void everyLimitOfProcIsReadWithUnlimitedAsInfinity() {
        Map<String, Rlimit> m = byType(InheritedRlimits.parse(LIMITS, null));
        assertEquals(16, m.size(), m.keySet().toString());
        assertEquals(96367, m.get("RLIMIT_NPROC").getSoft());
        assertEquals(96367, m.get("RLIMIT_SIGPENDING").getHard());
        assertEquals(8388608, m.get("RLIMIT_STACK").getSoft());
        assertEquals(InheritedRlimits.INFINITY, m.get("RLIMIT_STACK").getHard());
        assertEquals(InheritedRlimits.INFINITY, m.get("RLIMIT_RTTIME").getSoft());
        assertEquals(0, m.get("RLIMIT_NICE").getHard());
    }

    @Test
    void openFilesStayWithinTheGuestsNrOpenAndTakeTheLaunchersSoftLimit() {
        Rlimit nofile = byType(InheritedRlimits.parse(LIMITS, null)).get("RLIMIT_NOFILE");
        assertEquals(InheritedRlimits.GUEST_NR_OPEN, nofile.getSoft());
        assertEquals(InheritedRlimits.GUEST_NR_OPEN, nofile.getHard());

        String systemd = LIMITS.replace("1073741816           1073741816", "524288               524288    ");
        nofile = byType(InheritedRlimits.parse(systemd, "1024")).get("RLIMIT_NOFILE");
        assertEquals(1024, nofile.getSoft(), "containerd's own soft limit, before the JVM raised it");
        assertEquals(524288, nofile.getHard());

        nofile = byType(InheritedRlimits.parse(systemd, "unlimited")).get("RLIMIT_NOFILE");
        assertEquals(524288, nofile.getSoft(), "never above the hard limit");
    }

    @Test
    void onlyTheResourcesTheSpecLeavesOutAreAdded() {
        ProcessSpec spec = ProcessSpec.newBuilder().addArgs("true")
                .addRlimits(Rlimit.newBuilder().setType("RLIMIT_NOFILE").setSoft(1024).setHard(1024)).build();
        ProcessSpec out = InheritedRlimits.parse(LIMITS, null).applyTo(spec);
        assertEquals(16, out.getRlimitsCount());
        assertEquals(1, out.getRlimitsList().stream().filter(r -> r.getType().equals("RLIMIT_NOFILE")).count());
        assertEquals(1024, out.getRlimits(0).getSoft(), "the spec's own, first and unchanged");
        assertTrue(out.getRlimitsList().stream().anyMatch(r -> r.getType().equals("RLIMIT_NPROC")));
        assertEquals(spec, InheritedRlimits.NONE.applyTo(spec));
    }

    @Test
    void thisProcessesLimitsAreReadable() {
        assertEquals(16, InheritedRlimits.ofThisProcess().limits().size());
    }
}
