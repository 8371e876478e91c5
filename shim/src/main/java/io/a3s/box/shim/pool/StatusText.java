package io.a3s.box.shim.pool;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.a3s.box.shim.pool.v1.Holding;
import io.a3s.box.shim.pool.v1.KeyStatus;
import io.a3s.box.shim.pool.v1.StatusResponse;
import io.a3s.box.shim.pool.v1.VmKey;

import java.time.Duration;
import java.time.Instant;
import java.util.Locale;

/** {@code a3s-box pool status}, as text (one line per key) and as JSON. */
final class StatusText {
    private StatusText() {
    }

    /**
     * <pre>
     * pool pid 4242, up 3m12s, /run/a3s-box: 3 of 16 VMs, 0 waiting
     * 1 vCPU 256 MiB tcg  idle 2/2  booting 0  leased 1  hits 14  misses 1  boot p50 3.1s p95 3.6s
     * </pre>
     */
    static String text(StatusResponse s, Instant now) {
        StringBuilder b = new StringBuilder();
        Duration up = Duration.between(Instant.ofEpochMilli(s.getStartedAtMs()), now);
        b.append("pool pid ").append(s.getPid()).append(", up ").append(human(up)).append(", ")
                .append(s.getStateRoot()).append(": ").append(s.getTotal()).append(" of ").append(s.getMaxVms())
                .append(" VMs, ").append(s.getWaiters()).append(" waiting");
        if (s.getAdopted() > 0 || s.getReconciled() > 0) {
            b.append(" (start-up: adopted ").append(s.getAdopted()).append(", removed ")
                    .append(s.getReconciled()).append(')');
        }
        b.append('\n');
        if (s.getKeysCount() == 0) {
            b.append("no VM keys yet (pool.size = 0 and nothing leased)\n");
        }
        for (KeyStatus k : s.getKeysList()) {
            b.append(PoolKeys.describe(k.getKey(), k.getAccelerator()))
                    .append("  idle ").append(k.getIdle()).append('/').append(k.getTarget())
                    .append("  booting ").append(k.getBooting())
                    .append("  leased ").append(k.getLeased());
            if (k.getDestroying() > 0) {
                b.append("  destroying ").append(k.getDestroying());
            }
            b.append("  hits ").append(k.getHits()).append("  misses ").append(k.getMisses());
            if (k.getBootFailures() > 0) {
                b.append("  boot failures ").append(k.getBootFailures());
            }
            if (k.getBoots() > 0) {
                b.append("  boot p50 ").append(seconds(k.getBootP50Ms())).append(" p95 ")
                        .append(seconds(k.getBootP95Ms()));
            }
            b.append('\n');
        }
        return b.toString();
    }

    static String json(StatusResponse s) {
        ObjectMapper m = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = m.createObjectNode();
        root.put("pid", s.getPid());
        root.put("version", s.getVersion());
        root.put("state_root", s.getStateRoot());
        root.put("started_at", Instant.ofEpochMilli(s.getStartedAtMs()).toString());
        root.put("max_vms", s.getMaxVms());
        root.put("total", s.getTotal());
        root.put("waiters", s.getWaiters());
        root.put("idle_ttl_ms", s.getIdleTtlMs());
        root.put("adopted_at_start", s.getAdopted());
        root.put("reconciled_at_start", s.getReconciled());
        ArrayNode keys = root.putArray("keys");
        for (KeyStatus k : s.getKeysList()) {
            ObjectNode o = keys.addObject();
            VmKey key = k.getKey();
            o.put("vcpus", key.getVcpus());
            o.put("memory_mib", key.getMemoryMib());
            o.put("accelerator", k.getAccelerator());
            o.put("requested_accelerator", key.getAccelerator());
            o.put("kernel", key.getKernel());
            o.put("initrd", key.getInitrd());
            ArrayNode extra = o.putArray("extra_kernel_args");
            key.getExtraKernelArgsList().forEach(extra::add);
            o.put("target", k.getTarget());
            o.put("idle", k.getIdle());
            o.put("booting", k.getBooting());
            o.put("leased", k.getLeased());
            o.put("destroying", k.getDestroying());
            o.put("hits", k.getHits());
            o.put("misses", k.getMisses());
            o.put("boot_failures", k.getBootFailures());
            o.put("boots", k.getBoots());
            if (k.getBoots() > 0) {
                o.put("boot_p50_ms", k.getBootP50Ms());
                o.put("boot_p95_ms", k.getBootP95Ms());
                o.put("boot_max_ms", k.getBootMaxMs());
            }
        }
        ArrayNode leases = root.putArray("leases");
        for (Holding h : s.getLeasesList()) {
            ObjectNode o = leases.addObject();
            o.put("vm_id", h.getVmId());
            o.put("holder_pid", h.getHolderPid());
            o.put("holder", h.getHolder());
            o.put("leased_at", Instant.ofEpochMilli(h.getLeasedAtMs()).toString());
            o.put("warm", h.getWarm());
        }
        try {
            return m.writeValueAsString(root) + "\n";
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code 3.1s}, {@code 850ms}. */
    static String seconds(long millis) {
        return millis < 1000 ? millis + "ms" : String.format(Locale.ROOT, "%.1fs", millis / 1000.0);
    }

    static String human(Duration d) {
        long s = Math.max(0, d.toSeconds());
        if (s < 60) {
            return s + "s";
        }
        if (s < 3600) {
            return (s / 60) + "m" + (s % 60) + "s";
        }
        return (s / 3600) + "h" + (s % 3600 / 60) + "m";
    }
}
