package io.a3s.box.conformance;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * When something dies or is wrong: containerd restarting, the shim daemon or a VM killed, a config.json the
 * runtime cannot honour. Each must end in a clear state for containerd and its user, with nothing left.
 */
class RobustnessTest extends ConformanceTest {
    @Test
    void aRunningTaskSurvivesAContainerdRestartAndIsThenKilledAndDeleted() throws Exception {
        h.runDetached("r-restart", "sleep", "600");
        try {
            String pid = h.taskRow("r-restart").orElseThrow()[1];
            h.containerd.restart();
            String[] row = h.taskRow("r-restart").orElseThrow(() -> new AssertionError("the task is gone after the "
                    + "restart; containerd log:\n" + h.containerd.log()));
            assertEquals("RUNNING", row[2]);
            assertEquals(pid, row[1]);
            PrivateContainerd.Result exec = h.ctr("task", "exec", "--exec-id", "after", "r-restart", "echo", "alive");
            assertEquals("alive\n", exec.stdout(), exec.stderr());
            assertEquals(0, h.ctr("task", "kill", "-s", "KILL", "r-restart").exitCode());
            h.awaitStatus("r-restart", "STOPPED", Duration.ofSeconds(30));
            PrivateContainerd.Result rm = h.ctr("task", "delete", "r-restart");
            assertEquals(0, rm.exitCode(), rm.stderr());
            assertTrue(rm.stderr().contains("exit code 137"), rm.stderr());
        } finally {
            h.remove("r-restart");
        }
    }

    @Test
    void killingTheShimDaemonEndsTheTaskWith137AndLeavesNoVmMountOrTaskFile() throws Exception {
        h.runDetached("r-shimkill", "sleep", "600");
        Path vm = h.vmOf("r-shimkill");
        long qemu = ShimHarness.qemuPid(vm);
        long daemon = h.daemonPid().orElseThrow();
        PrivateContainerd.Events events = h.containerd.events();
        try {
            ProcessHandle.of(daemon).orElseThrow().destroyForcibly();
            String exit = events.await(Duration.ofSeconds(60), "/tasks/exit", "r-shimkill");
            assertNotNull(exit, "no /tasks/exit for the task; containerd log:\n" + h.containerd.log());
            assertTrue(exit.contains("\"exit_status\":137"), exit);
            // containerd ran the shim's delete: the task's VM, its mounts and its task file are gone
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while ((ProcessHandle.of(qemu).isPresent() || Files.exists(vm)) && System.nanoTime() < until) {
                Thread.sleep(100);
            }
            assertFalse(ProcessHandle.of(qemu).isPresent(), "the task's qemu " + qemu + " still runs");
            assertFalse(Files.exists(vm), vm + " is still there");
            assertEquals(List.of(), h.taskFiles());
            assertEquals(List.of(), h.mounts());
            assertTrue(h.taskStatus("r-shimkill").isEmpty(), "containerd still lists the task");
            // no VM the dead daemon held (the pool daemon, its own process, keeps its idle VMs)
            long owned = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!h.vmsOwnedBy(daemon).isEmpty() && System.nanoTime() < owned) {
                Thread.sleep(100);
            }
            assertEquals(List.of(), h.vmsOwnedBy(daemon), "VMs of the dead shim daemon");
        } finally {
            events.close();
            h.remove("r-shimkill");
        }
        // and the next container gets a new daemon
        PrivateContainerd.Result r = h.run(List.of(), "r-after", "echo", "again");
        assertEquals("again\n", r.stdout(), r.stderr());
        assertEquals(0, r.exitCode());
    }

    @Test
    void killingTheVmEndsTheTaskWith137WithinSeconds() throws Exception {
        Process run = new ProcessBuilder(h.ctrCommand(ShimHarness.runArgs(ShimHarness.IMAGE, List.of(), "r-vmkill",
                "sleep", "600"))).start();
        try {
            h.awaitStatus("r-vmkill", "RUNNING", ShimHarness.CTR_LIMIT);
            long qemu = ShimHarness.qemuPid(h.vmOf("r-vmkill"));
            long t0 = System.nanoTime();
            ProcessHandle.of(qemu).orElseThrow().destroyForcibly();
            assertTrue(run.waitFor(30, TimeUnit.SECONDS), "ctr run still waits 30 s after its VM died");
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertEquals(137, run.exitValue(), new String(run.getErrorStream().readAllBytes()));
            assertTrue(ms < 3000, "ctr run returned " + ms + " ms after the VM died");
        } finally {
            run.destroyForcibly();
        }
    }

    @Test
    void aSigkillOfATaskWhoseVmHangsEndsItWith137AndLeavesNoVm() throws Exception {
        // containerd#14081: kill-path calls against a hung runtime were retried forever, pods Terminating for days
        h.runDetached("r-hung", "sleep", "600");
        Path vm = h.vmOf("r-hung");
        long qemu = ShimHarness.qemuPid(vm);
        try {
            assertEquals(0, new ProcessBuilder("kill", "-STOP", Long.toString(qemu)).start().waitFor());
            long t0 = System.nanoTime();
            PrivateContainerd.Result kill = h.ctr("task", "kill", "-s", "KILL", "r-hung");
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertEquals(0, kill.exitCode(), kill.stderr());
            assertTrue(ms < 20_000, "the kill took " + ms + " ms");
            h.awaitStatus("r-hung", "STOPPED", Duration.ofSeconds(10));
            assertFalse(ProcessHandle.of(qemu).isPresent(), "the hung qemu " + qemu + " still runs");
            PrivateContainerd.Result rm = h.ctr("task", "delete", "r-hung");
            assertEquals(0, rm.exitCode(), rm.stderr());
            assertTrue(rm.stderr().contains("exit code 137"), rm.stderr());
            assertFalse(Files.exists(vm), vm + " is still there");
        } finally {
            new ProcessBuilder("kill", "-CONT", Long.toString(qemu)).start().waitFor();
            h.remove("r-hung");
        }
    }

    @Test
    void aMountTypeTheVmCannotHaveIsRefusedWithTheReason() throws Exception {
        PrivateContainerd.Result r = h.run(List.of("--mount", "type=nfs,src=server:/export,dst=/n,options=ro"),
                "r-nfs", "true");
        assertTrue(r.exitCode() != 0);
        assertTrue(r.stderr().contains("\"nfs\" mounts are not supported"), r.stderr());
        assertTrue(r.stderr().contains("mounts["), "names the config path: " + r.stderr());
    }

    @Test
    void aBindMountOfAMissingSourceIsRefusedWithTheReason() throws Exception {
        PrivateContainerd.Result r = h.run(List.of("--mount", "type=bind,src=/no/such/dir,dst=/n,options=rbind"),
                "r-nosrc", "true");
        assertTrue(r.exitCode() != 0);
        assertTrue(r.stderr().contains("/no/such/dir does not exist"), r.stderr());
    }
}
