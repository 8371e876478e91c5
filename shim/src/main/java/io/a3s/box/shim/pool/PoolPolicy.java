package io.a3s.box.shim.pool;

import io.a3s.box.shim.config.ShimConfig;
import io.a3s.box.shim.vm.VmConfig;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * How big the warm pool is and how it behaves. Immutable; bad values are refused with the key and the
 * allowed range, as configuration errors must be.
 *
 * @param idleTargets     per pool key, how many IDLE VMs to keep booted ahead of demand
 * @param maxVms          cap on every VM the pool owns at once: idle, booting, leased and being destroyed
 * @param maxConcurrentBoots boots in flight at once (each boot is CPU-heavy under TCG)
 * @param idleTtl         an idle VM older than this is destroyed (the refill replaces it with a fresh one)
 * @param defaultLeaseWait how long a lease may wait for a slot when the pool is at its cap
 */
public record PoolPolicy(Map<VmConfig, Integer> idleTargets, int maxVms, int maxConcurrentBoots,
                         Duration idleTtl, Duration defaultLeaseWait) {
    public static final int MAX_VMS_LIMIT = 4096;

    /**
     * The policy of the {@code [pool]} section: {@code pool.size} idle VMs of the {@code [vm]} section's VM (the
     * key the shim asks for when a container does not need a bigger VM), and the cap, TTL and waits.
     */
    public static PoolPolicy of(ShimConfig config) {
        VmConfig vm = PoolKeys.normalize(config.vm().toVmConfig());
        ShimConfig.Pool p = config.pool();
        return new PoolPolicy(p.size() > 0 ? Map.of(vm, p.size()) : Map.of(), p.maxVms(),
                Math.min(p.maxConcurrentBoots(), p.maxVms()), p.idleTtl(), p.leaseWait());
    }

    public PoolPolicy {
        idleTargets = Map.copyOf(Objects.requireNonNull(idleTargets, "idleTargets"));
        idleTargets.forEach((k, v) -> {
            if (v < 0 || v > MAX_VMS_LIMIT) {
                throw new IllegalArgumentException("pool.size: " + v + " is out of range 0.." + MAX_VMS_LIMIT);
            }
        });
        if (maxVms < 1 || maxVms > MAX_VMS_LIMIT) {
            throw new IllegalArgumentException("pool.max_vms: " + maxVms + " is out of range 1.." + MAX_VMS_LIMIT);
        }
        if (maxConcurrentBoots < 1 || maxConcurrentBoots > maxVms) {
            throw new IllegalArgumentException("pool.max_concurrent_boots: " + maxConcurrentBoots
                    + " is out of range 1.." + maxVms);
        }
        if (idleTtl.isNegative() || idleTtl.isZero()) {
            throw new IllegalArgumentException("pool.idle_ttl: must be positive, got " + idleTtl);
        }
        if (defaultLeaseWait.isNegative()) {
            throw new IllegalArgumentException("pool.lease_wait: must not be negative, got " + defaultLeaseWait);
        }
    }
}
