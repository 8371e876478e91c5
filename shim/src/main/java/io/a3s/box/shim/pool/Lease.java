package io.a3s.box.shim.pool;

import io.a3s.box.shim.vm.VmInstance;

import java.time.Instant;

/**
 * A VM leased out of the pool: it belongs to the holder until {@link WarmPool#release}. A leased VM is
 * never returned to the pool (no state may leak between tenants): release destroys it.
 *
 * @param warm whether an IDLE VM served the lease (false: it was booted on the request path)
 */
public record Lease(VmInstance vm, String holder, Instant leasedAt, boolean warm) {
}
