package io.a3s.box.shim.task;

import io.a3s.box.containerd.task.CreateTaskRequest;
import io.a3s.box.ttrpc.StatusException;

/**
 * Makes a container for containerd's Create: mounts its rootfs, maps its spec, leases a VM and has the
 * agent park its first process. Everything it did is undone if it fails.
 */
public interface TaskFactory {
    Container create(String namespace, CreateTaskRequest request) throws StatusException;
}
