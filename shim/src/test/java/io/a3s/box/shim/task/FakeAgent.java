package io.a3s.box.shim.task;

import com.google.protobuf.ByteString;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import io.a3s.box.guest.v1.CloseStdinRequest;
import io.a3s.box.guest.v1.ContainerRequest;
import io.a3s.box.guest.v1.CreateContainerRequest;
import io.a3s.box.guest.v1.CreateContainerResponse;
import io.a3s.box.guest.v1.Empty;
import io.a3s.box.guest.v1.ExecProcessRequest;
import io.a3s.box.guest.v1.ExecProcessResponse;
import io.a3s.box.guest.v1.HelloRequest;
import io.a3s.box.guest.v1.HelloResponse;
import io.a3s.box.guest.v1.ListPidsResponse;
import io.a3s.box.guest.v1.ProcessSpec;
import io.a3s.box.guest.v1.ReadOutputRequest;
import io.a3s.box.guest.v1.ReadOutputResponse;
import io.a3s.box.guest.v1.ResizePtyRequest;
import io.a3s.box.guest.v1.SignalProcessRequest;
import io.a3s.box.guest.v1.StartProcessRequest;
import io.a3s.box.guest.v1.StartProcessResponse;
import io.a3s.box.guest.v1.StatsResponse;
import io.a3s.box.guest.v1.Stream;
import io.a3s.box.guest.v1.UpdateContainerRequest;
import io.a3s.box.guest.v1.WaitOomRequest;
import io.a3s.box.guest.v1.WaitOomResponse;
import io.a3s.box.guest.v1.WaitProcessRequest;
import io.a3s.box.guest.v1.WaitProcessResponse;
import io.a3s.box.guest.v1.WriteStdinRequest;
import io.a3s.box.guest.v1.WriteStdinResponse;
import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.ttrpc.CallContext;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.ServiceDefinition;
import io.a3s.box.ttrpc.StatusException;
import io.a3s.box.ttrpc.TtrpcServer;
import io.a3s.box.ttrpc.UnaryHandler;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * The guest agent of one VM, in Java: a real {@link TtrpcServer} on a Unix socket serving
 * {@code a3s.guest.v1.Agent}, whose processes are simulated from their args:
 * <ul>
 *   <li>{@code ["exit", "N"]} exits N right after start;</li>
 *   <li>{@code ["echo", words...]} writes the words and a newline to stdout, then exits 0;</li>
 *   <li>{@code ["print", "N"]} writes N bytes to stdout (byte i is {@link #printed}(i)), then exits 0;</li>
 *   <li>{@code ["sleep"]} runs until a signal ends it: exit 128 + signal;</li>
 *   <li>{@code ["stdin-echo"]} copies stdin to stdout until stdin is closed, then exits 0;</li>
 *   <li>{@code ["enoent"]} (or anything else): StartProcess fails with NOT_FOUND
 *       "execve: No such file or directory" and the process exits 127.</li>
 * </ul>
 * As in the real agent: a parked (not yet started) process dies only of SIGKILL; in a frozen container only
 * SIGKILL acts and other signals wait for the thaw; when the init exits the kernel kills the rest of its pid
 * namespace (unless {@link #execsDieWithInit} is turned off); DestroyContainer kills everything and answers
 * pending reads with EOF and pending WaitOom with NOT_FOUND.
 *
 * <p>Long calls (WaitProcess, ReadOutput, WaitOom) are answered when their event happens. {@link #die} is a
 * dead VM: the connection drops and nothing pending is ever answered.
 *
 * <p>One lock guards every simulated process; each handler runs on its own virtual thread.
 */
final class FakeAgent implements AutoCloseable {
    private static final int SIGKILL = 9;

    /** Every signal the agent received, in order. */
    final List<SignalProcessRequest> signals = new CopyOnWriteArrayList<>();
    /** Every call the agent received, as {@code "Method container/exec"}, in order. */
    final List<String> calls = new CopyOnWriteArrayList<>();
    /** Whether the init's exit kills the execs, as the end of a pid namespace does. */
    volatile boolean execsDieWithInit = true;
    /** A hung guest: SignalProcess is never answered (the caller's deadline ends it). */
    volatile boolean signalsHang;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    // guarded by lock
    private final Map<String, FakeContainer> containers = new LinkedHashMap<>();
    // guarded by lock
    private int nextPid = 100;
    // guarded by lock
    private boolean dead;
    private final TtrpcServer server;

    private FakeAgent(Path socket) throws IOException {
        ServiceDefinition.Builder svc = ServiceDefinition.builder(AgentClient.SERVICE);
        method(svc, "Hello", HelloRequest.parser(), (q, ctx) ->
                HelloResponse.newBuilder().setProtocolVersion(AgentClient.PROTOCOL_VERSION).build());
        method(svc, "CreateContainer", CreateContainerRequest.parser(), this::createContainer);
        method(svc, "ExecProcess", ExecProcessRequest.parser(), this::execProcess);
        // as the C agent: forgets a finished exec, so that its id can be used again
        method(svc, "DeleteProcess", io.a3s.box.guest.v1.DeleteProcessRequest.parser(), (q, ctx) -> {
            FakeContainer c = container(q.getContainerId());
            FakeProcess p = c.procs.get(q.getExecId());
            if (p == null) {
                throw Code.NOT_FOUND.toException("exec `%s` not found", q.getExecId());
            }
            if (p.exit == null) {
                throw Code.FAILED_PRECONDITION.toException("exec `%s` is still running", q.getExecId());
            }
            c.procs.remove(q.getExecId());
            return io.a3s.box.guest.v1.Empty.getDefaultInstance();
        });
        method(svc, "StartProcess", StartProcessRequest.parser(), this::startProcess);
        method(svc, "SignalProcess", SignalProcessRequest.parser(), this::signalProcess);
        method(svc, "WaitProcess", WaitProcessRequest.parser(), this::waitProcess);
        method(svc, "ReadOutput", ReadOutputRequest.parser(), this::readOutput);
        method(svc, "WriteStdin", WriteStdinRequest.parser(), this::writeStdin);
        method(svc, "CloseStdin", CloseStdinRequest.parser(), this::closeStdin);
        method(svc, "ResizePty", ResizePtyRequest.parser(), (q, ctx) -> {
            process(q.getContainerId(), q.getExecId());     // resizing an exited process's pty is a no-op
            return Empty.getDefaultInstance();
        });
        method(svc, "PauseContainer", ContainerRequest.parser(), (q, ctx) -> freeze(q.getContainerId(), true));
        method(svc, "ResumeContainer", ContainerRequest.parser(), (q, ctx) -> freeze(q.getContainerId(), false));
        method(svc, "UpdateContainer", UpdateContainerRequest.parser(), (q, ctx) -> {
            container(q.getContainerId());
            return Empty.getDefaultInstance();
        });
        method(svc, "Stats", ContainerRequest.parser(), (q, ctx) -> StatsResponse.newBuilder()
                .setPidsCurrent(container(q.getContainerId()).livePids().size()).setMemoryUsage(4096).build());
        method(svc, "ListPids", ContainerRequest.parser(), (q, ctx) -> ListPidsResponse.newBuilder()
                .addAllPids(container(q.getContainerId()).livePids()).build());
        method(svc, "WaitOom", WaitOomRequest.parser(), this::waitOom);
        method(svc, "DestroyContainer", ContainerRequest.parser(), this::destroyContainer);
        server = TtrpcServer.builder().socket(socket).addService(svc.build()).build().start();
    }

    static FakeAgent start(Path socket) throws IOException {
        return new FakeAgent(socket);
    }

    /** Byte {@code i} of what {@code ["print", N]} writes. */
    static byte printed(long i) {
        return (byte) (i % 251);
    }

    /** The VM dies: the connection drops, nothing pending is answered. Idempotent. */
    void die() {
        lock.lock();
        try {
            dead = true;
        } finally {
            lock.unlock();
        }
        server.close();
    }

    @Override
    public void close() {
        die();
    }

    /** The container's cgroup records one more OOM kill. */
    void oom(String containerId) {
        lock.lock();
        try {
            containers.get(containerId).oomKills++;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Whether the process is still alive (parked or running) in the guest. */
    boolean isAlive(String containerId, String execId) {
        lock.lock();
        try {
            FakeContainer c = containers.get(containerId);
            FakeProcess p = c == null ? null : c.procs.get(execId);
            return p != null && p.exit == null;
        } finally {
            lock.unlock();
        }
    }

    // ---- handlers (each takes the lock: see method()) ------------------------------------------------------

    private CreateContainerResponse createContainer(CreateContainerRequest q, CallContext ctx) throws StatusException {
        if (containers.containsKey(q.getContainerId())) {
            throw Code.ALREADY_EXISTS.toException("container `%s` already exists", q.getContainerId());
        }
        FakeContainer c = new FakeContainer(q.getContainerId());
        containers.put(c.id, c);
        return CreateContainerResponse.newBuilder().setPid(c.add("", q.getSpec().getProcess()).pid).build();
    }

    private ExecProcessResponse execProcess(ExecProcessRequest q, CallContext ctx) throws StatusException {
        FakeContainer c = container(q.getContainerId());
        if (c.procs.containsKey(q.getExecId())) {
            throw Code.ALREADY_EXISTS.toException("exec `%s` already exists in container `%s`", q.getExecId(), c.id);
        }
        if (c.init().exit != null) {
            throw Code.FAILED_PRECONDITION.toException("cannot exec in container `%s`: it is stopped", c.id);
        }
        return ExecProcessResponse.newBuilder().setPid(c.add(q.getExecId(), q.getProcess()).pid).build();
    }

    private StartProcessResponse startProcess(StartProcessRequest q, CallContext ctx) throws StatusException {
        FakeProcess p = process(q.getContainerId(), q.getExecId());
        if (!p.isInit() && p.c.init().exit != null) {
            throw Code.FAILED_PRECONDITION.toException("cannot start exec `%s`: container `%s` is stopped",
                    p.execId, p.c.id);
        }
        if (p.started || p.exit != null) {
            throw Code.FAILED_PRECONDITION.toException("cannot start process `%s` in container `%s`: it is %s",
                    p.execId, p.c.id, p.exit == null ? "running" : "stopped");
        }
        p.started = true;
        List<String> args = p.spec.getArgsList();
        switch (args.isEmpty() ? "" : args.getFirst()) {
            case "exit" -> p.exit(Integer.parseInt(args.get(1)));
            case "echo" -> {
                p.out.write((String.join(" ", args.subList(1, args.size())) + "\n").getBytes(StandardCharsets.UTF_8));
                p.exit(0);
            }
            case "print" -> {
                byte[] data = new byte[Integer.parseInt(args.get(1))];
                for (int i = 0; i < data.length; i++) {
                    data[i] = printed(i);
                }
                p.out.write(data);
                p.exit(0);
            }
            case "sleep" -> {
            }
            case "orphan" -> {
                // exits, and leaves a child behind that holds its output open (and never writes)
                p.out.write("started\n".getBytes(StandardCharsets.UTF_8));
                p.exit = 0;
            }
            case "stdin-echo" -> {
                p.out.write(p.stdinBeforeStart.read(Integer.MAX_VALUE));
                if (p.stdinClosed) {
                    p.exit(0);
                }
            }
            default -> {
                p.exit(127);
                throw Code.NOT_FOUND.toException("execve: No such file or directory");
            }
        }
        return StartProcessResponse.newBuilder().setPid(p.pid).build();
    }

    private Empty signalProcess(SignalProcessRequest q, CallContext ctx) throws Exception {
        signals.add(q);
        await(ctx, () -> !signalsHang);
        if (q.getSignal() == 0 || q.getSignal() >= 65) {
            throw Code.INVALID_ARGUMENT.toException("invalid signal %d", q.getSignal());
        }
        if (q.getAll()) {
            FakeContainer c = container(q.getContainerId());
            List<FakeProcess> live = c.procs.values().stream().filter(p -> p.exit == null).toList();
            if (live.isEmpty()) {
                throw Code.NOT_FOUND.toException("container `%s`: process already finished", c.id);
            }
            live.forEach(p -> p.signal(q.getSignal()));
        } else {
            FakeProcess p = process(q.getContainerId(), q.getExecId());
            if (p.exit != null) {
                throw Code.NOT_FOUND.toException("process already finished");
            }
            p.signal(q.getSignal());
        }
        return Empty.getDefaultInstance();
    }

    private WaitProcessResponse waitProcess(WaitProcessRequest q, CallContext ctx) throws Exception {
        FakeProcess p = process(q.getContainerId(), q.getExecId());
        await(ctx, () -> p.exit != null);
        return WaitProcessResponse.newBuilder().setPid(p.pid).setExitStatus(p.exit)
                .setExitedAtNs(System.currentTimeMillis() * 1_000_000L).build();
    }

    private ReadOutputResponse readOutput(ReadOutputRequest q, CallContext ctx) throws Exception {
        FakeProcess p = process(q.getContainerId(), q.getExecId());
        Pipe pipe = q.getStream() == Stream.STDERR ? p.err : p.out;
        await(ctx, () -> pipe.available() > 0 || pipe.closed);
        byte[] data = pipe.read(Math.max(1, q.getMaxBytes()));
        return ReadOutputResponse.newBuilder().setData(ByteString.copyFrom(data))
                .setEof(pipe.closed && pipe.available() == 0).build();
    }

    private WriteStdinResponse writeStdin(WriteStdinRequest q, CallContext ctx) throws StatusException {
        FakeProcess p = process(q.getContainerId(), q.getExecId());
        if (!p.spec.getStdin() || p.stdinClosed || p.exit != null) {
            throw Code.FAILED_PRECONDITION.toException("stdin of process `%s` in container `%s` is closed",
                    p.execId, p.c.id);
        }
        byte[] data = q.getData().toByteArray();
        if (!p.started) {
            p.stdinBeforeStart.write(data);
        } else if (p.program().equals("stdin-echo")) {
            p.out.write(data);
        }
        return WriteStdinResponse.newBuilder().setWritten(data.length).build();
    }

    private Empty closeStdin(CloseStdinRequest q, CallContext ctx) throws StatusException {
        FakeProcess p = process(q.getContainerId(), q.getExecId());
        p.stdinClosed = true;
        if (p.started && p.exit == null && p.program().equals("stdin-echo")) {
            p.exit(0);
        }
        return Empty.getDefaultInstance();
    }

    private Empty freeze(String containerId, boolean freeze) throws StatusException {
        FakeContainer c = container(containerId);
        if (!c.init().started || c.init().exit != null) {
            throw Code.FAILED_PRECONDITION.toException("cannot %s container `%s`: it is %s",
                    freeze ? "pause" : "resume", c.id, c.init().exit == null ? "created" : "stopped");
        }
        c.frozen = freeze;
        if (!freeze) {
            for (FakeProcess p : List.copyOf(c.procs.values())) {
                List<Integer> pending = List.copyOf(p.signalsWhileFrozen);
                p.signalsWhileFrozen.clear();
                pending.forEach(p::signal);
            }
        }
        return Empty.getDefaultInstance();
    }

    private WaitOomResponse waitOom(WaitOomRequest q, CallContext ctx) throws Exception {
        FakeContainer c = container(q.getContainerId());
        await(ctx, () -> c.destroyed || c.oomKills > q.getLastSeenOomKills());
        if (c.destroyed) {
            throw Code.NOT_FOUND.toException("container `%s` was destroyed", c.id);
        }
        return WaitOomResponse.newBuilder().setOomKills(c.oomKills).build();
    }

    private Empty destroyContainer(ContainerRequest q, CallContext ctx) {
        FakeContainer c = containers.remove(q.getContainerId());
        if (c != null) {
            c.destroyed = true;
            c.procs.values().forEach(p -> p.exit(128 + SIGKILL));
        }
        return Empty.getDefaultInstance();
    }

    // ---- plumbing ----------------------------------------------------------------------------------------

    /** Registers a handler that runs under the lock, records the call, and wakes every long call after it. */
    private <Q extends MessageLite, R extends MessageLite> void method(
            ServiceDefinition.Builder svc, String name, Parser<Q> parser, UnaryHandler<Q, R> handler) {
        svc.unary(name, parser, (Q q, CallContext ctx) -> {
            lock.lock();
            try {
                calls.add(name + " " + describe(q));
                return handler.handle(q, ctx);
            } finally {
                changed.signalAll();
                lock.unlock();
            }
        });
    }

    private static String describe(MessageLite q) {
        return switch (q) {
            case ContainerRequest r -> r.getContainerId();
            case CreateContainerRequest r -> r.getContainerId();
            case ExecProcessRequest r -> r.getContainerId() + "/" + r.getExecId();
            case StartProcessRequest r -> r.getContainerId() + "/" + r.getExecId();
            case SignalProcessRequest r -> r.getContainerId() + "/" + r.getExecId() + " " + r.getSignal();
            case WaitProcessRequest r -> r.getContainerId() + "/" + r.getExecId();
            case ReadOutputRequest r -> r.getContainerId() + "/" + r.getExecId() + " " + r.getStream();
            case WriteStdinRequest r -> r.getContainerId() + "/" + r.getExecId();
            case CloseStdinRequest r -> r.getContainerId() + "/" + r.getExecId();
            case ResizePtyRequest r -> r.getContainerId() + "/" + r.getExecId() + " " + r.getWidth() + "x" + r.getHeight();
            case UpdateContainerRequest r -> r.getContainerId();
            case WaitOomRequest r -> r.getContainerId();
            default -> "";
        };
    }

    /**
     * Long call: waits (lock held, released while waiting) until {@code ready}. A dead agent never answers;
     * the server's shutdown interrupts the wait.
     */
    private void await(CallContext ctx, BooleanSupplier ready) throws StatusException, InterruptedException {
        while (dead || !ready.getAsBoolean()) {
            if (ctx.isCancelled()) {
                throw Code.DEADLINE_EXCEEDED.toException("fake agent: caller gave up");
            }
            changed.await(100, TimeUnit.MILLISECONDS);  // the bound only notices a caller that went away
        }
    }

    private FakeContainer container(String id) throws StatusException {
        FakeContainer c = containers.get(id);
        if (c == null) {
            throw Code.NOT_FOUND.toException("container `%s` not found", id);
        }
        return c;
    }

    private FakeProcess process(String containerId, String execId) throws StatusException {
        FakeProcess p = container(containerId).procs.get(execId);
        if (p == null) {
            throw Code.NOT_FOUND.toException("process `%s` not found in container `%s`", execId, containerId);
        }
        return p;
    }

    // guarded by lock, as everything below
    private final class FakeContainer {
        final String id;
        final Map<String, FakeProcess> procs = new LinkedHashMap<>();
        boolean frozen;
        boolean destroyed;
        long oomKills;

        FakeContainer(String id) {
            this.id = id;
        }

        FakeProcess init() {
            return procs.get("");
        }

        FakeProcess add(String execId, ProcessSpec spec) {
            FakeProcess p = new FakeProcess(this, execId, nextPid++, spec);
            procs.put(execId, p);
            return p;
        }

        List<Integer> livePids() {
            return procs.values().stream().filter(p -> p.exit == null).map(p -> p.pid).toList();
        }
    }

    private final class FakeProcess {
        final FakeContainer c;
        final String execId;
        final int pid;
        final ProcessSpec spec;
        final Pipe out = new Pipe();
        final Pipe err = new Pipe();
        final Pipe stdinBeforeStart = new Pipe();
        final List<Integer> signalsWhileFrozen = new ArrayList<>();
        boolean started;
        boolean stdinClosed;
        Integer exit;

        FakeProcess(FakeContainer c, String execId, int pid, ProcessSpec spec) {
            this.c = c;
            this.execId = execId;
            this.pid = pid;
            this.spec = spec;
        }

        boolean isInit() {
            return execId.isEmpty();
        }

        String program() {
            return spec.getArgsCount() == 0 ? "" : spec.getArgs(0);
        }

        void signal(int sig) {
            if (exit != null) {
                return;
            }
            if (sig == SIGKILL) {
                exit(128 + sig);
            } else if (c.frozen) {
                signalsWhileFrozen.add(sig);
            } else if (started) {
                exit(128 + sig);    // no simulated program handles a signal
            }
            // a parked process has every signal blocked until execve: only SIGKILL ends it
        }

        void exit(int status) {
            if (exit != null) {
                return;
            }
            exit = status;
            out.closed = true;
            err.closed = true;
            if (isInit() && execsDieWithInit) {
                c.procs.values().forEach(p -> p.exit(128 + SIGKILL));
            }
        }
    }

    /** A process's output buffered in the guest. */
    private static final class Pipe {
        private byte[] data = new byte[0];
        boolean closed;

        void write(byte[] more) {
            byte[] joined = Arrays.copyOf(data, data.length + more.length);
            System.arraycopy(more, 0, joined, data.length, more.length);
            data = joined;
        }

        int available() {
            return data.length;
        }

        byte[] read(int max) {
            int n = Math.min(max, data.length);
            byte[] head = Arrays.copyOf(data, n);
            data = Arrays.copyOfRange(data, n, data.length);
            return head;
        }
    }
}
