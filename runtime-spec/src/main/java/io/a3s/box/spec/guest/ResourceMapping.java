package io.a3s.box.spec.guest;

import io.a3s.box.spec.SpecPath;
import io.a3s.box.spec.oci.BlockIo;
import io.a3s.box.spec.oci.Cpu;
import io.a3s.box.spec.oci.DeviceRule;
import io.a3s.box.spec.oci.HugepageLimit;
import io.a3s.box.spec.oci.Memory;
import io.a3s.box.spec.oci.Resources;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Maps {@code linux.resources} (cgroup v1 vocabulary) to the guest's cgroup v2 files. The guest runs the unified
 * hierarchy only; what exists in v1 alone is dropped with a warning. Per-device block I/O settings name host
 * devices, which the VM does not have.
 */
final class ResourceMapping {
    private static final BigInteger LONG_MAX = BigInteger.valueOf(Long.MAX_VALUE);

    private ResourceMapping() {}

    static GuestCgroup map(Resources r, SpecPath path, Report report) {
        if (r == null) {
            return new GuestCgroup(null, null, null, null, null, null, null, null, null, null, Map.of(), Map.of(),
                    List.of());
        }
        Memory m = r.memory() != null ? r.memory() : new Memory(null, null, null, null, null, null, null, null,
                null, null);
        Cpu c = r.cpu() != null ? r.cpu() : new Cpu(null, null, null, null, null, null, null, null, null, null);
        memoryWarnings(m, path.field("memory"), report);
        cpuWarnings(c, path.field("cpu"), report);
        Long ioWeight = blockIo(r.blockIO(), path.field("blockIO"), report);
        if (r.network() != null && (r.network().classID() != null
                || (r.network().priorities() != null && !r.network().priorities().isEmpty()))) {
            report.warn(path.field("network"), "net_cls and net_prio are cgroup v1 controllers with no cgroup v2"
                    + " counterpart; ignored");
        }
        if (r.rdma() != null && !r.rdma().isEmpty()) {
            report.warn(path.field("rdma"), "the VM has no RDMA devices; ignored");
        }
        return new GuestCgroup(
                setOrNull(m.limit()),
                swapMax(m.limit(), m.swap()),
                setOrNull(m.reservation()),
                setOrNull(c.quota()),
                positiveOrNull(c.period()),
                positiveOrNull(c.burst()),
                cpuWeight(c.shares()),
                c.idle(),
                pidsMax(r),
                ioWeight,
                hugetlb(r.hugepageLimits()),
                r.unified() != null ? r.unified() : Map.of(),
                deviceRules(r.devices()));
    }

    /** cpu.weight from cpu.shares: maps 2..262144 linearly onto 1..10000, as runc and crun do. */
    static Long cpuWeight(BigInteger shares) {
        if (shares == null || shares.signum() == 0 || shares.compareTo(BigInteger.valueOf(262144)) > 0
                || shares.compareTo(BigInteger.TWO) < 0) {
            return null;
        }
        return 1 + ((shares.longValue() - 2) * 9999) / 262142;
    }

    /** io.weight from the blkio weight: maps 10..1000 linearly onto 1..10000. */
    static long ioWeight(long blkioWeight) {
        return 1 + ((blkioWeight - 10) * 9999) / 990;
    }

    /**
     * memory.swap.max from the config's memory+swap figure: swap alone is the difference. -1 (unlimited) stays -1;
     * an unlimited memory with a swap of 0 means unlimited swap too.
     */
    private static Long swapMax(Long limit, Long swap) {
        if (swap == null || swap == 0) {
            return limit != null && limit == -1 && swap != null ? Long.valueOf(-1) : null;
        }
        if (swap == -1) {
            return -1L;
        }
        return limit != null && limit > 0 && swap >= limit ? swap - limit : null;
    }

    private static Long pidsMax(Resources r) {
        if (r.pids() == null || r.pids().limit() == null) {
            return null;
        }
        // runc's reading: a positive limit is the limit; 0 and -1 both mean none.
        return r.pids().limit() > 0 ? r.pids().limit() : -1L;
    }

    private static void memoryWarnings(Memory m, SpecPath path, Report report) {
        if (m.kernel() != null) {
            report.warn(path.field("kernel"), "kernel memory limits do not exist in cgroup v2; ignored");
        }
        if (m.kernelTCP() != null) {
            report.warn(path.field("kernelTCP"), "kernel TCP memory limits do not exist in cgroup v2; ignored");
        }
        if (m.swappiness() != null) {
            report.warn(path.field("swappiness"), "cgroup v2 has no per-cgroup swappiness; ignored");
        }
        if (Boolean.TRUE.equals(m.disableOOMKiller())) {
            report.warn(path.field("disableOOMKiller"), "cgroup v2 cannot disable the OOM killer; ignored");
        }
        if (Boolean.FALSE.equals(m.useHierarchy())) {
            report.warn(path.field("useHierarchy"), "cgroup v2 accounting is always hierarchical; ignored");
        }
    }

    private static void cpuWarnings(Cpu c, SpecPath path, Report report) {
        if (c.realtimeRuntime() != null && c.realtimeRuntime() != 0) {
            report.warn(path.field("realtimeRuntime"), "cgroup v2 has no real-time CPU bandwidth; ignored");
        }
        if (c.realtimePeriod() != null && c.realtimePeriod().signum() != 0) {
            report.warn(path.field("realtimePeriod"), "cgroup v2 has no real-time CPU bandwidth; ignored");
        }
    }

    private static Long blockIo(BlockIo b, SpecPath path, Report report) {
        if (b == null) {
            return null;
        }
        if (b.leafWeight() != null) {
            report.warn(path.field("leafWeight"), "a CFQ setting with no cgroup v2 counterpart; ignored");
        }
        warnHostDevices(b.weightDevice(), path.field("weightDevice"), report);
        warnHostDevices(b.throttleReadBpsDevice(), path.field("throttleReadBpsDevice"), report);
        warnHostDevices(b.throttleWriteBpsDevice(), path.field("throttleWriteBpsDevice"), report);
        warnHostDevices(b.throttleReadIOPSDevice(), path.field("throttleReadIOPSDevice"), report);
        warnHostDevices(b.throttleWriteIOPSDevice(), path.field("throttleWriteIOPSDevice"), report);
        return b.weight() != null && b.weight() >= 10 && b.weight() <= 1000 ? ioWeight(b.weight()) : null;
    }

    private static void warnHostDevices(List<?> devices, SpecPath path, Report report) {
        if (devices != null && !devices.isEmpty()) {
            report.warn(path, "names host block devices; the VM reaches its storage through 9p and has none of"
                    + " them; ignored");
        }
    }

    private static Map<String, Long> hugetlb(List<HugepageLimit> limits) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (HugepageLimit h : ProcessMapping.nonNull(limits)) {
            if (h.pageSize() != null && h.limit() != null && h.limit().signum() >= 0) {
                // A limit beyond what a long holds is beyond any memory: "max".
                out.put(h.pageSize(), h.limit().compareTo(LONG_MAX) > 0 ? -1L : h.limit().longValue());
            }
        }
        return out;
    }

    /**
     * The devices every Linux program expects to open, allowed after the spec's own rules as runc and crun
     * do: containerd's CRI plugin sends only "deny all" and relies on the runtime for these, so without
     * them a Kubernetes container cannot open /dev/null. mknod of any node stays allowed (runc's first two).
     */
    static final List<GuestDeviceRule> DEFAULT_ALLOWED_DEVICES = List.of(
            new GuestDeviceRule(true, "c", null, null, "m"),
            new GuestDeviceRule(true, "b", null, null, "m"),
            new GuestDeviceRule(true, "c", 1L, 3L, "rwm"),     // null
            new GuestDeviceRule(true, "c", 1L, 8L, "rwm"),     // random
            new GuestDeviceRule(true, "c", 1L, 7L, "rwm"),     // full
            new GuestDeviceRule(true, "c", 5L, 0L, "rwm"),     // tty
            new GuestDeviceRule(true, "c", 1L, 5L, "rwm"),     // zero
            new GuestDeviceRule(true, "c", 1L, 9L, "rwm"),     // urandom
            new GuestDeviceRule(true, "c", 136L, null, "rwm"), // pts/*
            new GuestDeviceRule(true, "c", 5L, 2L, "rwm"),     // ptmx
            new GuestDeviceRule(true, "c", 10L, 200L, "rwm")); // net/tun

    /** The spec's rules in order, then the defaults; no rules at all leaves the devices unfiltered. */
    private static List<GuestDeviceRule> deviceRules(List<DeviceRule> rules) {
        List<GuestDeviceRule> out = new ArrayList<>();
        for (DeviceRule d : ProcessMapping.nonNull(rules)) {
            out.add(new GuestDeviceRule(Boolean.TRUE.equals(d.allow()), d.type() != null ? d.type() : "a",
                    anyIfNegative(d.major()), anyIfNegative(d.minor()),
                    d.access() != null && !d.access().isEmpty() ? d.access() : "rwm"));
        }
        if (!out.isEmpty()) {
            out.addAll(DEFAULT_ALLOWED_DEVICES);
        }
        return out;
    }

    /** In device rules -1 is the spec's way of writing "any", like an absent number. */
    private static Long anyIfNegative(Long n) {
        return n == null || n < 0 ? null : n;
    }

    /** 0 leaves a setting at its default in the runtime-spec (Go zero value); anything else is kept. */
    private static Long setOrNull(Long value) {
        return value == null || value == 0 ? null : value;
    }

    private static Long positiveOrNull(BigInteger value) {
        return value == null || value.signum() <= 0 || value.compareTo(LONG_MAX) > 0 ? null : value.longValue();
    }
}
