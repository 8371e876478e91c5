package io.a3s.box.shim.pool;

import io.a3s.box.shim.Layout;
import io.a3s.box.shim.config.ShimConfig;
import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.vm.StateDir;
import io.a3s.box.shim.vm.VmBackend;
import io.a3s.box.shim.vm.VmException;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.shim.vm.qemu.QemuBackend;
import io.a3s.box.shim.vm.qemu.QemuVersion;
import io.a3s.box.ttrpc.TtrpcServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * The host's pool daemon: a {@link WarmPool} served over ttrpc on {@link Layout#poolSocket()} (same-uid peers
 * only) by {@link PoolService}. One per state tree: the daemon holds an exclusive lock on
 * {@link Layout#poolLockFile()} for as long as it runs (the kernel drops it when the process dies, however it
 * dies), and a second daemon exits at once.
 *
 * <p><b>Start-up reconciles the state tree</b> before it serves: for every VM directory under
 * {@code <root>/vms}, a VM whose {@code owner} is a live process other than a pool (a holder: a shim daemon, a
 * {@code pool run}) is <em>adopted</em> as leased and its holder watched; everything else (idle or booting VMs of
 * a pool that died, VMs whose holder died meanwhile) is torn down: QEMU killed (only if its command line names
 * that directory), mounts under it detached, the directory removed. QEMU processes whose directory is gone are
 * killed ({@link QemuBackend#killStrays}), and a stale socket is removed. So a pool killed with SIGKILL and
 * started again leaves nothing behind, and leased VMs keep running with their holders throughout.
 *
 * <p><b>Stop</b> (SIGTERM, the Stop call, {@code a3s-box pool stop}): no new leases (waiters fail with
 * UNAVAILABLE), idle and booting VMs destroyed, leased VMs left with their holders (the next pool adopts them),
 * socket and pid file removed, lock released.
 */
public final class PoolDaemon implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PoolDaemon.class);
    private static final Duration DRAIN = Duration.ofSeconds(10);
    private static final Duration VM_TEARDOWN = Duration.ofMinutes(2);

    private final Layout layout;
    private final WarmPool pool;
    private final PoolService service;
    private final TtrpcServer server;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final CountDownLatch stopped = new CountDownLatch(1);

    /** Another pool daemon already runs on this state tree. */
    public static final class AlreadyRunningException extends Exception {
        AlreadyRunningException(String message) {
            super(message);
        }
    }

    private PoolDaemon(Layout layout, WarmPool pool, PoolService service, TtrpcServer server, FileChannel lockChannel,
                       FileLock lock) {
        this.layout = layout;
        this.pool = pool;
        this.service = service;
        this.server = server;
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    /**
     * {@code a3s-box pool start --foreground}: the QEMU backend and the {@code [pool]} and {@code [vm]} settings
     * of {@code config}; serves until stopped (SIGTERM runs the stop sequence). Returns the exit status.
     */
    public static int serve(Layout layout, ShimConfig config) throws IOException, InterruptedException {
        PoolPolicy policy;
        try {
            policy = PoolPolicy.of(config);
        } catch (IllegalArgumentException e) {
            log.error("configuration: {}", e.getMessage());
            return 1;
        }
        QemuBackend backend = new QemuBackend();
        PoolDaemon d;
        try {
            d = start(layout, backend, policy, backend.probe()::resolve, warmer(layout));
        } catch (AlreadyRunningException e) {
            log.info("{}", e.getMessage());
            return 0;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(d::stop, "pool-daemon-stop"));
        VmConfigLog.startup(policy, backend);
        d.awaitStopped();
        return 0;
    }

    /**
     * Starts a pool daemon in this process: takes the lock, reconciles the state tree, starts the pool and serves
     * it. {@link #stop()} (or the Stop call) ends it.
     *
     * @throws AlreadyRunningException if another daemon holds the lock
     */
    public static PoolDaemon start(Layout layout, VmBackend backend, PoolPolicy policy,
                                   Function<Accelerator, Accelerator> resolveAccelerator)
            throws IOException, AlreadyRunningException {
        return start(layout, backend, policy, resolveAccelerator, WarmPool.Warmer.NONE);
    }

    /** {@link #start}, with {@code warmer} run on every VM the refill boots before it becomes IDLE. */
    public static PoolDaemon start(Layout layout, VmBackend backend, PoolPolicy policy,
                                   Function<Accelerator, Accelerator> resolveAccelerator, WarmPool.Warmer warmer)
            throws IOException, AlreadyRunningException {
        Path root = layout.root();
        Files.createDirectories(root);
        Files.createDirectories(layout.vms());
        FileChannel ch = FileChannel.open(layout.poolLockFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            lock = null; // this very process runs one
        }
        if (lock == null) {
            ch.close();
            throw new AlreadyRunningException("a pool daemon already runs for " + root + pidHint(layout));
        }
        try {
            Files.deleteIfExists(layout.poolSocket()); // we hold the lock: whoever bound it is dead
            WarmPool pool = new WarmPool(backend, root, policy, warmer);
            PoolDaemon[] self = new PoolDaemon[1];
            PoolService service = new PoolService(pool, root, resolveAccelerator, () -> {
                if (self[0] != null) {
                    self[0].stop();
                }
            });
            reconcile(layout, backend, service);
            pool.start();
            TtrpcServer server = TtrpcServer.builder().socket(layout.poolSocket()).requireSameUser(true)
                    .addService(service.definition()).build().start();
            try {
                Files.setPosixFilePermissions(layout.poolSocket(), PosixFilePermissions.fromString("rw-------"));
            } catch (IOException | UnsupportedOperationException e) {
                // peer credentials are checked anyway
            }
            PoolDaemon d = new PoolDaemon(layout, pool, service, server, ch, lock);
            self[0] = d;
            Files.writeString(layout.poolPidFile(), ProcessHandle.current().pid() + "\n", StandardCharsets.UTF_8);
            Thread.ofVirtual().name("pool-sweep").start(d::sweepLoop);
            log.info("a3s-box pool daemon {} serving {}: max_vms {}, idle targets {}, idle_ttl {}, adopted {} "
                            + "leased vm(s)", ProcessHandle.current().pid(), layout.poolSocket(), policy.maxVms(),
                    policy.idleTargets().values(), policy.idleTtl(), service.heldCount());
            return d;
        } catch (IOException | RuntimeException e) {
            lock.release();
            ch.close();
            throw e;
        }
    }

    /**
     * Start-up: adopt the VMs that live holders still use, tear down everything else the tree names, kill
     * QEMUs whose directory is gone.
     */
    private static void reconcile(Layout layout, VmBackend backend, PoolService service) throws IOException {
        int torn = 0;
        for (Path dir : StateDir.list(layout.root())) {
            OptionalLong owner = PoolService.ownerPid(dir);
            if (owner.isPresent() && StateDir.ownerAlive(dir)) {
                try {
                    VmInstance vm = backend.adopt(dir);
                    if (service.adopt(vm, owner.getAsLong())) {
                        continue;
                    }
                    vm.detach(); // its holder died just now: tear it down below
                } catch (VmException e) {
                    log.info("pool: start-up: vm {} of live holder pid {} cannot be adopted ({}); removing it",
                            dir.getFileName(), owner.getAsLong(), e.getMessage());
                }
            }
            try {
                backend.reconcile(dir);
                torn++;
                log.info("pool: start-up: tore down vm {} (owner {})", dir.getFileName(),
                        owner.isPresent() ? "pid " + owner.getAsLong() + ", gone" : "unrecorded");
            } catch (VmException e) {
                log.warn("pool: start-up: {}", e.getMessage());
            }
        }
        if (backend instanceof QemuBackend) {
            List<Long> strays = QemuBackend.killStrays(layout.root());
            torn += strays.size();
        }
        service.countReconciled(torn);
    }

    /**
     * The warm-up of refilled VMs ({@link GuestWarmUp}), when this host has the busybox it needs; none otherwise
     * (the first container in each VM is then slower under TCG, nothing else changes).
     */
    private static WarmPool.Warmer warmer(Layout layout) {
        if (!Files.isExecutable(Path.of("/bin/busybox"))) {
            log.info("pool: /bin/busybox is missing: idle VMs are not warmed up (apt-get install busybox-static)");
            return WarmPool.Warmer.NONE;
        }
        return new GuestWarmUp(layout.root().resolve("pool-run").resolve("warmup"));
    }

    private void sweepLoop() {
        while (!stopping.get()) {
            try {
                Thread.sleep(PoolService.SWEEP);
                service.sweep();
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                log.warn("pool: sweep: {}", e.toString());
            }
        }
    }

    public WarmPool pool() {
        return pool;
    }

    /** The stop sequence (see the class comment). Idempotent; every caller returns once it is complete. */
    public void stop() {
        if (!stopping.compareAndSet(false, true)) {
            awaitStopped();
            return;
        }
        try {
            pool.shutdown(); // fails waiters, destroys idle VMs; leased ones stay with their holders
            server.shutdown();
            if (!server.awaitTermination(DRAIN)) {
                server.shutdownNow();
            }
            if (!pool.awaitOnlyLeased(VM_TEARDOWN)) {
                log.error("pool: VMs still being destroyed after {}", VM_TEARDOWN);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            server.shutdownNow();
        } finally {
            int left = service.heldCount();
            service.forgetHolders();
            removePidFile();
            try {
                lock.release();
                lockChannel.close();
            } catch (IOException e) {
                log.warn("pool: releasing {}: {}", layout.poolLockFile(), e.toString());
            }
            log.info("a3s-box pool daemon stopped ({} leased vm(s) left with their holders)", left);
            stopped.countDown();
        }
    }

    @Override
    public void close() {
        stop();
    }

    public void awaitStopped() {
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public boolean awaitStopped(Duration timeout) throws InterruptedException {
        return stopped.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void removePidFile() {
        try {
            Path pidFile = layout.poolPidFile();
            String self = Long.toString(ProcessHandle.current().pid());
            if (Files.exists(pidFile) && Files.readString(pidFile).trim().equals(self)) {
                Files.delete(pidFile);
            }
        } catch (IOException e) {
            log.warn("pool: cannot remove {}: {}", layout.poolPidFile(), e.toString());
        }
    }

    private static String pidHint(Layout layout) {
        try {
            return " (pid " + Files.readString(layout.poolPidFile()).trim() + ")";
        } catch (IOException e) {
            return "";
        }
    }

    /** The start-up line about what the pool boots. */
    private static final class VmConfigLog {
        static void startup(PoolPolicy policy, QemuBackend backend) {
            policy.idleTargets().forEach((k, n) -> log.info(
                    "pool: keeping {} idle: {} vCPU, {} MiB, {} ({}), kernel {}", n, k.vcpus(), k.memoryMiB(),
                    k.accelerator().name().toLowerCase(), backend.probe().resolve(k.accelerator()).name().toLowerCase(),
                    k.kernel()));
            try {
                QemuVersion v = QemuVersion.of(QemuBackend.DEFAULT_QEMU);
                if (v.makesSpecialFilesOn9p()) {
                    log.info("pool: QEMU {}", v);
                } else {
                    log.warn("pool: QEMU {} is older than {}: a FIFO or a Unix socket made on a container's rootfs"
                            + " or volume may fail with ENXIO (9p); scripts/setup installs a newer one", v,
                            QemuVersion.SPECIAL_FILES_ON_9P);
                }
            } catch (IOException e) {
                log.warn("pool: cannot tell QEMU's version: {}", e.getMessage());
            }
        }
    }
}
