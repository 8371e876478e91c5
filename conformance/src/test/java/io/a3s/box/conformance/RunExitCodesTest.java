package io.a3s.box.conformance;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ctr run --rm}: the container's stdout and stderr reach ctr's, and ctr exits with the container's
 * exit status, 128 + the signal for a signal death, as with runc.
 */
class RunExitCodesTest extends ConformanceTest {
    @Test
    void stdoutAndStderrReachCtrSeparatelyAndTheExitCodeIsThatOfTheProcess() throws Exception {
        PrivateContainerd.Result r = h.run(List.of(), "codes7", "sh", "-c", "echo out; echo err >&2; exit 7");
        assertEquals("out\n", r.stdout(), r.stderr());
        assertEquals("err\n", r.stderr());
        assertEquals(7, r.exitCode());
    }

    @Test
    void exitCodesZeroOneAndTwoHundredFiftyFiveComeBackUnchanged() throws Exception {
        for (int code : new int[] {0, 1, 255}) {
            PrivateContainerd.Result r = h.run(List.of(), "codes" + code, "sh", "-c", "exit " + code);
            assertEquals(code, r.exitCode(), () -> "exit " + code + ": " + r.stderr());
        }
    }

    @Test
    void aProcessKilledBySignalNineIs137() throws Exception {
        // the container's init dies of SIGKILL sent from outside its pid namespace (ctr task kill)
        Process run = new ProcessBuilder(h.ctrCommand(ShimHarness.runArgs(ShimHarness.IMAGE, List.of(), "sig9",
                "sleep", "600"))).start();
        try {
            h.awaitStatus("sig9", "RUNNING", ShimHarness.CTR_LIMIT);
            assertEquals(0, h.ctr("task", "kill", "-s", "KILL", "sig9").exitCode());
            assertTrue(run.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "ctr run did not return");
            assertEquals(137, run.exitValue(), new String(run.getErrorStream().readAllBytes()));
        } finally {
            run.destroyForcibly();
        }
    }

    @Test
    void aChildKilledBySignalIsSeenAs128PlusTheSignal() throws Exception {
        PrivateContainerd.Result r = h.run(List.of(), "sigchild", "sh", "-c",
                "sh -c 'kill -9 $$'; echo $?; sh -c 'kill -TERM $$'; echo $?");
        assertEquals("137\n143\n", r.stdout(), r.stderr());
        assertEquals(0, r.exitCode());
    }

    @Test
    void killMinusNineOfItselfIsIgnoredByTheInitAsWithRunc() throws Exception {
        // sh is pid 1 of the container's pid namespace: the kernel drops signals it sends itself without a
        // handler, SIGKILL included (runc on the same containerd: exit 0, "survived")
        PrivateContainerd.Result r = h.run(List.of(), "selfkill", "sh", "-c", "kill -9 $$; echo survived");
        assertEquals("survived\n", r.stdout(), r.stderr());
        assertEquals(0, r.exitCode());
    }

    @Test
    void theOomKillerEndingTheInitIs137AndPublishesTaskOom() throws Exception {
        // CRI reports OOMKilled only from a /tasks/oom event (Kata's runtime#2150, CRI-O's #4203)
        try (PrivateContainerd.Events events = h.containerd.events()) {
            // One read of 64 MiB into one buffer: the allocation the cgroup cannot hold comes at once. (A shell
            // growing a string through a pipe got there too, but slowly enough under TCG on a loaded host that
            // reclaim of the rootfs's page cache kept it alive past the ctr limit in one CI run.)
            PrivateContainerd.Result r = h.run(List.of("--memory-limit", Long.toString(32L << 20)), "oom", "sh",
                    "-c", "exec dd if=/dev/zero of=/dev/null bs=64M count=1");
            assertEquals("", r.stdout(), r.stderr());
            assertEquals(137, r.exitCode(), r.stderr());
            assertNotNull(events.await(Duration.ofSeconds(10), "/tasks/oom", "\"oom\""),
                    "no /tasks/oom for the container; containerd log:\n" + h.containerd.log());
        }
    }

    @Test
    void withNullIoALargeOutputGoesNowhereAndTheProcessEnds() throws Exception {
        // ctr run --null-io: containerd hands the shim empty stdio paths, and runc's shim gives the process
        // /dev/null. A pipe in the guest that nobody reads stopped the process at 1 MiB, for ever.
        PrivateContainerd.Result r = h.ctr(null, Duration.ofSeconds(120), ShimHarness.runArgs(ShimHarness.IMAGE,
                List.of("--null-io"), "nullio", "sh", "-c", "head -c 8388608 /dev/zero; echo err >&2; exit 4"));
        assertEquals("", r.stdout(), r.stderr());
        assertEquals(4, r.exitCode(), r.stderr());
    }

    @Test
    void aLargeOutputArrivesWholeBeforeCtrExits() throws Exception {
        // 4 MiB through the guest, the shim and the FIFO: nothing truncated at the exit
        PrivateContainerd.Result r = h.ctr(null, Duration.ofSeconds(300), ShimHarness.runArgs(ShimHarness.IMAGE,
                List.of(), "bigout", "sh", "-c", "head -c 4194304 /dev/zero | tr '\\0' x; exit 3"));
        assertEquals(4 << 20, r.stdout().length(), r.stderr());
        assertTrue(r.stdout().chars().allMatch(c -> c == 'x'));
        assertEquals(3, r.exitCode());
    }
}
