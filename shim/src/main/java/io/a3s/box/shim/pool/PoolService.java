package io.a3s.box.shim.pool;

import io.a3s.box.shim.BuildInfo;
import io.a3s.box.shim.pool.v1.Holding;
import io.a3s.box.shim.pool.v1.KeyStatus;
import io.a3s.box.shim.pool.v1.LeaseRequest;
import io.a3s.box.shim.pool.v1.LeaseResponse;
import io.a3s.box.shim.pool.v1.ReleaseRequest;
import io.a3s.box.shim.pool.v1.ReleaseResponse;
import io.a3s.box.shim.pool.v1.StatusRequest;
import io.a3s.box.shim.pool.v1.StatusResponse;
import io.a3s.box.shim.pool.v1.StopRequest;
import io.a3s.box.shim.pool.v1.StopResponse;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.shim.sys.ProcessRef;
import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.vm.StateDir;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.ttrpc.CallContext;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.ServiceDefinition;
import io.a3s.box.ttrpc.StatusException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The pool daemon's ttrpc service ({@code a3s.pool.v1.Pool}, see pool.proto) over a {@link WarmPool}, and what
 * the in-process pool does not know about: who holds each leased VM.
 *
 * <p><b>Handover.</b> A lease is served by the warm pool with the VM's agent connected (the pool booted it); the
 * service then {@linkplain VmInstance#detach detaches} it (QEMU's agent socket serves one host at a time, so the
 * pool lets go before the holder connects), records the holder's pid and start time in the state directory's
 * {@code owner} file and answers with the state directory. The holder attaches there.
 *
 * <p><b>Holders.</b> Each leased VM's holder is watched through a pidfd (its death is seen at once) and, every
 * {@link #SWEEP}, through the {@code owner} file ({@link StateDir#ownerAlive}: pid and start time). A VM whose
 * holder died is destroyed. A VM whose holder tore it down itself (its state directory is gone) frees its slot.
 *
 * <p><b>Release.</b> The holder detaches and calls Release; the pool destroys the VM (asynchronously; the slot
 * stays taken until the VM is gone). A holder that cannot reach the pool tears the VM down itself; the sweep
 * then frees the slot. Either way a leased VM never serves another tenant.
 *
 * <p>Thread-safe: every call runs on its own virtual thread; the map of holders is concurrent and each entry
 * leaves it exactly once (whoever removes it releases the VM).
 */
final class PoolService {
    private static final Logger log = LoggerFactory.getLogger(PoolService.class);
    static final String NAME = "a3s.pool.v1.Pool";
    static final Duration SWEEP = Duration.ofSeconds(1);

    private final WarmPool pool;
    private final Path stateRoot;
    private final Function<Accelerator, Accelerator> resolveAccelerator;
    private final Runnable stop;
    private final Instant startedAt = Instant.now();
    private final Map<String, Held> held = new ConcurrentHashMap<>();
    private final Map<Accelerator, String> resolved = new ConcurrentHashMap<>();
    private volatile int adopted;
    private volatile int reconciled;

    /** A leased VM and its holder. */
    record Held(Lease lease, long holderPid, ProcessRef holderRef) {
    }

    /**
     * @param resolveAccelerator what AUTO becomes on this host (for the status)
     * @param stop               stops the daemon (called on its own thread by the Stop call)
     */
    PoolService(WarmPool pool, Path stateRoot, Function<Accelerator, Accelerator> resolveAccelerator, Runnable stop) {
        this.pool = pool;
        this.stateRoot = stateRoot;
        this.resolveAccelerator = resolveAccelerator;
        this.stop = stop;
    }

    ServiceDefinition definition() {
        return ServiceDefinition.builder(NAME)
                .unary("Lease", LeaseRequest.parser(), this::lease)
                .unary("Release", ReleaseRequest.parser(), this::release)
                .unary("Status", StatusRequest.parser(), (req, ctx) -> status())
                .unary("Stop", StopRequest.parser(), this::stop)
                .build();
    }

    LeaseResponse lease(LeaseRequest req, CallContext ctx) throws StatusException {
        VmConfig key = PoolKeys.fromProto(req.getKey());
        long pid = Integer.toUnsignedLong(req.getHolderPid());
        if (pid == 0) {
            throw Code.INVALID_ARGUMENT.toException("lease: holder_pid is required");
        }
        String holder = (req.getHolder().isEmpty() ? "pid " + pid : req.getHolder());
        ProcessRef holderRef;
        try {
            holderRef = ProcessRef.open(pid);
        } catch (Linux.ErrnoException e) {
            throw Code.FAILED_PRECONDITION.toException("lease: holder pid %d does not run", pid);
        }
        long t0 = System.nanoTime();
        Lease lease;
        try {
            Duration wait = req.hasWaitMs() ? Duration.ofMillis(req.getWaitMs()) : pool.policy().defaultLeaseWait();
            lease = pool.lease(key, holder, wait);
        } catch (StatusException | RuntimeException e) {
            holderRef.close();
            throw e;
        }
        VmInstance vm = lease.vm();
        Held h = new Held(lease, pid, holderRef);
        try {
            vm.detach();
            StateDir.writeOwner(vm.stateDir(), pid);
        } catch (IOException | RuntimeException e) {
            pool.release(lease);
            holderRef.close();
            throw Code.INTERNAL.toException("lease: handing vm %s over failed: %s", vm.id(), e.getMessage());
        }
        held.put(vm.id(), h);
        holderRef.onExit().thenRun(() -> drop(vm.id(), h, "its holder (" + holder + ") exited"));
        if (ctx.isCancelled()) {
            drop(vm.id(), h, "its client gave up before the answer");
            throw Code.CANCELLED.toException("lease: the client went away");
        }
        long waited = (System.nanoTime() - t0) / 1_000_000;
        log.info("pool: vm {} leased to {} ({}, {} ms)", vm.id(), holder, lease.warm() ? "warm" : "cold boot", waited);
        return LeaseResponse.newBuilder().setVmId(vm.id()).setStateDir(vm.stateDir().toString())
                .setWarm(lease.warm()).setWaitedMs(waited).build();
    }

    ReleaseResponse release(ReleaseRequest req, CallContext ctx) {
        Held h = held.get(req.getVmId());
        boolean found = h != null && drop(req.getVmId(), h, null);
        return ReleaseResponse.newBuilder().setFound(found).build();
    }

    /** Takes a VM leased out by an earlier pool process into account, watching its holder. */
    boolean adopt(VmInstance vm, long holderPid) {
        ProcessRef ref;
        try {
            ref = ProcessRef.open(holderPid);
        } catch (Linux.ErrnoException e) {
            return false;
        }
        String holder = "pid " + holderPid + " (adopted)";
        Lease lease = pool.adopt(vm, holder);
        Held h = new Held(lease, holderPid, ref);
        held.put(vm.id(), h);
        ref.onExit().thenRun(() -> drop(vm.id(), h, "its holder (" + holder + ") exited"));
        adopted++;
        log.info("pool: adopted vm {} leased to pid {}", vm.id(), holderPid);
        return true;
    }

    void countReconciled(int n) {
        reconciled += n;
    }

    /**
     * Ends a lease: the VM is destroyed and its slot freed once it is gone. Only the caller that removes the
     * entry does it; returns whether that was this call.
     *
     * @param why for the log; null for a Release by the holder
     */
    private boolean drop(String vmId, Held h, String why) {
        if (!held.remove(vmId, h)) {
            return false;
        }
        if (why != null) {
            log.info("pool: destroying vm {}: {}", vmId, why);
        } else {
            log.info("pool: vm {} released by {}", vmId, h.lease().holder());
        }
        pool.release(h.lease());
        h.holderRef().close();
        return true;
    }

    /** Every {@link #SWEEP}: ends the leases whose holder is gone or whose VM its holder tore down. */
    void sweep() {
        for (Map.Entry<String, Held> e : held.entrySet()) {
            Held h = e.getValue();
            Path dir = h.lease().vm().stateDir();
            if (!Files.isDirectory(dir)) {
                drop(e.getKey(), h, "its holder tore it down");
            } else if (!StateDir.ownerAlive(dir)) {
                drop(e.getKey(), h, "its owner " + ownerLine(dir) + " is gone");
            }
        }
    }

    int heldCount() {
        return held.size();
    }

    /** Closes the holder watches (the daemon is exiting; leased VMs stay with their holders). */
    void forgetHolders() {
        for (Map.Entry<String, Held> e : held.entrySet()) {
            if (held.remove(e.getKey(), e.getValue())) {
                e.getValue().holderRef().close();
            }
        }
    }

    StatusResponse status() {
        PoolStatus s = pool.status();
        StatusResponse.Builder b = StatusResponse.newBuilder()
                .setPid((int) ProcessHandle.current().pid())
                .setVersion(BuildInfo.CURRENT.version())
                .setStateRoot(stateRoot.toString())
                .setStartedAtMs(startedAt.toEpochMilli())
                .setMaxVms(s.maxVms()).setTotal(s.total()).setWaiters(s.waiters())
                .setIdleTtlMs(pool.policy().idleTtl().toMillis())
                .setAdopted(adopted).setReconciled(reconciled);
        for (PoolStatus.KeyStatus k : s.keys()) {
            b.addKeys(KeyStatus.newBuilder()
                    .setKey(PoolKeys.toProto(k.key()))
                    .setAccelerator(accelerator(k.key().accelerator()))
                    .setTarget(k.target()).setIdle(k.idle()).setBooting(k.booting()).setLeased(k.leased())
                    .setDestroying(k.destroying()).setHits(k.hits()).setMisses(k.misses())
                    .setBootFailures(k.bootFailures()).setBoots(k.boots())
                    .setBootP50Ms(millis(k.bootP50())).setBootP95Ms(millis(k.bootP95()))
                    .setBootMaxMs(millis(k.bootMax())));
        }
        List<Held> holders = List.copyOf(held.values());
        for (Held h : holders) {
            b.addLeases(Holding.newBuilder().setVmId(h.lease().vm().id()).setHolderPid((int) h.holderPid())
                    .setHolder(h.lease().holder()).setLeasedAtMs(h.lease().leasedAt().toEpochMilli())
                    .setWarm(h.lease().warm()));
        }
        return b.build();
    }

    StopResponse stop(StopRequest req, CallContext ctx) {
        log.info("pool: stop requested");
        Thread.ofVirtual().name("pool-stop").start(stop);
        return StopResponse.newBuilder().setPid((int) ProcessHandle.current().pid()).build();
    }

    private String accelerator(Accelerator a) {
        return resolved.computeIfAbsent(a, x -> resolveAccelerator.apply(x).name().toLowerCase(java.util.Locale.ROOT));
    }

    private static long millis(Duration d) {
        return d == null ? 0 : d.toMillis();
    }

    /** The pid in a state directory's {@code owner} file ({@code "<pid> <starttime>"}). */
    static OptionalLong ownerPid(Path stateDir) {
        try {
            String[] f = Files.readString(stateDir.resolve(StateDir.OWNER), StandardCharsets.UTF_8).trim()
                    .split("\\s+");
            return OptionalLong.of(Long.parseLong(f[0]));
        } catch (IOException | RuntimeException e) {
            return OptionalLong.empty();
        }
    }

    private static String ownerLine(Path dir) {
        OptionalLong pid = ownerPid(dir);
        return pid.isPresent() ? "pid " + pid.getAsLong() : "(unrecorded)";
    }
}
