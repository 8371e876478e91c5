package io.a3s.box.shim.pool;

import io.a3s.box.guest.v1.ContainerRequest;
import io.a3s.box.guest.v1.CreateContainerRequest;
import io.a3s.box.guest.v1.StartProcessRequest;
import io.a3s.box.guest.v1.WaitProcessRequest;
import io.a3s.box.shim.daemon.GuestSpecs;
import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.spec.guest.GuestContainerSpec;
import io.a3s.box.spec.guest.SpecMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The pool's warm-up of a freshly booted VM, before it becomes IDLE: one container of the pool's own (busybox
 * {@code true}) is created, started, waited for and destroyed, the way a lessee's first container will be, with the
 * spec {@code ctr run} writes (mounts, masked paths, device allowlist, CPU shares). Its root filesystem is a tree of
 * hard links to a template the pool keeps under {@code <root>/pool-run/warmup}, made in the VM's share directory
 * and removed afterwards: no mount, so nothing of the warm-up can be left mounted, even if the pool dies in the
 * middle of one.
 *
 * <p>Why: under TCG the first container of a fresh VM pays for translating every guest kernel path it takes
 * (namespaces, mounts, pivot_root, exec, exit, 9p) once: about 75 ms of CreateContainer and 90 ms of exec-to-exit
 * more than the second container (measured, docs/performance.md). The lessee should not pay that on the request
 * path. It also proves, before the VM is handed out, that it can run a container.
 *
 * <p>What stays in the VM: nothing of a tenant. The warm-up container is destroyed (its processes, cgroup and
 * mounts) and its files removed from the share; the guest's caches keep kernel code translations and, at most,
 * pages of the pool's own busybox. The warm-up files are the pool's own inodes, never a tenant's, so no host file
 * is ever exported twice into one VM (see the 9p aliasing hazard in docs/vm.md).
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
        Path template = PoolRun.busyboxRootfs(rootfsDir);
        Path containerDir = vm.shareDir().resolve(CONTAINER_ID);
        Path target = containerDir.resolve("rootfs");
        // the spec's root is the tree in the share itself: nothing to bind-mount
        // writable, as ctr's default (a read-only root takes other kernel paths); `true` writes nothing, and any
        // mount point the agent creates is a directory of this tree's own, not a link to the template
        GuestContainerSpec spec = SpecMapper.map(CONTAINER_ID, containerDir, PoolRun.ociSpec(CONTAINER_ID,
                target, false, List.of("true"), List.of(), "/", false, null));
        if (!spec.shares().isEmpty() && !Path.of(spec.shares().getFirst().hostPath()).equals(target)) {
            throw new IOException("warm-up: unexpected share " + spec.shares());
        }
        AgentClient agent = vm.agent();
        ContainerRequest id = ContainerRequest.newBuilder().setContainerId(CONTAINER_ID).build();
        try {
            linkTree(template, target);
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
            deleteTree(containerDir);
        }
        log.debug("pool: vm {} warmed up in {} ms", vm.id(), (System.nanoTime() - t0) / 1_000_000);
    }

    /** {@code to} as a copy of {@code from} made of hard links (copies where a link cannot be made). */
    static void linkTree(Path from, Path to) throws IOException {
        Files.walkFileTree(from, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                Files.createDirectories(to.resolve(from.relativize(dir).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Path dest = to.resolve(from.relativize(file).toString());
                if (attrs.isSymbolicLink()) {
                    Files.createSymbolicLink(dest, Files.readSymbolicLink(file));
                } else {
                    try {
                        Files.createLink(dest, file);
                    } catch (IOException | UnsupportedOperationException e) {
                        Files.copy(file, dest, StandardCopyOption.COPY_ATTRIBUTES);
                    }
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** Removes a tree that holds no mount (links and copies only). */
    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
