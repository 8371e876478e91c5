package io.a3s.box.shim.task;

import com.google.protobuf.Empty;
import io.a3s.box.containerd.runc.ProcessDetails;
import io.a3s.box.containerd.task.CheckpointTaskRequest;
import io.a3s.box.containerd.task.CloseIORequest;
import io.a3s.box.containerd.task.ConnectRequest;
import io.a3s.box.containerd.task.ConnectResponse;
import io.a3s.box.containerd.task.CreateTaskRequest;
import io.a3s.box.containerd.task.CreateTaskResponse;
import io.a3s.box.containerd.task.DeleteRequest;
import io.a3s.box.containerd.task.DeleteResponse;
import io.a3s.box.containerd.task.ExecProcessRequest;
import io.a3s.box.containerd.task.KillRequest;
import io.a3s.box.containerd.task.PauseRequest;
import io.a3s.box.containerd.task.PidsRequest;
import io.a3s.box.containerd.task.PidsResponse;
import io.a3s.box.containerd.task.ResizePtyRequest;
import io.a3s.box.containerd.task.ResumeRequest;
import io.a3s.box.containerd.task.ShutdownRequest;
import io.a3s.box.containerd.task.StartRequest;
import io.a3s.box.containerd.task.StartResponse;
import io.a3s.box.containerd.task.StateRequest;
import io.a3s.box.containerd.task.StateResponse;
import io.a3s.box.containerd.task.StatsRequest;
import io.a3s.box.containerd.task.StatsResponse;
import io.a3s.box.containerd.task.UpdateTaskRequest;
import io.a3s.box.containerd.task.WaitRequest;
import io.a3s.box.containerd.task.WaitResponse;
import io.a3s.box.containerd.types.task.ProcessInfo;
import io.a3s.box.shim.BuildInfo;
import io.a3s.box.shim.events.Anys;
import io.a3s.box.shim.events.EventBus;
import io.a3s.box.containerd.events.TaskCreate;
import io.a3s.box.containerd.events.TaskIO;
import io.a3s.box.shim.stdio.StdioPaths;
import io.a3s.box.ttrpc.CallContext;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.ServiceDefinition;
import io.a3s.box.ttrpc.StatusException;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

/**
 * containerd's task service (v2, and v3 with the same messages), as an adapter: it decodes, finds the
 * container, calls it, encodes. Every rule about what is legal when lives in {@link Container}.
 *
 * <p>Tasks are keyed by containerd namespace and id: one daemon serves every namespace of its containerd,
 * and the same id may exist in two namespaces. containerd names the namespace in the ttrpc metadata
 * ({@link #NAMESPACE_KEY}) only on some paths: containerd 1.6 sends the task calls it makes for its API
 * clients (Create, Start, Wait, Kill, Delete...) with no metadata at all, and names it when it reloads its
 * shims after a restart. Without metadata, Create takes the namespace from the bundle path (containerd lays
 * bundles out as {@code <state>/io.containerd.runtime.v2.task/<namespace>/<id>}) and binds it to the
 * connection, which containerd keeps per task; the other calls take the connection's namespace, else the one
 * namespace that has a task of that id.
 */
public final class TaskService {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(TaskService.class);
    public static final String V2 = "containerd.task.v2.Task";
    public static final String V3 = "containerd.task.v3.Task";
    public static final String NAMESPACE_KEY = "containerd-namespace-ttrpc";
    /** How often a blocked Wait checks that its caller is still there. */
    private static final long WAIT_POLL_MS = 1000;

    private final TaskFactory factory;
    private final SpecConverter specs;
    private final EventBus events;
    private final Map<String, Container> containers = new ConcurrentHashMap<>();
    /** Creates in flight, by key (see {@link InFlight}). */
    private final Map<String, InFlight> creating = new ConcurrentHashMap<>();
    /** The namespace of the tasks created over each connection (containerd keeps one connection per task). */
    private final Map<CallContext.ConnectionState, String> connectionNamespaces =
            Collections.synchronizedMap(new WeakHashMap<>());

    public TaskService(TaskFactory factory, SpecConverter specs, EventBus events) {
        this.factory = factory;
        this.specs = specs;
        this.events = events;
    }

    /** The service under {@code name}: {@link #V2} or {@link #V3}. */
    public ServiceDefinition definition(String name) {
        return ServiceDefinition.builder(name)
                .unary("State", StateRequest.parser(), this::state)
                .unary("Create", CreateTaskRequest.parser(), timed("create", CreateTaskRequest::getId, this::create))
                .unary("Start", StartRequest.parser(), timed("start", StartRequest::getId, this::start))
                .unary("Delete", DeleteRequest.parser(), timed("delete", DeleteRequest::getId, this::delete))
                .unary("Pids", PidsRequest.parser(), this::pids)
                .unary("Pause", PauseRequest.parser(), this::pause)
                .unary("Resume", ResumeRequest.parser(), this::resume)
                .unary("Checkpoint", CheckpointTaskRequest.parser(), this::checkpoint)
                .unary("Kill", KillRequest.parser(), this::kill)
                .unary("Exec", ExecProcessRequest.parser(), this::exec)
                .unary("ResizePty", ResizePtyRequest.parser(),
                        timed("resize", r -> r.getId() + "/" + r.getExecId(), this::resizePty))
                .unary("CloseIO", CloseIORequest.parser(), this::closeIo)
                .unary("Update", UpdateTaskRequest.parser(), this::update)
                .unary("Wait", WaitRequest.parser(), timed("wait", WaitRequest::getId, this::await))
                .unary("Stats", StatsRequest.parser(), this::stats)
                .unary("Connect", ConnectRequest.parser(), this::connect)
                .unary("Shutdown", ShutdownRequest.parser(), this::shutdown)
                .build();
    }

    /** Logs how long the calls on containerd's critical path take: where a container start spends its time. */
    private static <Q extends com.google.protobuf.MessageLite, R extends com.google.protobuf.MessageLite>
    io.a3s.box.ttrpc.UnaryHandler<Q, R> timed(String what, java.util.function.Function<Q, String> id,
                                              io.a3s.box.ttrpc.UnaryHandler<Q, R> handler) {
        return (req, ctx) -> {
            long t0 = System.nanoTime();
            try {
                R r = handler.handle(req, ctx);
                log.info("{} {}: {} ms", what, id.apply(req), (System.nanoTime() - t0) / 1_000_000);
                return r;
            } catch (StatusException | RuntimeException e) {
                log.info("{} {}: failed after {} ms: {}", what, id.apply(req), (System.nanoTime() - t0) / 1_000_000,
                        e.getMessage());
                throw e;
            }
        };
    }

    /** Number of live tasks, every namespace. */
    public int taskCount() {
        return containers.size() + creating.size();
    }

    /**
     * A Create still running. containerd gives up on a Create whose caller went away (ctr interrupted during a
     * cold boot, kubelet's deadline) and cleans up at once: Delete, Shutdown, the shim binary's delete, the
     * bundle removed. None of them can find the task yet; if the create then succeeded, the daemon would keep a
     * task nobody deletes, and its VM, for ever (Kata runtime#2992). So they mark the create abandoned, and the
     * create undoes itself when it ends.
     */
    private static final class InFlight {
        private boolean abandoned; // guarded by this
        private boolean done;      // guarded by this: the container is in the map, or never will be
    }

    /** The task's container; null if it has none, after marking a create of it in flight abandoned. */
    private Container findOrAbandon(String key) {
        Container c = containers.get(key);
        if (c == null && !abandonCreate(key)) {
            c = containers.get(key); // its create may have just ended
        }
        return c;
    }

    /** Marks the create of {@code key} abandoned; false if none is in flight (any more). */
    private boolean abandonCreate(String key) {
        InFlight f = creating.get(key);
        if (f == null) {
            return false;
        }
        synchronized (f) {
            if (f.done) {
                return false;
            }
            f.abandoned = true;
        }
        log.info("task {}: deleted while its create runs: the create will undo itself", key);
        return true;
    }

    /** The container {@code id} of {@code namespace}, if the daemon has it. */
    public Container find(String namespace, String id) {
        return containers.get(key(namespace, id));
    }

    /** What the shim binary's delete found of a task in this daemon ({@link #cleanup}). */
    public sealed interface Cleanup {
        /** The task was here: killed and deleted. */
        record Deleted(Container.Deleted deleted) implements Cleanup {
        }

        /** Its create is still running: abandoned, it releases what it holds when it ends. */
        record CreateAbandoned() implements Cleanup {
        }

        /** No such task here. */
        record Unknown() implements Cleanup {
        }
    }

    /**
     * containerd ran the shim binary's delete for a task: it gave up on it. If the task is still here, it is
     * killed and deleted for real, as containerd's Delete would.
     */
    public Cleanup cleanup(String namespace, String id) {
        String key = key(namespace, id);
        Container c = containers.get(key);
        if (c == null) {
            if (abandonCreate(key)) {
                return new Cleanup.CreateAbandoned();
            }
            c = containers.get(key); // its create may have just ended
            if (c == null) {
                return new Cleanup.Unknown();
            }
        }
        Cleanup.Deleted d = new Cleanup.Deleted(destroyWithin(c, Duration.ofMillis(CLEANUP_BOUND_MILLIS)));
        containers.remove(key, c);
        return d;
    }

    /**
     * The daemon's share of containerd's {@code delete}, which containerd kills at 5 s (its cleanupTimeout): the
     * rest goes to starting the JVM of {@code delete} and its Ping.
     */
    public static final long CLEANUP_BOUND_MILLIS = 2500; // a constant: `delete` reads it without loading this class

    /**
     * {@link #destroy}, answered within {@code bound}: past it the VM is killed (a guest that takes neither the
     * SIGKILL nor the delete in that time is hung), the exit reported is a dead VM's, and the teardown finishes
     * behind the answer, as the VM's death lets it.
     */
    private static Container.Deleted destroyWithin(Container c, Duration bound) {
        CompletableFuture<Container.Deleted> done = new CompletableFuture<>();
        Thread.ofVirtual().name("cleanup-" + c.id()).start(() -> done.complete(destroy(c)));
        try {
            return done.get(bound.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            c.sandbox().kill("cleanup of task " + c.id() + " not done within " + bound);
            return new Container.Deleted(c.initPid(), new ExitStatus(ExitStatus.VM_DIED, Instant.now()));
        } catch (ExecutionException e) {
            throw new IllegalStateException("cleanup of task " + c.id(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Container.Deleted(c.initPid(), new ExitStatus(ExitStatus.VM_DIED, Instant.now()));
        }
    }

    /** How long a task killed by {@link #destroy} gets to report its exit before its sandbox is released. */
    private static final Duration DESTROY_EXIT_BOUND = Duration.ofSeconds(5);

    /**
     * Kills every process of {@code c}, waits (bounded) for the init's exit, and deletes it; if that fails,
     * releases its sandbox anyway.
     */
    private static Container.Deleted destroy(Container c) {
        try {
            c.kill("", 9, true);
        } catch (StatusException e) {
            if (e.code() != Code.NOT_FOUND) {
                log.warn("cleanup of task {}: kill: {}", c.id(), e.getMessage());
            }
        }
        try {
            c.waitExit("").get(DESTROY_EXIT_BOUND.toMillis(), TimeUnit.MILLISECONDS);
        } catch (StatusException | ExecutionException | TimeoutException e) {
            // delete says what is wrong, and the sandbox is released below
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            return c.delete("");
        } catch (StatusException e) {
            log.warn("cleanup of task {}: delete: {}", c.id(), e.getMessage());
            c.sandbox().release();
            return new Container.Deleted(c.initPid(), new ExitStatus(ExitStatus.VM_DIED, Instant.now()));
        }
    }

    CreateTaskResponse create(CreateTaskRequest req, CallContext ctx) throws StatusException {
        requireId(req.getId());
        String ns = namespace(ctx);
        if (ns.isEmpty()) {
            ns = namespaceOfBundle(req.getBundle(), req.getId());
        }
        if (!req.getCheckpoint().isEmpty()) {
            throw Code.UNIMPLEMENTED.toException("create task %s: restoring from a checkpoint is not supported",
                    req.getId());
        }
        String key = key(ns, req.getId());
        InFlight flight = new InFlight();
        if (containers.containsKey(key) || creating.putIfAbsent(key, flight) != null) {
            throw Code.ALREADY_EXISTS.toException("task %s: already exists", req.getId());
        }
        try {
            Container c;
            try {
                c = factory.create(ns, req);
            } finally {
                synchronized (flight) {
                    flight.done = true;
                }
            }
            boolean abandoned;
            synchronized (flight) {
                abandoned = flight.abandoned;
                if (!abandoned) {
                    containers.put(key, c);
                }
            }
            if (abandoned) {
                destroy(c);
                throw Code.ABORTED.toException("create task %s: containerd deleted the task while it was being "
                        + "created (its caller gave up): undone", req.getId());
            }
            if (ctx.connection() != null) {
                connectionNamespaces.put(ctx.connection(), ns);
            }
            events.publish(ns, TaskCreate.newBuilder().setContainerId(req.getId()).setBundle(req.getBundle())
                    .addAllRootfs(req.getRootfsList())
                    .setIo(TaskIO.newBuilder().setStdin(req.getStdin()).setStdout(req.getStdout())
                            .setStderr(req.getStderr()).setTerminal(req.getTerminal()))
                    .setPid(c.initPid()).build());
            return CreateTaskResponse.newBuilder().setPid(c.initPid()).build();
        } finally {
            creating.remove(key, flight);
        }
    }

    StartResponse start(StartRequest req, CallContext ctx) throws StatusException {
        return StartResponse.newBuilder().setPid(container(ctx, req.getId()).start(req.getExecId())).build();
    }

    DeleteResponse delete(DeleteRequest req, CallContext ctx) throws StatusException {
        String key = keyOf(ctx, req.getId());
        Container c = req.getExecId().isEmpty() ? findOrAbandon(key) : containers.get(key);
        if (c == null) {
            throw Code.NOT_FOUND.toException("task %s: not found", req.getId());
        }
        Container.Deleted d = c.delete(req.getExecId());
        if (req.getExecId().isEmpty()) {
            containers.remove(key, c);
        }
        return DeleteResponse.newBuilder().setPid(d.pid()).setExitStatus(d.exit().status())
                .setExitedAt(d.exit().timestamp()).build();
    }

    StateResponse state(StateRequest req, CallContext ctx) throws StatusException {
        Container c = container(ctx, req.getId());
        Container.ProcessView v = c.state(req.getExecId());
        StateResponse.Builder b = StateResponse.newBuilder().setId(req.getId()).setExecId(v.execId())
                .setBundle(c.bundle()).setPid(v.pid()).setStatus(v.state().status())
                .setStdin(v.stdio().stdin()).setStdout(v.stdio().stdout()).setStderr(v.stdio().stderr())
                .setTerminal(v.stdio().terminal());
        if (v.exit() != null) {
            b.setExitStatus(v.exit().status()).setExitedAt(v.exit().timestamp());
        } else {
            b.setExitedAt(Timestamps.GO_ZERO_TIME);
        }
        return b.build();
    }

    PidsResponse pids(PidsRequest req, CallContext ctx) throws StatusException {
        PidsResponse.Builder b = PidsResponse.newBuilder();
        for (Container.PidInfo p : container(ctx, req.getId()).pids()) {
            ProcessInfo.Builder info = ProcessInfo.newBuilder().setPid(p.pid());
            if (!p.execId().isEmpty()) {
                info.setInfo(Anys.pack(ProcessDetails.newBuilder().setExecId(p.execId()).build()));
            }
            b.addProcesses(info);
        }
        return b.build();
    }

    Empty pause(PauseRequest req, CallContext ctx) throws StatusException {
        container(ctx, req.getId()).pause();
        return Empty.getDefaultInstance();
    }

    Empty resume(ResumeRequest req, CallContext ctx) throws StatusException {
        container(ctx, req.getId()).resume();
        return Empty.getDefaultInstance();
    }

    Empty checkpoint(CheckpointTaskRequest req, CallContext ctx) throws StatusException {
        throw Code.UNIMPLEMENTED.toException("checkpoint task %s: not supported by a3s-box", req.getId());
    }

    Empty kill(KillRequest req, CallContext ctx) throws StatusException {
        container(ctx, req.getId()).kill(req.getExecId(), req.getSignal(), req.getAll());
        return Empty.getDefaultInstance();
    }

    Empty exec(ExecProcessRequest req, CallContext ctx) throws StatusException {
        Container c = container(ctx, req.getId());
        var spec = specs.execProcess(req.getId(), req.getSpec());
        StdioPaths stdio = new StdioPaths(req.getStdin(), req.getStdout(), req.getStderr(), req.getTerminal());
        c.exec(req.getExecId(), stdio.applyTo(spec), stdio);
        return Empty.getDefaultInstance();
    }

    Empty resizePty(ResizePtyRequest req, CallContext ctx) throws StatusException {
        container(ctx, req.getId()).resizePty(req.getExecId(), req.getWidth(), req.getHeight());
        return Empty.getDefaultInstance();
    }

    Empty closeIo(CloseIORequest req, CallContext ctx) throws StatusException {
        if (req.getStdin()) {
            container(ctx, req.getId()).closeIo(req.getExecId());
        }
        return Empty.getDefaultInstance();
    }

    Empty update(UpdateTaskRequest req, CallContext ctx) throws StatusException {
        Container c = container(ctx, req.getId());
        if (req.hasResources()) {
            c.update(specs.resources(req.getId(), req.getResources()));
        }
        return Empty.getDefaultInstance();
    }

    WaitResponse await(WaitRequest req, CallContext ctx) throws StatusException {
        CompletableFuture<ExitStatus> exit = container(ctx, req.getId()).waitExit(req.getExecId());
        while (true) {
            try {
                ExitStatus e = exit.get(WAIT_POLL_MS, TimeUnit.MILLISECONDS);
                return WaitResponse.newBuilder().setExitStatus(e.status()).setExitedAt(e.timestamp()).build();
            } catch (TimeoutException e) {
                if (ctx.isCancelled()) {
                    // nobody is listening any more: free the thread (a Wait may last for days)
                    throw Code.CANCELLED.toException("wait %s: caller went away", req.getId());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw Code.CANCELLED.toException("wait %s: interrupted", req.getId());
            } catch (ExecutionException e) {
                throw new StatusException(io.a3s.box.ttrpc.Status.fromThrowable(e.getCause()));
            }
        }
    }

    StatsResponse stats(StatsRequest req, CallContext ctx) throws StatusException {
        var s = container(ctx, req.getId()).stats();
        return StatsResponse.newBuilder().setStats(Anys.pack(MetricsMapper.toMetrics(s))).build();
    }

    ConnectResponse connect(ConnectRequest req, CallContext ctx) throws StatusException {
        Container c = container(ctx, req.getId());
        return ConnectResponse.newBuilder().setShimPid((int) ProcessHandle.current().pid()).setTaskPid(c.initPid())
                .setVersion(BuildInfo.CURRENT.version()).build();
    }

    /**
     * A no-op: containerd sends it after deleting each task, but this daemon serves every task of its
     * containerd and stays up for the next one (it exits on its own once idle, see ShimDaemon).
     */
    Empty shutdown(ShutdownRequest req, CallContext ctx) {
        return Empty.getDefaultInstance();
    }

    private Container container(CallContext ctx, String id) throws StatusException {
        Container c = containers.get(keyOf(ctx, id));
        if (c == null) {
            throw Code.NOT_FOUND.toException("task %s: not found", id);
        }
        return c;
    }

    /**
     * The key of task {@code id} for this call: the namespace from the metadata, else the one bound to the
     * connection by Create, else the only namespace that has a task {@code id} (see the class comment).
     */
    private String keyOf(CallContext ctx, String id) throws StatusException {
        requireId(id);
        String ns = namespace(ctx);
        if (!ns.isEmpty()) {
            return key(ns, id);
        }
        String bound = ctx.connection() == null ? null : connectionNamespaces.get(ctx.connection());
        if (bound != null && containers.containsKey(key(bound, id))) {
            return key(bound, id);
        }
        String suffix = "/" + id;
        List<String> matches = containers.keySet().stream().filter(k -> k.endsWith(suffix)).limit(2).toList();
        if (matches.size() > 1) {
            throw Code.FAILED_PRECONDITION.toException(
                    "task %s exists in several namespaces and the call names none (no %s metadata)", id,
                    NAMESPACE_KEY);
        }
        return matches.isEmpty() ? key("", id) : matches.getFirst();
    }

    /**
     * The namespace containerd's bundle path names: {@code .../<namespace>/<id>}. INVALID_ARGUMENT when the
     * path does not end with the task id under a valid namespace name.
     */
    static String namespaceOfBundle(String bundle, String id) throws StatusException {
        Path p = bundle == null || bundle.isEmpty() ? null : Path.of(bundle).normalize();
        Path parent = p == null ? null : p.getParent();
        if (p == null || p.getFileName() == null || !p.getFileName().toString().equals(id) || parent == null
                || parent.getFileName() == null || !NAMESPACE_NAME.matcher(parent.getFileName().toString()).matches()) {
            throw Code.INVALID_ARGUMENT.toException(
                    "create task %s: no namespace: no %s metadata, and bundle %s is not .../<namespace>/%s", id,
                    NAMESPACE_KEY, bundle, id);
        }
        return parent.getFileName().toString();
    }

    /** containerd's identifier rule for namespaces. */
    private static final Pattern NAMESPACE_NAME = Pattern.compile("[A-Za-z0-9]+([._-][A-Za-z0-9]+)*");

    private static void requireId(String id) throws StatusException {
        if (id == null || id.isEmpty()) {
            throw Code.INVALID_ARGUMENT.toException("task id must not be empty");
        }
    }

    private static String namespace(CallContext ctx) {
        String ns = ctx.metadata().get(NAMESPACE_KEY);
        return ns == null ? "" : ns;
    }

    private static String key(String namespace, String id) {
        return namespace + "/" + id;
    }

}
