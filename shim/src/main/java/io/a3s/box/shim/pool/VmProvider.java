package io.a3s.box.shim.pool;

import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.ttrpc.StatusException;

/**
 * Where the shim gets VMs: never by booting one itself on the request path. Implemented by the warm pool
 * (in process) and by the client of the host's pool daemon.
 */
public interface VmProvider {
    /** A started, IDLE VM of {@code key}, now owned by {@code holder}. */
    Lease lease(VmConfig key, String holder) throws StatusException;

    /** Gives a leased VM back; it is destroyed, never reused. Idempotent. */
    void release(Lease lease);
}
