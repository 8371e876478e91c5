package io.a3s.box.shim.daemon;

import io.a3s.box.shim.pool.Lease;
import io.a3s.box.shim.pool.VmProvider;

import java.util.HashMap;
import java.util.Map;

/**
 * A leased VM and the containers in it: one, or the containers of a Kubernetes pod. It goes back to the pool
 * (which destroys it) when the last of them leaves. Thread-safe.
 */
final class SharedVm {
    private final Lease lease;
    private final VmProvider vms;
    private final String podId;
    private final VmExports exports;
    /** Guest pid of each container's first process: what a pod container may name to join namespaces. */
    private final Map<Integer, String> inits = new HashMap<>();
    private int users = 1;
    /** The pod's port forwarding, if its network was wired (closed with the VM). */
    private AutoCloseable portForward;
    /** The host network namespace wired into the VM, or null: where a pod member's host hooks look. */
    private String netnsPath;

    /** @param podId the pod's sandbox id, or null for a lone container */
    SharedVm(Lease lease, VmProvider vms, String podId) {
        this.lease = lease;
        this.vms = vms;
        this.podId = podId;
        this.exports = new VmExports(lease.vm());
    }

    Lease lease() {
        return lease;
    }

    VmExports exports() {
        return exports;
    }

    /** Whether this is a pod's VM (false: a lone container's, which goes with it). */
    boolean isPod() {
        return podId != null;
    }

    String podId() {
        return podId;
    }

    synchronized void wiredTo(String path) {
        netnsPath = path;
    }

    synchronized String netnsPath() {
        return netnsPath;
    }

    /** One more container; false once the VM went back (the last container left). */
    synchronized boolean join() {
        if (users == 0) {
            return false;
        }
        users++;
        return true;
    }

    synchronized void addInit(int pid, String containerId) {
        inits.put(pid, containerId);
    }

    /** The container whose first process has this pid (as reported, {@code TaskPids}), or null. */
    synchronized String containerOf(int pid) {
        return inits.get(pid);
    }

    synchronized void removeInit(int pid) {
        inits.remove(pid);
    }

    synchronized void forwardPorts(AutoCloseable forward) {
        portForward = forward;
    }

    /** One container fewer; the last one gives the VM back. Idempotent per container only through its caller. */
    void leave() {
        AutoCloseable forward;
        synchronized (this) {
            if (users == 0 || --users > 0) {
                return;
            }
            forward = portForward;
            portForward = null;
        }
        if (forward != null) {
            try {
                forward.close();
            } catch (Exception e) {
                // LoopbackTrap.close never throws; nothing else is set here
            }
        }
        vms.release(lease);
    }
}
