package io.a3s.box.shim.guest;

import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import io.a3s.box.guest.v1.CloseStdinRequest;
import io.a3s.box.guest.v1.ConfigureNetworkRequest;
import io.a3s.box.guest.v1.ContainerRequest;
import io.a3s.box.guest.v1.DeleteProcessRequest;
import io.a3s.box.guest.v1.CreateContainerRequest;
import io.a3s.box.guest.v1.CreateContainerResponse;
import io.a3s.box.guest.v1.Empty;
import io.a3s.box.guest.v1.ErrorDetail;
import io.a3s.box.guest.v1.ExecProcessRequest;
import io.a3s.box.guest.v1.ExecProcessResponse;
import io.a3s.box.guest.v1.HelloRequest;
import io.a3s.box.guest.v1.HelloResponse;
import io.a3s.box.guest.v1.ListPidsResponse;
import io.a3s.box.guest.v1.OpenPortRequest;
import io.a3s.box.guest.v1.OpenPortResponse;
import io.a3s.box.guest.v1.PortCloseRequest;
import io.a3s.box.guest.v1.PortReadRequest;
import io.a3s.box.guest.v1.PortReadResponse;
import io.a3s.box.guest.v1.PortWriteRequest;
import io.a3s.box.guest.v1.ReadOutputRequest;
import io.a3s.box.guest.v1.ReadOutputResponse;
import io.a3s.box.guest.v1.ResizePtyRequest;
import io.a3s.box.guest.v1.SetClockRequest;
import io.a3s.box.guest.v1.SetClockResponse;
import io.a3s.box.guest.v1.SignalProcessRequest;
import io.a3s.box.guest.v1.StartProcessRequest;
import io.a3s.box.guest.v1.StartProcessResponse;
import io.a3s.box.guest.v1.StatsResponse;
import io.a3s.box.guest.v1.UpdateContainerRequest;
import io.a3s.box.guest.v1.WaitOomRequest;
import io.a3s.box.guest.v1.WaitOomResponse;
import io.a3s.box.guest.v1.WaitProcessRequest;
import io.a3s.box.guest.v1.WaitProcessResponse;
import io.a3s.box.guest.v1.WriteStdinRequest;
import io.a3s.box.guest.v1.WriteStdinResponse;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.Metadata;
import io.a3s.box.ttrpc.Status;
import io.a3s.box.ttrpc.StatusException;
import io.a3s.box.ttrpc.TtrpcClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The host side of the guest protocol ({@code guest/proto/a3s/guest/v1/agent.proto}): typed calls to the
 * agent that is PID 1 of one VM, over ttrpc on the VM's virtio-serial port.
 *
 * <p>Contract:
 * <ul>
 *   <li>Every call has a deadline (a positive {@code timeout}; long calls such as {@code WaitProcess} pass a
 *       long one). It is sent to the agent and enforced here: DEADLINE_EXCEEDED.</li>
 *   <li>When the VM dies ({@link #vmExited}) or the connection to the agent drops, every pending call fails at
 *       once, and every later call fails immediately, with UNAVAILABLE and a message naming the VM
 *       ({@code "vm 3f2a exited"}, {@code "vm 3f2a: connection to the agent lost"}).</li>
 *   <li>Errors the agent returns keep their code and message (and ErrorDetail in the status details).</li>
 * </ul>
 *
 * <p>Thread-safe; any number of calls may be in flight. The blocking methods may be called from virtual
 * threads. Owned by the {@code VmInstance} that made it: other callers must not close it.
 */
public final class AgentClient implements AutoCloseable {
    /** The ttrpc service name of the agent. */
    private static final Logger log = LoggerFactory.getLogger(AgentClient.class);
    public static final String SERVICE = "a3s.guest.v1.Agent";
    /** The protocol version this host speaks (HelloRequest.protocol_version). */
    public static final int PROTOCOL_VERSION = 1;
    /** How often {@link #handshake} resends Hello while the guest boots. */
    public static final Duration HELLO_INTERVAL = Duration.ofMillis(250);
    /** After the connection drops, how long to wait for the VM's exit to be noticed, to name the right cause. */
    private static final Duration EXIT_GRACE = Duration.ofMillis(300);

    private final String vmId;
    private final TtrpcClient client;
    private final CompletableFuture<?> vmExit;
    private final Set<CompletableFuture<?>> pending = ConcurrentHashMap.newKeySet();
    /** Non-null once the client is unusable; every pending and later call fails with it. */
    private volatile Status dead;
    /** The handshake's answer; null until then, and no call may be made before it. */
    private volatile HelloResponse hello;

    private AgentClient(String vmId, TtrpcClient client, CompletableFuture<?> vmExit) {
        this.vmId = Objects.requireNonNull(vmId, "vmId");
        this.client = Objects.requireNonNull(client, "client");
        this.vmExit = vmExit != null ? vmExit : new CompletableFuture<>();
        this.vmExit.whenComplete((r, t) -> vmExited());
        client.closeFuture().whenComplete((r, t) -> onConnectionClosed());
    }

    /**
     * Connects to the agent socket of VM {@code vmId}; {@link #handshake} must follow before any call. A VM's
     * port may still hold bytes of an earlier host's session (the pool hands VMs to shims): the handshake
     * skips them.
     *
     * @param vmExit completes when the VM dies (may be null): pending calls then fail with "vm <id> exited"
     */
    /** The agent's {@link ErrorDetail} (the failed operation and its errno) of a failed call, if it sent one. */
    public static Optional<ErrorDetail> errorDetail(StatusException e) {
        for (com.google.protobuf.Any any : e.status().details()) {
            if (any.is(ErrorDetail.class)) {
                try {
                    return Optional.of(any.unpack(ErrorDetail.class));
                } catch (com.google.protobuf.InvalidProtocolBufferException bad) {
                    return Optional.empty();
                }
            }
        }
        return Optional.empty();
    }

    public static AgentClient connect(String vmId, Path socket, CompletableFuture<?> vmExit) throws IOException {
        return new AgentClient(vmId, TtrpcClient.connectForHandshake(socket, Metadata.empty()), vmExit);
    }

    public String vmId() {
        return vmId;
    }

    /** Whether calls can still succeed. */
    public boolean isAvailable() {
        return dead == null && !client.isClosed();
    }

    /** Calls waiting for an answer. */
    public int pendingCalls() {
        return pending.size();
    }

    /**
     * Opens the session (the guest protocol's handshake, docs/guest-protocol.md): sends Hello on a fresh random
     * odd stream id every {@link #HELLO_INTERVAL} until one is answered or {@code deadline} passes, discarding
     * whatever an earlier session left in the port. Hellos sent while the guest still boots wait in the port
     * and are answered together once the agent opens it; the first answer wins. Must be called once, before
     * any other call.
     *
     * @throws StatusException DEADLINE_EXCEEDED when no answer came in time; UNAVAILABLE when the VM died, the
     *                         connection dropped or the client was closed; FAILED_PRECONDITION on a protocol
     *                         version mismatch
     */
    public HelloResponse handshake(Instant deadline) throws StatusException {
        return handshake(deadline, HELLO_INTERVAL);
    }

    /**
     * {@link #handshake(Instant)}, resending Hello every {@code resendEvery}. A host that attaches to a VM that is
     * up already (a handover from the pool) resends sooner: its first Hello is lost when the guest sees it before
     * the previous host's disconnect (docs/guest-protocol.md), and the agent answers within milliseconds.
     */
    public HelloResponse handshake(Instant deadline, Duration resendEvery) throws StatusException {
        HelloRequest req = HelloRequest.newBuilder().setProtocolVersion(PROTOCOL_VERSION).build();
        HelloResponse r;
        try {
            r = client.handshake(SERVICE, "Hello", req, HelloResponse.parser(), resendEvery, deadline);
        } catch (StatusException e) {
            Status d = dead;
            if (e.code() == Code.UNAVAILABLE && d != null) {
                throw d.asException();
            }
            if (e.code() == Code.DEADLINE_EXCEEDED) {
                throw Code.DEADLINE_EXCEEDED.toException("vm %s: no hello from the agent in time", vmId);
            }
            throw new StatusException(e.status().withContext("vm " + vmId + ": hello"));
        } catch (IllegalStateException e) {
            throw Code.FAILED_PRECONDITION.toException("vm %s: %s", vmId, e.getMessage());
        }
        if (r.getProtocolVersion() != PROTOCOL_VERSION) {
            throw Code.FAILED_PRECONDITION.toException("vm %s: agent speaks protocol version %d, host %d", vmId,
                    r.getProtocolVersion(), PROTOCOL_VERSION);
        }
        hello = r;
        return r;
    }

    /** The agent's answer to the handshake, or null before it. */
    public HelloResponse helloResponse() {
        return hello;
    }

    /**
     * Tells the client that the VM is gone: every pending call fails now with UNAVAILABLE "vm <id> exited",
     * every later one at once. Idempotent.
     */
    public void vmExited() {
        failAll(Code.UNAVAILABLE.withDescription("vm " + vmId + " exited"));
    }

    /** Closes the connection; pending calls fail with UNAVAILABLE. Idempotent. */
    @Override
    public void close() {
        failAll(Code.UNAVAILABLE.withDescription("vm " + vmId + ": agent client closed"));
    }

    /** Closes, failing pending calls with {@code reason} (e.g. {@code "vm x is shutting down"}). */
    public void close(String reason) {
        failAll(Code.UNAVAILABLE.withDescription(reason));
    }

    private void onConnectionClosed() {
        if (dead != null) {
            return;
        }
        // The VMM closing the socket and its pidfd turning readable are two events a few microseconds (or, on a
        // loaded host, milliseconds) apart: give the exit a moment so that callers see the real cause.
        try {
            vmExit.get(EXIT_GRACE.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            failAll(Code.UNAVAILABLE.withDescription("vm " + vmId + ": connection to the agent lost"));
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        vmExited();
    }

    private void failAll(Status status) {
        synchronized (this) {
            if (dead != null) {
                return;
            }
            dead = status;
        }
        for (CompletableFuture<?> f : List.copyOf(pending)) {
            f.completeExceptionally(status.asException());
        }
        client.close();
    }

    /**
     * One call. The returned future fails with a {@link StatusException}; a transport failure (UNAVAILABLE from
     * ttrpc) is reported with the client's cause of death instead.
     */
    public <Q extends MessageLite, R extends MessageLite> CompletableFuture<R> invoke(
            String method, Q request, Parser<R> parser, Duration timeout) {
        CompletableFuture<R> out = new CompletableFuture<>();
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            out.completeExceptionally(Code.INVALID_ARGUMENT.toException(
                    "vm %s: %s: every agent call needs a positive deadline, got %s", vmId, method, timeout));
            return out;
        }
        Status d = dead;
        if (d != null) {
            out.completeExceptionally(d.asException());
            return out;
        }
        if (hello == null) {
            out.completeExceptionally(Code.FAILED_PRECONDITION.toException(
                    "vm %s: %s before the session handshake", vmId, method));
            return out;
        }
        pending.add(out);
        out.whenComplete((r, t) -> pending.remove(out));
        if (dead != null) {     // raced with failAll
            out.completeExceptionally(dead.asException());
            return out;
        }
        long t0 = log.isDebugEnabled() ? System.nanoTime() : 0;
        client.callAsync(SERVICE, method, request, parser, timeout, Metadata.empty()).whenComplete((r, t) -> {
            if (t0 != 0) {
                // where a request's time goes in the guest, call by call (docs/performance.md)
                log.debug("vm {}: {} {} us{}", vmId, method, (System.nanoTime() - t0) / 1000,
                        t == null ? "" : " (" + Status.fromThrowable(t).code() + ")");
            }
            if (t == null) {
                out.complete(r);
                return;
            }
            Status s = Status.fromThrowable(t);
            if (s.code() == Code.UNAVAILABLE && client.isClosed()) {
                // The connection is gone: failAll (now, or once the cause is known) fails `out` with it.
                Status known = dead;
                if (known != null) {
                    out.completeExceptionally(known.asException());
                }
                return;
            }
            out.completeExceptionally(s.asException());
        });
        return out;
    }

    /**
     * A Hello on the open session. Not a ping: the agent takes every Hello as the start of a new session and
     * forgets the calls pending before it. Use {@link #handshake} to open a session.
     */
    public HelloResponse hello(HelloRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(helloAsync(request, timeout));
    }

    /** Asynchronous {@link #hello}. */
    public CompletableFuture<HelloResponse> helloAsync(HelloRequest request, Duration timeout) {
        return invoke("Hello", request, HelloResponse.parser(), timeout);
    }

    /** Creates a container whose first process is parked before execve. */
    public CreateContainerResponse createContainer(CreateContainerRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(createContainerAsync(request, timeout));
    }

    /** Asynchronous {@link #createContainer}. */
    public CompletableFuture<CreateContainerResponse> createContainerAsync(CreateContainerRequest request, Duration timeout) {
        return invoke("CreateContainer", request, CreateContainerResponse.parser(), timeout);
    }

    /** Adds a parked process to a created container. */
    public ExecProcessResponse execProcess(ExecProcessRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(execProcessAsync(request, timeout));
    }

    /** Asynchronous {@link #execProcess}. */
    public CompletableFuture<ExecProcessResponse> execProcessAsync(ExecProcessRequest request, Duration timeout) {
        return invoke("ExecProcess", request, ExecProcessResponse.parser(), timeout);
    }

    /** spawn-main: releases a parked process; fails at once if execve fails. */
    public StartProcessResponse startProcess(StartProcessRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(startProcessAsync(request, timeout));
    }

    /** Asynchronous {@link #startProcess}. */
    public CompletableFuture<StartProcessResponse> startProcessAsync(StartProcessRequest request, Duration timeout) {
        return invoke("StartProcess", request, StartProcessResponse.parser(), timeout);
    }

    /** Signals one process, or every process of the container. */
    public Empty signalProcess(SignalProcessRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(signalProcessAsync(request, timeout));
    }

    /** Asynchronous {@link #signalProcess}. */
    public CompletableFuture<Empty> signalProcessAsync(SignalProcessRequest request, Duration timeout) {
        return invoke("SignalProcess", request, Empty.parser(), timeout);
    }

    /** Answered when the process has exited and been reaped. */
    public WaitProcessResponse waitProcess(WaitProcessRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(waitProcessAsync(request, timeout));
    }

    /** Asynchronous {@link #waitProcess}. */
    public CompletableFuture<WaitProcessResponse> waitProcessAsync(WaitProcessRequest request, Duration timeout) {
        return invoke("WaitProcess", request, WaitProcessResponse.parser(), timeout);
    }

    /** Pulls up to max_bytes of stdout or stderr, or eof. */
    public ReadOutputResponse readOutput(ReadOutputRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(readOutputAsync(request, timeout));
    }

    /** Asynchronous {@link #readOutput}. */
    public CompletableFuture<ReadOutputResponse> readOutputAsync(ReadOutputRequest request, Duration timeout) {
        return invoke("ReadOutput", request, ReadOutputResponse.parser(), timeout);
    }

    /** Writes to a process's stdin. */
    public WriteStdinResponse writeStdin(WriteStdinRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(writeStdinAsync(request, timeout));
    }

    /** Asynchronous {@link #writeStdin}. */
    public CompletableFuture<WriteStdinResponse> writeStdinAsync(WriteStdinRequest request, Duration timeout) {
        return invoke("WriteStdin", request, WriteStdinResponse.parser(), timeout);
    }

    /** Closes a process's stdin. */
    public Empty closeStdin(CloseStdinRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(closeStdinAsync(request, timeout));
    }

    /** Asynchronous {@link #closeStdin}. */
    public CompletableFuture<Empty> closeStdinAsync(CloseStdinRequest request, Duration timeout) {
        return invoke("CloseStdin", request, Empty.parser(), timeout);
    }

    /** Resizes a process's pty. */
    public Empty resizePty(ResizePtyRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(resizePtyAsync(request, timeout));
    }

    /** Asynchronous {@link #resizePty}. */
    public CompletableFuture<Empty> resizePtyAsync(ResizePtyRequest request, Duration timeout) {
        return invoke("ResizePty", request, Empty.parser(), timeout);
    }

    /** Gives the VM's interface the network of the pod's namespace (once per VM). */
    public Empty configureNetwork(ConfigureNetworkRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(invoke("ConfigureNetwork", request, Empty.parser(), timeout));
    }

    /** A TCP connection from the agent to 127.0.0.1:port in the VM (port forwarding); its id. */
    public OpenPortResponse openPort(OpenPortRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(invoke("OpenPort", request, OpenPortResponse.parser(), timeout));
    }

    /** Bytes the port connection's peer sent, as soon as there are some, or eof. */
    public PortReadResponse portRead(PortReadRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(invoke("PortRead", request, PortReadResponse.parser(), timeout));
    }

    /** Writes to the port connection (and, with close_write, then shuts its write side). */
    public Empty portWrite(PortWriteRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(invoke("PortWrite", request, Empty.parser(), timeout));
    }

    public Empty portClose(PortCloseRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(invoke("PortClose", request, Empty.parser(), timeout));
    }

    /** Steps the guest's wall clock to {@code request.realtime_ns}; answers the clock it had before. */
    public SetClockResponse setClock(SetClockRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(setClockAsync(request, timeout));
    }

    public CompletableFuture<SetClockResponse> setClockAsync(SetClockRequest request, Duration timeout) {
        return invoke("SetClock", request, SetClockResponse.parser(), timeout);
    }

    /** Forgets a finished exec (its record, its drained stdio) in the agent. */
    public Empty deleteProcess(DeleteProcessRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(invoke("DeleteProcess", request, Empty.parser(), timeout));
    }

    /** Freezes the container's cgroup. */
    public Empty pauseContainer(ContainerRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(pauseContainerAsync(request, timeout));
    }

    /** Asynchronous {@link #pauseContainer}. */
    public CompletableFuture<Empty> pauseContainerAsync(ContainerRequest request, Duration timeout) {
        return invoke("PauseContainer", request, Empty.parser(), timeout);
    }

    /** Thaws the container's cgroup. */
    public Empty resumeContainer(ContainerRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(resumeContainerAsync(request, timeout));
    }

    /** Asynchronous {@link #resumeContainer}. */
    public CompletableFuture<Empty> resumeContainerAsync(ContainerRequest request, Duration timeout) {
        return invoke("ResumeContainer", request, Empty.parser(), timeout);
    }

    /** Applies new cgroup resources. */
    public Empty updateContainer(UpdateContainerRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(updateContainerAsync(request, timeout));
    }

    /** Asynchronous {@link #updateContainer}. */
    public CompletableFuture<Empty> updateContainerAsync(UpdateContainerRequest request, Duration timeout) {
        return invoke("UpdateContainer", request, Empty.parser(), timeout);
    }

    /** Figures of the container's cgroup. */
    public StatsResponse stats(ContainerRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(statsAsync(request, timeout));
    }

    /** Asynchronous {@link #stats}. */
    public CompletableFuture<StatsResponse> statsAsync(ContainerRequest request, Duration timeout) {
        return invoke("Stats", request, StatsResponse.parser(), timeout);
    }

    /** Every pid in the container's cgroup. */
    public ListPidsResponse listPids(ContainerRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(listPidsAsync(request, timeout));
    }

    /** Asynchronous {@link #listPids}. */
    public CompletableFuture<ListPidsResponse> listPidsAsync(ContainerRequest request, Duration timeout) {
        return invoke("ListPids", request, ListPidsResponse.parser(), timeout);
    }

    /** Answered when the container's oom_kill counter passes last_seen_oom_kills. */
    public WaitOomResponse waitOom(WaitOomRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(waitOomAsync(request, timeout));
    }

    /** Asynchronous {@link #waitOom}. */
    public CompletableFuture<WaitOomResponse> waitOomAsync(WaitOomRequest request, Duration timeout) {
        return invoke("WaitOom", request, WaitOomResponse.parser(), timeout);
    }

    /** Kills everything of the container and removes what the agent set up for it. */
    public Empty destroyContainer(ContainerRequest request, Duration timeout) throws StatusException {
        return TtrpcClient.await(destroyContainerAsync(request, timeout));
    }

    /** Asynchronous {@link #destroyContainer}. */
    public CompletableFuture<Empty> destroyContainerAsync(ContainerRequest request, Duration timeout) {
        return invoke("DestroyContainer", request, Empty.parser(), timeout);
    }
}
