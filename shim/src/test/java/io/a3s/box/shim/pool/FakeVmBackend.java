package io.a3s.box.shim.pool;

import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.vm.BootInfo;
import io.a3s.box.shim.vm.VmBackend;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.shim.vm.VmException;
import io.a3s.box.shim.vm.VmExit;
import io.a3s.box.shim.vm.VmInstance;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/** A VMM for pool logic tests: boots take {@link #bootTime}, may be made to fail, and count themselves. */
final class FakeVmBackend implements VmBackend {
    volatile Duration bootTime = Duration.ofMillis(20);
    volatile boolean failBoots;
    /** When set, every boot also waits for it: a test decides when boots end, whatever the machine's speed. */
    volatile CountDownLatch bootGate;
    /** Create each VM's state directory (and remove it on teardown), as a real backend does. */
    volatile boolean createDirs;
    final AtomicInteger live = new AtomicInteger();
    final AtomicInteger maxLive = new AtomicInteger();
    final AtomicInteger boots = new AtomicInteger();
    final AtomicInteger destroyed = new AtomicInteger();
    final List<FakeVm> all = new CopyOnWriteArrayList<>();

    @Override
    public String name() {
        return "fake";
    }

    @Override
    public VmInstance newInstance(VmConfig config, Path stateDir) {
        if (createDirs) {
            try {
                Files.createDirectories(stateDir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        FakeVm vm = new FakeVm(config, stateDir);
        all.add(vm);
        return vm;
    }

    @Override
    public void reconcile(Path stateDir) {
        find(stateDir).ifPresent(FakeVm::close);
    }

    @Override
    public VmInstance attach(Path stateDir, Duration deadline) throws VmException {
        return new View(find(stateDir).filter(v -> v.running).orElseThrow(
                () -> new VmException(VmException.Kind.EXITED, "fake: no vm at " + stateDir)), false);
    }

    @Override
    public VmInstance adopt(Path stateDir) throws VmException {
        return new View(find(stateDir).filter(v -> v.running).orElseThrow(
                () -> new VmException(VmException.Kind.EXITED, "fake: no vm at " + stateDir)), true);
    }

    java.util.Optional<FakeVm> find(Path stateDir) {
        return all.stream().filter(v -> v.stateDir.equals(stateDir)).findFirst();
    }

    /** Another process's view of a fake VM (what attach gives): shutting it down destroys the VM. */
    static final class View implements VmInstance {
        final FakeVm vm;
        volatile boolean detached;

        View(FakeVm vm, boolean detached) {
            this.vm = vm;
            this.detached = detached;
        }

        @Override
        public String id() {
            return vm.id();
        }

        @Override
        public VmConfig config() {
            return vm.config;
        }

        @Override
        public Path stateDir() {
            return vm.stateDir;
        }

        @Override
        public BootInfo start(Duration deadline) {
            throw new IllegalStateException("attached views are started");
        }

        @Override
        public BootInfo bootInfo() {
            return new BootInfo(Duration.ZERO, Duration.ZERO, 0, Accelerator.TCG, "fake", "fake", 1);
        }

        @Override
        public AgentClient agent() {
            throw new UnsupportedOperationException("fake VM has no agent");
        }

        @Override
        public Path shareDir() {
            return vm.shareDir();
        }

        @Override
        public long pid() {
            return -1;
        }

        @Override
        public boolean isRunning() {
            return vm.running;
        }

        @Override
        public CompletableFuture<VmExit> onExit() {
            return vm.exit;
        }

        @Override
        public void pause() {
        }

        @Override
        public void resume() {
        }

        @Override
        public void detach() {
            detached = true;
        }

        @Override
        public boolean isDetached() {
            return detached;
        }

        @Override
        public void kill() {
            vm.die();
        }

        @Override
        public void shutdown() {
            vm.close();
        }

        @Override
        public void close() {
            vm.close();
        }
    }

    final class FakeVm implements VmInstance {
        final VmConfig config;
        final Path stateDir;
        final CompletableFuture<VmExit> exit = new CompletableFuture<>();
        volatile boolean running;
        volatile boolean closed;
        volatile boolean detached;

        FakeVm(VmConfig config, Path stateDir) {
            this.config = config;
            this.stateDir = stateDir;
            int n = live.incrementAndGet();
            maxLive.accumulateAndGet(n, Math::max);
        }

        @Override
        public String id() {
            return stateDir.getFileName().toString();
        }

        @Override
        public VmConfig config() {
            return config;
        }

        @Override
        public Path stateDir() {
            return stateDir;
        }

        @Override
        public BootInfo start(Duration deadline) throws VmException {
            boots.incrementAndGet();
            try {
                Thread.sleep(bootTime);
                CountDownLatch gate = bootGate;
                if (gate != null) {
                    gate.await();
                }
            } catch (InterruptedException e) {
                throw new VmException(VmException.Kind.INTERRUPTED, "interrupted");
            }
            if (failBoots) {
                throw new VmException(VmException.Kind.BOOT_TIMEOUT, "vm " + id() + ": boot: fake failure");
            }
            running = true;
            return new BootInfo(bootTime, bootTime, 1, Accelerator.TCG, "fake", "fake", 1);
        }

        /** Simulates the VMM dying. */
        void die() {
            running = false;
            exit.complete(new VmExit(Instant.now(), false, "killed"));
        }

        @Override
        public BootInfo bootInfo() {
            return null;
        }

        @Override
        public AgentClient agent() {
            throw new UnsupportedOperationException("fake VM has no agent");
        }

        @Override
        public Path shareDir() {
            return stateDir.resolve("share");
        }

        @Override
        public long pid() {
            return -1;
        }

        @Override
        public boolean isRunning() {
            return running;
        }

        @Override
        public CompletableFuture<VmExit> onExit() {
            return exit;
        }

        @Override
        public void pause() {
        }

        @Override
        public void resume() {
        }

        @Override
        public void detach() {
            detached = true;
        }

        @Override
        public boolean isDetached() {
            return detached;
        }

        @Override
        public void kill() {
            die();
        }

        @Override
        public void shutdown() {
            close();
        }

        @Override
        public synchronized void close() {
            if (!closed) {
                closed = true;
                running = false;
                live.decrementAndGet();
                destroyed.incrementAndGet();
                if (createDirs) {
                    try (var s = Files.walk(stateDir)) {
                        for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                            Files.deleteIfExists(p);
                        }
                    } catch (IOException e) {
                        // gone
                    }
                }
                exit.complete(new VmExit(Instant.now(), true, "shutdown"));
            }
        }
    }
}
