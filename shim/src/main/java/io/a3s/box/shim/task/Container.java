package io.a3s.box.shim.task;

import io.a3s.box.containerd.events.TaskDelete;
import io.a3s.box.containerd.events.TaskExecAdded;
import io.a3s.box.containerd.events.TaskExecStarted;
import io.a3s.box.containerd.events.TaskExit;
import io.a3s.box.containerd.events.TaskOOM;
import io.a3s.box.containerd.events.TaskPaused;
import io.a3s.box.containerd.events.TaskResumed;
import io.a3s.box.containerd.events.TaskStart;
import io.a3s.box.guest.v1.CgroupResources;
import io.a3s.box.guest.v1.ContainerRequest;
import io.a3s.box.guest.v1.DeleteProcessRequest;
import io.a3s.box.guest.v1.ExecProcessRequest;
import io.a3s.box.guest.v1.ListPidsResponse;
import io.a3s.box.guest.v1.ProcessSpec;
import io.a3s.box.guest.v1.ReadOutputRequest;
import io.a3s.box.guest.v1.ReadOutputResponse;
import io.a3s.box.guest.v1.ResizePtyRequest;
import io.a3s.box.guest.v1.SignalProcessRequest;
import io.a3s.box.guest.v1.StartProcessRequest;
import io.a3s.box.guest.v1.StatsResponse;
import io.a3s.box.guest.v1.Stream;
import io.a3s.box.guest.v1.UpdateContainerRequest;
import io.a3s.box.guest.v1.WaitOomRequest;
import io.a3s.box.guest.v1.WaitProcessRequest;
import io.a3s.box.guest.v1.WaitProcessResponse;
import io.a3s.box.guest.v1.WriteStdinRequest;
import io.a3s.box.guest.v1.CloseStdinRequest;
import io.a3s.box.shim.events.EventSink;
import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.shim.stdio.GuestStreams;
import io.a3s.box.shim.stdio.ProcessIo;
import io.a3s.box.shim.stdio.StdioPaths;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One task: a container in a VM, with its init process and its execs. The state machine of every process
 * lives here ({@link ProcessState}); the guest agent only spawns, signals and reports.
 *
 * <p>Ordering guarantees, each with a test in {@code ContainerTest}:
 * <ol>
 *   <li>An exit is published (and {@code Wait} returns) only after that process's stdout and stderr have
 *       been copied to the host, taken from the FIFOs by their reader, and closed, or {@link #IO_DRAIN_BOUND}
 *       passed: no truncated output, even for containerd 1.6, which closes its end of the FIFOs as soon as it
 *       handles the exit.</li>
 *   <li>The init process's TaskExit is the last exit of the task: it waits for the exits of the execs that
 *       were running (bounded by {@link #EXEC_EXIT_BOUND}), and so does its {@code Wait}, so that the Delete
 *       containerd sends when Wait returns does not find an exec still running.</li>
 *   <li>An exit that happens before {@code start} returned (a process that fails at once) is still
 *       delivered, after TaskStart. An exec that never started (its Start failed, or it was parked when its
 *       container went) has no TaskExit, as with runc's shim.</li>
 *   <li>A dead VM is an exit of every process in it, with status 137, never a hang.</li>
 * </ol>
 *
 * <p>Locking: public methods take {@link #lock}, check the state, and release it before any blocking guest
 * call whose outcome they then apply under the lock again; no guest call is made under the lock except
 * short, deadline-bound ones whose ordering matters (start).
 */
public final class Container {
    private static final Logger log = LoggerFactory.getLogger(Container.class);

    public static final Duration IO_DRAIN_BOUND = Duration.ofSeconds(10);
    /** Longer than {@link #IO_DRAIN_BOUND}: an exec's exit waits for its output, the init's for that exit. */
    public static final Duration EXEC_EXIT_BOUND = IO_DRAIN_BOUND.plusSeconds(5);
    /** Deadline of a WaitProcess: the life of a process. The VM dying ends it sooner. */
    static final Duration WAIT_FOREVER = Duration.ofDays(3650);
    private static final int SIGKILL = 9;
    static final Duration CALL = Duration.ofSeconds(30);
    static final Duration EXEC_CREATE = Duration.ofSeconds(60);
    /**
     * How long a SIGKILL of the init waits for the guest to take it before the VM is killed instead: a hung
     * guest must not make the one signal that cannot be refused hang or fail (containerd#14081).
     */
    static final Duration KILL_ANSWER_BOUND = Duration.ofSeconds(10);
    /** How long a failed Start waits for the exit of the process that could not start. */
    static final Duration START_FAILURE_EXIT_BOUND = Duration.ofSeconds(5);

    private final String id;
    private final String namespace;
    private final String bundle;
    private final Sandbox sandbox;
    private final EventSink events;
    private final Clock clock;
    private final ReentrantLock lock = new ReentrantLock();
    private final TaskProcess init;
    // guarded by lock
    private final Map<String, TaskProcess> execs = new LinkedHashMap<>();
    // guarded by lock
    private boolean deleted;
    // guarded by lock
    private ExitStatus pendingInitExit;

    /** What a {@code binary://} logger is told: an exec's logger gets the exec's id, as with runc's shim. */
    private Map<String, String> loggerEnv(String processId) {
        return Map.of("CONTAINER_ID", processId, "CONTAINER_NAMESPACE", namespace);
    }

    /**
     * A container whose init process the agent has created (parked) with {@code initPid}.
     * Starts watching the init's exit and copying its stdio.
     */
    public Container(String id, String bundle, int initPid, StdioPaths stdio, Sandbox sandbox, EventSink events,
                     Clock clock) throws StatusException {
        this("", id, bundle, initPid, stdio, sandbox, events, clock);
    }

    /** As above, in containerd namespace {@code namespace} (which logging binaries are told). */
    public Container(String namespace, String id, String bundle, int initPid, StdioPaths stdio, Sandbox sandbox,
                     EventSink events, Clock clock) throws StatusException {
        this.namespace = namespace;
        this.id = id;
        this.bundle = bundle;
        this.sandbox = sandbox;
        this.events = events;
        this.clock = clock;
        ProcessIo io = ProcessIo.open("task " + id, stdio, streams(""), loggerEnv(id));
        this.init = new TaskProcess("", stdio, io);
        init.pid = initPid;
        io.start();
        watchExit(init);
        watchOom(0);
    }

    public String id() {
        return id;
    }

    public String bundle() {
        return bundle;
    }

    public Sandbox sandbox() {
        return sandbox;
    }

    public int initPid() {
        return init.pid;
    }

    /** Completes with the exit of the process. Waiting before Start is normal: containerd does it. */
    public CompletableFuture<ExitStatus> waitExit(String execId) throws StatusException {
        lock.lock();
        try {
            return process(execId).exited;
        } finally {
            lock.unlock();
        }
    }

    /** spawn-main for the init ({@code execId} empty) or an exec: releases the parked process. */
    public int start(String execId) throws StatusException {
        TaskProcess p;
        StatusException failure;
        lock.lock();
        try {
            p = process(execId);
            if (!(p.state instanceof ProcessState.Created)) {
                throw invalid(p, "start");
            }
            // As runc: an exec starts in a created task too (it joins the parked init's namespaces, complete
            // before it parked), not in a paused or stopped one.
            boolean initLive = init.state instanceof ProcessState.Running || init.state instanceof ProcessState.Created;
            if (!p.isInit() && !initLive) {
                throw Code.FAILED_PRECONDITION.toException("%s: cannot start: task is %s", p.describe(id),
                        init.state.label());
            }
            // Under the lock: an exit racing with this start must be applied after it (guarantee 3).
            try {
                agent().startProcess(StartProcessRequest.newBuilder().setContainerId(id).setExecId(execId).build(),
                        CALL);
                p.state = ProcessState.RUNNING;
                if (p.isInit()) {
                    events.publish(TaskStart.newBuilder().setContainerId(id).setPid(p.pid).build());
                } else {
                    events.publish(TaskExecStarted.newBuilder().setContainerId(id).setExecId(execId).setPid(p.pid)
                            .build());
                }
                failure = null;
            } catch (StatusException e) {
                failure = e.status().withContext("start " + p.describe(id)).asException();
            }
        } finally {
            lock.unlock();
        }
        if (failure == null) {
            if (p.isInit()) {
                sandbox.started(); // outside the lock: a poststart hook may take its time
            }
            return p.pid;
        }
        // A process whose execve failed exits at once (127). Apply that exit before answering: containerd's
        // client deletes only a stopped task (a "created" one with a pid is refused), and it deletes right
        // after the failed Start: `ctr run --rm IMAGE ID /no/such/binary` would leave the task and container.
        try {
            p.exited.get(START_FAILURE_EXIT_BOUND.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
            log.debug("{}: no exit within {} of its failed start", p.describe(id), START_FAILURE_EXIT_BOUND);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        throw failure;
    }

    /** Registers an exec: the agent sets it up in the container and parks it. */
    public void exec(String execId, ProcessSpec spec, StdioPaths stdio) throws StatusException {
        if (execId.isEmpty()) {
            throw Code.INVALID_ARGUMENT.toException("exec in task %s: exec id must not be empty", id);
        }
        TaskProcess p;
        lock.lock();
        try {
            checkNotDeleted();
            if (execs.containsKey(execId)) {
                throw Code.ALREADY_EXISTS.toException("exec %s of task %s: already exists", execId, id);
            }
            if (init.state instanceof ProcessState.Stopped || init.state instanceof ProcessState.Deleted) {
                throw Code.FAILED_PRECONDITION.toException("exec %s: task %s is %s", execId, id, init.state.label());
            }
            ProcessIo io = ProcessIo.open("exec " + id + "/" + execId, stdio, streams(execId), loggerEnv(execId));
            p = new TaskProcess(execId, stdio, io);
            execs.put(execId, p);
        } finally {
            lock.unlock();
        }
        try {
            int pid = TaskPids.ofGuest(agent().execProcess(ExecProcessRequest.newBuilder().setContainerId(id)
                    .setExecId(execId).setProcess(spec).build(), EXEC_CREATE).getPid());
            lock.lock();
            try {
                p.pid = pid;
            } finally {
                lock.unlock();
            }
        } catch (StatusException e) {
            lock.lock();
            try {
                execs.remove(execId);
            } finally {
                lock.unlock();
            }
            p.io.close();
            throw e.status().withContext("exec " + execId + " in task " + id).asException();
        }
        p.io.start();
        watchExit(p);
        events.publish(TaskExecAdded.newBuilder().setContainerId(id).setExecId(execId).build());
    }

    /** Signals a process, or with {@code all} every process of the container. */
    public void kill(String execId, int signal, boolean all) throws StatusException {
        lock.lock();
        TaskProcess p;
        try {
            p = process(execId);
            if (p.state instanceof ProcessState.Stopped || p.state instanceof ProcessState.Deleted) {
                throw Code.NOT_FOUND.toException("%s: process already finished", p.describe(id));
            }
            if (!p.isInit() && p.state instanceof ProcessState.Created) {
                // runc's shim has no process for an exec before its Start; ours is parked in the guest, and a
                // signal would end it with an exit nobody started
                throw invalid(p, "kill");
            }
        } finally {
            lock.unlock();
        }
        // The agent answers a SignalProcess as soon as it has called kill(2): no answer to a SIGKILL of an init
        // means the guest is hung, and then killing the VM is the only way that SIGKILL takes effect. For a lone
        // container that is the container; for a pod's, the pod, whose containers hang in that guest anyway
        // (else its StopPodSandbox could never succeed: pods stuck Terminating, Kata #13441, containerd#14081).
        boolean escalate = signal == SIGKILL && p.isInit();
        try {
            agent().signalProcess(SignalProcessRequest.newBuilder().setContainerId(id).setExecId(execId)
                    .setSignal(signal).setAll(all && p.isInit()).build(), escalate ? KILL_ANSWER_BOUND : CALL);
        } catch (StatusException e) {
            if (escalate && e.code() == Code.DEADLINE_EXCEEDED) {
                sandbox.kill("SIGKILL of task " + id + " not taken by the guest within " + KILL_ANSWER_BOUND
                        + (sandbox.releaseDestroysVm() ? "" : "; every container of its pod goes with the vm"));
                return; // its exit (137) follows, as for any VM that died
            }
            if (e.code() == Code.UNAVAILABLE) {
                // the VM is gone: the process is gone with it, as its exit (137) says
                throw Code.NOT_FOUND.toException("%s: process already finished (vm %s is gone)", p.describe(id),
                        sandbox.vmId());
            }
            throw e.status().withContext("kill " + p.describe(id)).asException();
        }
    }

    /**
     * Deletes a stopped (or never started) process. For the init, tears the container down: guest state,
     * stdio, the VM. Returns the exit status (and the pid in {@link Deleted}).
     */
    public Deleted delete(String execId) throws StatusException {
        TaskProcess p;
        lock.lock();
        try {
            p = process(execId);
            if (p.isInit() && execs.values().stream().anyMatch(TaskProcess::isLive)) {
                throw Code.FAILED_PRECONDITION.toException("delete task %s: execs are still running", id);
            }
            if (p.isLive()) {
                throw Code.FAILED_PRECONDITION.toException("delete %s: process is %s", p.describe(id),
                        p.state.label());
            }
        } finally {
            lock.unlock();
        }
        if (p.state instanceof ProcessState.Created && !p.isInit()) {
            return deleteUnstartedExec(p);
        }
        if (p.state instanceof ProcessState.Created) {
            killParked(p);
        }
        ExitStatus exit = awaitExit(p);
        lock.lock();
        try {
            p.state = new ProcessState.Deleted(exit);
            if (!p.isInit()) {
                execs.remove(execId);
            } else {
                deleted = true;
            }
        } finally {
            lock.unlock();
        }
        p.io.close();
        if (p.isInit()) {
            teardown();
            events.publish(TaskDelete.newBuilder().setContainerId(id).setPid(p.pid).setExitStatus(exit.status())
                    .setExitedAt(exit.timestamp()).build());
        } else {
            forgetExecInGuest(p);
            events.publish(TaskDelete.newBuilder().setContainerId(id).setId(execId).setPid(p.pid)
                    .setExitStatus(exit.status()).setExitedAt(exit.timestamp()).build());
        }
        return new Deleted(p.pid, exit);
    }

    /**
     * An exec that never started never ran, as with runc (whose exec process exists only from Start on): its
     * delete reports status 0 and no exit is published (containerd's TestDeleteContainerExecCreated). The parked
     * process is killed in the guest; its 137 finds the exec Deleted and is dropped.
     */
    private Deleted deleteUnstartedExec(TaskProcess p) throws StatusException {
        ExitStatus never = new ExitStatus(0, clock.instant());
        lock.lock();
        try {
            if (!(p.state instanceof ProcessState.Created)) {
                throw Code.FAILED_PRECONDITION.toException("delete %s: process is %s", p.describe(id),
                        p.state.label());
            }
            p.state = new ProcessState.Deleted(never);
            execs.remove(p.execId);
        } finally {
            lock.unlock();
        }
        killParked(p);
        p.exited.complete(never);
        p.io.close();
        try {
            // the guest forgets an exec only once it has exited
            agent().waitProcess(WaitProcessRequest.newBuilder().setContainerId(id).setExecId(p.execId).build(), CALL);
        } catch (StatusException e) {
            log.debug("{}: exit of the killed parked process: {}", p.describe(id), e.getMessage());
        }
        forgetExecInGuest(p);
        events.publish(TaskDelete.newBuilder().setContainerId(id).setId(p.execId).setPid(p.pid)
                .setExitStatus(never.status()).setExitedAt(never.timestamp()).build());
        return new Deleted(p.pid, never);
    }

    /** What {@link #delete} reports. */
    public record Deleted(int pid, ExitStatus exit) {
    }

    /** Lets the guest forget a finished exec, so that its id can be used again. */
    private void forgetExecInGuest(TaskProcess p) {
        try {
            agent().deleteProcess(DeleteProcessRequest.newBuilder().setContainerId(id).setExecId(p.execId).build(),
                    CALL);
        } catch (StatusException e) {
            // the agent keeps a bounded number of finished execs anyway; never fail containerd's delete for it
            log.debug("{}: delete in the guest: {}", p.describe(id), e.getMessage());
        }
    }

    private void killParked(TaskProcess p) {
        try {
            agent().signalProcess(SignalProcessRequest.newBuilder().setContainerId(id).setExecId(p.execId)
                    .setSignal(9).build(), CALL);
        } catch (StatusException e) {
            log.debug("{}: kill of the parked process: {}", p.describe(id), e.getMessage());
        }
    }

    private ExitStatus awaitExit(TaskProcess p) {
        try {
            return p.exited.get(CALL.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | InterruptedException | java.util.concurrent.ExecutionException e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            log.warn("{}: no exit within {}; deleting as killed", p.describe(id), CALL);
            ExitStatus forced = new ExitStatus(ExitStatus.VM_DIED, clock.instant());
            p.exited.complete(forced);
            return p.exited.join();
        }
    }

    /** Guest state, stdio of every exec, the VM. Best effort: each step logs what failed and goes on. */
    private void teardown() {
        List<TaskProcess> left;
        lock.lock();
        try {
            left = new ArrayList<>(execs.values());
            execs.clear();
        } finally {
            lock.unlock();
        }
        left.forEach(e -> e.io.close());
        if (!sandbox.releaseDestroysVm()) {
            try {
                agent().destroyContainer(ContainerRequest.newBuilder().setContainerId(id).build(), CALL);
            } catch (StatusException e) {
                log.debug("task {}: destroy in the guest: {}", id, e.getMessage());
            }
        }
        sandbox.release();
    }

    /** containerd's State. */
    public ProcessView state(String execId) throws StatusException {
        lock.lock();
        try {
            TaskProcess p = process(execId);
            if (p.isInit() && pendingInitExit != null) {
                // its exit waits for the execs' (guarantee 2): until it is published the task runs, as with runc,
                // else a client that reads State before it deletes would find execs still running
                return new ProcessView(p.execId, p.pid, ProcessState.RUNNING, p.stdio, null);
            }
            ExitStatus exit = switch (p.state) {
                case ProcessState.Stopped s -> s.exit();
                case ProcessState.Deleted d -> d.exit();
                default -> null;
            };
            return new ProcessView(p.execId, p.pid, p.state, p.stdio, exit);
        } finally {
            lock.unlock();
        }
    }

    /** The init exited and its exit waits for the execs' (guarantee 2). For tests. */
    boolean initExitHeld() {
        lock.lock();
        try {
            return pendingInitExit != null;
        } finally {
            lock.unlock();
        }
    }

    /** A consistent snapshot of one process, for State. */
    public record ProcessView(String execId, int pid, ProcessState state, StdioPaths stdio, ExitStatus exit) {
    }

    /** Every pid in the container, each exec's marked with its id. Never empty while the task lives. */
    public List<PidInfo> pids() throws StatusException {
        Map<Integer, String> execByPid = new LinkedHashMap<>();
        int initPid;
        lock.lock();
        try {
            checkNotDeleted();
            initPid = init.pid;
            execs.values().forEach(e -> execByPid.put(e.pid, e.execId));
        } finally {
            lock.unlock();
        }
        List<PidInfo> out = new ArrayList<>();
        try {
            ListPidsResponse r = agent().listPids(ContainerRequest.newBuilder().setContainerId(id).build(), CALL);
            for (int guestPid : r.getPidsList()) {
                int pid = TaskPids.ofGuest(guestPid);
                out.add(new PidInfo(pid, execByPid.getOrDefault(pid, "")));
            }
        } catch (StatusException e) {
            log.debug("task {}: pids from the guest: {}", id, e.getMessage());
        }
        if (out.isEmpty()) {
            // containerd 1.7-2.2 deletes a shim whose Pids is empty after a restart: report at least the init
            out.add(new PidInfo(initPid, ""));
        }
        return out;
    }

    public record PidInfo(int pid, String execId) {
    }

    /** Freezes the container (cgroup freezer in the guest). */
    public void pause() throws StatusException {
        lock.lock();
        try {
            if (!(init.state instanceof ProcessState.Running)) {
                throw invalid(init, "pause");
            }
            agent().pauseContainer(ContainerRequest.newBuilder().setContainerId(id).build(), CALL);
            forLive(p -> p.state = ProcessState.PAUSED);
            events.publish(TaskPaused.newBuilder().setContainerId(id).build());
        } finally {
            lock.unlock();
        }
    }

    public void resume() throws StatusException {
        lock.lock();
        try {
            if (!(init.state instanceof ProcessState.Paused)) {
                throw invalid(init, "resume");
            }
            agent().resumeContainer(ContainerRequest.newBuilder().setContainerId(id).build(), CALL);
            forLive(p -> p.state = ProcessState.RUNNING);
            events.publish(TaskResumed.newBuilder().setContainerId(id).build());
        } finally {
            lock.unlock();
        }
    }

    // called with lock held
    private void forLive(java.util.function.Consumer<TaskProcess> action) {
        if (init.isLive()) {
            action.accept(init);
        }
        execs.values().stream().filter(TaskProcess::isLive).forEach(action);
    }

    /** containerd's CloseIO(stdin). */
    public void closeIo(String execId) throws StatusException {
        TaskProcess p;
        lock.lock();
        try {
            p = process(execId);
        } finally {
            lock.unlock();
        }
        p.io.closeStdin();
    }

    public void resizePty(String execId, int width, int height) throws StatusException {
        TaskProcess p;
        lock.lock();
        try {
            p = process(execId);
        } finally {
            lock.unlock();
        }
        if (!p.stdio.terminal()) {
            // nothing to resize; runc's shim answers OK too, and containerd's TestTaskResize expects it
            return;
        }
        agent().resizePty(ResizePtyRequest.newBuilder().setContainerId(id).setExecId(execId).setWidth(width)
                .setHeight(height).build(), CALL);
    }

    public void update(CgroupResources resources) throws StatusException {
        lock.lock();
        try {
            checkNotDeleted();
        } finally {
            lock.unlock();
        }
        agent().updateContainer(UpdateContainerRequest.newBuilder().setContainerId(id).setResources(resources)
                .build(), CALL);
    }

    /** The guest cgroup's figures. NOT_FOUND when the VM is gone, so that containerd skips this task. */
    public StatsResponse stats() throws StatusException {
        try {
            return agent().stats(ContainerRequest.newBuilder().setContainerId(id).build(), CALL);
        } catch (StatusException e) {
            if (e.code() == Code.UNAVAILABLE) {
                throw Code.NOT_FOUND.toException("stats of task %s: vm %s is gone", id, sandbox.vmId());
            }
            throw e;
        }
    }

    // ---- exits ------------------------------------------------------------------------------------------

    private void watchExit(TaskProcess p) {
        Thread.ofVirtual().name("wait-" + id + "/" + p.execId).start(() -> {
            ExitStatus exit;
            try {
                WaitProcessResponse r = agent().waitProcess(WaitProcessRequest.newBuilder().setContainerId(id)
                        .setExecId(p.execId).build(), WAIT_FOREVER);
                exit = new ExitStatus(r.getExitStatus(), clock.instant());
            } catch (StatusException e) {
                if (p.exited.isDone()) {
                    return;
                }
                log.info("{}: exit unknown ({}); reporting {}", p.describe(id), e.getMessage(), ExitStatus.VM_DIED);
                exit = new ExitStatus(ExitStatus.VM_DIED, clock.instant());
            }
            onExit(p, exit);
        });
    }

    private void onExit(TaskProcess p, ExitStatus exit) {
        // Guarantee 1: the output reaches the host before anyone hears of the exit.
        try {
            p.io.outputDone().get(IO_DRAIN_BOUND.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            // Something in the guest outlived the process and holds its output (a child it left behind). Its
            // host ends close now: containerd's client waits for their EOF before it deletes the task (CRI does,
            // on the exit), and that EOF would otherwise wait on the guest's straggler, not on us.
            log.warn("{}: output not drained within {}; closing its stdio and publishing the exit anyway",
                    p.describe(id), IO_DRAIN_BOUND);
            p.io.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException e) {
            // a failed copier already logged why
        }
        List<Runnable> waiters = new ArrayList<>();
        lock.lock();
        try {
            // Guarantee 3: start() holds the lock while releasing the process, so we get here after it.
            if (p.state instanceof ProcessState.Deleted) {
                return;
            }
            boolean neverStarted = p.state instanceof ProcessState.Created;
            p.state = new ProcessState.Stopped(exit);
            if (!p.isInit() && neverStarted) {
                // a parked exec that went with its container, or whose Start failed: as runc's shim, which has
                // no process to report for it, no TaskExit (it would follow no exec-started, or the init's exit)
                waiters.add(() -> p.exited.complete(exit));
            } else if (p.isInit()) {
                if (execs.values().stream().anyMatch(TaskProcess::isLive)) {
                    pendingInitExit = exit; // guarantee 2: published (and Wait returns) with the last exec's exit
                    scheduleInitExitBound();
                } else {
                    publishExit(init, exit, waiters);
                }
            } else {
                publishExit(p, exit, waiters);
                if (pendingInitExit != null && execs.values().stream().noneMatch(TaskProcess::isLive)) {
                    publishExit(init, pendingInitExit, waiters);
                    pendingInitExit = null;
                }
            }
        } finally {
            lock.unlock();
        }
        waiters.forEach(Runnable::run);
    }

    /**
     * Publishes an exit under the lock, as start() publishes TaskStart: exits go out in the order they are
     * applied, so the init's exit (released by the last exec's) cannot overtake an exec's exit that another
     * thread applied first. Wait returns only after that ({@code waiters} run once the lock is released), so a
     * Delete that follows a Wait cannot publish TaskDelete ahead of TaskExit.
     */
    // called with lock held
    private void publishExit(TaskProcess p, ExitStatus exit, List<Runnable> waiters) {
        events.publish(exitEvent(p, exit));
        waiters.add(() -> p.exited.complete(exit));
    }

    private void scheduleInitExitBound() {
        CompletableFuture.delayedExecutor(EXEC_EXIT_BOUND.toMillis(), TimeUnit.MILLISECONDS).execute(() -> {
            List<Runnable> waiters = new ArrayList<>();
            lock.lock();
            try {
                if (pendingInitExit != null) {
                    log.warn("task {}: execs did not report their exits within {}", id, EXEC_EXIT_BOUND);
                    publishExit(init, pendingInitExit, waiters);
                    pendingInitExit = null;
                }
            } finally {
                lock.unlock();
            }
            waiters.forEach(Runnable::run);
        });
    }

    // called with lock held
    private TaskExit exitEvent(TaskProcess p, ExitStatus exit) {
        return TaskExit.newBuilder().setContainerId(id).setId(p.isInit() ? id : p.execId).setPid(p.pid)
                .setExitStatus(exit.status()).setExitedAt(exit.timestamp()).build();
    }

    private void watchOom(long seen) {
        agent().waitOomAsync(WaitOomRequest.newBuilder().setContainerId(id).setLastSeenOomKills(seen).build(),
                WAIT_FOREVER).whenComplete((r, e) -> {
                    if (e != null) {
                        return; // the container or its VM is gone
                    }
                    // Published on the thread that read the answer: the agent answers an OOM kill before the
                    // exit it caused, so containerd hears /tasks/oom before /tasks/exit (CRI's OOMKilled).
                    events.publish(TaskOOM.newBuilder().setContainerId(id).build());
                    Thread.ofVirtual().name("oom-" + id).start(() -> watchOom(r.getOomKills()));
                });
    }

    // ---- helpers ----------------------------------------------------------------------------------------

    // called with lock held
    private TaskProcess process(String execId) throws StatusException {
        if (execId == null || execId.isEmpty()) {
            if (deleted) {
                throw Code.NOT_FOUND.toException("task %s: not found", id);
            }
            return init;
        }
        TaskProcess p = execs.get(execId);
        if (p == null) {
            throw Code.NOT_FOUND.toException("exec %s of task %s: not found", execId, id);
        }
        return p;
    }

    // called with lock held
    private void checkNotDeleted() throws StatusException {
        if (deleted) {
            throw Code.NOT_FOUND.toException("task %s: not found", id);
        }
    }

    private StatusException invalid(TaskProcess p, String op) {
        return Code.FAILED_PRECONDITION.toException("%s %s: process is %s", op, p.describe(id), p.state.label());
    }

    private AgentClient agent() {
        return sandbox.agent();
    }

    /** The guest end of one process's stdio. */
    private GuestStreams streams(String execId) {
        return new GuestStreams() {
            @Override
            public ReadOutputResponse read(Stream stream, int maxBytes) throws StatusException {
                return agent().readOutput(ReadOutputRequest.newBuilder().setContainerId(id).setExecId(execId)
                        .setStream(stream).setMaxBytes(maxBytes).build(), WAIT_FOREVER);
            }

            @Override
            public void write(byte[] data) throws StatusException {
                agent().writeStdin(WriteStdinRequest.newBuilder().setContainerId(id).setExecId(execId)
                        .setData(com.google.protobuf.ByteString.copyFrom(data)).build(), WAIT_FOREVER);
            }

            @Override
            public void closeStdin() throws StatusException {
                agent().closeStdin(CloseStdinRequest.newBuilder().setContainerId(id).setExecId(execId).build(), CALL);
            }
        };
    }

}
