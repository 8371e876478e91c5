package io.a3s.box.shim.pool;

import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class WarmPoolTest {
    static final VmConfig SMALL = config(1, 128);
    static final VmConfig BIG = config(2, 256);

    final FakeVmBackend backend = new FakeVmBackend();
    WarmPool pool;

    static VmConfig config(int vcpus, int mib) {
        return new VmConfig(Path.of("/k"), Path.of("/i"), vcpus, mib, Accelerator.TCG, List.of(),
                Duration.ofSeconds(10));
    }

    WarmPool pool(Map<VmConfig, Integer> targets, int max, Duration ttl) {
        pool = new WarmPool(backend, Path.of("/nonexistent-state"),
                new PoolPolicy(targets, max, Math.min(2, max), ttl, Duration.ofSeconds(20))).start();
        return pool;
    }

    @AfterEach
    void tearDown() throws Exception {
        if (pool != null) {
            pool.close();
            assertTrue(pool.isTerminated());
            assertEquals(0, backend.live.get(), "every VM destroyed");
        }
    }

    static void eventually(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(10);
        }
    }

    PoolStatus.KeyStatus key(VmConfig k) {
        return pool.status().keys().stream().filter(s -> s.key().equals(k)).findFirst().orElseThrow();
    }

    @Test
    void refillsToTargetAndAfterALease() throws Exception {
        pool(Map.of(SMALL, 2), 4, Duration.ofMinutes(5));
        eventually(() -> key(SMALL).idle() == 2, "2 idle");
        Lease lease = pool.lease(SMALL, "test");
        assertTrue(lease.warm(), "served by an IDLE VM");
        assertTrue(((FakeVmBackend.FakeVm) lease.vm()).detached,
                "the pool hung up on the IDLE VM's agent before the lease (no close racing the holder's attach)");
        assertEquals(1, key(SMALL).hits());
        assertEquals(1, key(SMALL).leased());
        eventually(() -> key(SMALL).idle() == 2, "refilled to 2 idle after the lease");
        Thread.sleep(200);
        assertEquals(2, key(SMALL).idle(), "never more idle VMs than the target");
        assertEquals(3, backend.boots.get(), "two to fill, one to refill");
        pool.release(lease);
        eventually(() -> key(SMALL).leased() == 0 && key(SMALL).destroying() == 0, "released VM destroyed");
        assertTrue(((FakeVmBackend.FakeVm) lease.vm()).closed, "a leased VM is never returned to the pool");
    }

    @Test
    void aLeaseWaitsForTheRefillBootUnderWayRatherThanBootingAnother() throws Exception {
        // boots end when the test says so: on a slow machine a timed boot could end before the first lease
        CountDownLatch gate = new CountDownLatch(1);
        backend.bootGate = gate;
        pool(Map.of(SMALL, 1), 4, Duration.ofMinutes(5));
        try {
            eventually(() -> key(SMALL).booting() == 1, "the refill boots");
            ConcurrentLinkedQueue<Lease> leases = new ConcurrentLinkedQueue<>();
            Thread first = Thread.ofVirtual().start(() -> {
                try {
                    leases.add(pool.lease(SMALL, "first"));
                } catch (StatusException e) {
                    throw new AssertionError(e);
                }
            });
            eventually(() -> pool.status().waiters() == 1, "the first lease waits for the refill boot");
            Thread.ofVirtual().start(() -> {
                try {
                    eventually(() -> backend.boots.get() == 2, "the second lease boots its own");
                } catch (InterruptedException | AssertionError e) {
                    // the assertions below say what went wrong
                }
                gate.countDown();
            });
            Lease second = pool.lease(SMALL, "second"); // nobody boots for it yet: a boot of its own
            first.join();
            Lease claimed = leases.peek();
            assertTrue(claimed.warm(), "the first lease got the VM the refill was booting");
            assertFalse(second.warm(), "the second one booted its own");
            assertEquals(1, key(SMALL).hits());
            assertEquals(1, key(SMALL).misses());
            pool.release(claimed);
            pool.release(second);
        } finally {
            gate.countDown(); // a failure above must not leave boots hanging for the teardown
        }
    }

    @Test
    void missBootsOnTheRequestPathAndSaysSo() throws Exception {
        pool(Map.of(), 4, Duration.ofMinutes(5));
        Lease lease = pool.lease(BIG, "test");
        assertFalse(lease.warm());
        assertFalse(((FakeVmBackend.FakeVm) lease.vm()).detached, "booted for the lease: its caller decides");
        assertEquals(1, key(BIG).misses());
        assertEquals(0, key(BIG).hits());
        assertEquals(1, key(BIG).boots());
        pool.release(lease);
    }

    @Test
    void burstOfThreeTimesTheCapNeverExceedsIt() throws Exception {
        int cap = 3;
        backend.bootTime = Duration.ofMillis(50);
        pool(Map.of(SMALL, 1), cap, Duration.ofMinutes(5));
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 3 * cap; i++) {
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    Lease l = pool.lease(SMALL, "burst");
                    assertTrue(pool.status().total() <= cap);
                    Thread.sleep(30);
                    pool.release(l);
                } catch (Throwable t) {
                    errors.add(t);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertTrue(errors.isEmpty(), () -> "lease failed: " + errors.peek());
        assertTrue(backend.maxLive.get() <= cap, "at most " + cap + " VMs at once, saw " + backend.maxLive.get());
    }

    @Test
    void waitingBeyondTheDeadlineIsResourceExhausted() throws Exception {
        pool = new WarmPool(backend, Path.of("/x"),
                new PoolPolicy(Map.of(), 1, 1, Duration.ofMinutes(5), Duration.ofMillis(200))).start();
        Lease held = pool.lease(SMALL, "a");
        StatusException e = assertThrows(StatusException.class, () -> pool.lease(SMALL, "b"));
        assertEquals(Code.RESOURCE_EXHAUSTED, e.code());
        assertTrue(e.getMessage().contains("pool.max_vms"), e.getMessage());
        assertEquals(0, pool.status().waiters());
        pool.release(held);
        pool.release(pool.lease(SMALL, "c")); // the slot came back
    }

    @Test
    void bootFailureIsUnavailableAndFreesTheSlot() throws Exception {
        pool(Map.of(), 1, Duration.ofMinutes(5));
        backend.failBoots = true;
        StatusException e = assertThrows(StatusException.class, () -> pool.lease(SMALL, "x"));
        assertEquals(Code.UNAVAILABLE, e.code());
        assertEquals(1, key(SMALL).bootFailures());
        assertEquals(0, pool.status().total());
        backend.failBoots = false;
        pool.release(pool.lease(SMALL, "y"));
    }

    @Test
    void idleTtlEvictsAndRefillReplaces() throws Exception {
        pool(Map.of(SMALL, 1), 2, Duration.ofMillis(300));
        eventually(() -> key(SMALL).idle() == 1, "1 idle");
        eventually(() -> backend.destroyed.get() >= 1 && key(SMALL).idle() == 1, "expired VM replaced");
        assertTrue(backend.boots.get() >= 2);
    }

    @Test
    void anIdleVmThatDiesIsReplaced() throws Exception {
        pool(Map.of(SMALL, 1), 2, Duration.ofMinutes(5));
        eventually(() -> key(SMALL).idle() == 1, "1 idle");
        FakeVmBackend.FakeVm first = backend.all.getFirst();
        first.die();
        eventually(() -> backend.boots.get() >= 2 && key(SMALL).idle() == 1, "dead idle VM replaced");
        Lease l = pool.lease(SMALL, "after");
        assertTrue(l.vm().isRunning(), "never lease a dead VM");
        pool.release(l);
    }

    @Test
    void aWaiterOfAnotherKeyEvictsAnIdleVmWhenAtTheCap() throws Exception {
        pool(Map.of(SMALL, 2), 2, Duration.ofMinutes(5));
        eventually(() -> key(SMALL).idle() == 2, "cap filled with idle SMALL VMs");
        Lease big = pool.lease(BIG, "needs room");
        assertFalse(big.warm());
        assertTrue(pool.status().total() <= 2);
        pool.release(big);
    }

    @Test
    void shutdownFailsWaitersAndDestroysEverything() throws Exception {
        pool = new WarmPool(backend, Path.of("/x"),
                new PoolPolicy(Map.of(SMALL, 1), 1, 1, Duration.ofMinutes(5), Duration.ofSeconds(30))).start();
        eventually(() -> key(SMALL).idle() == 1, "1 idle");
        Lease held = pool.lease(SMALL, "holder");
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        Thread waiter = Thread.ofVirtual().start(() -> {
            try {
                pool.lease(BIG, "waiter");
            } catch (Throwable t) {
                failures.add(t);
            }
        });
        eventually(() -> pool.status().waiters() == 1, "one waiter");
        pool.shutdownNow();
        waiter.join();
        assertEquals(Code.UNAVAILABLE, ((StatusException) failures.peek()).code());
        assertTrue(pool.awaitTermination(Duration.ofSeconds(10)));
        assertTrue(((FakeVmBackend.FakeVm) held.vm()).closed);
        assertThrows(StatusException.class, () -> pool.lease(SMALL, "late"));
    }

    @Test
    void anAdoptedLeaseCountsAgainstTheCapUntilReleased() throws Exception {
        pool(Map.of(), 1, Duration.ofMinutes(5));
        FakeVmBackend.FakeVm running = (FakeVmBackend.FakeVm) backend.newInstance(SMALL, Path.of("/x/vms/adopted"));
        running.start(Duration.ofSeconds(1));
        Lease adopted = pool.adopt(running, "pid 1 (adopted)");
        assertEquals(1, pool.status().total());
        assertEquals(1, key(SMALL).leased());
        StatusException e = assertThrows(StatusException.class,
                () -> pool.lease(SMALL, "over the cap", Duration.ofMillis(100)));
        assertEquals(Code.RESOURCE_EXHAUSTED, e.code());
        pool.release(adopted);
        eventually(() -> pool.status().total() == 0, "the adopted VM destroyed and its slot freed");
        assertTrue(running.closed);
        pool.release(pool.lease(SMALL, "fits again"));
    }

    @Test
    void shutdownLeavesLeasedVmsWithTheirHolders() throws Exception {
        pool(Map.of(SMALL, 1), 3, Duration.ofMinutes(5));
        eventually(() -> key(SMALL).idle() == 1, "1 idle");
        Lease held = pool.lease(SMALL, "holder");
        eventually(() -> key(SMALL).idle() == 1, "refilled");
        pool.shutdown();
        assertTrue(pool.awaitOnlyLeased(Duration.ofSeconds(10)), "idle VMs destroyed");
        assertEquals(1, pool.status().total());
        assertTrue(held.vm().isRunning(), "the leased VM still runs");
        pool.release(held);
        assertTrue(pool.awaitTermination(Duration.ofSeconds(10)));
    }

    @Test
    void badPolicyValuesNameTheKey() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> new PoolPolicy(Map.of(), 0, 1, Duration.ofMinutes(1), Duration.ZERO));
        assertTrue(e.getMessage().startsWith("pool.max_vms: 0 is out of range"), e.getMessage());
    }
}
