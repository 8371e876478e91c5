package io.a3s.box.shim.task;

import com.google.protobuf.Message;
import io.a3s.box.containerd.events.TaskDelete;
import io.a3s.box.containerd.events.TaskExecAdded;
import io.a3s.box.containerd.events.TaskExecStarted;
import io.a3s.box.containerd.events.TaskExit;
import io.a3s.box.containerd.events.TaskOOM;
import io.a3s.box.containerd.events.TaskPaused;
import io.a3s.box.containerd.events.TaskResumed;
import io.a3s.box.containerd.events.TaskStart;
import io.a3s.box.guest.v1.CgroupResources;
import io.a3s.box.guest.v1.ContainerSpec;
import io.a3s.box.guest.v1.CreateContainerRequest;
import io.a3s.box.guest.v1.ProcessSpec;
import io.a3s.box.shim.events.EventSink;
import io.a3s.box.shim.stdio.StdioPaths;
import io.a3s.box.ttrpc.Code;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static io.a3s.box.shim.task.TaskTesting.PROMPT;
import static io.a3s.box.shim.task.TaskTesting.assertStatus;
import static io.a3s.box.shim.task.TaskTesting.eventually;
import static io.a3s.box.shim.task.TaskTesting.mkfifo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ordering guarantees of {@link Container} (see its Javadoc), its behaviour when the VM dies, and stdio
 * through real FIFOs, against a {@link FakeAgent}.
 */
@Timeout(30)
class ContainerTest {
    static final StdioPaths NO_STDIO = new StdioPaths("", "", "", false);
    static final int SIGTERM = 15;
    static final int SIGKILL = 9;

    @TempDir
    Path dir;

    final BlockingQueue<Message> events = new LinkedBlockingQueue<>();
    final List<FakeSandbox> sandboxes = new CopyOnWriteArrayList<>();
    /** Where the containers of a test publish; tests may replace it before creating one. */
    EventSink sink = events::add;

    @AfterEach
    void releaseVms() {
        sandboxes.forEach(FakeSandbox::release);
    }

    FakeSandbox newSandbox(String vmId) throws Exception {
        FakeSandbox sb = FakeSandbox.start(dir, vmId);
        sandboxes.add(sb);
        return sb;
    }

    /** What a TaskFactory does: the agent parks the init, then the host takes it over. */
    Container create(String id, StdioPaths stdio, String... args) throws Exception {
        FakeSandbox sb = newSandbox("vm-" + id);
        int pid = TaskPids.ofGuest(sb.agent().createContainer(CreateContainerRequest.newBuilder().setContainerId(id)
                .setSpec(ContainerSpec.newBuilder().setProcess(spec(stdio.hasStdin(), args))).build(),
                Duration.ofSeconds(5)).getPid());
        return new Container(id, dir.resolve("bundle-" + id).toString(), pid, stdio, sb, e -> sink.publish(e),
                Clock.systemUTC());
    }

    static ProcessSpec spec(boolean stdin, String... args) {
        return ProcessSpec.newBuilder().addAllArgs(List.of(args)).setStdin(stdin).build();
    }

    FakeSandbox sandbox(Container c) {
        return (FakeSandbox) c.sandbox();
    }

    /** The next event, which must be of {@code type}. */
    <T extends Message> T next(Class<T> type) throws InterruptedException {
        Message m = events.poll(PROMPT.toMillis(), TimeUnit.MILLISECONDS);
        return assertInstanceOf(type, m, "next event");
    }

    static int exitOf(CompletableFuture<ExitStatus> f) throws Exception {
        return f.get(PROMPT.toMillis(), TimeUnit.MILLISECONDS).status();
    }

    // ---- guarantee 1: no exit before the output --------------------------------------------------------------

    @Test
    void exitIsPublishedAndWaitReturnsOnlyAfterTheOutputWasDrainedToTheFifo() throws Exception {
        Path out = mkfifo(dir.resolve("out"));
        int n = 1 << 20;   // far more than a pipe holds (64 KiB): the copier blocks until the reader reads
        Container c = create("big", new StdioPaths("", out.toString(), "", false), "print", String.valueOf(n));
        CompletableFuture<ExitStatus> exit = c.waitExit("");
        try (InputStream in = new FileInputStream(out.toFile())) {
            c.start("");
            byte[] head = in.readNBytes(n / 2);
            // the guest process has long exited, but half of its output is not on the host yet
            assertThrows(TimeoutException.class, () -> exit.get(100, TimeUnit.MILLISECONDS));
            assertTrue(events.stream().noneMatch(TaskExit.class::isInstance), "TaskExit before the output: " + events);
            byte[] tail = in.readAllBytes();   // EOF: the shim closed its end
            byte[] all = new byte[head.length + tail.length];
            System.arraycopy(head, 0, all, 0, head.length);
            System.arraycopy(tail, 0, all, head.length, tail.length);
            assertEquals(n, all.length);
            for (int i = 0; i < n; i++) {
                if (all[i] != FakeAgent.printed(i)) {
                    throw new AssertionError("byte " + i + " differs");
                }
            }
        }
        assertEquals(0, exitOf(exit));
        next(TaskStart.class);
        assertEquals(0, next(TaskExit.class).getExitStatus());
    }

    @Test
    void outputHeldOpenByALeftoverChildIsClosedWhenTheExitIsPublishedAtTheDrainBound() throws Exception {
        // containerd's client waits for the FIFOs' EOF before it deletes the task: were they left open, the guest
        // process that holds the output would hold the Delete, and CRI's StopContainer with it
        Path out = mkfifo(dir.resolve("out"));
        Container c = create("orphan", new StdioPaths("", out.toString(), "", false), "orphan");
        CompletableFuture<ExitStatus> exit = c.waitExit("");
        var stdout = TaskTesting.FifoReader.open(out);
        c.start("");
        long t0 = System.nanoTime();
        byte[] read = stdout.eof.get(Container.IO_DRAIN_BOUND.toMillis() + PROMPT.toMillis(), TimeUnit.MILLISECONDS);
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals("started\n", new String(read, StandardCharsets.UTF_8));
        assertTrue(waited >= Container.IO_DRAIN_BOUND.toMillis() - 500, "EOF after " + waited + " ms");
        assertEquals(0, exitOf(exit));
        next(TaskStart.class);
        assertEquals(0, next(TaskExit.class).getExitStatus());
    }

    @Test
    void stdoutAndStderrFifosGetTheOutputThenEof() throws Exception {
        Path out = mkfifo(dir.resolve("out"));
        Path err = mkfifo(dir.resolve("err"));
        Container c = create("hi", new StdioPaths("", out.toString(), err.toString(), false), "echo", "hi");
        var stdout = TaskTesting.FifoReader.open(out);
        var stderr = TaskTesting.FifoReader.open(err);
        c.start("");
        assertEquals("hi\n", stdout.text());
        assertEquals("", stderr.text());
        assertEquals(0, exitOf(c.waitExit("")));
    }

    @Test
    void exitIsPublishedBeforeWaitReturns() throws Exception {
        // A client that deletes as soon as Wait returns must not get TaskDelete ahead of TaskExit.
        Container c = create("pub", NO_STDIO, "exit", "3");
        CompletableFuture<Boolean> exitPublishedWhenWaitReturned = c.waitExit("")
                .thenApply(e -> events.stream().anyMatch(TaskExit.class::isInstance));
        c.start("");
        assertTrue(exitPublishedWhenWaitReturned.get(PROMPT.toMillis(), TimeUnit.MILLISECONDS),
                "Wait returned before TaskExit was published");
        c.delete("");
        next(TaskStart.class);
        assertEquals(3, next(TaskExit.class).getExitStatus());
        next(TaskDelete.class);
    }

    // ---- guarantee 2: the init's exit is the last -----------------------------------------------------------

    @Test
    void initExitIsHeldUntilTheRunningExecExited() throws Exception {
        Container c = create("last", NO_STDIO, "sleep");
        sandbox(c).fake.execsDieWithInit = false;
        c.start("");
        c.exec("e1", spec(false, "sleep"), NO_STDIO);
        c.start("e1");
        next(TaskStart.class);
        next(TaskExecAdded.class);
        next(TaskExecStarted.class);

        c.kill("", SIGTERM, false);
        eventually("the init exited in the guest", () -> !sandbox(c).fake.isAlive("last", ""));
        assertNull(events.poll(200, TimeUnit.MILLISECONDS), "published while exec e1 runs");
        // and the task runs until its exit is published, as runc's shim reports it: a client that reads State
        // before it deletes would otherwise delete while e1 runs
        assertInstanceOf(ProcessState.Running.class, state(c, ""));
        assertNull(c.state("").exit());

        c.kill("e1", SIGKILL, false);
        TaskExit first = next(TaskExit.class);
        TaskExit second = next(TaskExit.class);
        assertEquals("e1", first.getId());
        assertEquals(137, first.getExitStatus());
        assertEquals("last", second.getId());
        assertEquals(143, second.getExitStatus());
        assertEquals(c.initPid(), second.getPid());
        assertEquals(143, ((ProcessState.Stopped) state(c, "")).exit().status());
    }

    @Test
    void waitForTheInitReturnsWithItsExitEventSoThatDeleteCanFollow() throws Exception {
        // containerd deletes the task when Wait returns: with an exec still running that Delete would fail.
        Container c = create("wd", NO_STDIO, "sleep");
        sandbox(c).fake.execsDieWithInit = false;
        c.start("");
        c.exec("e1", spec(false, "sleep"), NO_STDIO);
        c.start("e1");
        CompletableFuture<ExitStatus> initWait = c.waitExit("");
        c.kill("", SIGTERM, false);
        eventually("the host saw the init exit", c::initExitHeld);
        assertThrows(TimeoutException.class, () -> initWait.get(200, TimeUnit.MILLISECONDS),
                "Wait(init) returned while its TaskExit is held back for exec e1");
        c.kill("e1", SIGKILL, false);
        assertEquals(143, exitOf(initWait));
        assertEquals(143, c.delete("").exit().status());
    }

    @Test
    void initExitIsLastWhenTheWholeContainerIsKilledAtOnce() throws Exception {
        for (int round = 0; round < 5; round++) {
            Container c = create("all" + round, NO_STDIO, "sleep");
            c.start("");
            for (String e : List.of("e1", "e2", "e3")) {
                c.exec(e, spec(false, "sleep"), NO_STDIO);
                c.start(e);
            }
            c.kill("", SIGKILL, true);
            assertEquals(137, exitOf(c.waitExit("")));
            List<String> exits = new ArrayList<>();
            while (exits.size() < 4) {
                if (next(Message.class) instanceof TaskExit x) {
                    exits.add(x.getId());
                }
            }
            assertEquals("all" + round, exits.getLast(), "exit order " + exits);
            c.delete("");
            events.clear();
        }
    }

    @Test
    void initExitStaysLastWhenExecExitsArePublishedConcurrently() throws Exception {
        // e2's exit is processed first but its publication is slow; e1's exit then releases the init's.
        CountDownLatch initExitOffered = new CountDownLatch(1);
        CountDownLatch e2Publishing = new CountDownLatch(1);
        sink = e -> {
            if (e instanceof TaskExit x && x.getId().equals("e2")) {
                e2Publishing.countDown();
                try {
                    initExitOffered.await(1, TimeUnit.SECONDS);  // bounded: a correct shim publishes in order
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                }
            }
            if (e instanceof TaskExit x && x.getId().equals("slow")) {
                initExitOffered.countDown();
            }
            events.add(e);
        };
        Container c = create("slow", NO_STDIO, "sleep");
        sandbox(c).fake.execsDieWithInit = false;
        c.start("");
        for (String e : List.of("e1", "e2")) {
            c.exec(e, spec(false, "sleep"), NO_STDIO);
            c.start(e);
        }
        c.kill("", SIGTERM, false);
        eventually("the host saw the init exit", c::initExitHeld);
        c.kill("e2", SIGKILL, false);
        assertTrue(e2Publishing.await(PROMPT.toMillis(), TimeUnit.MILLISECONDS));
        c.kill("e1", SIGKILL, false);
        List<String> exits = new ArrayList<>();
        while (exits.size() < 3) {
            if (next(Message.class) instanceof TaskExit x) {
                exits.add(x.getId());
            }
        }
        assertEquals("slow", exits.getLast(), "exit order " + exits);
    }

    // ---- guarantee 3: an exit racing with start -------------------------------------------------------------

    @Test
    void anExitBeforeStartReturnedIsDeliveredAfterTaskStart() throws Exception {
        for (int round = 0; round < 10; round++) {
            Container c = create("quick" + round, NO_STDIO, "exit", "7");
            assertEquals(c.initPid(), c.start(""));
            assertEquals(7, exitOf(c.waitExit("")));
            assertEquals(c.initPid(), next(TaskStart.class).getPid());
            TaskExit exit = next(TaskExit.class);
            assertEquals(7, exit.getExitStatus());
            assertEquals("quick" + round, exit.getId());
            c.delete("");
            next(TaskDelete.class);
        }
    }

    @Test
    void aFailedExecveFailsStartWithTheGuestErrorAndExits127() throws Exception {
        Container c = create("noent", NO_STDIO, "enoent");
        assertStatus(Code.NOT_FOUND, () -> c.start(""), "task noent", "execve: No such file or directory");
        // stopped when Start answers: containerd's client deletes a task right after a failed Start, and
        // refuses to if it is still created
        assertInstanceOf(ProcessState.Stopped.class, state(c, ""));
        assertEquals(127, exitOf(c.waitExit("")));
        assertEquals(127, ((ProcessState.Stopped) state(c, "")).exit().status());
        assertEquals(127, next(TaskExit.class).getExitStatus());
        assertEquals(127, c.delete("").exit().status());

        Container d = create("noent-exec", NO_STDIO, "sleep");
        d.start("");
        d.exec("e1", spec(false, "enoent"), NO_STDIO);
        assertStatus(Code.NOT_FOUND, () -> d.start("e1"), "exec e1 of task noent-exec", "execve");
        assertInstanceOf(ProcessState.Stopped.class, state(d, "e1"));
        assertEquals(127, exitOf(d.waitExit("e1")));
        assertEquals(127, d.delete("e1").exit().status());
        // as with runc's shim, an exec that never started has no exit event
        List<Message> seen = new ArrayList<>();
        events.drainTo(seen);
        assertTrue(seen.stream().noneMatch(m -> m instanceof TaskExit x && x.getId().equals("e1")), seen.toString());
    }

    @Test
    void anExecParkedWhenItsContainerEndsHasNoExitAndCannotBeSignalled() throws Exception {
        Container c = create("parked", NO_STDIO, "sleep");
        c.start("");
        c.exec("e1", spec(false, "sleep"), NO_STDIO);
        next(TaskStart.class);
        next(TaskExecAdded.class);
        // runc's shim: "process not created"; a signal would end the parked process with an exit nobody started
        assertStatus(Code.FAILED_PRECONDITION, () -> c.kill("e1", SIGKILL, false), "kill exec e1 of task parked",
                "process is created");
        assertTrue(sandbox(c).fake.isAlive("parked", "e1"));
        CompletableFuture<ExitStatus> parked = c.waitExit("e1");
        c.kill("", SIGKILL, false);
        assertEquals(137, next(TaskExit.class).getExitStatus());
        assertEquals(137, exitOf(parked), "the parked exec goes with the init's pid namespace");
        assertNull(events.poll(300, TimeUnit.MILLISECONDS), "no exit event for the exec that never started");
    }

    @Test
    void waitBeforeStartReturnsTheExit() throws Exception {
        Container c = create("early", NO_STDIO, "exit", "5");
        CompletableFuture<ExitStatus> w = c.waitExit("");
        assertFalse(w.isDone());
        c.exec("e1", spec(false, "exit", "6"), NO_STDIO);
        CompletableFuture<ExitStatus> we = c.waitExit("e1");
        c.start("");
        assertEquals(5, exitOf(w));
        assertEquals(137, exitOf(we), "a parked exec dies with the init's pid namespace");
    }

    // ---- exec rules ------------------------------------------------------------------------------------------

    @Test
    void execAfterTheInitExitedIsFailedPrecondition() throws Exception {
        Container c = create("gone", NO_STDIO, "exit", "0");
        c.start("");
        exitOf(c.waitExit(""));
        assertStatus(Code.FAILED_PRECONDITION, () -> c.exec("e1", spec(false, "sleep"), NO_STDIO),
                "e1", "gone", "stopped");
        assertStatus(Code.NOT_FOUND, () -> c.state("e1"), "e1");
    }

    @Test
    void anExecStartsInACreatedOrRunningTaskNotAPausedOne() throws Exception {
        Container c = create("st", NO_STDIO, "sleep");
        c.exec("e0", spec(false, "sleep"), NO_STDIO);
        assertEquals(c.state("e0").pid(), c.start("e0"), "an exec into the created task, as runc allows");
        assertInstanceOf(ProcessState.Running.class, state(c, "e0"));
        assertInstanceOf(ProcessState.Created.class, state(c, ""), "the init stays parked");
        c.exec("e1", spec(false, "sleep"), NO_STDIO);
        c.start("");
        c.pause();
        assertStatus(Code.FAILED_PRECONDITION, () -> c.start("e1"), "exec e1 of task st", "paused");
        c.resume();
        assertEquals(c.state("e1").pid(), c.start("e1"));
    }

    @Test
    void duplicateExecIdIsAlreadyExists() throws Exception {
        Container c = create("dup", NO_STDIO, "sleep");
        c.start("");
        c.exec("e1", spec(false, "exit", "1"), NO_STDIO);
        assertStatus(Code.ALREADY_EXISTS, () -> c.exec("e1", spec(false, "sleep"), NO_STDIO), "e1", "dup");
        c.start("e1");
        assertEquals(1, exitOf(c.waitExit("e1")));
        assertStatus(Code.ALREADY_EXISTS, () -> c.exec("e1", spec(false, "sleep"), NO_STDIO), "e1", "dup");
        assertStatus(Code.INVALID_ARGUMENT, () -> c.exec("", spec(false, "sleep"), NO_STDIO), "dup");
    }

    @Test
    void anExecIdCanBeReusedOnceTheExecIsDeleted() throws Exception {
        Container c = create("reuse", NO_STDIO, "sleep");
        c.start("");
        c.exec("e1", spec(false, "exit", "1"), NO_STDIO);
        c.start("e1");
        assertEquals(1, exitOf(c.waitExit("e1")));
        c.delete("e1");
        c.exec("e1", spec(false, "exit", "2"), NO_STDIO);
        c.start("e1");
        assertEquals(2, exitOf(c.waitExit("e1")));
    }

    /** A started {@code sleep} in a VM of its own, as the daemon's are (its VM may be killed for it). */
    Container startedAloneInItsVm(String id) throws Exception {
        Container c = create(id, NO_STDIO, "sleep");
        sandbox(c).destroysVm = true;
        c.start("");
        return c;
    }

    @Test
    void aSigkillTheGuestDoesNotTakeKillsTheVmAndTheInitExits137() throws Exception {
        // containerd#14081: against a hung guest, the one signal that cannot be refused must neither hang nor fail
        Container c = startedAloneInItsVm("hung");
        FakeSandbox sb = sandbox(c);
        sb.fake.signalsHang = true;
        long t0 = System.nanoTime();
        c.kill("", SIGKILL, false);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(ms < Container.KILL_ANSWER_BOUND.toMillis() + 5000, "kill took " + ms + " ms");
        assertEquals(1, sb.kills.get());
        assertEquals(137, exitOf(c.waitExit("")));
    }

    @Test
    void aSigkillThePodsHungGuestDoesNotTakeKillsThePodsVm() throws Exception {
        // a pod's container: its VM holds the pod, and a hung guest hangs all of it; the kill must still end
        Container c = create("pod-member", NO_STDIO, "sleep");
        c.start("");
        FakeSandbox sb = sandbox(c);
        sb.fake.signalsHang = true;
        long t0 = System.nanoTime();
        c.kill("", SIGKILL, false);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(ms < Container.KILL_ANSWER_BOUND.toMillis() + 5000, "kill took " + ms + " ms");
        assertEquals(1, sb.kills.get());
        assertEquals(137, exitOf(c.waitExit("")));
    }

    @Test
    void aSigtermTheGuestDoesNotTakeNeverKillsTheVm() throws Exception {
        Container c = startedAloneInItsVm("hung-term");
        FakeSandbox sb = sandbox(c);
        sb.fake.signalsHang = true;
        Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(Container.KILL_ANSWER_BOUND.toMillis() + 2000);
            } catch (InterruptedException ignored) {
                // the test ended
            }
            sb.fake.signalsHang = false;
        });
        c.kill("", SIGTERM, false); // only a SIGKILL may cost the VM: a SIGTERM waits for the guest's answer
        assertEquals(0, sb.kills.get());
        assertEquals(143, exitOf(c.waitExit("")));
    }

    @Test
    void aSigkillOfAnExecThatTheGuestTakesLateNeverKillsTheVm() throws Exception {
        Container c = startedAloneInItsVm("hung-exec");
        FakeSandbox sb = sandbox(c);
        c.exec("e1", spec(false, "sleep"), NO_STDIO);
        c.start("e1");
        sb.fake.signalsHang = true;
        Thread.ofVirtual().start(() -> {
            try {
                // the answer comes after the init's bound: an exec's kill must wait for it, not kill the VM
                Thread.sleep(Container.KILL_ANSWER_BOUND.toMillis() + 2000);
            } catch (InterruptedException ignored) {
                // the test ended
            }
            sb.fake.signalsHang = false;
        });
        c.kill("e1", SIGKILL, false); // waits for the guest, however long it takes, within the call's deadline
        assertEquals(0, sb.kills.get());
        assertEquals(137, exitOf(c.waitExit("e1")));
    }

    @Test
    void killAfterExitIsNotFound() throws Exception {
        Container c = create("k", NO_STDIO, "sleep");
        c.start("");
        c.exec("e1", spec(false, "exit", "0"), NO_STDIO);
        c.start("e1");
        exitOf(c.waitExit("e1"));
        assertStatus(Code.NOT_FOUND, () -> c.kill("e1", SIGTERM, false), "exec e1 of task k", "finished");
        c.kill("", SIGTERM, false);
        assertEquals(143, exitOf(c.waitExit("")));
        assertStatus(Code.NOT_FOUND, () -> c.kill("", SIGKILL, false), "task k", "finished");
        assertStatus(Code.NOT_FOUND, () -> c.kill("", SIGKILL, true), "task k");
        c.delete("");
        assertStatus(Code.NOT_FOUND, () -> c.kill("", SIGKILL, false), "task k");
        assertStatus(Code.NOT_FOUND, () -> c.kill("e9", SIGKILL, false), "e9", "k");
    }

    @Test
    void deleteOfANeverStartedTaskKillsItsParkedProcess() throws Exception {
        Container c = create("never", NO_STDIO, "sleep");
        FakeSandbox sb = sandbox(c);
        Container.Deleted d = c.delete("");
        assertEquals(137, d.exit().status());
        assertEquals(c.initPid(), d.pid());
        assertTrue(sb.fake.signals.stream().anyMatch(s -> s.getExecId().isEmpty() && s.getSignal() == SIGKILL),
                "SIGKILL sent: " + sb.fake.signals);
        assertTrue(sb.fake.calls.contains("DestroyContainer never"), "calls: " + sb.fake.calls);
        assertEquals(1, sb.releases.get());
        TaskExit exit = next(TaskExit.class);
        assertEquals(137, exit.getExitStatus());
        TaskDelete del = next(TaskDelete.class);
        assertEquals(137, del.getExitStatus());
        assertEquals(c.initPid(), del.getPid());
        assertStatus(Code.NOT_FOUND, () -> c.state(""), "never");
        assertStatus(Code.NOT_FOUND, () -> c.delete(""), "never");
    }

    @Test
    void deleteOfANeverStartedExecReportsZeroPublishesNoExitAndKeepsTheTask() throws Exception {
        // containerd's TestDeleteContainerExecCreated: with runc an exec exists only from Start on
        Container c = create("never-exec", NO_STDIO, "sleep");
        c.start("");
        next(TaskStart.class);
        c.exec("e1", spec(false, "sleep"), NO_STDIO);
        next(TaskExecAdded.class);
        CompletableFuture<ExitStatus> waiting = c.waitExit("e1");
        Container.Deleted d = c.delete("e1");
        assertEquals(0, d.exit().status());
        assertEquals(0, exitOf(waiting));
        assertEquals("e1", next(TaskDelete.class).getId());
        assertNull(events.poll(300, TimeUnit.MILLISECONDS), "no exit for an exec that never ran");
        assertFalse(sandbox(c).fake.isAlive("never-exec", "e1"));
        assertTrue(sandbox(c).fake.isAlive("never-exec", ""));
        assertEquals(0, sandbox(c).releases.get());
        assertInstanceOf(ProcessState.Running.class, state(c, ""));
        // the id is free again, in the guest too
        c.exec("e1", spec(false, "exit", "3"), NO_STDIO);
        c.start("e1");
        assertEquals(3, exitOf(c.waitExit("e1")));
    }

    @Test
    void deleteOfTheInitIsRefusedWhileAnExecRuns() throws Exception {
        Container c = create("busy", NO_STDIO, "sleep");
        sandbox(c).fake.execsDieWithInit = false;
        c.start("");
        c.exec("e1", spec(false, "sleep"), NO_STDIO);
        c.start("e1");
        c.kill("", SIGTERM, false);
        eventually("the host saw the init exit", c::initExitHeld);
        assertStatus(Code.FAILED_PRECONDITION, () -> c.delete(""), "task busy", "running");
    }

    // ---- guarantee 4: a dead VM ----------------------------------------------------------------------------

    @Test
    void aDeadVmIsAnExitOf137ForEveryProcessAndWaitReturnsPromptly() throws Exception {
        Path out = mkfifo(dir.resolve("out"));
        Container c = create("dead", new StdioPaths("", out.toString(), "", false), "sleep");
        var stdout = TaskTesting.FifoReader.open(out);
        c.start("");
        c.exec("e1", spec(false, "sleep"), NO_STDIO);
        c.start("e1");
        c.exec("parked", spec(false, "sleep"), NO_STDIO);
        CompletableFuture<ExitStatus> init = c.waitExit("");
        CompletableFuture<ExitStatus> e1 = c.waitExit("e1");
        CompletableFuture<ExitStatus> parked = c.waitExit("parked");

        long t0 = System.nanoTime();
        sandbox(c).killVm();
        assertEquals(137, init.get(2, TimeUnit.SECONDS).status());
        assertEquals(137, e1.get(2, TimeUnit.SECONDS).status());
        assertEquals(137, parked.get(2, TimeUnit.SECONDS).status());
        assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(2).toNanos());
        assertEquals("", stdout.text(), "stdout ends with EOF");

        List<String> exits = new ArrayList<>();
        while (exits.size() < 2) {
            if (next(Message.class) instanceof TaskExit x) {
                assertEquals(137, x.getExitStatus());
                exits.add(x.getId());
            }
        }
        assertEquals(List.of("e1", "dead"), exits, "init exit after e1's, none for the exec never started");
        assertStatus(Code.NOT_FOUND, () -> c.kill("", SIGKILL, false), "dead");
        assertEquals(List.of(new Container.PidInfo(c.initPid(), "")), c.pids());
        assertStatus(Code.NOT_FOUND, c::stats, "dead", "vm-dead");
        assertEquals(137, c.delete("").exit().status());
        assertEquals(1, sandbox(c).releases.get());
    }

    @Test
    void aLostAgentConnectionWithoutAnExitNoticeIsADeadVmToo() throws Exception {
        Container c = create("lost", NO_STDIO, "sleep");
        c.start("");
        CompletableFuture<ExitStatus> w = c.waitExit("");
        sandbox(c).fake.die();
        assertEquals(137, w.get(2, TimeUnit.SECONDS).status());
        assertStatus(Code.NOT_FOUND, () -> c.kill("", SIGKILL, false), "lost");
    }

    @Test
    void killWhileTheVmIsGoneButTheExitIsNotYetSeenIsNotFound() throws Exception {
        Container c = create("race", NO_STDIO, "sleep");
        c.start("");
        // the agent is unreachable; the exit (137) has not been applied when Kill arrives
        sandbox(c).killVm();
        assertStatus(Code.NOT_FOUND, () -> c.kill("", SIGTERM, false), "task race", "finished");
    }

    // ---- pids, stats, update, pause, oom ----------------------------------------------------------------------

    @Test
    void pidsAreNeverEmpty() throws Exception {
        Container c = create("p", NO_STDIO, "sleep");
        assertTrue(c.initPid() > TaskPids.OFFSET, "pids are reported above every host pid: " + c.initPid());
        assertEquals(List.of(new Container.PidInfo(c.initPid(), "")), c.pids(), "a parked init is in the cgroup");
        c.start("");
        c.exec("e1", spec(false, "sleep"), NO_STDIO);
        c.start("e1");
        int e1 = c.state("e1").pid();
        assertEquals(List.of(new Container.PidInfo(c.initPid(), ""), new Container.PidInfo(e1, "e1")), c.pids());
        c.kill("", SIGKILL, true);
        exitOf(c.waitExit(""));
        assertEquals(List.of(new Container.PidInfo(c.initPid(), "")), c.pids(), "nothing left in the guest");
        sandbox(c).killVm();
        assertEquals(List.of(new Container.PidInfo(c.initPid(), "")), c.pids(), "no agent");
        c.delete("");
        assertStatus(Code.NOT_FOUND, c::pids, "p");
    }

    @Test
    void statsComeFromTheGuestAndAreNotFoundOnceTheVmIsGone() throws Exception {
        Container c = create("s", NO_STDIO, "sleep");
        c.start("");
        assertEquals(1, c.stats().getPidsCurrent());
        sandbox(c).killVm();
        assertStatus(Code.NOT_FOUND, c::stats, "s");
    }

    @Test
    void updateGoesToTheGuestUntilTheTaskIsDeleted() throws Exception {
        Container c = create("u", NO_STDIO, "sleep");
        c.update(CgroupResources.newBuilder().setMemoryMax(1 << 20).build());
        assertTrue(sandbox(c).fake.calls.contains("UpdateContainer u"));
        c.delete("");
        assertStatus(Code.NOT_FOUND, () -> c.update(CgroupResources.getDefaultInstance()), "u");
    }

    @Test
    void pauseAndResumeMoveEveryLiveProcessAndPublish() throws Exception {
        Container c = create("pr", NO_STDIO, "sleep");
        c.start("");
        c.exec("e1", spec(false, "sleep"), NO_STDIO);
        c.start("e1");
        c.exec("e2", spec(false, "sleep"), NO_STDIO);
        c.pause();
        assertInstanceOf(ProcessState.Paused.class, state(c, ""));
        assertInstanceOf(ProcessState.Paused.class, state(c, "e1"));
        assertInstanceOf(ProcessState.Created.class, state(c, "e2"));
        c.kill("e1", SIGTERM, false);   // frozen: delivered at the thaw
        c.resume();
        assertEquals(143, exitOf(c.waitExit("e1")));
        assertInstanceOf(ProcessState.Running.class, state(c, ""));
        List<Class<?>> kinds = new ArrayList<>();
        while (kinds.size() < 7) {
            kinds.add(next(Message.class).getClass());
        }
        assertEquals(List.of(TaskStart.class, TaskExecAdded.class, TaskExecStarted.class, TaskExecAdded.class,
                TaskPaused.class, TaskResumed.class, TaskExit.class), kinds);
    }

    @Test
    void everyOomKillIsPublished() throws Exception {
        Container c = create("oom", NO_STDIO, "sleep");
        c.start("");
        next(TaskStart.class);
        sandbox(c).fake.oom("oom");
        assertEquals("oom", next(TaskOOM.class).getContainerId());
        sandbox(c).fake.oom("oom");
        assertEquals("oom", next(TaskOOM.class).getContainerId());
    }

    @Test
    void resizePtyReachesATerminalAndIsANoOpWithout() throws Exception {
        // containerd's TestTaskResize resizes a created task that has no terminal and expects no error, as runc
        Container c = create("tty", new StdioPaths("", "", "", true), "sleep");
        c.exec("e1", spec(false, "sleep"), NO_STDIO);
        c.resizePty("", 80, 24);
        assertTrue(sandbox(c).fake.calls.contains("ResizePty tty/ 80x24"), "calls: " + sandbox(c).fake.calls);
        c.resizePty("e1", 80, 24);
        assertFalse(sandbox(c).fake.calls.stream().anyMatch(s -> s.startsWith("ResizePty tty/e1")),
                "calls: " + sandbox(c).fake.calls);
        assertStatus(Code.NOT_FOUND, () -> c.resizePty("e9", 80, 24), "e9");
    }

    // ---- stdin ---------------------------------------------------------------------------------------------

    @Test
    void stdinThroughAFifoAndCloseIoComesBackFollowedByEof() throws Exception {
        // echo x | ctr run --rm -i ... cat
        Path in = mkfifo(dir.resolve("in"));
        Path out = mkfifo(dir.resolve("out"));
        Container c = create("cat", new StdioPaths(in.toString(), out.toString(), "", false), "stdin-echo");
        var stdout = TaskTesting.FifoReader.open(out);
        c.start("");
        try (OutputStream w = new FileOutputStream(in.toFile())) {
            w.write("hello\nworld\n".getBytes(StandardCharsets.UTF_8));
        }
        c.closeIo("");
        assertEquals("hello\nworld\n", stdout.text());
        assertEquals(0, exitOf(c.waitExit("")));
    }

    @Test
    void stdinWrittenAndClosedBeforeStartIsDeliveredAfterStart() throws Exception {
        Path in = mkfifo(dir.resolve("in"));
        Path out = mkfifo(dir.resolve("out"));
        Container c = create("cat2", new StdioPaths(in.toString(), out.toString(), "", false), "stdin-echo");
        var stdout = TaskTesting.FifoReader.open(out);
        try (OutputStream w = new FileOutputStream(in.toFile())) {
            w.write("x\n".getBytes(StandardCharsets.UTF_8));
        }
        c.closeIo("");
        eventually("stdin reached the guest", () -> sandbox(c).fake.calls.contains("CloseStdin cat2/"));
        c.start("");
        assertEquals("x\n", stdout.text());
        assertEquals(0, exitOf(c.waitExit("")));
    }

    @Test
    void stdinOfAnExec() throws Exception {
        Path in = mkfifo(dir.resolve("in"));
        Path out = mkfifo(dir.resolve("out"));
        Container c = create("ex", NO_STDIO, "sleep");
        c.start("");
        c.exec("e1", spec(true, "stdin-echo"), new StdioPaths(in.toString(), out.toString(), "", false));
        var stdout = TaskTesting.FifoReader.open(out);
        c.start("e1");
        try (OutputStream w = new FileOutputStream(in.toFile())) {
            w.write("exec\n".getBytes(StandardCharsets.UTF_8));
        }
        c.closeIo("e1");
        assertEquals("exec\n", stdout.text());
        assertEquals(0, exitOf(c.waitExit("e1")));
    }

    // ---- descriptors ---------------------------------------------------------------------------------------

    @Test
    void aCreateDeleteCycleLeaksNoDescriptors() throws Exception {
        cycle(0);    // warms up whatever the JVM opens once (selectors, class files)
        long before = TaskTesting.openFds();
        for (int i = 1; i <= 3; i++) {
            cycle(i);
        }
        long[] now = {0};
        eventually("descriptors back to " + before, () -> {
            try {
                now[0] = TaskTesting.openFds();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            return now[0] <= before;
        });
    }

    private void cycle(int i) throws Exception {
        Path in = mkfifo(dir.resolve("in" + i));
        Path out = mkfifo(dir.resolve("out" + i));
        Path err = mkfifo(dir.resolve("err" + i));
        Path execOut = mkfifo(dir.resolve("eout" + i));
        Container c = create("fd" + i, new StdioPaths(in.toString(), out.toString(), err.toString(), false),
                "stdin-echo");
        var stdout = TaskTesting.FifoReader.open(out);
        var stderr = TaskTesting.FifoReader.open(err);
        c.start("");
        c.exec("e1", spec(false, "echo", "exec"), new StdioPaths("", execOut.toString(), "", false));
        var execStdout = TaskTesting.FifoReader.open(execOut);
        c.start("e1");
        assertEquals("exec\n", execStdout.text());
        exitOf(c.waitExit("e1"));
        c.delete("e1");
        try (OutputStream w = new FileOutputStream(in.toFile())) {
            w.write(("cycle " + i).getBytes(StandardCharsets.UTF_8));
        }
        c.closeIo("");
        assertEquals("cycle " + i, stdout.text());
        assertEquals("", stderr.text());
        exitOf(c.waitExit(""));
        c.delete("");
        for (Path p : List.of(in, out, err, execOut)) {
            Files.delete(p);
        }
    }

    private static ProcessState state(Container c, String execId) {
        try {
            return c.state(execId).state();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
