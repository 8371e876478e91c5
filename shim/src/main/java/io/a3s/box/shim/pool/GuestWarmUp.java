package io.a3s.box.shim.pool;

import io.a3s.box.guest.v1.ContainerRequest;
import io.a3s.box.guest.v1.CreateContainerRequest;
import io.a3s.box.guest.v1.StartProcessRequest;
import io.a3s.box.guest.v1.WaitProcessRequest;
import io.a3s.box.shim.daemon.GuestSpecs;
import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.spec.guest.GuestContainerSpec;
import io.a3s.box.spec.guest.ShareBind;
import io.a3s.box.spec.guest.SpecMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The pool's warm-up of a freshly booted VM, before it becomes IDLE: one container of the pool's own (busybox
 * {@code true}, a root filesystem the pool keeps under {@code <root>/pool-run/warmup}, exported read-only) is
 * created, started, waited for and destroyed, the way a lessee's first container will be.
 *
 * <p>Why: under TCG the first container of a fresh VM pays for translating every guest kernel path it takes
 * (namespaces, mounts, pivot_root, exec, exit, 9p) once: about 75 ms of CreateContainer and 90 ms of exec-to-exit
 * more than the second container (measured, docs/performance.md). The lessee should not pay that on the request
 * path. It also proves, before the VM is handed out, that it can run a container.
 *
 * <p>What stays in the VM: nothing of a tenant. The warm-up container is destroyed (its processes, cgroup and
 * mounts), its export unmounted and removed; the guest's caches keep kernel code translations and, at most,
 * pages of the pool's own busybox. The warm-up root filesystem is a directory of its own, never a tenant's, so no
 * host directory is ever exported twice into one VM (see the 9p aliasing hazard in docs/vm.md).
 */
final class GuestWarmUp implements WarmPool.Warmer {
    private static final Logger log = LoggerFactory.getLogger(GuestWarmUp.class);
    static final String CONTAINER_ID = "a3s-pool-warmup";
    private static final Duration CALL = Duration.ofSeconds(30);

    private final Path rootfsDir;

    /** @param rootfsDir where the warm-up's busybox root filesystem is (built there when first needed) */
    GuestWarmUp(Path rootfsDir) {
        this.rootfsDir = rootfsDir;
    }

    @Override
    public void warmUp(VmInstance vm) throws Exception {
        long t0 = System.nanoTime();
        Path rootfs = PoolRun.busyboxRootfs(rootfsDir);
        GuestContainerSpec spec = SpecMapper.map(CONTAINER_ID, rootfs.getParent(), PoolRun.ociSpec(CONTAINER_ID,
                rootfs, true, List.of("true"), List.of(), "/", false, null));
        ShareBind share = spec.shares().getFirst();
        Path containerDir = vm.shareDir().resolve(CONTAINER_ID);
        Path target = vm.shareDir().resolve(share.guestPath().substring(VmInstance.GUEST_SHARE_PATH.length() + 1));
        Files.createDirectories(target);
        Linux.bindMount(share.hostPath(), target.toString(), true);
        AgentClient agent = vm.agent();
        ContainerRequest id = ContainerRequest.newBuilder().setContainerId(CONTAINER_ID).build();
        try {
            agent.createContainer(CreateContainerRequest.newBuilder().setContainerId(CONTAINER_ID)
                    .setSpec(GuestSpecs.toProto(spec)).build(), CALL);
            agent.startProcess(StartProcessRequest.newBuilder().setContainerId(CONTAINER_ID).build(), CALL);
            int status = agent.waitProcess(WaitProcessRequest.newBuilder().setContainerId(CONTAINER_ID).build(), CALL)
                    .getExitStatus();
            agent.destroyContainer(id, CALL);
            if (status != 0) {
                throw new IOException("warm-up container exited with status " + status);
            }
        } finally {
            Linux.umount2(target.toString(), Linux.MNT_DETACH);
            Files.deleteIfExists(target);
            Files.deleteIfExists(target.getParent());
            if (!target.getParent().equals(containerDir)) {
                Files.deleteIfExists(containerDir);
            }
        }
        log.debug("pool: vm {} warmed up in {} ms", vm.id(), (System.nanoTime() - t0) / 1_000_000);
    }
}
