package io.a3s.box.shim.vm;

import java.nio.file.Path;
import java.time.Duration;

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

    /**
     * Takes over a running VM that another instance (usually in another process) {@link VmInstance#detach
     * detached}: checks from the state directory that its VMM still runs (a reused pid is never taken for it),
     * watches the VMM, connects to the agent and opens a session (Hello handshake, which skips whatever an
     * earlier host left in the port). The result is a started instance: {@link VmInstance#agent()} works and
     * {@link VmInstance#shutdown()} tears the VM down as usual. Its {@link VmInstance#bootInfo()} carries the
     * agent's Hello figures, with {@code hostWall} the time this attach took.
     *
     * @param deadline for the connection and the handshake
     * @throws VmException EXITED if no VMM runs for the directory (or it died meanwhile), CONFIG if the directory
     *                     is not one of this backend's, AGENT if the agent did not answer in time or refused
     */
    default VmInstance attach(Path stateDir, Duration deadline) throws VmException {
        throw new VmException(VmException.Kind.CONFIG, "backend " + name() + " cannot attach to a running VM");
    }

    /**
     * Takes over a running VM without connecting to its agent: the instance is {@linkplain
     * VmInstance#isDetached() detached} from the start, watches the VMM and can tear it down. For a process that
     * must keep track of a VM another process uses (the pool adopting, after a restart, the VMs its predecessor
     * leased out).
     *
     * @throws VmException EXITED if no VMM runs for the directory, CONFIG if it is not one of this backend's
     */
    default VmInstance adopt(Path stateDir) throws VmException {
        throw new VmException(VmException.Kind.CONFIG, "backend " + name() + " cannot adopt a running VM");
    }
}
