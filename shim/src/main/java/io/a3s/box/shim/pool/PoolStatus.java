package io.a3s.box.shim.pool;

import io.a3s.box.shim.vm.VmConfig;

import java.time.Duration;
import java.util.List;

/** A consistent snapshot of the pool, for {@code a3s-box pool status}. */
public record PoolStatus(int maxVms, int total, int waiters, List<KeyStatus> keys) {

    /**
     * @param hits       leases served by an IDLE VM
     * @param misses     leases that had to boot a VM on the request path (a cold boot)
     * @param bootFailures boots that failed
     * @param bootP50    median wall time of the recent successful boots (null before the first)
     */
    public record KeyStatus(VmConfig key, int target, int idle, int booting, int leased, int destroying,
                            long hits, long misses, long bootFailures, int boots, Duration bootP50,
                            Duration bootP95, Duration bootMax) {
    }
}
