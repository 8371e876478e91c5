package io.a3s.box.shim.pool;

import io.a3s.box.shim.vm.BootInfo;
import io.a3s.box.shim.vm.StateDir;
import io.a3s.box.shim.vm.VmBackend;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.shim.vm.VmException;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Keeps microVMs booted and IDLE so that no VM boots on the request path, and leases them out.
 *
 * <p>Invariants (each has a test in {@code WarmPoolTest}):
 * <ol>
 *   <li>The pool never owns more than {@link PoolPolicy#maxVms()} VMs, counting idle, booting, leased and
 *       being-destroyed ones. A burst beyond the cap waits, in arrival order, up to its deadline, and then
 *       fails with RESOURCE_EXHAUSTED; it never boots unbounded VMs.</li>
 *   <li>A lease is served by an IDLE VM of its key when there is one (a hit); otherwise by a VM the refill is
 *       booting for its key already, if no earlier waiter has claimed that one (also a hit: it will be IDLE sooner
 *       than a new boot would be, and it is raised to normal priority); otherwise, if a slot is free, a VM is
 *       booted for it on the request path (a miss, reported in {@link #status()}).</li>
 *   <li>A leased VM is never returned to the pool: {@link #release} destroys it and frees its slot.</li>
 *   <li>In the background the pool refills every key up to its idle target, evicts idle VMs older than the
 *       idle TTL, forgets idle VMs that died, and evicts an idle VM of another key when a waiter needs its
 *       slot.</li>
 *   <li>A VM leased out by an earlier pool process ({@link #adopt}) counts as leased, like any other, until it is
 *       released.</li>
 * </ol>
 *
 * <p>Threading: thread-safe; one lock guards all state. Boots and teardowns run on their own virtual
 * threads, never under the lock. {@link #lease} blocks (bounded by its wait); nothing else does for long.
 *
 * <p>Lifecycle: {@link #start}, {@link #shutdown} (no new leases, idle VMs destroyed, leased VMs stay with
 * their holders until released), {@link #shutdownNow} (leased VMs destroyed too), {@link #awaitTermination}
 * (until the pool owns no VM), {@link #awaitOnlyLeased} (until it owns nothing but leased VMs), {@link #close}.
 */
public final class WarmPool implements VmProvider, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WarmPool.class);
    private static final int BOOT_TIMES_KEPT = 200;
    private static final Duration TICK = Duration.ofMillis(500);
    /**
     * Niceness of the VMs the refill boots, until they are leased: on a host with few cores a TCG boot takes a
     * whole core for seconds, and it must not slow down the VMs in use (nor the JVMs serving them).
     */
    static final int BACKGROUND_NICE = 10;

    private final VmBackend backend;
    private final Path stateRoot;
    private final PoolPolicy policy;
    private final Warmer warmer;
    private final Clock clock;
    private final SecureRandom random = new SecureRandom();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();

    // guarded by lock
    private final Map<VmConfig, KeyState> keys = new LinkedHashMap<>();
    // guarded by lock; arrival order
    private final Deque<Waiter> waiters = new ArrayDeque<>();
    // guarded by lock; every VM the pool owns: idle + booting + leased + destroying
    private int total;
    // guarded by lock
    private int bootsInFlight;
    // guarded by lock
    private boolean started;
    // guarded by lock
    private boolean shutdown;
    // guarded by lock
    private final List<VmInstance> leasedVms = new ArrayList<>();

    private record Idle(VmInstance vm, Instant bootedAt) {
    }

    /** A refill boot under way, since {@code startedNanos} ({@link System#nanoTime}). */
    private record Refill(VmInstance vm, long startedNanos) {
    }

    private static final class KeyState {
        final Deque<Idle> idle = new ArrayDeque<>();
        int booting;
        int refillBooting;
        /** The VMs the refill is booting now, oldest first (a waiter may claim one). */
        final List<Refill> refillVms = new ArrayList<>();
        int leased;
        int destroying;
        long hits;
        long misses;
        long bootFailures;
        final Deque<Duration> bootTimes = new ArrayDeque<>();
    }

    /** A lease request waiting for a VM or a slot; the dispatcher decides, the waiting thread acts. */
    private final class Waiter {
        final VmConfig key;
        final Condition served = lock.newCondition();
        Idle idle;            // set by dispatch: take this VM
        boolean bootForMe;    // set by dispatch: a slot was reserved, boot one
        StatusException failure;

        Waiter(VmConfig key) {
            this.key = key;
        }

        boolean decided() {
            return idle != null || bootForMe || failure != null;
        }
    }

    /**
     * Runs on every VM the refill boots, before it becomes IDLE (and while it still counts as booting): work that
     * makes the first lease of the VM faster, or checks it. A failure counts as a failed boot (the VM is destroyed).
     * Never runs for a VM booted on the request path: its lessee is waiting.
     */
    @FunctionalInterface
    public interface Warmer {
        Warmer NONE = vm -> { };

        void warmUp(VmInstance vm) throws Exception;
    }

    public WarmPool(VmBackend backend, Path stateRoot, PoolPolicy policy) {
        this(backend, stateRoot, policy, Warmer.NONE);
    }

    public WarmPool(VmBackend backend, Path stateRoot, PoolPolicy policy, Warmer warmer) {
        this(backend, stateRoot, policy, warmer, Clock.systemUTC());
    }

    WarmPool(VmBackend backend, Path stateRoot, PoolPolicy policy, Warmer warmer, Clock clock) {
        this.backend = backend;
        this.stateRoot = stateRoot;
        this.policy = policy;
        this.warmer = warmer;
        this.clock = clock;
    }

    /** Starts the background refill. */
    public WarmPool start() {
        lock.lock();
        try {
            if (started) {
                throw new IllegalStateException("already started");
            }
            started = true;
            policy.idleTargets().keySet().forEach(this::state);
        } finally {
            lock.unlock();
        }
        Thread.ofVirtual().name("pool-refill").start(this::refillLoop);
        return this;
    }

    public PoolPolicy policy() {
        return policy;
    }

    /** {@link #lease(VmConfig, String, Duration)} with the policy's default wait. */
    @Override
    public Lease lease(VmConfig key, String holder) throws StatusException {
        return lease(key, holder, policy.defaultLeaseWait());
    }

    /**
     * Leases a VM of {@code key}: an IDLE one at once if there is one, else one booted now if a slot is free,
     * else waits (fairly, in arrival order) up to {@code maxWait} for either.
     *
     * @throws StatusException RESOURCE_EXHAUSTED when no slot freed up in time, UNAVAILABLE when the boot
     *                         failed or the pool is shutting down, CANCELLED when interrupted
     */
    public Lease lease(VmConfig key, String holder, Duration maxWait) throws StatusException {
        long deadline = System.nanoTime() + maxWait.toNanos();
        Waiter w = new Waiter(key);
        Lease hit = null;
        lock.lock();
        try {
            if (shutdown) {
                throw Code.UNAVAILABLE.toException("pool is shutting down");
            }
            waiters.addLast(w);
            dispatch();
            while (!w.decided()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    waiters.remove(w);
                    throw Code.RESOURCE_EXHAUSTED.toException(
                            "pool: no VM for %s within %s: %d of %d slots in use (pool.max_vms), %d booting",
                            describe(key), maxWait, total, policy.maxVms(), bootsInFlight);
                }
                try {
                    w.served.awaitNanos(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    if (!w.decided()) {
                        waiters.remove(w);
                        throw Code.CANCELLED.toException("pool: interrupted while waiting for a VM");
                    }
                    // decided meanwhile: honour it below, or its reserved slot would leak
                }
            }
            if (w.failure != null) {
                throw w.failure;
            }
            if (w.idle != null) {
                hit = leased(w.idle.vm(), holder, true);
            }
        } finally {
            lock.unlock();
        }
        if (hit != null) {
            hit.vm().setNice(0); // someone uses it now
            return hit;
        }
        // A slot was reserved for us: boot on the request path (a miss).
        VmInstance vm = boot(key, false);
        lock.lock();
        try {
            if (vm == null) {
                throw Code.UNAVAILABLE.toException("pool: booting a VM for %s failed (see the pool log)",
                        describe(key));
            }
            if (shutdown) {
                // shutdownNow raced with our boot: it cannot see this VM yet, so destroy it ourselves
                state(key).leased++;
                leasedVms.add(vm);
                destroyLater(key, vm);
                throw Code.UNAVAILABLE.toException("pool is shutting down");
            }
            return leased(vm, holder, false);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes a VM that is already leased out (by an earlier pool process, found in the state directory at
     * start-up) into the pool's accounting: it counts against the cap as leased until {@link #release}d. The cap
     * is not checked: the VM exists whether the pool likes it or not.
     */
    public Lease adopt(VmInstance vm, String holder) {
        lock.lock();
        try {
            if (shutdown) {
                throw new IllegalStateException("pool is shutting down");
            }
            total++;
            return leased(vm, holder, false);
        } finally {
            lock.unlock();
        }
    }

    // called with lock held
    private Lease leased(VmInstance vm, String holder, boolean warm) {
        state(vm.config()).leased++;
        leasedVms.add(vm);
        return new Lease(vm, holder, clock.instant(), warm);
    }

    /**
     * Gives a leased VM back: it is destroyed (a VM that ran a workload never serves another tenant) and its
     * slot frees up for a waiter or the refill. Idempotent for a VM already released.
     */
    @Override
    public void release(Lease lease) {
        lock.lock();
        try {
            if (!leasedVms.contains(lease.vm())) {
                return;
            }
            destroyLater(lease.vm().config(), lease.vm());
        } finally {
            lock.unlock();
        }
    }

    // called with lock held; the VM must be counted as leased
    private void destroyLater(VmConfig key, VmInstance vm) {
        KeyState ks = state(key);
        leasedVms.remove(vm);
        ks.leased--;
        destroyAsync(ks, vm);
    }

    /**
     * Destroys a VM on its own thread; its slot ({@code total}) frees up once it is gone. Called with lock
     * held, for a VM already taken out of idle/leased accounting.
     */
    private void destroyAsync(KeyState ks, VmInstance vm) {
        ks.destroying++;
        Thread.ofVirtual().name("pool-destroy-" + vm.id()).start(() -> {
            vm.close();
            lock.lock();
            try {
                ks.destroying--;
                total--;
                dispatch();
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        });
    }

    /**
     * Hands out what can be handed out, in arrival order: an idle VM of the waiter's key, or a free slot to
     * boot in (evicting an idle VM of another key when that is the only way to get one). Called with lock
     * held, after every change.
     */
    private void dispatch() {
        Map<KeyState, Integer> claimed = new java.util.HashMap<>();
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            if (shutdown) {
                w.failure = Code.UNAVAILABLE.toException("pool is shutting down");
            } else {
                KeyState ks = state(w.key);
                Idle idle = takeLiveIdle(ks);
                int claims = claimed.getOrDefault(ks, 0);
                List<Refill> claimable = idle == null ? claimableRefills(ks) : List.of();
                // counted by the refill loop, not yet registered by their boot thread (which then sees a
                // waiter and boots at full priority): as claimable as the registered ones
                int starting = idle == null ? ks.refillBooting - ks.refillVms.size() : 0;
                if (idle != null) {
                    ks.hits++;
                    w.idle = idle;
                } else if (claims < claimable.size() + starting) {
                    // a refill boot of this key is under way and nobody before us waits for it: it beats a new boot
                    claimed.put(ks, claims + 1);
                    if (claims < claimable.size()) {
                        claimable.get(claims).vm().setNice(0);
                    }
                    continue;
                } else if (total < policy.maxVms() && bootsInFlight < policy.maxConcurrentBoots()) {
                    total++;
                    bootsInFlight++;
                    ks.booting++;
                    ks.misses++;
                    w.bootForMe = true;
                } else if (total >= policy.maxVms() && destroyingCount() == 0 && evictIdleOfOtherKey(w.key)) {
                    // the slot frees up when the eviction finishes; dispatch runs again then
                    continue;
                } else {
                    continue;
                }
            }
            it.remove();
            w.served.signal();
        }
    }

    /**
     * Refill boots of a key a waiter may wait for: those under way for less than twice the key's median boot (30 s
     * before the first boot): an older one may be hanging (it would be retried after the boot deadline), and a
     * waiter should not wait on it rather than boot. Called with lock held.
     */
    private List<Refill> claimableRefills(KeyState ks) {
        if (ks.refillVms.isEmpty()) {
            return List.of();
        }
        long now = System.nanoTime();
        long limit = ks.bootTimes.isEmpty() ? Duration.ofSeconds(30).toNanos()
                : 2 * percentile(ks.bootTimes.stream().sorted().toList(), 0.5).toNanos();
        return ks.refillVms.stream().filter(r -> now - r.startedNanos() < limit).toList();
    }

    // called with lock held
    private Idle takeLiveIdle(KeyState ks) {
        while (!ks.idle.isEmpty()) {
            Idle i = ks.idle.pollFirst();
            if (i.vm().isRunning()) {
                return i;
            }
            destroyIdle(ks, i, "it died while idle");
        }
        return null;
    }

    // called with lock held; a VM being destroyed frees a slot soon, so no eviction is needed meanwhile
    private int destroyingCount() {
        int n = 0;
        for (KeyState ks : keys.values()) {
            n += ks.destroying;
        }
        return n;
    }

    // called with lock held
    private boolean evictIdleOfOtherKey(VmConfig wanted) {
        for (Map.Entry<VmConfig, KeyState> e : keys.entrySet()) {
            if (!e.getKey().equals(wanted) && !e.getValue().idle.isEmpty()) {
                destroyIdle(e.getValue(), e.getValue().idle.pollLast(), "its slot is needed by another key");
                return true;
            }
        }
        return false;
    }

    // called with lock held; the Idle must already be out of ks.idle
    private void destroyIdle(KeyState ks, Idle idle, String why) {
        log.info("pool: destroying idle vm {}: {}", idle.vm().id(), why);
        destroyAsync(ks, idle.vm());
    }

    /**
     * Boots one VM for a reserved slot ({@code total}, {@code booting} and {@code bootsInFlight} already
     * counted). Returns it, or null if the boot failed (the slot is then released). A refill boot stays counted in
     * {@code refillBooting} until {@link #refillOne} has put the VM among the idle ones (in the same critical
     * section), or the refill would see neither and boot one VM too many.
     */
    private VmInstance boot(VmConfig key, boolean forRefill) {
        String id = newVmId();
        VmInstance vm = null;
        VmInstance created = null;
        BootInfo info = null;
        try {
            vm = backend.newInstance(key, StateDir.of(stateRoot, id));
            created = vm;
            if (forRefill) {
                vm.setNice(startRefill(key, vm) ? 0 : BACKGROUND_NICE);
            }
            info = vm.start(key.bootDeadline());
            if (forRefill) {
                warmer.warmUp(vm);
                // An IDLE VM has no host on its agent port. A hang-up at the lease instead raced the holder's
                // attach: the guest could see the holder's Hello before the pool's close, take the stale EOF
                // for the holder's and drop the Hello (docs/guest-protocol.md), a resend later. Long before the
                // lease, the agent has seen the EOF and waits for the next host.
                vm.detach();
            }
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            log.warn("pool: boot of vm {} failed: {}", id, e.getMessage());
            if (vm != null) {
                vm.close();
            }
            vm = null;
        }
        lock.lock();
        try {
            KeyState ks = state(key);
            ks.booting--;
            bootsInFlight--;
            if (forRefill) {
                ks.refillBooting--;
                VmInstance done = created;
                ks.refillVms.removeIf(r -> r.vm() == done);
            }
            if (vm == null) {
                ks.bootFailures++;
                total--;
            } else {
                ks.bootTimes.addLast(info.hostWall());
                if (ks.bootTimes.size() > BOOT_TIMES_KEPT) {
                    ks.bootTimes.removeFirst();
                }
                if (forRefill) {
                    // IDLE in the same critical section that ends the boot: a waiter must never see neither
                    if (shutdown) {
                        destroyAsync(ks, vm);
                    } else {
                        ks.idle.addLast(new Idle(vm, clock.instant()));
                        vm.onExit().thenRun(this::signalChange);
                    }
                }
            }
            dispatch();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        return vm;
    }

    private void refillLoop() {
        lock.lock();
        try {
            while (!shutdown) {
                evictExpired();
                for (Map.Entry<VmConfig, Integer> e : policy.idleTargets().entrySet()) {
                    KeyState ks = state(e.getKey());
                    // waiters come first: the refill only takes slots nobody is waiting for
                    while (waiters.isEmpty() && ks.idle.size() + ks.refillBooting < e.getValue()
                            && total < policy.maxVms() && bootsInFlight < policy.maxConcurrentBoots()) {
                        total++;
                        bootsInFlight++;
                        ks.booting++;
                        ks.refillBooting++;
                        VmConfig key = e.getKey();
                        Thread.ofVirtual().name("pool-boot").start(() -> refillOne(key));
                    }
                }
                try {
                    changed.await(TICK.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException ex) {
                    return;
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private void refillOne(VmConfig key) {
        boot(key, true); // on success the VM is IDLE (or handed to a waiter) when this returns
    }

    /**
     * Records a refill boot about to start (a waiter may claim it), and says whether a lease of its key waits
     * already: then it is not a background boot.
     */
    private boolean startRefill(VmConfig key, VmInstance vm) {
        lock.lock();
        try {
            state(key).refillVms.add(new Refill(vm, System.nanoTime()));
            return waiters.stream().anyMatch(w -> w.key.equals(key));
        } finally {
            lock.unlock();
        }
    }

    private void signalChange() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    // called with lock held
    private void evictExpired() {
        Instant now = clock.instant();
        for (KeyState ks : keys.values()) {
            for (Iterator<Idle> it = ks.idle.iterator(); it.hasNext(); ) {
                Idle i = it.next();
                if (!i.vm().isRunning()) {
                    it.remove();
                    destroyIdle(ks, i, "it died while idle");
                } else if (Duration.between(i.bootedAt(), now).compareTo(policy.idleTtl()) > 0) {
                    it.remove();
                    destroyIdle(ks, i, "idle for longer than " + policy.idleTtl());
                }
            }
        }
    }

    /** A consistent snapshot of counts, hits, misses and boot times. */
    public PoolStatus status() {
        lock.lock();
        try {
            List<PoolStatus.KeyStatus> list = new ArrayList<>();
            keys.forEach((key, ks) -> {
                List<Duration> sorted = new ArrayList<>(ks.bootTimes);
                sorted.sort(null);
                list.add(new PoolStatus.KeyStatus(key, policy.idleTargets().getOrDefault(key, 0), ks.idle.size(),
                        ks.booting, ks.leased, ks.destroying, ks.hits, ks.misses, ks.bootFailures, sorted.size(),
                        percentile(sorted, 0.50), percentile(sorted, 0.95),
                        sorted.isEmpty() ? null : sorted.getLast()));
            });
            return new PoolStatus(policy.maxVms(), total, waiters.size(), list);
        } finally {
            lock.unlock();
        }
    }

    /** Stops leasing and refilling; idle VMs are destroyed, leased ones stay until released. Idempotent. */
    public void shutdown() {
        lock.lock();
        try {
            if (shutdown) {
                return;
            }
            shutdown = true;
            dispatch(); // fails every waiter
            for (KeyState ks : keys.values()) {
                while (!ks.idle.isEmpty()) {
                    destroyIdle(ks, ks.idle.pollFirst(), "the pool is shutting down");
                }
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** {@link #shutdown()}, and destroys leased VMs too. Idempotent. */
    public void shutdownNow() {
        shutdown();
        lock.lock();
        try {
            for (VmInstance vm : List.copyOf(leasedVms)) {
                destroyLater(vm.config(), vm);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Waits until the pool owns no VM at all. */
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        long nanos = timeout.toNanos();
        lock.lock();
        try {
            while (!(shutdown && total == 0)) {
                if (nanos <= 0) {
                    return false;
                }
                nanos = changed.awaitNanos(nanos);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * After {@link #shutdown}: waits until the pool owns nothing but leased VMs (no idle, booting or
     * being-destroyed one), which is when a pool process may exit and leave its leased VMs to their holders.
     */
    public boolean awaitOnlyLeased(Duration timeout) throws InterruptedException {
        long nanos = timeout.toNanos();
        lock.lock();
        try {
            while (!(shutdown && total == leasedVms.size())) {
                if (nanos <= 0) {
                    return false;
                }
                nanos = changed.awaitNanos(nanos);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    public boolean isTerminated() {
        lock.lock();
        try {
            return shutdown && total == 0;
        } finally {
            lock.unlock();
        }
    }

    /** {@link #shutdownNow()} and waits for every VM to be destroyed (bounded). */
    @Override
    public void close() {
        shutdownNow();
        try {
            if (!awaitTermination(Duration.ofMinutes(2))) {
                log.error("pool: VMs still being destroyed after 2 minutes");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // called with lock held
    private KeyState state(VmConfig key) {
        return keys.computeIfAbsent(key, k -> new KeyState());
    }

    private String newVmId() {
        byte[] b = new byte[5];
        random.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    static String describe(VmConfig key) {
        return key.vcpus() + " vCPU, " + key.memoryMiB() + " MiB, " + key.accelerator().name().toLowerCase();
    }

    private static Duration percentile(List<Duration> sorted, double p) {
        if (sorted.isEmpty()) {
            return null;
        }
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.floor(p * sorted.size())));
    }
}
