package io.a3s.box.conformance;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A {@code ctr run} interrupted while its container waits for a VM to boot (a user's Ctrl-C during a cold start;
 * on a busy node, kubelet's deadline): containerd gives up on the Create and cleans up before it ends (Delete,
 * Shutdown, the shim binary's delete, the bundle removed). Whatever the create then does, nothing may be left: no
 * VM, mount or task file, and no task in the daemon, which would otherwise never exit (Kata runtime#2992). With
 * no warm pool every create boots its VM, so the interrupt lands during the boot.
 */
class InterruptedCreateTest extends ConformanceTest {
    @Override
    ShimHarness newHarness() throws Exception {
        return new ShimHarness("[pool]\nsize = 0\n", 0);
    }

    @Test
    void aRunInterruptedWhileItsVmBootsLeavesNothingAndTheNextRunWorks() throws Exception {
        Process ctr = h.containerd.startCtr("-n", ShimHarness.NS, "run", "--rm", "--runtime", ShimHarness.RUNTIME,
                ShimHarness.IMAGE, "int-1", "sleep", "600");
        try {
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (h.qemuProcesses().isEmpty() && System.nanoTime() < until) {
                Thread.sleep(50);
            }
            assertEquals(1, h.qemuProcesses().size(), "the create should be booting a VM; shim daemon log:\n"
                    + h.daemonLog(20));
            assertEquals(1, h.daemonTasks(), "a create in flight counts as a task of the daemon");
            // Ctrl-C, as a user at the terminal
            Process kill = new ProcessBuilder("kill", "-INT", Long.toString(ctr.pid())).start();
            assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -INT " + ctr.pid());
            assertTrue(ctr.waitFor(30, TimeUnit.SECONDS), "ctr did not exit on SIGINT");
        } finally {
            ctr.destroyForcibly();
        }
        // the create ends (after the boot), finds containerd gone, and releases its VM
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while ((!h.qemuProcesses().isEmpty() || h.daemonTasks() != 0) && System.nanoTime() < until) {
            Thread.sleep(200);
        }
        assertEquals(List.of(), h.qemuProcesses(), "shim daemon log:\n" + h.daemonLog(20));
        assertEquals(0, h.daemonTasks(), "shim daemon log:\n" + h.daemonLog(20));
        assertEquals(List.of(), h.taskFiles());
        assertEquals(List.of(), h.mounts());
        assertTrue(h.taskStatus("int-1").isEmpty(), "containerd still has the task");
        h.remove("int-1"); // ctr run --rm, interrupted, leaves the container record (with runc too)

        PrivateContainerd.Result r = h.ctr(null, Duration.ofMinutes(5), "run", "--rm", "--runtime",
                ShimHarness.RUNTIME, ShimHarness.IMAGE, "int-2", "echo", "next");
        assertEquals("next\n", r.stdout(), r.stderr());
        assertEquals(0, r.exitCode());
    }
}
