package io.a3s.box.conformance;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ctr run -d}, then the {@code ctr task} commands on the running task: ls, ps, pause/resume, metrics,
 * exec, kill, delete.
 */
class DetachedTaskTest extends ConformanceTest {
    @Test
    void lsShowsADetachedTaskRunningWithAPidThatNamesNoHostProcess() throws Exception {
        h.runDetached("d-ls", "sleep", "600");
        try {
            String[] row = h.taskRow("d-ls").orElseThrow();
            assertEquals("RUNNING", row[2]);
            // the process is in the VM: its pid is reported above every pid the host can have, so that a host
            // tool acting on it (kill, nsenter -t) finds nothing rather than some other process
            long pidMax = Long.parseLong(Files.readString(Path.of("/proc/sys/kernel/pid_max")).strip());
            assertTrue(Long.parseLong(row[1]) >= pidMax, "pid " + row[1] + ", pid_max " + pidMax);
            assertTrue(Files.notExists(Path.of("/proc", row[1])), "pid " + row[1]);
        } finally {
            h.remove("d-ls");
        }
    }

    @Test
    void psListsTheInitAndEachExecWithItsExecId() throws Exception {
        h.runDetached("d-ps", "sleep", "600");
        Process exec = new ProcessBuilder(h.ctrCommand("task", "exec", "--exec-id", "bg", "d-ps", "sleep", "600"))
                .start();
        try {
            String ps = "";
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!ps.contains("bg") && System.nanoTime() < deadline) {
                Thread.sleep(200);
                ps = h.ctr("task", "ps", "d-ps").stdout();
            }
            List<String[]> rows = ps.lines().skip(1).map(l -> l.trim().split("\\s+", 2)).toList();
            assertEquals(2, rows.size(), ps);
            String initPid = h.taskRow("d-ps").orElseThrow()[1];
            assertEquals(initPid, rows.get(0)[0], ps);
            // ctr 1.x prints the ProcessDetails Go-style (ExecID:bg), 2.x in protobuf text (exec_id:"bg")
            assertTrue(rows.get(1)[1].matches(".*(ExecID:bg|exec_id:\"bg\").*"), ps);
        } finally {
            exec.destroyForcibly();
            h.remove("d-ps");
        }
    }

    @Test
    void pauseShowsPausedAndFreezesTheTaskAndResumeRunsItAgain() throws Exception {
        h.runDetached("d-pause", "sh", "-c", "while true; do :; done");
        try {
            assertEquals(0, h.ctr("task", "pause", "d-pause").exitCode());
            assertEquals("PAUSED", h.taskStatus("d-pause").orElseThrow());
            long frozen1 = cpuUsage("d-pause");
            Thread.sleep(1000);
            long frozen2 = cpuUsage("d-pause");
            assertEquals(frozen1, frozen2, "the busy loop used CPU while paused");
            assertEquals(0, h.ctr("task", "resume", "d-pause").exitCode());
            assertEquals("RUNNING", h.taskStatus("d-pause").orElseThrow());
            Thread.sleep(1000);
            assertTrue(cpuUsage("d-pause") > frozen2, "the busy loop does not run after resume");
        } finally {
            h.remove("d-pause");
        }
    }

    private Map<String, String> metrics(String id) throws Exception {
        PrivateContainerd.Result r = h.ctr("task", "metrics", id);
        assertEquals(0, r.exitCode(), r.stderr());
        return r.stdout().lines().map(l -> l.trim().split("\\s+")).filter(c -> c.length == 2)
                .collect(Collectors.toMap(c -> c[0], c -> c[1], (a, b) -> a));
    }

    /** Waits (60 s at most) until {@code path} exists in task {@code id}, asking an exec. */
    private void awaitFile(String id, String path) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (h.ctr("task", "exec", "--exec-id", "await-file", id, "test", "-e", path).exitCode() != 0) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(path + " never appeared in task " + id);
            }
            Thread.sleep(200);
        }
    }

    private long cpuUsage(String id) throws Exception {
        return Long.parseLong(metrics(id).get("cpu.usage_usec"));
    }

    @Test
    void metricsPrintsTheCgroupV2FiguresOfTheTask() throws Exception {
        h.runDetached("d-metrics", "sh", "-c", "x=$(head -c 3000000 /dev/zero | tr '\\0' m); sleep 600");
        try {
            // until the shell holds its 3 MB (a few seconds under TCG on a loaded host)
            Map<String, String> values = metrics("d-metrics");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (Long.parseLong(values.getOrDefault("memory.usage", "0")) <= 1_000_000
                    && System.nanoTime() < deadline) {
                Thread.sleep(200);
                values = metrics("d-metrics");
            }
            assertTrue(Long.parseLong(values.getOrDefault("pids.current", "0")) >= 1, values.toString());
            assertTrue(Long.parseLong(values.getOrDefault("cpu.usage_usec", "0")) > 0, values.toString());
            assertTrue(Long.parseLong(values.getOrDefault("memory.usage", "0")) > 1_000_000, values.toString());
        } finally {
            h.remove("d-metrics");
        }
    }

    @Test
    void execPrintsItsOutputAndExitsWithItsCode() throws Exception {
        h.runDetached("d-exec", "sleep", "600");
        try {
            PrivateContainerd.Result r = h.ctr("task", "exec", "--exec-id", "e1", "d-exec", "sh", "-c",
                    "echo out; echo err >&2; exit 5");
            assertEquals("out\n", r.stdout());
            assertEquals("err\n", r.stderr());
            assertEquals(5, r.exitCode());
            // the exec id is free again once that exec was deleted
            PrivateContainerd.Result again = h.ctr("task", "exec", "--exec-id", "e1", "d-exec", "echo", "again");
            assertEquals("again\n", again.stdout(), again.stderr());
        } finally {
            h.remove("d-exec");
        }
    }

    @Test
    void anExecSilentForLongerThanAnyCallDeadlineStillGetsItsOutputThrough() throws Exception {
        // Kata #5249: kubectl exec hung once its command had been silent for 30 s (a receive timeout on the
        // runtime's connection to its agent). The shim's guest calls have 30 s deadlines; a stream has none.
        h.runDetached("d-quiet", "sleep", "600");
        try {
            PrivateContainerd.Result r = h.ctr("task", "exec", "--exec-id", "quiet", "d-quiet", "sh", "-c",
                    "echo early; sleep 35; echo late; exit 3");
            assertEquals("early\nlate\n", r.stdout(), r.stderr());
            assertEquals(3, r.exitCode());
        } finally {
            h.remove("d-quiet");
        }
    }

    @Test
    void execOfAMissingBinaryFailsAtOnceAndTheTaskGoesOn() throws Exception {
        // Kata #8026: crictl/kubectl exec of a command that does not exist hangs for 60 s there
        h.runDetached("d-nobin", "sleep", "600");
        try {
            long t0 = System.nanoTime();
            PrivateContainerd.Result r = h.ctr("task", "exec", "--exec-id", "nobin", "d-nobin", "/no/such/binary");
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(r.exitCode() != 0, r.stdout() + r.stderr());
            assertTrue(r.stderr().contains("/no/such/binary") && r.stderr().toLowerCase().contains("no such file"),
                    r.stderr());
            assertTrue(ms < 10_000, "the failed exec took " + ms + " ms");
            assertEquals("RUNNING", h.taskStatus("d-nobin").orElseThrow());
            // the failed exec left nothing behind: its id is free and another exec runs
            PrivateContainerd.Result again = h.ctr("task", "exec", "--exec-id", "nobin", "d-nobin", "echo", "ok");
            assertEquals("ok\n", again.stdout(), again.stderr());
        } finally {
            h.remove("d-nobin");
        }
    }

    @Test
    void aTaskWhoseOutputNobodyReadsBlocksNeitherItsExecsNorOtherTasks() throws Exception {
        // nerdctl#5137, firecracker-containerd#427: a reader that stops must stall that one stream, nothing else.
        // ctr run -d leaves no reader on the FIFO: 8 MiB of output fill it, the copier and the guest's pipe, and
        // head blocks; /flood-done would say it got through.
        h.runDetached("d-flood", "sh", "-c", "head -c 8388608 /dev/zero; touch /flood-done; sleep 600");
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (h.exec("d-flood", "pidof", "head").exitCode() != 0) {
                assertTrue(System.nanoTime() < deadline, "head never ran");
                Thread.sleep(200);
            }
            PrivateContainerd.Result exec = h.ctr("task", "exec", "--exec-id", "e1", "d-flood", "echo", "exec");
            assertEquals("exec\n", exec.stdout(), exec.stderr());
            PrivateContainerd.Result other = h.run(List.of(), "d-flood-other", "echo", "other");
            assertEquals("other\n", other.stdout(), other.stderr());
            assertEquals("RUNNING", h.taskStatus("d-flood").orElseThrow());
            // the stream was stalled all along: what the test did happened while head was blocked
            assertEquals(0, h.exec("d-flood", "pidof", "head").exitCode(), "head finished: nothing was blocked");
            assertTrue(h.exec("d-flood", "test", "-e", "/flood-done").exitCode() != 0, "the output got through");
            long t0 = System.nanoTime();
            h.remove("d-flood"); // kill, then a delete whose stdio drain is bounded
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(ms < 30_000, "removing the task took " + ms + " ms");
            assertTrue(h.taskStatus("d-flood").isEmpty(), "the task is still listed");
        } finally {
            h.remove("d-flood");
        }
    }

    @Test
    void killStopsTheTaskAndDeleteReportsItsExitStatus() throws Exception {
        h.runDetached("d-kill", "sleep", "600");
        assertEquals(0, h.ctr("task", "kill", "-s", "KILL", "d-kill").exitCode());
        h.awaitStatus("d-kill", "STOPPED", Duration.ofSeconds(30));
        PrivateContainerd.Result rm = h.ctr("task", "delete", "d-kill");
        assertEquals(0, rm.exitCode(), rm.stderr());
        assertTrue(rm.stderr().contains("exit code 137"), rm.stderr());
        assertTrue(h.taskStatus("d-kill").isEmpty());
        assertEquals(0, h.ctr("container", "rm", "d-kill").exitCode());
    }

    @Test
    void killWithTermReachesAnInitThatHandlesIt() throws Exception {
        h.runDetached("d-term", "sh", "-c", "trap 'exit 42' TERM; touch /trap-set; while true; do sleep 0.2; done");
        awaitFile("d-term", "/trap-set"); // a TERM before the trap would end it with 143
        assertEquals(0, h.ctr("task", "kill", "d-term").exitCode()); // SIGTERM
        h.awaitStatus("d-term", "STOPPED", Duration.ofSeconds(30));
        PrivateContainerd.Result rm = h.ctr("task", "delete", "d-term");
        assertTrue(rm.stderr().contains("exit code 42"), rm.stderr());
        assertEquals(0, h.ctr("container", "rm", "d-term").exitCode());
    }
}
