package io.a3s.box.shim.daemon;

import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.shim.pool.Lease;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.shim.task.Sandbox;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One container's hold on a leased VM (its own, or its pod's), with what Create put into it: the container's rootfs
 * and bind-mount sources exported under the VM's share directories, and (maybe) the rootfs mounted at
 * {@code <bundle>/rootfs}. {@link #release} undoes all of it, in reverse order, removes the task record, and
 * leaves the VM, which goes back to the pool (destroyed) with its last container.
 */
final class VmSandbox implements Sandbox {
    private static final Logger log = LoggerFactory.getLogger(VmSandbox.class);

    private final SharedVm shared;
    private final Lease lease;
    private final List<VmExports.Export> exports;
    private final Path rootfsMount;
    private final Path taskFile;
    private final Runnable onRelease;
    private final ContainerHooks hooks;
    private final AtomicBoolean released = new AtomicBoolean();

    /**
     * @param exports     this container's exports into the VM, in the order they were made
     * @param rootfsMount {@code <bundle>/rootfs} if this task mounted it, else null
     * @param hooks       the container's host hooks: poststart at {@link #started}, poststop at {@link #release}
     */
    VmSandbox(SharedVm shared, List<VmExports.Export> exports, Path rootfsMount, Path taskFile, Runnable onRelease,
              ContainerHooks hooks) {
        this.hooks = hooks;
        this.shared = shared;
        this.lease = shared.lease();
        this.exports = List.copyOf(exports);
        this.rootfsMount = rootfsMount;
        this.taskFile = taskFile;
        this.onRelease = onRelease;
    }

    @Override
    public String vmId() {
        return lease.vm().id();
    }

    @Override
    public AgentClient agent() {
        return lease.vm().agent();
    }

    @Override
    public CompletableFuture<?> onExit() {
        return lease.vm().onExit();
    }

    /** A lone container's VM goes with it (a VM that ran a workload is never reused); a pod's, with its last. */
    @Override
    public boolean releaseDestroysVm() {
        return !shared.isPod();
    }

    @Override
    public void started() {
        hooks.runPoststart();
    }

    @Override
    public void kill(String why) {
        log.warn("vm {}: {}; killing the vm", lease.vm().id(), why);
        lease.vm().kill();
    }

    @Override
    public void release() {
        if (!released.compareAndSet(false, true)) {
            return;
        }
        long t0 = System.nanoTime();
        unbind(shared, exports);
        long t1 = System.nanoTime();
        shared.leave();
        long t2 = System.nanoTime();
        if (rootfsMount != null) {
            detach(rootfsMount);
        }
        long t3 = System.nanoTime();
        try {
            Files.deleteIfExists(taskFile);
        } catch (IOException e) {
            log.warn("cannot remove task record {}: {}", taskFile, e.toString());
        }
        onRelease.run();
        hooks.close(); // poststop, once the container is gone
        log.debug("vm {} released: shares {} us, pool {} us, rootfs {} us, record {} us", lease.vm().id(),
                (t1 - t0) / 1000, (t2 - t1) / 1000, (t3 - t2) / 1000, (System.nanoTime() - t3) / 1000);
    }

    /** Drops exports, newest first. */
    static void unbind(SharedVm shared, List<VmExports.Export> exports) {
        List<VmExports.Export> reversed = new ArrayList<>(exports);
        java.util.Collections.reverse(reversed);
        reversed.forEach(shared.exports()::unbind);
    }

    /** Lazy unmount: the mount goes away once nothing uses it, so a busy mount never blocks teardown. */
    static void detach(Path mountPoint) {
        try {
            Linux.umount2(mountPoint.toString(), Linux.MNT_DETACH);
        } catch (Linux.ErrnoException e) {
            if (e.errno() != Linux.EINVAL && e.errno() != Linux.ENOENT) { // EINVAL: not a mount point
                log.warn("umount {}: {}", mountPoint, e.getMessage());
            }
        }
    }
}
