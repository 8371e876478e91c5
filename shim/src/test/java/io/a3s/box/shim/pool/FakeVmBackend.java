package io.a3s.box.shim.pool;

import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.vm.BootInfo;
import io.a3s.box.shim.vm.VmBackend;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.shim.vm.VmException;
import io.a3s.box.shim.vm.VmExit;
import io.a3s.box.shim.vm.VmInstance;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/** A VMM for pool logic tests: boots take {@link #bootTime}, may be made to fail, and count themselves. */
final class FakeVmBackend implements VmBackend {
    volatile Duration bootTime = Duration.ofMillis(20);
    volatile boolean failBoots;
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
        FakeVm vm = new FakeVm(config, stateDir);
        all.add(vm);
        return vm;
    }

    @Override
    public void reconcile(Path stateDir) {
    }

    final class FakeVm implements VmInstance {
        final VmConfig config;
        final Path stateDir;
        final CompletableFuture<VmExit> exit = new CompletableFuture<>();
        volatile boolean running;
        volatile boolean closed;

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
                exit.complete(new VmExit(Instant.now(), true, "shutdown"));
            }
        }
    }
}
