package io.a3s.box.shim.bootstrap;

import io.a3s.box.shim.vm.VmBackend;
import io.a3s.box.shim.vm.qemu.QemuBackend;

import java.nio.file.Path;

/**
 * Tears down a VM from its state directory alone ({@link VmBackend#reconcile}), for {@code delete} after the
 * daemon that ran the task has died.
 */
@FunctionalInterface
interface VmReaper {
    void reconcile(Path stateDir) throws Exception;

    /** The QEMU backend's reconcile (its classes load only if a VM is actually left behind). */
    static VmReaper qemu() {
        return stateDir -> new QemuBackend().reconcile(stateDir);
    }
}
