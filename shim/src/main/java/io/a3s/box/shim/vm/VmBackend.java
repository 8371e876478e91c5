package io.a3s.box.shim.vm;

import java.nio.file.Path;

/**
 * A virtual machine monitor the shim can run microVMs with (QEMU microvm; libkrun later). One backend
 * object serves any number of VMs and is thread-safe.
 *
 * <p>Contract:
 * <ul>
 *   <li>{@link #newInstance} only prepares: it creates the state directory and records the config there.
 *       Nothing runs until {@link VmInstance#start}.</li>
 *   <li>The state directory, not the Java object, owns the VM: whatever a backend starts must be
 *       findable and killable from the directory alone, by {@link #reconcile}, after the JVM that started it
 *       has died.</li>
 * </ul>
 */
public interface VmBackend {
    /** Short name used in config and logs ({@code "qemu"}). */
    String name();

    /**
     * A new, not yet started VM whose state lives in {@code stateDir} (created here; it must not exist or be
     * empty). By convention {@code stateDir} is {@code <stateRoot>/vms/<vmId>} and the VM's id is its last
     * path element.
     *
     * @throws VmException CONFIG if the config cannot work on this host (no kernel file, KVM asked for but
     *                     unusable, no VMM binary), LAUNCH if the state directory cannot be created
     */
    VmInstance newInstance(VmConfig config, Path stateDir) throws VmException;

    /**
     * Tears down whatever {@code stateDir} says is running, whoever started it: kills the VMM process it
     * names (only if that pid still runs this VM, so a reused pid is never hit), lazily unmounts everything
     * under its share directory (deepest first), and removes the directory. Idempotent; a missing directory is
     * not an error.
     *
     * @throws VmException TEARDOWN naming what could not be removed
     */
    void reconcile(Path stateDir) throws VmException;
}
