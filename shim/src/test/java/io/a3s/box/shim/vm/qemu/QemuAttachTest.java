package io.a3s.box.shim.vm.qemu;

import io.a3s.box.guest.v1.SetClockRequest;
import io.a3s.box.guest.v1.SetClockResponse;
import io.a3s.box.guest.v1.SignalProcessRequest;
import io.a3s.box.guest.v1.StartProcessRequest;
import io.a3s.box.guest.v1.Stream;
import io.a3s.box.guest.v1.WaitProcessRequest;
import io.a3s.box.guest.v1.WaitProcessResponse;
import io.a3s.box.shim.sys.ProcessRef;
import io.a3s.box.shim.vm.StateDir;
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
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static io.a3s.box.shim.vm.qemu.GuestContainers.CALL;
import static io.a3s.box.shim.vm.qemu.GuestContainers.create;
import static io.a3s.box.shim.vm.qemu.GuestContainers.destroy;
import static io.a3s.box.shim.vm.qemu.GuestContainers.drain;
import static io.a3s.box.shim.vm.qemu.GuestContainers.process;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Handing a running VM over (what the pool does for every lease): {@link VmInstance#detach()} on the instance
 * that booted it, {@link QemuBackend#attach} by another one, {@link QemuBackend#adopt} by a third that only
 * watches. One real VM, its containers surviving the change of host.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class QemuAttachTest {
    private static Path stateRoot;
    private static QemuBackend backend;
    private static VmInstance booted;

    @BeforeAll
    static void boot() throws Exception {
        VmTestSupport.assumeVmSupport();
        stateRoot = VmTestSupport.newStateRoot();
        backend = new QemuBackend();
        booted = backend.newInstance(VmTestSupport.config(), StateDir.of(stateRoot, "handover"));
        booted.start();
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (booted != null) {
            booted.shutdown();
        }
        VmTestSupport.removeStateRoot(stateRoot);
    }

    @Test
    void aDetachedVmIsAttachedByAnotherHostAndItsContainersCarryOn() throws Exception {
        Path rootfs = Files.createDirectories(stateRoot.resolve("rootfs"));
        create(booted, "sleeper", rootfs, process("sleep", "600").build());
        booted.agent().startProcess(StartProcessRequest.newBuilder().setContainerId("sleeper").build(), CALL);
        CompletableFuture<WaitProcessResponse> pending = booted.agent().waitProcessAsync(
                WaitProcessRequest.newBuilder().setContainerId("sleeper").build(), Duration.ofMinutes(5));

        // The boot set the guest's clock (the RTC gave it whole seconds); then put it an hour behind, as a VM
        // left idle for long might drift, for the attach below to correct.
        assertGuestClockWithin(booted, Duration.ofMillis(200), "after the boot");
        booted.agent().setClock(SetClockRequest.newBuilder().setRealtimeNs(hostNowNs() - 3_600_000_000_000L)
                .build(), CALL);

        booted.detach();
        ExecutionException e = assertThrows(ExecutionException.class, () -> pending.get(5, TimeUnit.SECONDS));
        StatusException se = assertInstanceOf(StatusException.class, e.getCause());
        assertEquals(Code.UNAVAILABLE, se.code());
        assertTrue(se.getMessage().contains("handed over"), se.getMessage());
        assertThrows(IllegalStateException.class, booted::agent);
        assertTrue(booted.isDetached());
        assertTrue(booted.isRunning(), "detach leaves the VM running");

        long t0 = System.nanoTime();
        VmInstance attached = backend.attach(booted.stateDir(), Duration.ofSeconds(20));
        System.out.printf("attach (connect + Hello handshake) after a detach: %d ms%n",
                (System.nanoTime() - t0) / 1_000_000);
        try {
            assertEquals(booted.id(), attached.id());
            assertEquals(booted.pid(), attached.pid());
            assertEquals(booted.config(), attached.config());
            assertFalse(attached.isDetached());
            assertTrue(attached.bootInfo().guestBoot().toMillis() > 0);
            assertGuestClockWithin(attached, Duration.ofMillis(200), "after the attach");
            // the container started under the previous host still runs and is still ours to stop
            attached.agent().signalProcess(SignalProcessRequest.newBuilder().setContainerId("sleeper").setSignal(9)
                    .build(), CALL);
            assertEquals(137, attached.agent().waitProcess(WaitProcessRequest.newBuilder()
                    .setContainerId("sleeper").build(), CALL).getExitStatus());
            destroy(attached, "sleeper");
            create(attached, "after", rootfs, process("sh", "-c", "echo attached; exit 3").build());
            attached.agent().startProcess(StartProcessRequest.newBuilder().setContainerId("after").build(), CALL);
            assertEquals("attached\n", drain(attached.agent(), "after", "", Stream.STDOUT));
            assertEquals(3, attached.agent().waitProcess(WaitProcessRequest.newBuilder().setContainerId("after")
                    .build(), CALL).getExitStatus());
            destroy(attached, "after");

            VmInstance watcher = backend.adopt(booted.stateDir());
            assertTrue(watcher.isDetached());
            assertTrue(watcher.isRunning());
            assertThrows(IllegalStateException.class, watcher::agent);

            long qemu = attached.pid();
            attached.shutdown();
            assertFalse(ProcessRef.procAlive(qemu));
            assertFalse(Files.exists(booted.stateDir()), "the attached instance tears the VM down as usual");
            VmExit seen = watcher.onExit().get(10, TimeUnit.SECONDS);
            assertFalse(seen.requested(), "for the watcher someone else ended it");
            booted.onExit().get(10, TimeUnit.SECONDS);
            assertFalse(booted.isRunning());
            watcher.shutdown(); // nothing left to do: idempotent on a VM that is gone
        } finally {
            attached.close();
        }
    }

    /** Reads the guest's clock through a SetClock to the host's time (its answer is the clock before). */
    private static void assertGuestClockWithin(VmInstance vm, Duration bound, String when) throws Exception {
        long host = hostNowNs();
        SetClockResponse r = vm.agent().setClock(SetClockRequest.newBuilder().setRealtimeNs(host).build(), CALL);
        assertTrue(r.getSet(), "in a VM the agent sets the clock");
        long skewNs = r.getPreviousRealtimeNs() - host;
        System.out.printf("guest clock %s: %+.3f ms from the host's%n", when, skewNs / 1e6);
        assertTrue(Math.abs(skewNs) < bound.toNanos(), "guest clock " + when + " is " + skewNs / 1_000_000
                + " ms off the host's");
    }

    private static long hostNowNs() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    @Test
    void aQemuWhoseStateDirectoryIsGoneIsKilledAsAStray() throws Exception {
        Path dir = StateDir.of(stateRoot, "stray");
        Files.createDirectories(dir.resolve(StateDir.SHARE));
        Files.createDirectories(dir.resolve(StateDir.VOLUMES)); // QEMU refuses to start without either export
        Process qemu = backend.spawn(backend.argv("stray", VmTestSupport.config(),
                backend.probe().resolve(VmTestSupport.config().accelerator()), dir), dir);
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (!(Files.exists(dir.resolve(StateDir.PID)) && Files.exists(dir.resolve(StateDir.QMP_SOCKET)))
                    && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            Thread.sleep(200);
            assertTrue(qemu.isAlive(), "qemu runs");
            VmTestSupport.removeStateRoot(dir); // the directory goes, the QEMU stays: nobody could find it now
            Thread.sleep(200);
            assertTrue(qemu.isAlive(), "qemu runs without its directory");
            assertEquals(java.util.List.of(qemu.pid()), QemuBackend.killStrays(stateRoot));
            assertTrue(qemu.waitFor(10, TimeUnit.SECONDS));
            assertEquals(java.util.List.of(), QemuBackend.killStrays(stateRoot), "nothing else is a stray");
        } finally {
            qemu.destroyForcibly();
        }
    }

    @Test
    void attachingToAVmThatIsGoneFails() {
        VmException e = assertThrows(VmException.class,
                () -> backend.attach(StateDir.of(stateRoot, "nothing-here"), Duration.ofSeconds(2)));
        assertEquals(VmException.Kind.EXITED, e.kind());
        e = assertThrows(VmException.class, () -> backend.adopt(StateDir.of(stateRoot, "nothing-here")));
        assertEquals(VmException.Kind.EXITED, e.kind());
    }
}
