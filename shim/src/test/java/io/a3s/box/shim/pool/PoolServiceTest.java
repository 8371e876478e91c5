package io.a3s.box.shim.pool;

import io.a3s.box.shim.Layout;
import io.a3s.box.shim.pool.v1.KeyStatus;
import io.a3s.box.shim.pool.v1.LeaseRequest;
import io.a3s.box.shim.pool.v1.LeaseResponse;
import io.a3s.box.shim.pool.v1.StatusResponse;
import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.vm.StateDir;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import io.a3s.box.ttrpc.TtrpcClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pool daemon's service and its client over a real ttrpc socket, with a fake VMM (boots take 20 ms): leases,
 * handover, holders, release, the cap under a burst, refill, TTL, misses, stop and adoption by the next daemon.
 * {@code PoolQemuTest} runs the same paths with real QEMU VMs and a real daemon process.
 */
@Timeout(60)
class PoolServiceTest {
    static final VmConfig SMALL = new VmConfig(Path.of("/k"), Path.of("/i"), 1, 128, Accelerator.TCG, List.of(),
            Duration.ofSeconds(10));
    static final VmConfig BIG = SMALL.withMemoryMiB(512);

    final FakeVmBackend backend = new FakeVmBackend();
    Path root;
    Layout layout;
    PoolDaemon daemon;
    PoolClient client;
    final List<Process> children = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        backend.createDirs = true;
        root = Files.createTempDirectory(Path.of("/tmp"), "a3s-pst");
        layout = new Layout(root);
        client = new PoolClient(layout, backend, null, Duration.ofSeconds(20));
    }

    @AfterEach
    void tearDown() throws IOException {
        children.forEach(Process::destroyForcibly);
        client.close();
        if (daemon != null) {
            daemon.stop();
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    PoolDaemon start(Map<VmConfig, Integer> targets, int max, Duration ttl) throws Exception {
        daemon = PoolDaemon.start(layout, backend, new PoolPolicy(targets, max, Math.min(2, max), ttl,
                Duration.ofSeconds(20)), a -> Accelerator.TCG);
        return daemon;
    }

    static void eventually(BooleanSupplier condition, String what) throws Exception {
        eventually(condition, () -> what);
    }

    interface Describe {
        String get() throws Exception;
    }

    static void eventually(BooleanSupplier condition, Describe what) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what.get());
            }
            Thread.sleep(10);
        }
    }

    KeyStatus key(VmConfig k) {
        try {
            return client.status().getKeysList().stream()
                    .filter(s -> s.getKey().getMemoryMib() == k.memoryMiB()).findFirst()
                    .orElse(KeyStatus.getDefaultInstance());
        } catch (StatusException e) {
            throw new AssertionError(e);
        }
    }

    int total() {
        try {
            return client.status().getTotal();
        } catch (StatusException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void aWarmLeaseIsHandedOverAndTheRefillReplacesIt() throws Exception {
        start(Map.of(SMALL, 1), 4, Duration.ofMinutes(5));
        eventually(() -> key(SMALL).getIdle() == 1, "1 idle");
        Lease lease = client.lease(SMALL, "test");
        assertTrue(lease.warm(), "served by the IDLE VM");
        FakeVmBackend.FakeVm vm = backend.find(lease.vm().stateDir()).orElseThrow();
        assertTrue(vm.detached, "the pool let go of its agent connection before answering");
        assertFalse(lease.vm().isDetached(), "the holder's instance is attached");
        assertEquals(ProcessHandle.current().pid(), PoolService.ownerPid(lease.vm().stateDir()).orElseThrow(),
                "the state directory names the holder");
        assertTrue(StateDir.ownerAlive(lease.vm().stateDir()));
        eventually(() -> key(SMALL).getIdle() == 1 && key(SMALL).getLeased() == 1, "refilled to 1 idle");
        assertEquals(1, key(SMALL).getHits());
        assertEquals(1, client.status().getLeasesCount());

        client.release(lease);
        eventually(() -> vm.closed, "the released VM destroyed, never returned to the pool");
        eventually(() -> key(SMALL).getLeased() == 0 && total() == 1, () -> "its slot freed: " + client.status());
    }

    /** A starter whose "daemon" only counts its starts (and exits 0, as a daemon that finds the lock taken). */
    PoolStarter countingStarter(Path count, Duration readyTimeout) {
        return countingStarter(count, readyTimeout, "");
    }

    /** The same, each start taking {@code delay} (sleep's syntax) first, as a JVM's start takes some time. */
    PoolStarter countingStarter(Path count, Duration readyTimeout, String delay) {
        String sleep = delay.isEmpty() ? "" : "sleep " + delay + "; ";
        return new PoolStarter(layout, () -> List.of("sh", "-c", sleep + "echo x >> " + count), Map.of(),
                readyTimeout);
    }

    static long lines(Path p) {
        try {
            return Files.exists(p) ? Files.readAllLines(p).size() : 0;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void aReleaseWithNoPoolDaemonTearsTheVmDownAtOnceAndStartsNone() throws Exception {
        Path starts = root.resolve("starts");
        client.close();
        client = new PoolClient(layout, backend, countingStarter(starts, Duration.ofSeconds(60)),
                Duration.ofSeconds(20));
        start(Map.of(SMALL, 0), 4, Duration.ofMinutes(5));
        Lease lease = client.lease(SMALL, "test");
        FakeVmBackend.FakeVm vm = backend.find(lease.vm().stateDir()).orElseThrow();
        daemon.stop(); // leaves its leased VMs with their holders
        daemon = null;

        long t0 = System.nanoTime();
        client.release(lease);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(vm.closed, "torn down by its holder");
        assertTrue(ms < 5_000, "released in " + ms + " ms");
        assertEquals(0, lines(starts), "no pool daemon started to take back a VM");
    }

    @Test
    void aDaemonThatFindsTheLockTakenIsStartedAgainOnceTheLockIsFree() throws Exception {
        Path starts = root.resolve("starts");
        Thread.ofVirtual().start(() -> {
            // Once the starter has started a second time, a daemon serves. Its start can find the lock taken for
            // an instant (the starter's own look at it), as a real daemon can: it is tried again.
            try {
                eventually(() -> lines(starts) >= 2, "a second start");
                long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (daemon == null) {
                    try {
                        start(Map.of(SMALL, 0), 4, Duration.ofMinutes(5));
                    } catch (PoolDaemon.AlreadyRunningException e) {
                        if (System.nanoTime() - deadline >= 0) {
                            throw e; // the starter's connect then fails the test at its own deadline
                        }
                        Thread.sleep(5); // the starter held the lock for an instant: try again
                    }
                }
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        try (TtrpcClient c = countingStarter(starts, Duration.ofSeconds(20), "0.3").connect()) {
            assertFalse(c.isClosed());
        }
        assertTrue(lines(starts) >= 2, "started again after the first exited 0 without answering");
    }

    @Test
    void aDaemonThatKeepsExitingWithoutAnsweringIsStartedAFewTimesThenReported() throws Exception {
        Path starts = root.resolve("starts");
        long t0 = System.nanoTime();
        IOException e = assertThrows(IOException.class,
                () -> countingStarter(starts, Duration.ofSeconds(20)).connect().close());
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(e.getMessage().contains("exited without answering, " + PoolStarter.MAX_STARTS + " times"),
                e.getMessage());
        assertEquals(PoolStarter.MAX_STARTS, lines(starts));
        assertTrue(ms < 10_000, "gave up after " + ms + " ms, not at the 20 s deadline");
    }

    @Test
    void aMissBootsOnTheRequestPathAndTheStatusSaysSo() throws Exception {
        start(Map.of(SMALL, 1), 4, Duration.ofMinutes(5));
        Lease lease = client.lease(BIG, "big");
        assertFalse(lease.warm(), "no IDLE VM of that key: a cold boot");
        assertEquals(1, key(BIG).getMisses());
        assertEquals(0, key(BIG).getHits());
        assertEquals(0, key(BIG).getTarget());
        String text = StatusText.text(client.status(), Instant.now());
        assertTrue(text.contains("1 vCPU 512 MiB tcg  idle 0/0  booting 0  leased 1  hits 0  misses 1"), text);
        assertTrue(StatusText.json(client.status()).contains("\"misses\" : 1"));
        client.release(lease);
    }

    @Test
    void aBurstOfThreeTimesTheCapNeverExceedsIt() throws Exception {
        int cap = 3;
        backend.bootTime = Duration.ofMillis(40);
        start(Map.of(SMALL, 1), cap, Duration.ofMinutes(5));
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        AtomicInteger served = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 3 * cap; i++) {
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    Lease l = client.lease(SMALL, "burst");
                    served.incrementAndGet();
                    assertTrue(total() <= cap);
                    Thread.sleep(30);
                    client.release(l);
                } catch (Throwable t) {
                    errors.add(t);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertTrue(errors.isEmpty(), () -> "lease failed: " + errors.peek());
        assertEquals(3 * cap, served.get(), "every lease of the burst served, in turn");
        assertTrue(backend.maxLive.get() <= cap, "at most " + cap + " VMs at once, saw " + backend.maxLive.get());
    }

    @Test
    void beyondTheCapALeaseWaitsUpToItsDeadlineThenFails() throws Exception {
        start(Map.of(), 1, Duration.ofMinutes(5));
        Lease held = client.lease(SMALL, "a");
        long t0 = System.nanoTime();
        StatusException e = assertThrows(StatusException.class,
                () -> client.lease(SMALL, "b", Duration.ofMillis(300)));
        assertEquals(Code.RESOURCE_EXHAUSTED, e.code());
        assertTrue(System.nanoTime() - t0 >= Duration.ofMillis(300).toNanos(), "it waited");
        assertEquals(1, backend.maxLive.get(), "no VM booted beyond the cap");
        client.release(held);
    }

    @Test
    void idleVmsAreEvictedAfterTheTtlAndReplaced() throws Exception {
        start(Map.of(SMALL, 1), 2, Duration.ofMillis(300));
        eventually(() -> key(SMALL).getIdle() == 1, "1 idle");
        eventually(() -> backend.destroyed.get() >= 1 && key(SMALL).getIdle() == 1, "the expired VM replaced");
        assertTrue(backend.boots.get() >= 2);
    }

    @Test
    void whenTheHolderDiesItsVmIsDestroyed() throws Exception {
        start(Map.of(SMALL, 1), 2, Duration.ofMinutes(5));
        eventually(() -> key(SMALL).getIdle() == 1, "1 idle");
        Process holder = new ProcessBuilder("sleep", "300").start();
        children.add(holder);
        LeaseResponse r;
        try (TtrpcClient c = TtrpcClient.connect(layout.poolSocket())) {
            r = c.call(PoolService.NAME, "Lease", LeaseRequest.newBuilder().setKey(PoolKeys.toProto(SMALL))
                    .setHolderPid((int) holder.pid()).setHolder("sleep").build(), LeaseResponse.parser(),
                    Duration.ofSeconds(10));
        }
        FakeVmBackend.FakeVm vm = backend.find(Path.of(r.getStateDir())).orElseThrow();
        assertEquals(1, key(SMALL).getLeased());
        holder.destroyForcibly().waitFor();
        eventually(() -> vm.closed, "the dead holder's VM destroyed");
        eventually(() -> key(SMALL).getLeased() == 0, "its lease ended");
    }

    @Test
    void aHolderThatCannotBeFoundGetsNoVm() throws Exception {
        start(Map.of(), 2, Duration.ofMinutes(5));
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        try (TtrpcClient c = TtrpcClient.connect(layout.poolSocket())) {
            StatusException e = assertThrows(StatusException.class, () -> c.call(PoolService.NAME, "Lease",
                    LeaseRequest.newBuilder().setKey(PoolKeys.toProto(SMALL)).setHolderPid((int) gone.pid()).build(),
                    LeaseResponse.parser(), Duration.ofSeconds(10)));
            assertEquals(Code.FAILED_PRECONDITION, e.code());
        }
        assertEquals(0, backend.boots.get());
    }

    @Test
    void aVmItsHolderToreDownItselfFreesItsSlot() throws Exception {
        start(Map.of(), 1, Duration.ofMinutes(5));
        Lease lease = client.lease(SMALL, "self-destroying");
        lease.vm().close(); // the holder's fallback when the pool cannot be reached
        eventually(() -> total() == 0, "the sweep saw the VM gone and freed its slot");
        client.release(lease); // later Release: idempotent
        client.release(client.lease(SMALL, "the slot is usable"));
    }

    @Test
    void stopLeavesLeasedVmsAndTheNextDaemonAdoptsThem() throws Exception {
        start(Map.of(SMALL, 1), 3, Duration.ofMinutes(5));
        eventually(() -> key(SMALL).getIdle() == 1, "1 idle");
        Lease lease = client.lease(SMALL, "survivor");
        eventually(() -> key(SMALL).getIdle() == 1, "refilled");
        FakeVmBackend.FakeVm leased = backend.find(lease.vm().stateDir()).orElseThrow();
        client.stop();
        assertTrue(daemon.awaitStopped(Duration.ofSeconds(20)));
        assertFalse(Files.exists(layout.poolSocket()), "socket removed");
        assertFalse(Files.exists(layout.poolPidFile()), "pid file removed");
        assertTrue(leased.running, "the leased VM stays with its holder");
        assertEquals(1, backend.live.get(), "the idle VM was destroyed");

        start(Map.of(SMALL, 1), 3, Duration.ofMinutes(5));
        StatusResponse s = client.status();
        assertEquals(1, s.getAdopted());
        assertEquals(1, key(SMALL).getLeased());
        client.release(lease); // the client reconnects to the new daemon
        eventually(() -> leased.closed, "the adopted VM destroyed on release");
    }

    @Test
    void oneDaemonPerStateTree() throws Exception {
        start(Map.of(), 1, Duration.ofMinutes(5));
        assertThrows(PoolDaemon.AlreadyRunningException.class, () -> PoolDaemon.start(layout, backend,
                new PoolPolicy(Map.of(), 1, 1, Duration.ofMinutes(1), Duration.ZERO), a -> a));
    }

    @Test
    void withoutADaemonAndAStarterALeaseIsUnavailable() {
        StatusException e = assertThrows(StatusException.class, () -> client.lease(SMALL, "nobody"));
        assertEquals(Code.UNAVAILABLE, e.code());
        assertTrue(e.getMessage().contains(layout.poolSocket().toString()), e.getMessage());
    }

    @Test
    void keysSurviveTheWire() throws Exception {
        VmConfig k = new VmConfig(Path.of("/a/../k"), Path.of("/i"), 2, 300, Accelerator.AUTO, List.of("x=1"),
                Duration.ofSeconds(7));
        assertEquals(PoolKeys.normalize(k), PoolKeys.fromProto(PoolKeys.toProto(k)));
        StatusException e = assertThrows(StatusException.class, () -> PoolKeys.fromProto(
                PoolKeys.toProto(k).toBuilder().setVcpus(0).build()));
        assertEquals(Code.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("vcpus"), e.getMessage());
    }
}
