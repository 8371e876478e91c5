package io.a3s.box.shim.pool;

import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import io.a3s.box.shim.Layout;
import io.a3s.box.shim.pool.v1.LeaseRequest;
import io.a3s.box.shim.pool.v1.LeaseResponse;
import io.a3s.box.shim.pool.v1.ReleaseRequest;
import io.a3s.box.shim.pool.v1.ReleaseResponse;
import io.a3s.box.shim.pool.v1.StatusRequest;
import io.a3s.box.shim.pool.v1.StatusResponse;
import io.a3s.box.shim.pool.v1.StopRequest;
import io.a3s.box.shim.pool.v1.StopResponse;
import io.a3s.box.shim.vm.VmBackend;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.shim.vm.VmException;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.shim.vm.qemu.QemuBackend;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import io.a3s.box.ttrpc.TtrpcClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A client of the host's pool daemon, and the shim's only source of VMs ({@link VmProvider}).
 *
 * <p>{@link #lease} asks the daemon (starting it first if nobody answers, when this client has a
 * {@link PoolStarter}) for a VM of a key, on behalf of this process: its pid becomes the VM's owner, and if this
 * process dies the pool destroys the VM. The daemon answers with the VM's state directory once it has let go of
 * the VM; this client then {@linkplain VmBackend#attach attaches} (connects to the agent, Hello handshake), and
 * the lease's {@link Lease#vm()} is a started VM like one booted in-process.
 *
 * <p>{@link #release}: the client detaches and tells the daemon, which destroys the VM (the caller does not wait
 * for the teardown). If the daemon cannot be reached, the client tears the VM down itself (it owns it), and the
 * daemon, if it is alive after all, frees the slot when its sweep finds the VM gone.
 *
 * <p>Thread-safe. One connection to the daemon, shared by every call, reopened when the daemon went away.
 */
public final class PoolClient implements VmProvider, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PoolClient.class);
    static final Duration ATTACH_DEADLINE = Duration.ofSeconds(20);
    static final Duration SHORT_CALL = Duration.ofSeconds(10);

    private final Layout layout;
    private final VmBackend backend;
    private final PoolStarter starter;
    private final Duration defaultWait;
    private final Set<Lease> held = ConcurrentHashMap.newKeySet();
    private final Object lock = new Object();
    private TtrpcClient connection; // guarded by lock

    /**
     * @param starter     starts the daemon when nobody answers; null never to start one
     * @param defaultWait how long a lease may wait for a slot at the cap ({@code pool.lease_wait})
     */
    public PoolClient(Layout layout, VmBackend backend, PoolStarter starter, Duration defaultWait) {
        this.layout = layout;
        this.backend = backend;
        this.starter = starter;
        this.defaultWait = defaultWait;
    }

    /** A client of the QEMU backend that starts the daemon with this process's JVM when needed. */
    public static PoolClient forThisProcess(Layout layout, Duration defaultWait) {
        return new PoolClient(layout, new QemuBackend(), PoolStarter.sameJvm(layout), defaultWait);
    }

    @Override
    public Lease lease(VmConfig key, String holder) throws StatusException {
        return lease(key, holder, defaultWait);
    }

    /**
     * Leases a VM of {@code key} and attaches to it.
     *
     * @throws StatusException as the daemon's Lease (RESOURCE_EXHAUSTED at the cap, UNAVAILABLE when booting
     *                         failed), or UNAVAILABLE when no daemon could be reached or the attach failed
     */
    public Lease lease(VmConfig key, String holder, Duration wait) throws StatusException {
        VmConfig k = PoolKeys.normalize(key);
        LeaseRequest req = LeaseRequest.newBuilder().setKey(PoolKeys.toProto(k))
                .setHolderPid((int) ProcessHandle.current().pid()).setHolder(holder)
                .setWaitMs(wait.toMillis()).build();
        // waiting for a slot, then maybe a boot and its one retry, and some slack for a loaded host
        Duration timeout = wait.plus(k.bootDeadline().multipliedBy(2)).plusSeconds(30);
        LeaseResponse r = call("Lease", req, LeaseResponse.parser(), timeout, false);
        VmInstance vm;
        try {
            vm = backend.attach(Path.of(r.getStateDir()), ATTACH_DEADLINE);
        } catch (VmException e) {
            releaseQuietly(r.getVmId());
            throw Code.UNAVAILABLE.toException("pool: cannot attach to vm %s: %s", r.getVmId(), e.getMessage());
        }
        Lease lease = new Lease(vm, holder, Instant.now(), r.getWarm());
        held.add(lease);
        return lease;
    }

    @Override
    public void release(Lease lease) {
        if (!held.remove(lease)) {
            return;
        }
        VmInstance vm = lease.vm();
        vm.detach();
        try {
            // Never starts a pool daemon: with none, there is nobody to hand the VM back to, and a daemon
            // started now (on a shim daemon's way down, maybe while the old pool daemon still holds its lock)
            // would only delay the teardown that follows.
            call("Release", ReleaseRequest.newBuilder().setVmId(vm.id()).build(), ReleaseResponse.parser(),
                    SHORT_CALL, true, false);
        } catch (StatusException e) {
            log.warn("pool: release of vm {}: {}; tearing it down here", vm.id(), e.getMessage());
            vm.close();
        }
    }

    private void releaseQuietly(String vmId) {
        try {
            call("Release", ReleaseRequest.newBuilder().setVmId(vmId).build(), ReleaseResponse.parser(), SHORT_CALL,
                    true, false);
        } catch (StatusException e) {
            log.warn("pool: release of vm {}: {}", vmId, e.getMessage());
        }
    }

    /** The daemon's status; UNAVAILABLE if no daemon runs (this never starts one). */
    public StatusResponse status() throws StatusException {
        return call("Status", StatusRequest.getDefaultInstance(), StatusResponse.parser(), SHORT_CALL, true, false);
    }

    /** Asks the daemon to stop; empty if none runs. Returns the daemon's pid. */
    public Optional<Long> stop() throws StatusException {
        try {
            StopResponse r = call("Stop", StopRequest.getDefaultInstance(), StopResponse.parser(), SHORT_CALL, true,
                    false);
            return Optional.of(Integer.toUnsignedLong(r.getPid()));
        } catch (StatusException e) {
            if (e.code() == Code.UNAVAILABLE && !running()) {
                return Optional.empty();
            }
            throw e;
        }
    }

    /** Whether a daemon answers now. */
    public boolean running() {
        Optional<TtrpcClient> c = PoolStarter.tryConnect(layout.poolSocket(), true);
        c.ifPresent(TtrpcClient::close);
        return c.isPresent();
    }

    /** Leases this client still holds. */
    public List<Lease> held() {
        return List.copyOf(held);
    }

    /** Releases every lease still held and closes the connection. */
    @Override
    public void close() {
        for (Lease l : List.copyOf(held)) {
            release(l);
        }
        synchronized (lock) {
            if (connection != null) {
                connection.close();
                connection = null;
            }
        }
    }

    private <R extends MessageLite> R call(String method, MessageLite req, Parser<R> parser, Duration timeout,
                                           boolean idempotent) throws StatusException {
        return call(method, req, parser, timeout, idempotent, true);
    }

    /**
     * One call on the shared connection. A connection the daemon closed since the last call (it restarted) is
     * reopened first; an idempotent call that loses its connection midway is tried once more.
     */
    private <R extends MessageLite> R call(String method, MessageLite req, Parser<R> parser, Duration timeout,
                                           boolean idempotent, boolean start) throws StatusException {
        for (int attempt = 1; ; attempt++) {
            TtrpcClient c = connection(start);
            try {
                return c.call(PoolService.NAME, method, req, parser, timeout);
            } catch (StatusException e) {
                if (e.code() != Code.UNAVAILABLE || !c.isClosed()) {
                    throw e;
                }
                dropConnection(c);
                if (!idempotent || attempt >= 2) {
                    throw Code.UNAVAILABLE.toException("pool: %s: the pool daemon went away (%s)", method,
                            e.getMessage());
                }
            }
        }
    }

    private TtrpcClient connection(boolean start) throws StatusException {
        synchronized (lock) {
            if (connection != null && !connection.isClosed()) {
                return connection;
            }
            connection = null;
            try {
                if (start && starter != null) {
                    connection = starter.connect();
                } else {
                    connection = PoolStarter.tryConnect(layout.poolSocket(), false).orElseThrow(() -> new IOException(
                            "no pool daemon answers on " + layout.poolSocket()));
                }
                return connection;
            } catch (IOException e) {
                throw Code.UNAVAILABLE.toException("pool: %s", e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw Code.CANCELLED.toException("pool: interrupted while connecting");
            }
        }
    }

    private void dropConnection(TtrpcClient c) {
        synchronized (lock) {
            if (connection == c) {
                connection = null;
            }
        }
        c.close();
    }
}
