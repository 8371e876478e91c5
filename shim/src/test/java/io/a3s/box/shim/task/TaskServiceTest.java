package io.a3s.box.shim.task;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Empty;
import com.google.protobuf.Message;
import io.a3s.box.containerd.cgroups.v2.Metrics;
import io.a3s.box.containerd.events.TaskCreate;
import io.a3s.box.containerd.events.TaskDelete;
import io.a3s.box.containerd.events.TaskExecAdded;
import io.a3s.box.containerd.events.TaskExecStarted;
import io.a3s.box.containerd.events.TaskExit;
import io.a3s.box.containerd.events.TaskStart;
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
import io.a3s.box.containerd.types.Mount;
import io.a3s.box.containerd.types.task.Status;
import io.a3s.box.guest.v1.CgroupResources;
import io.a3s.box.guest.v1.ContainerSpec;
import io.a3s.box.guest.v1.CreateContainerRequest;
import io.a3s.box.guest.v1.ProcessSpec;
import io.a3s.box.shim.events.Anys;
import io.a3s.box.shim.events.EventBus;
import io.a3s.box.shim.stdio.StdioPaths;
import io.a3s.box.ttrpc.CallContext;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.Metadata;
import io.a3s.box.ttrpc.StatusException;
import io.a3s.box.ttrpc.TtrpcClient;
import io.a3s.box.ttrpc.TtrpcServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static io.a3s.box.shim.task.TaskTesting.PROMPT;
import static io.a3s.box.shim.task.TaskTesting.assertStatus;
import static io.a3s.box.shim.task.TaskTesting.eventually;
import static io.a3s.box.shim.task.TaskTesting.mkfifo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * containerd's view of the task layer: the {@link TaskService} RPCs over containers whose VMs are
 * {@link FakeSandbox}es. The transition tables below are the contract of every RPC in every process state.
 */
@Timeout(60)
class TaskServiceTest {
    static final String NS = "default";
    static final int SIGTERM = 15;
    static final int SIGKILL = 9;

    @TempDir
    Path dir;

    record Published(String namespace, Message event) {
    }

    final BlockingQueue<Published> events = new LinkedBlockingQueue<>();
    final EventBus bus = (ns, e) -> events.add(new Published(ns, e));
    final List<FakeSandbox> sandboxes = new CopyOnWriteArrayList<>();
    final Map<String, FakeSandbox> vmOfTask = new ConcurrentHashMap<>();
    final AtomicInteger vmCount = new AtomicInteger();
    final ObjectMapper json = new ObjectMapper();

    /** What the daemon's factory does, with a fake VM: the init's args come from the bundle's config.json. */
    final TaskFactory factory = (ns, req) -> {
        List<String> args = args(readJson(Path.of(req.getBundle(), "config.json")).path("process"));
        FakeSandbox sb;
        try {
            sb = FakeSandbox.start(dir, "vm" + vmCount.incrementAndGet());
        } catch (IOException e) {
            throw Code.UNAVAILABLE.toException("no vm: %s", e.getMessage());
        }
        sandboxes.add(sb);
        try {
            StdioPaths stdio = new StdioPaths(req.getStdin(), req.getStdout(), req.getStderr(), req.getTerminal());
            int pid = TaskPids.ofGuest(sb.agent().createContainer(CreateContainerRequest.newBuilder()
                    .setContainerId(req.getId()).setSpec(ContainerSpec.newBuilder().setProcess(ProcessSpec.newBuilder()
                            .addAllArgs(args).setTerminal(req.getTerminal()).setStdin(stdio.hasStdin()))).build(),
                    Duration.ofSeconds(5)).getPid());
            Container c = new Container(req.getId(), req.getBundle(), pid, stdio, sb, bus.forNamespace(ns),
                    Clock.systemUTC());
            vmOfTask.put(ns + "/" + req.getId(), sb);
            return c;
        } catch (StatusException e) {
            sb.release();
            throw e;
        }
    };

    /** OCI JSON to the guest's messages: just the args, and the memory limit. */
    final SpecConverter specs = new SpecConverter() {
        @Override
        public ProcessSpec execProcess(String containerId, Any spec) throws StatusException {
            return ProcessSpec.newBuilder().addAllArgs(args(readJson(spec.getValue()))).build();
        }

        @Override
        public CgroupResources resources(String containerId, Any resources) throws StatusException {
            return CgroupResources.newBuilder()
                    .setMemoryMax(readJson(resources.getValue()).path("memory").path("limit").asLong()).build();
        }
    };

    final TaskService svc = new TaskService(factory, specs, bus);

    @AfterEach
    void releaseVms() {
        sandboxes.forEach(FakeSandbox::release);
    }

    // ---- plumbing --------------------------------------------------------------------------------------------

    static CallContext ctx(String namespace) {
        return new CallContext(TaskService.V2, "test", Metadata.of(TaskService.NAMESPACE_KEY, namespace), 0,
                Optional.empty(), () -> true);
    }

    JsonNode readJson(Path file) throws StatusException {
        try {
            return json.readTree(file.toFile());
        } catch (IOException e) {
            throw Code.INVALID_ARGUMENT.toException("%s: %s", file, e.getMessage());
        }
    }

    JsonNode readJson(ByteString bytes) throws StatusException {
        try {
            return json.readTree(bytes.toByteArray());
        } catch (IOException e) {
            throw Code.INVALID_ARGUMENT.toException("spec: %s", e.getMessage());
        }
    }

    static List<String> args(JsonNode process) {
        List<String> args = new ArrayList<>();
        process.path("args").forEach(a -> args.add(a.asText()));
        return args;
    }

    String bundle(String name, String... args) throws IOException {
        Path b = Files.createDirectories(dir.resolve("bundles").resolve(name));
        Files.writeString(b.resolve("config.json"),
                json.writeValueAsString(Map.of("process", Map.of("args", List.of(args)))));
        return b.toString();
    }

    static Any ociProcess(String... args) {
        return Any.newBuilder().setTypeUrl("types.containerd.io/opencontainers/runtime-spec/1/Process")
                .setValue(ByteString.copyFromUtf8("{\"args\":" + quoted(args) + ",\"cwd\":\"/\"}")).build();
    }

    private static String quoted(String... args) {
        return Stream.of(args).map(a -> "\"" + a + "\"").toList().toString();
    }

    /** Creates a task with a terminal and no stdio. */
    int create(String ns, String id, String... args) throws Exception {
        return svc.create(CreateTaskRequest.newBuilder().setId(id).setBundle(bundle(ns + "-" + id, args))
                .setTerminal(true).build(), ctx(ns)).getPid();
    }

    void exec(String ns, String id, String execId, String... args) throws Exception {
        svc.exec(ExecProcessRequest.newBuilder().setId(id).setExecId(execId).setTerminal(true)
                .setSpec(ociProcess(args)).build(), ctx(ns));
    }

    int start(String id, String execId) throws Exception {
        return svc.start(StartRequest.newBuilder().setId(id).setExecId(execId).build(), ctx(NS)).getPid();
    }

    void kill(String id, String execId, int signal) throws Exception {
        svc.kill(KillRequest.newBuilder().setId(id).setExecId(execId).setSignal(signal).build(), ctx(NS));
    }

    WaitResponse await(String id, String execId) throws Exception {
        return svc.await(WaitRequest.newBuilder().setId(id).setExecId(execId).build(), ctx(NS));
    }

    CompletableFuture<WaitResponse> awaitAsync(String ns, String id, String execId) {
        CompletableFuture<WaitResponse> f = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                f.complete(svc.await(WaitRequest.newBuilder().setId(id).setExecId(execId).build(), ctx(ns)));
            } catch (Throwable t) {
                f.completeExceptionally(t);
            }
        });
        return f;
    }

    StateResponse state(String id, String execId) throws Exception {
        return svc.state(StateRequest.newBuilder().setId(id).setExecId(execId).build(), ctx(NS));
    }

    DeleteResponse delete(String id, String execId) throws Exception {
        return svc.delete(DeleteRequest.newBuilder().setId(id).setExecId(execId).build(), ctx(NS));
    }

    /** The next event, which must be of {@code type} and of namespace {@code ns}. */
    <T extends Message> T next(String ns, Class<T> type) throws InterruptedException {
        Published p = events.poll(PROMPT.toMillis(), TimeUnit.MILLISECONDS);
        assertNotNull(p, "no event");
        assertEquals(ns, p.namespace(), "namespace of " + p.event());
        return assertInstanceOf(type, p.event(), "next event");
    }

    // ---- the transition tables -------------------------------------------------------------------------------

    enum St { CREATED, RUNNING, PAUSED, STOPPED, DELETED }

    enum Op { START, KILL, DELETE, PAUSE, RESUME, EXEC, STATE, WAIT, CLOSE_IO, RESIZE_PTY }

    /**
     * What each RPC answers for the init process in each state. OK: succeeds (WAIT: returns the exit, once
     * there is one); FP: FAILED_PRECONDITION naming the task and the state; NF: NOT_FOUND naming the task.
     */
    static final String INIT_TABLE = """
                        CREATED  RUNNING  PAUSED   STOPPED  DELETED
            START       OK       FP       FP       FP       NF
            KILL        OK       OK       OK       NF       NF
            DELETE      OK       FP       FP       OK       NF
            PAUSE       FP       OK       FP       FP       NF
            RESUME      FP       FP       OK       FP       NF
            EXEC        OK       OK       OK       FP       NF
            STATE       OK       OK       OK       OK       NF
            WAIT        OK       OK       OK       OK       NF
            CLOSE_IO    OK       OK       OK       OK       NF
            RESIZE_PTY  OK       OK       OK       OK       NF
            """;

    /**
     * The same for an exec (its init running; PAUSED: the container is paused while the exec runs).
     * PAUSE and RESUME act on the container. EXEC is a second exec with the same id: AE, ALREADY_EXISTS;
     * after the exec was deleted the id should be free again, which is ContainerTest's disabled
     * anExecIdCanBeReusedOnceTheExecIsDeleted (--: not checked here).
     */
    static final String EXEC_TABLE = """
                        CREATED  RUNNING  PAUSED   STOPPED  DELETED
            START       OK       FP       FP       FP       NF
            KILL        FP       OK       OK       NF       NF
            DELETE      OK       FP       FP       OK       NF
            PAUSE       OK       OK       FP       OK       OK
            RESUME      FP       FP       OK       FP       FP
            EXEC        AE       AE       AE       AE       --
            STATE       OK       OK       OK       OK       NF
            WAIT        OK       OK       OK       OK       NF
            CLOSE_IO    OK       OK       OK       OK       NF
            RESIZE_PTY  OK       OK       OK       OK       NF
            """;

    static Stream<Arguments> table(String table) {
        List<String> lines = table.lines().filter(l -> !l.isBlank()).toList();
        List<St> states = Stream.of(lines.getFirst().trim().split("\\s+")).map(St::valueOf).toList();
        List<Arguments> cells = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.trim().split("\\s+");
            for (int i = 0; i < states.size(); i++) {
                if (!f[i + 1].equals("--")) {
                    cells.add(Arguments.of(states.get(i), Op.valueOf(f[0]), f[i + 1]));
                }
            }
        }
        return cells.stream();
    }

    static Stream<Arguments> initTable() {
        return table(INIT_TABLE);
    }

    static Stream<Arguments> execTable() {
        return table(EXEC_TABLE);
    }

    @ParameterizedTest(name = "init {0}: {1} -> {2}")
    @MethodSource("initTable")
    void initTransitions(St st, Op op, String expected) throws Exception {
        String id = ("init-" + st + "-" + op).toLowerCase(Locale.ROOT);
        int pid = create(NS, id, "sleep");
        switch (st) {
            case CREATED -> {
            }
            case RUNNING -> start(id, "");
            case PAUSED -> {
                start(id, "");
                svc.pause(PauseRequest.newBuilder().setId(id).build(), ctx(NS));
            }
            case STOPPED, DELETED -> {
                start(id, "");
                kill(id, "", SIGTERM);
                assertEquals(143, await(id, "").getExitStatus());
                if (st == St.DELETED) {
                    delete(id, "");
                }
            }
        }
        check(id, "", pid, st, op, expected);
    }

    @ParameterizedTest(name = "exec {0}: {1} -> {2}")
    @MethodSource("execTable")
    void execTransitions(St st, Op op, String expected) throws Exception {
        String id = ("exec-" + st + "-" + op).toLowerCase(Locale.ROOT);
        create(NS, id, "sleep");
        start(id, "");
        exec(NS, id, "e1", "sleep");
        int pid = state(id, "e1").getPid();
        switch (st) {
            case CREATED -> {
            }
            case RUNNING -> start(id, "e1");
            case PAUSED -> {
                start(id, "e1");
                svc.pause(PauseRequest.newBuilder().setId(id).build(), ctx(NS));
            }
            case STOPPED, DELETED -> {
                start(id, "e1");
                kill(id, "e1", SIGTERM);
                assertEquals(143, await(id, "e1").getExitStatus());
                if (st == St.DELETED) {
                    delete(id, "e1");
                }
            }
        }
        check(id, "e1", pid, st, op, expected);
    }

    /** Runs {@code op} on the process in state {@code st} and checks the answer and its effect. */
    private void check(String id, String execId, int pid, St st, Op op, String expected) throws Exception {
        FakeSandbox vm = vmOfTask.get(NS + "/" + id);
        TaskTesting.Call call = switch (op) {
            case START -> () -> assertEquals(pid, start(id, execId));
            case KILL -> () -> kill(id, execId, SIGKILL);
            case DELETE -> () -> {
                DeleteResponse d = delete(id, execId);
                assertEquals(pid, d.getPid());
                // a created init is killed (137, as runc's runc-init); a created exec never ran (0, as runc)
                assertEquals(st == St.STOPPED ? 143 : execId.isEmpty() ? 137 : 0, d.getExitStatus());
            };
            case PAUSE -> () -> svc.pause(PauseRequest.newBuilder().setId(id).build(), ctx(NS));
            case RESUME -> () -> svc.resume(ResumeRequest.newBuilder().setId(id).build(), ctx(NS));
            case EXEC -> () -> exec(NS, id, execId.isEmpty() ? "e9" : execId, "sleep");
            case STATE -> () -> {
                StateResponse s = state(id, execId);
                assertEquals(pid, s.getPid());
                assertEquals(execId, s.getExecId());
                assertEquals(Status.valueOf(st.name()), s.getStatus());
                if (st == St.STOPPED) {
                    assertEquals(143, s.getExitStatus());
                    assertNotEquals(Timestamps.GO_ZERO_TIME, s.getExitedAt());
                } else {
                    assertEquals(Timestamps.GO_ZERO_TIME, s.getExitedAt());
                }
            };
            case WAIT -> () -> {
                CompletableFuture<WaitResponse> w = awaitAsync(NS, id, execId);
                if (st == St.STOPPED) {
                    assertEquals(143, w.get(PROMPT.toMillis(), TimeUnit.MILLISECONDS).getExitStatus());
                } else {
                    try {
                        w.get(100, TimeUnit.MILLISECONDS);
                    } catch (TimeoutException e) {
                        // Wait blocks until the process exits; an exec not started goes with its init
                        kill(id, st == St.CREATED ? "" : execId, SIGKILL);
                    } catch (java.util.concurrent.ExecutionException e) {
                        throw (Exception) e.getCause();
                    }
                    assertEquals(137, w.get(PROMPT.toMillis(), TimeUnit.MILLISECONDS).getExitStatus());
                }
            };
            case CLOSE_IO -> () -> svc.closeIo(CloseIORequest.newBuilder().setId(id).setExecId(execId).setStdin(true)
                    .build(), ctx(NS));
            case RESIZE_PTY -> () -> svc.resizePty(ResizePtyRequest.newBuilder().setId(id).setExecId(execId)
                    .setWidth(100).setHeight(40).build(), ctx(NS));
        };
        String process = execId.isEmpty() ? "task " + id : "exec " + execId + " of task " + id;
        switch (expected) {
            case "OK" -> {
                call.run();
                checkEffect(id, execId, st, op, vm);
            }
            case "FP" -> {
                // the state named is the one the rule is about: the container's for PAUSE and RESUME
                boolean containerOp = op == Op.PAUSE || op == Op.RESUME || op == Op.EXEC;
                String label = containerOp && !execId.isEmpty()
                        ? (st == St.PAUSED ? "paused" : "running") : st.name().toLowerCase(Locale.ROOT);
                assertStatus(Code.FAILED_PRECONDITION, call::run, id, label);
            }
            case "NF" -> assertStatus(Code.NOT_FOUND, call::run, id, execId);
            case "AE" -> assertStatus(Code.ALREADY_EXISTS, call::run, process);
            default -> throw new IllegalArgumentException(expected);
        }
    }

    /** What a successful {@code op} must have changed. */
    private void checkEffect(String id, String execId, St st, Op op, FakeSandbox vm) throws Exception {
        switch (op) {
            case START -> assertEquals(Status.RUNNING, state(id, execId).getStatus());
            case KILL -> {
                assertEquals(137, await(id, execId).getExitStatus());
                assertEquals(Status.STOPPED, state(id, execId).getStatus());
            }
            case DELETE -> {
                assertStatus(Code.NOT_FOUND, () -> state(id, execId), id);
                assertEquals(execId.isEmpty() ? 1 : 0, vm.releases.get(), "VM released with the init only");
                if (execId.isEmpty()) {
                    assertEquals(0, svc.taskCount());
                }
            }
            case PAUSE -> assertEquals(Status.PAUSED, state(id, "").getStatus());
            case RESUME -> assertEquals(Status.RUNNING, state(id, "").getStatus());
            case EXEC -> assertEquals(Status.CREATED, state(id, "e9").getStatus());
            case RESIZE_PTY -> assertTrue(vm.fake.calls.contains("ResizePty " + id + "/" + execId + " 100x40"),
                    "calls: " + vm.fake.calls);
            case CLOSE_IO -> eventually("stdin closed in the guest",
                    () -> vm.fake.calls.contains("CloseStdin " + id + "/" + execId));
            case STATE, WAIT -> {
            }
        }
    }

    // ---- namespaces, create, events ---------------------------------------------------------------------------

    @Test
    void tasksAreKeyedByNamespaceAndId() throws Exception {
        int a = create("ns-a", "web", "exit", "1");
        int b = create("ns-b", "web", "sleep");
        assertEquals(2, svc.taskCount());
        assertNotEquals(svc.find("ns-a", "web"), svc.find("ns-b", "web"));
        svc.start(StartRequest.newBuilder().setId("web").build(), ctx("ns-a"));
        svc.start(StartRequest.newBuilder().setId("web").build(), ctx("ns-b"));
        assertEquals(1, awaitAsync("ns-a", "web", "").get(PROMPT.toMillis(), TimeUnit.MILLISECONDS).getExitStatus());
        StateResponse sb = svc.state(StateRequest.newBuilder().setId("web").build(), ctx("ns-b"));
        assertEquals(Status.RUNNING, sb.getStatus());
        assertEquals(b, sb.getPid());
        assertEquals(a, svc.delete(DeleteRequest.newBuilder().setId("web").build(), ctx("ns-a")).getPid());
        assertStatus(Code.NOT_FOUND, () -> svc.state(StateRequest.newBuilder().setId("web").build(), ctx("ns-a")),
                "web");
        assertEquals(Status.RUNNING,
                svc.state(StateRequest.newBuilder().setId("web").build(), ctx("ns-b")).getStatus());
        assertStatus(Code.NOT_FOUND, () -> svc.state(StateRequest.newBuilder().setId("web").build(), ctx("ns-c")),
                "web");
        List<String> nsOfDeletes = events.stream().filter(p -> p.event() instanceof TaskDelete)
                .map(Published::namespace).toList();
        assertEquals(List.of("ns-a"), nsOfDeletes);
    }

    /**
     * containerd gives up on a Create whose caller went away (ctr interrupted during a cold boot) and cleans up
     * before the create ends: Delete, then the shim binary's delete. The create that then succeeds must undo
     * itself, or the daemon keeps a task (and its VM) nobody will ever delete (Kata runtime#2992).
     */
    @Test
    void aTaskDeletedWhileItsCreateRunsIsUndoneWhenTheCreateEnds() throws Exception {
        java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch proceed = new java.util.concurrent.CountDownLatch(1);
        TaskService slow = new TaskService((ns, req) -> {
            entered.countDown();
            try {
                proceed.await();
            } catch (InterruptedException e) {
                throw Code.CANCELLED.toException("interrupted");
            }
            return factory.create(ns, req);
        }, specs, bus);
        String bundle = bundle("slow", "sleep", "1000");
        CompletableFuture<CreateTaskResponse> created = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                created.complete(slow.create(CreateTaskRequest.newBuilder().setId("slow").setBundle(bundle)
                        .setTerminal(true).build(), ctx(NS)));
            } catch (Throwable t) {
                created.completeExceptionally(t);
            }
        });
        assertTrue(entered.await(PROMPT.toMillis(), TimeUnit.MILLISECONDS));
        assertEquals(1, slow.taskCount(), "a create in flight keeps the daemon from exiting idle");

        assertStatus(Code.NOT_FOUND, () -> slow.delete(DeleteRequest.newBuilder().setId("slow").build(), ctx(NS)),
                "slow");
        assertInstanceOf(TaskService.Cleanup.CreateAbandoned.class, slow.cleanup(NS, "slow"));
        proceed.countDown();

        java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> created.get(PROMPT.toMillis(), TimeUnit.MILLISECONDS));
        StatusException status = assertInstanceOf(StatusException.class, e.getCause());
        assertEquals(Code.ABORTED, status.code(), status.getMessage());
        assertTrue(status.getMessage().contains("slow"), status.getMessage());
        FakeSandbox vm = vmOfTask.get(NS + "/slow");
        assertNotNull(vm, "the create did run to its end");
        assertEquals(1, vm.releases.get(), "its VM is released");
        assertEquals(0, slow.taskCount());
        assertInstanceOf(TaskService.Cleanup.Unknown.class, slow.cleanup(NS, "slow"));
        assertTrue(events.stream().noneMatch(p -> p.event() instanceof TaskCreate),
                "containerd is not told of a task it gave up on");
    }

    @Test
    void theShimBinarysCleanupKillsAndDeletesATaskContainerdGaveUpOn() throws Exception {
        create(NS, "left", "sleep", "1000");
        start("left", "");
        TaskService.Cleanup c = svc.cleanup(NS, "left");
        TaskService.Cleanup.Deleted d = assertInstanceOf(TaskService.Cleanup.Deleted.class, c);
        assertEquals(128 + SIGKILL, d.deleted().exit().status());
        assertEquals(0, svc.taskCount());
        assertEquals(1, vmOfTask.get(NS + "/left").releases.get());
    }

    @Test
    void theCleanupOfATaskWhoseGuestHangsAnswersWithinItsBoundAndKillsTheVm() throws Exception {
        // containerd kills the shim binary's delete at 5 s; a guest that takes no signal must not make it wait
        create(NS, "stuck", "sleep", "1000");
        start("stuck", "");
        FakeSandbox vm = vmOfTask.get(NS + "/stuck");
        vm.fake.signalsHang = true;
        long t0 = System.nanoTime();
        TaskService.Cleanup.Deleted d = assertInstanceOf(TaskService.Cleanup.Deleted.class, svc.cleanup(NS, "stuck"));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < TaskService.CLEANUP_BOUND_MILLIS + 1000, "cleanup took " + ms + " ms");
        assertEquals(128 + SIGKILL, d.deleted().exit().status());
        assertEquals(1, vm.kills.get());
        assertEquals(0, svc.taskCount());
        eventually("the teardown finished behind the answer", () -> vm.releases.get() == 1);
    }

    @Test
    void createTwiceIsAlreadyExistsAndTheIdIsFreeAfterDelete() throws Exception {
        create(NS, "twice", "sleep");
        assertStatus(Code.ALREADY_EXISTS, () -> create(NS, "twice", "sleep"), "twice");
        assertEquals(1, svc.taskCount());
        delete("twice", "");
        create(NS, "twice", "exit", "4");
        start("twice", "");
        assertEquals(4, await("twice", "").getExitStatus());
    }

    @Test
    void concurrentCreatesOfOneIdMakeOneTask() throws Exception {
        String b = bundle("race", "sleep");
        List<CompletableFuture<CreateTaskResponse>> all = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            all.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return svc.create(CreateTaskRequest.newBuilder().setId("race").setBundle(b).build(), ctx(NS));
                } catch (StatusException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            }, r -> Thread.ofVirtual().start(r)));
        }
        int ok = 0;
        for (var f : all) {
            try {
                f.get(PROMPT.toMillis(), TimeUnit.MILLISECONDS);
                ok++;
            } catch (java.util.concurrent.ExecutionException e) {
                assertEquals(Code.ALREADY_EXISTS, ((StatusException) e.getCause()).code());
            }
        }
        assertEquals(1, ok);
        assertEquals(1, svc.taskCount());
    }

    @Test
    void eventsOfATaskComeInOrderCreateStartExitDelete() throws Exception {
        CreateTaskRequest req = CreateTaskRequest.newBuilder().setId("ev").setBundle(bundle("ev", "exit", "3"))
                .addRootfs(Mount.newBuilder().setType("overlay").setSource("overlay").addOptions("ro"))
                .setStdout("/dev/null").setTerminal(false).build();
        int pid = svc.create(req, ctx(NS)).getPid();
        start("ev", "");
        WaitResponse w = await("ev", "");
        DeleteResponse d = delete("ev", "");
        assertEquals(3, w.getExitStatus());
        assertEquals(w.getExitedAt(), d.getExitedAt());

        TaskCreate create = next(NS, TaskCreate.class);
        assertEquals("ev", create.getContainerId());
        assertEquals(req.getBundle(), create.getBundle());
        assertEquals(pid, create.getPid());
        assertEquals("/dev/null", create.getIo().getStdout());
        assertEquals(req.getRootfsList(), create.getRootfsList());
        assertEquals(pid, next(NS, TaskStart.class).getPid());
        TaskExit exit = next(NS, TaskExit.class);
        assertEquals("ev", exit.getId());
        assertEquals(pid, exit.getPid());
        assertEquals(3, exit.getExitStatus());
        assertEquals(w.getExitedAt(), exit.getExitedAt());
        TaskDelete del = next(NS, TaskDelete.class);
        assertEquals(pid, del.getPid());
        assertEquals(3, del.getExitStatus());
        assertEquals("", del.getId());
        assertTrue(events.isEmpty(), "more events: " + events);
    }

    @Test
    void eventsOfAnExecComeInOrderAddedStartedExitDelete() throws Exception {
        create(NS, "evx", "sleep");
        start("evx", "");
        exec(NS, "evx", "e1", "exit", "9");
        int pid = start("evx", "e1");
        assertEquals(9, await("evx", "e1").getExitStatus());
        delete("evx", "e1");
        next(NS, TaskCreate.class);
        next(NS, TaskStart.class);
        TaskExecAdded added = next(NS, TaskExecAdded.class);
        assertEquals("evx", added.getContainerId());
        assertEquals("e1", added.getExecId());
        TaskExecStarted started = next(NS, TaskExecStarted.class);
        assertEquals("e1", started.getExecId());
        assertEquals(pid, started.getPid());
        TaskExit exit = next(NS, TaskExit.class);
        assertEquals("evx", exit.getContainerId());
        assertEquals("e1", exit.getId());
        assertEquals(pid, exit.getPid());
        assertEquals(9, exit.getExitStatus());
        TaskDelete del = next(NS, TaskDelete.class);
        assertEquals("e1", del.getId());
        assertEquals(9, del.getExitStatus());
        assertTrue(events.isEmpty(), "more events: " + events);
    }

    @Test
    void waitBeforeStartReturnsOnTheExit() throws Exception {
        create(NS, "wbs", "exit", "12");
        CompletableFuture<WaitResponse> w = awaitAsync(NS, "wbs", "");
        assertThrows(TimeoutException.class, () -> w.get(100, TimeUnit.MILLISECONDS));
        start("wbs", "");
        assertEquals(12, w.get(PROMPT.toMillis(), TimeUnit.MILLISECONDS).getExitStatus());
    }

    @Test
    void waitGivesUpWhenItsCallerWentAway() throws Exception {
        create(NS, "gone", "sleep");
        CallContext closed = new CallContext(TaskService.V2, "Wait", Metadata.of(TaskService.NAMESPACE_KEY, NS), 0,
                Optional.empty(), () -> false);
        assertStatus(Code.CANCELLED, () -> svc.await(WaitRequest.newBuilder().setId("gone").build(), closed),
                "gone");
    }

    // ---- state, pids, stats, connect, update ------------------------------------------------------------------

    @Test
    void stateReportsTheStdioTheBundleAndTheExit() throws Exception {
        CreateTaskRequest req = CreateTaskRequest.newBuilder().setId("st").setBundle(bundle("st", "exit", "2"))
                .setStdout(dir.resolve("out.log").toString()).setStderr(dir.resolve("err.log").toString()).build();
        int pid = svc.create(req, ctx(NS)).getPid();
        StateResponse s = state("st", "");
        assertEquals("st", s.getId());
        assertEquals(req.getBundle(), s.getBundle());
        assertEquals(pid, s.getPid());
        assertEquals(Status.CREATED, s.getStatus());
        assertEquals(req.getStdout(), s.getStdout());
        assertEquals(req.getStderr(), s.getStderr());
        assertEquals("", s.getStdin());
        assertEquals(false, s.getTerminal());
        assertEquals(Timestamps.GO_ZERO_TIME, s.getExitedAt());
        start("st", "");
        WaitResponse w = await("st", "");
        s = state("st", "");
        assertEquals(Status.STOPPED, s.getStatus());
        assertEquals(2, s.getExitStatus());
        assertEquals(w.getExitedAt(), s.getExitedAt());
        assertStatus(Code.NOT_FOUND, () -> state("st", "nope"), "nope", "st");
    }

    @Test
    void pidsAreNeverEmptyAndNameTheExecs() throws Exception {
        int init = create(NS, "pids", "sleep");
        start("pids", "");
        exec(NS, "pids", "e1", "sleep");
        int e1 = start("pids", "e1");
        PidsResponse r = svc.pids(PidsRequest.newBuilder().setId("pids").build(), ctx(NS));
        assertEquals(2, r.getProcessesCount());
        assertEquals(init, r.getProcesses(0).getPid());
        assertTrue(!r.getProcesses(0).hasInfo(), "the init has no details");
        assertEquals(e1, r.getProcesses(1).getPid());
        ProcessDetails details = Anys.unpack(r.getProcesses(1).getInfo(), "containerd.runc.v1.ProcessDetails",
                ProcessDetails.parser());
        assertEquals("e1", details.getExecId());

        vmOfTask.get(NS + "/pids").killVm();
        r = svc.pids(PidsRequest.newBuilder().setId("pids").build(), ctx(NS));
        assertEquals(1, r.getProcessesCount(), "containerd deletes a shim whose Pids is empty");
        assertEquals(init, r.getProcesses(0).getPid());
    }

    @Test
    void statsAreCgroupV2MetricsAndNotFoundOnceTheVmIsGone() throws Exception {
        create(NS, "stats", "sleep");
        start("stats", "");
        StatsResponse r = svc.stats(StatsRequest.newBuilder().setId("stats").build(), ctx(NS));
        Metrics m = Anys.unpack(r.getStats(), "io.containerd.cgroups.v2.Metrics", Metrics.parser());
        assertEquals(1, m.getPids().getCurrent());
        assertEquals(4096, m.getMemory().getUsage());
        vmOfTask.get(NS + "/stats").killVm();
        assertStatus(Code.NOT_FOUND, () -> svc.stats(StatsRequest.newBuilder().setId("stats").build(), ctx(NS)),
                "stats");
    }

    @Test
    void aDeadVmEndsEveryWaitWith137AndTheTaskCanBeDeleted() throws Exception {
        create(NS, "dead", "sleep");
        start("dead", "");
        exec(NS, "dead", "e1", "sleep");
        start("dead", "e1");
        CompletableFuture<WaitResponse> init = awaitAsync(NS, "dead", "");
        CompletableFuture<WaitResponse> e1 = awaitAsync(NS, "dead", "e1");
        FakeSandbox vm = vmOfTask.get(NS + "/dead");
        long t0 = System.nanoTime();
        vm.killVm();
        assertEquals(137, init.get(2, TimeUnit.SECONDS).getExitStatus());
        assertEquals(137, e1.get(2, TimeUnit.SECONDS).getExitStatus());
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(2));
        assertStatus(Code.NOT_FOUND, () -> kill("dead", "", SIGKILL), "dead");
        assertEquals(137, delete("dead", "").getExitStatus());
        assertEquals(0, svc.taskCount());
    }

    @Test
    void connectCheckpointShutdownAndBadIds() throws Exception {
        int pid = create(NS, "misc", "sleep");
        ConnectResponse c = svc.connect(ConnectRequest.newBuilder().setId("misc").build(), ctx(NS));
        assertEquals(pid, c.getTaskPid());
        assertEquals(ProcessHandle.current().pid(), c.getShimPid());
        assertStatus(Code.UNIMPLEMENTED, () -> svc.checkpoint(CheckpointTaskRequest.newBuilder().setId("misc")
                .build(), ctx(NS)), "misc");
        assertStatus(Code.UNIMPLEMENTED, () -> svc.create(CreateTaskRequest.newBuilder().setId("cp")
                .setBundle(bundle("cp", "sleep")).setCheckpoint("/tmp/cp").build(), ctx(NS)), "cp");
        assertEquals(Empty.getDefaultInstance(),
                svc.shutdown(ShutdownRequest.newBuilder().setId("misc").build(), ctx(NS)));
        assertEquals(Status.CREATED, state("misc", "").getStatus(), "Shutdown leaves the tasks alone");
        assertStatus(Code.NOT_FOUND, () -> state("nope", ""), "nope");
        assertStatus(Code.INVALID_ARGUMENT, () -> state("", ""));
        assertStatus(Code.INVALID_ARGUMENT, () -> svc.create(CreateTaskRequest.getDefaultInstance(), ctx(NS)));
    }

    @Test
    void updateSendsTheConvertedResourcesToTheGuest() throws Exception {
        create(NS, "upd", "sleep");
        svc.update(UpdateTaskRequest.newBuilder().setId("upd").setResources(Any.newBuilder()
                .setTypeUrl("types.containerd.io/opencontainers/runtime-spec/1/LinuxResources")
                .setValue(ByteString.copyFromUtf8("{\"memory\":{\"limit\":1048576}}"))).build(), ctx(NS));
        assertTrue(vmOfTask.get(NS + "/upd").fake.calls.contains("UpdateContainer upd"));
        assertStatus(Code.INVALID_ARGUMENT, () -> svc.exec(ExecProcessRequest.newBuilder().setId("upd")
                .setExecId("bad").setSpec(Any.newBuilder().setValue(ByteString.copyFromUtf8("{"))).build(), ctx(NS)));
        assertStatus(Code.NOT_FOUND, () -> state("upd", "bad"), "bad");
    }

    // ---- stdio through the service -----------------------------------------------------------------------------

    @Test
    void stdinPipedThroughCloseIoComesBackFollowedByEof() throws Exception {
        // echo x | ctr run --rm -i image id cat
        Path in = mkfifo(dir.resolve("in"));
        Path out = mkfifo(dir.resolve("out"));
        svc.create(CreateTaskRequest.newBuilder().setId("cat").setBundle(bundle("cat", "stdin-echo"))
                .setStdin(in.toString()).setStdout(out.toString()).build(), ctx(NS));
        var stdout = TaskTesting.FifoReader.open(out);
        CompletableFuture<WaitResponse> w = awaitAsync(NS, "cat", "");
        start("cat", "");
        try (OutputStream o = new FileOutputStream(in.toFile())) {
            o.write("x\n".getBytes(StandardCharsets.UTF_8));
        }
        svc.closeIo(CloseIORequest.newBuilder().setId("cat").setStdin(false).build(), ctx(NS));   // a no-op
        svc.closeIo(CloseIORequest.newBuilder().setId("cat").setStdin(true).build(), ctx(NS));
        assertEquals("x\n", stdout.text());
        assertEquals(0, w.get(PROMPT.toMillis(), TimeUnit.MILLISECONDS).getExitStatus());
        delete("cat", "");
    }

    // ---- over the wire ---------------------------------------------------------------------------------------

    @Test
    void servedOverTtrpcAsTaskV2AndV3() throws Exception {
        Path sock = dir.resolve("shim.sock");
        try (TtrpcServer server = TtrpcServer.builder().socket(sock).addService(svc.definition(TaskService.V2))
                .addService(svc.definition(TaskService.V3)).build().start();
             TtrpcClient client = TtrpcClient.connect(sock, Metadata.of(TaskService.NAMESPACE_KEY, "k8s.io"))) {
            Duration t = Duration.ofSeconds(10);
            CreateTaskResponse created = client.call(TaskService.V2, "Create", CreateTaskRequest.newBuilder()
                    .setId("wire").setBundle(bundle("wire", "exit", "5")).build(), CreateTaskResponse.parser(), t);
            CompletableFuture<WaitResponse> w = client.callAsync(TaskService.V3, "Wait",
                    WaitRequest.newBuilder().setId("wire").build(), WaitResponse.parser(), t, Metadata.empty());
            StartResponse started = client.call(TaskService.V3, "Start", StartRequest.newBuilder().setId("wire")
                    .build(), StartResponse.parser(), t);
            assertEquals(created.getPid(), started.getPid());
            assertEquals(5, w.get(PROMPT.toMillis(), TimeUnit.MILLISECONDS).getExitStatus());
            StatusException e = assertThrows(StatusException.class, () -> client.call(TaskService.V2, "Kill",
                    KillRequest.newBuilder().setId("wire").setSignal(SIGKILL).build(), Empty.parser(), t));
            assertEquals(Code.NOT_FOUND, e.code());
            assertEquals(5, client.call(TaskService.V2, "Delete", DeleteRequest.newBuilder().setId("wire").build(),
                    DeleteResponse.parser(), t).getExitStatus());
            assertNull(svc.find("k8s.io", "wire"));
            next("k8s.io", TaskCreate.class);   // the namespace comes from the call's metadata
        }
    }
}
