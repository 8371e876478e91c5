package io.a3s.box.shim.vm.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.a3s.box.guest.v1.ContainerRequest;
import io.a3s.box.guest.v1.HelloResponse;
import io.a3s.box.guest.v1.WaitProcessRequest;
import io.a3s.box.guest.v1.WaitProcessResponse;
import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.shim.sys.Mounts;
import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.vm.BootInfo;
import io.a3s.box.shim.vm.StateDir;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.shim.vm.VmException;
import io.a3s.box.shim.vm.VmExit;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Lifecycle of real QEMU microVMs (TCG here) with the real guest agent: boot to IDLE, the state directory,
 * death detection, shutdown and reconcile. Tests that do not destroy the VM share one.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class QemuVmLifecycleTest {
    private static final Duration CALL = Duration.ofSeconds(10);

    private static Path stateRoot;
    private static QemuBackend backend;
    private static VmInstance shared;

    @BeforeAll
    static void bootShared() throws Exception {
        VmTestSupport.assumeVmSupport();
        stateRoot = VmTestSupport.newStateRoot();
        backend = new QemuBackend();
        shared = backend.newInstance(VmTestSupport.config(), StateDir.of(stateRoot, "shared"));
        shared.start();
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (shared != null) {
            shared.shutdown();
        }
        VmTestSupport.removeStateRoot(stateRoot);
    }

    @Test
    void bootsToIdleAndReportsBootTime() throws Exception {
        BootInfo info = shared.bootInfo();
        assertNotNull(info);
        assertTrue(shared.isRunning());
        assertTrue(info.guestBoot().toMillis() > 0, "guest boot time reported: " + info);
        assertTrue(info.hostWall().compareTo(info.guestBoot()) > 0, "host wall time covers the guest's: " + info);
        assertEquals(backend.probe().resolve(Accelerator.AUTO), info.accelerator());
        String manifest = Files.readString(VmTestSupport.image().resolve("manifest.txt"));
        assertTrue(manifest.contains("kernel_release=" + info.kernelRelease() + "\n"), info.kernelRelease());
        assertEquals(AgentClient.PROTOCOL_VERSION, info.protocolVersion());
        System.out.printf("boot: %d ms host wall, %d ms guest, %d attempt(s), %s%n", info.hostWall().toMillis(),
                info.guestBoot().toMillis(), info.attempts(), info.accelerator());

        assertEquals(info.agentVersion(), shared.agent().helloResponse().getAgentVersion());
        ping(shared.agent(), CALL);
    }

    @Test
    void stateDirectoryIsComplete() throws Exception {
        Path dir = shared.stateDir();
        assertEquals(stateRoot.resolve("vms/shared").toAbsolutePath(), dir);
        assertEquals(shared.pid(), Long.parseLong(Files.readString(dir.resolve(StateDir.PID)).trim()));
        for (String sock : List.of(StateDir.AGENT_SOCKET, StateDir.QMP_SOCKET)) {
            assertTrue(Files.exists(dir.resolve(sock)), sock);
            assertFalse(Files.isRegularFile(dir.resolve(sock)), sock + " is a socket");
        }
        assertTrue(Files.isDirectory(dir.resolve(StateDir.SHARE)));
        assertEquals(dir.resolve(StateDir.SHARE), shared.shareDir());
        assertTrue(Files.size(dir.resolve(StateDir.CONSOLE)) > 0, "console.log has the guest's messages");
        assertTrue(StateDir.ownerAlive(dir), "owner is this JVM");
        JsonNode config = new ObjectMapper().readTree(dir.resolve(StateDir.CONFIG).toFile());
        assertEquals("shared", config.path("id").asText());
        assertEquals("qemu", config.path("backend").asText());
        String argv = config.path("argv").toString();
        assertTrue(argv.contains("microvm,acpi=on,rtc=on,pit=on"), argv);
        assertTrue(argv.contains("tsc_early_khz="), argv);
        assertTrue(QemuBackend.ownedBy(shared.pid(), dir), "/proc/<pid>/cmdline names the state directory");
        assertEquals(VmInstance.GUEST_SHARE_PATH + "/c1/rootfs",
                shared.guestPath(shared.shareDir().resolve("c1/rootfs")));
    }

    @Test
    void pausedVmAnswersNothingUntilResumed() throws Exception {
        shared.pause();
        try {
            StatusException e = assertThrows(StatusException.class, () -> ping(shared.agent(), Duration.ofMillis(700)));
            assertEquals(Code.DEADLINE_EXCEEDED, e.code());
        } finally {
            shared.resume();
        }
        ping(shared.agent(), CALL);
    }

    @Test
    void everyCallNeedsADeadline() {
        StatusException e = assertThrows(StatusException.class, () -> ping(shared.agent(), Duration.ZERO));
        assertEquals(Code.INVALID_ARGUMENT, e.code());
    }

    @Test
    void anotherHostCanTakeOverTheAgentSession() throws Exception {
        // The pool boots a VM and holds its port; the shim that leases it connects instead (a new session).
        VmInstance vm = backend.newInstance(VmTestSupport.config(), StateDir.of(stateRoot, "handoff"));
        try {
            vm.start();
            ping(vm.agent(), CALL);
            vm.agent().close("handing the vm over");
            for (int round = 0; round < 2; round++) {
                try (AgentClient next = AgentClient.connect(vm.id(), vm.stateDir().resolve(StateDir.AGENT_SOCKET),
                        vm.onExit())) {
                    HelloResponse h = next.handshake(java.time.Instant.now().plusSeconds(30));
                    assertEquals(vm.bootInfo().agentVersion(), h.getAgentVersion());
                    ping(next, CALL);
                }
            }
        } finally {
            vm.shutdown();
        }
    }

    /**
     * A call any live agent answers at once (ListPids of a container that does not exist). Not Hello: the agent
     * takes every Hello as the start of a new session.
     */
    private static void ping(AgentClient agent, Duration timeout) throws StatusException {
        try {
            agent.listPids(ContainerRequest.newBuilder().setContainerId("no-such-container").build(), timeout);
        } catch (StatusException e) {
            if (e.code() == Code.DEADLINE_EXCEEDED || e.code() == Code.UNAVAILABLE
                    || e.code() == Code.INVALID_ARGUMENT || e.code() == Code.FAILED_PRECONDITION) {
                throw e;
            }
        }
    }

    @Test
    void sigkillOfQemuFailsPendingCallsFastAndCompletesOnExit() throws Exception {
        VmInstance vm = backend.newInstance(VmTestSupport.config(), StateDir.of(stateRoot, "killed"));
        try {
            vm.start();
            // The start's unawaited SetClock is answered before this (the agent serves calls in order), so the
            // WaitProcess below is the only call in flight.
            ping(vm.agent(), CALL);
            // Paused, the agent answers nothing: the WaitProcess below stays pending until the VM dies.
            vm.pause();
            CompletableFuture<WaitProcessResponse> wait = vm.agent().waitProcessAsync(
                    WaitProcessRequest.newBuilder().setContainerId("nope").build(), Duration.ofMinutes(5));
            Thread.sleep(300);
            assertFalse(wait.isDone(), "pending while the VM is paused");
            assertEquals(1, vm.agent().pendingCalls());

            long t0 = System.nanoTime();
            Linux.kill(vm.pid(), Linux.SIGKILL);
            ExecutionException failed = assertThrows(ExecutionException.class, () -> wait.get(2, TimeUnit.SECONDS));
            long failMs = (System.nanoTime() - t0) / 1_000_000;
            StatusException se = assertInstanceOf(StatusException.class, failed.getCause());
            assertEquals(Code.UNAVAILABLE, se.code());
            assertEquals("vm killed exited", se.status().description());

            VmExit exit = vm.onExit().get(2, TimeUnit.SECONDS);
            long exitMs = (System.nanoTime() - t0) / 1_000_000;
            assertFalse(exit.requested());
            assertFalse(vm.isRunning());
            System.out.printf("death detection: pending call failed after %d ms, onExit after %d ms%n", failMs, exitMs);

            // Later calls fail at once, with the same cause.
            StatusException later = assertThrows(StatusException.class, () -> ping(vm.agent(), CALL));
            assertEquals(Code.UNAVAILABLE, later.code());
        } finally {
            vm.shutdown();
        }
        assertFalse(Files.exists(stateRoot.resolve("vms/killed")));
    }

    @Test
    void shutdownIsIdempotentAndLeavesNothing() throws Exception {
        VmInstance vm = backend.newInstance(VmTestSupport.config(), StateDir.of(stateRoot, "down"));
        vm.start();
        long pid = vm.pid();
        Path dir = vm.stateDir();
        Path mounted = bindSomethingInto(vm);

        vm.shutdown();
        vm.shutdown();
        vm.close();

        VmExit exit = vm.onExit().get(1, TimeUnit.SECONDS);
        assertTrue(exit.requested());
        assertLeftNothing(pid, dir);
        assertTrue(Files.exists(mounted.resolve("keep-me")), "the bind-mount source is untouched");
        StatusException e = assertThrows(StatusException.class, () -> ping(vm.agent(), CALL));
        assertEquals(Code.UNAVAILABLE, e.code());
    }

    @Test
    void reconcileTearsDownAVmWhoseOwnerDied() throws Exception {
        VmInstance vm = backend.newInstance(VmTestSupport.config(), StateDir.of(stateRoot, "orphan"));
        vm.start();
        long pid = vm.pid();
        Path dir = vm.stateDir();
        Path mounted = bindSomethingInto(vm);
        // The owner dies without shutting the VM down: record a dead process as owner and forget the object.
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        StateDir.writeOwner(dir, gone.pid());
        assertFalse(StateDir.ownerAlive(dir));
        CompletableFuture<VmExit> exit = vm.onExit();
        vm = null;

        List<String> reconciled = QemuBackend.reconcileOrphans(stateRoot);

        assertEquals(List.of("orphan"), reconciled, "only the orphan; the shared VM's owner lives");
        assertLeftNothing(pid, dir);
        assertTrue(Files.exists(mounted.resolve("keep-me")), "the bind-mount source is untouched");
        assertFalse(exit.get(2, TimeUnit.SECONDS).requested());
        assertTrue(shared.isRunning());
        backend.reconcile(dir);   // idempotent
    }

    @Test
    void shutdownBeforeStartRemovesTheStateDirectory() throws Exception {
        VmInstance vm = backend.newInstance(VmTestSupport.config(), StateDir.of(stateRoot, "never"));
        assertTrue(Files.isDirectory(vm.stateDir().resolve(StateDir.SHARE)));
        vm.shutdown();
        assertFalse(Files.exists(vm.stateDir()));
        VmException e = assertThrows(VmException.class, vm::start);
        assertTrue(e.getMessage().contains("vm never"), e.getMessage());
    }

    @Test
    void aBootThatHangsIsRetriedOnceThenFailsAndShutdownStillWorks() throws Exception {
        VmInstance vm = backend.newInstance(VmTestSupport.config(), StateDir.of(stateRoot, "slow"));
        VmException e = assertThrows(VmException.class, () -> vm.start(Duration.ofMillis(400)));
        assertEquals(VmException.Kind.BOOT_TIMEOUT, e.kind());
        assertTrue(e.getMessage().startsWith("vm slow: no hello from the agent within PT0.4S (2 attempts)"),
                e.getMessage());
        assertTrue(Files.exists(vm.stateDir().resolve("console.1.log")), "first attempt's console kept");
        assertTrue(vm.onExit().isDone());
        assertTrue(VmTestSupport.processesMentioning(vm.stateDir().toString()).isEmpty(), "no qemu left");
        vm.shutdown();
        vm.shutdown();
        assertFalse(Files.exists(vm.stateDir()));
    }

    @Test
    void aGuestThatDiesWhileBootingFailsTheStartAtOnce() throws Exception {
        Path junk = Files.createTempFile(stateRoot, "junk", ".img");
        Files.write(junk, new byte[4096]);
        VmConfig bad = new VmConfig(VmTestSupport.image().resolve("vmlinuz"), junk, 1, 256, Accelerator.AUTO,
                List.of(), Duration.ofSeconds(45));
        VmInstance vm = backend.newInstance(bad, StateDir.of(stateRoot, "panics"));
        long t0 = System.nanoTime();
        VmException e = assertThrows(VmException.class, vm::start);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(VmException.Kind.EXITED, e.kind(), e.getMessage());
        assertTrue(e.getMessage().contains("qemu exited while booting"), e.getMessage());
        assertTrue(e.getMessage().contains("console:"), e.getMessage());
        assertTrue(ms < 45_000, "failed before the first attempt's deadline: " + ms + " ms; " + e.getMessage());
        vm.shutdown();
        assertFalse(Files.exists(vm.stateDir()));
    }

    /** Bind-mounts a fresh directory at share/c1/rootfs, as the shim does with a container's rootfs. */
    private static Path bindSomethingInto(VmInstance vm) throws Exception {
        Path src = Files.createTempDirectory(stateRoot, "src");
        Files.writeString(src.resolve("keep-me"), "x");
        Path target = vm.shareDir().resolve("c1/rootfs");
        Files.createDirectories(target);
        Linux.bindMount(src.toString(), target.toString(), true);
        assertEquals(List.of(target), Mounts.mountsUnder(vm.stateDir()));
        return src;
    }

    private static void assertLeftNothing(long pid, Path dir) throws Exception {
        assertFalse(io.a3s.box.shim.sys.ProcessRef.procAlive(pid), "qemu pid " + pid + " is gone");
        assertTrue(VmTestSupport.processesMentioning(dir.toString()).isEmpty(), "no process names " + dir);
        assertTrue(Mounts.mountsUnder(dir).isEmpty(), "nothing mounted under " + dir);
        assertFalse(Files.exists(dir), dir + " removed (sockets included)");
    }
}
