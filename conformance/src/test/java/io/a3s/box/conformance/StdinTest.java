package io.a3s.box.conformance;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * stdin piped into {@code ctr run} and {@code ctr task exec}: it arrives whole, and its end ends the
 * process's input. ctr sends no CloseIO when its input ends before the task exists, which is what
 * {@code echo x | ctr run ... cat} does: runc's shim and firecracker-containerd (#775) hang there.
 */
class StdinTest extends ConformanceTest {
    static final Duration LIMIT = ShimHarness.CTR_LIMIT;
    @Test
    void echoPipedIntoCtrRunCatIsPrintedAndCatExits() throws Exception {
        PrivateContainerd.Result r = h.ctr("x\n".getBytes(StandardCharsets.UTF_8), LIMIT,
                ShimHarness.runArgs(ShimHarness.IMAGE, List.of(), "stdin-cat", "cat"));
        assertEquals("x\n", r.stdout(), r.stderr());
        assertEquals(0, r.exitCode());
    }

    @Test
    void aMebibyteOfStdinArrivesIntact() throws Exception {
        byte[] data = new byte[1 << 20];
        new Random(7).nextBytes(data);
        String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        PrivateContainerd.Result r = h.ctr(data, LIMIT,
                ShimHarness.runArgs(ShimHarness.IMAGE, List.of(), "stdin-big", "sh", "-c", "sha256sum; wc -c"));
        assertEquals(expected + "  -\n0\n", r.stdout(), r.stderr());
        assertEquals(0, r.exitCode());
    }

    @Test
    void echoPipedIntoCtrTaskExecCatIsPrintedAndTheExecExits() throws Exception {
        h.runDetached("stdin-exec", "sleep", "600");
        try {
            PrivateContainerd.Result r = h.ctr("123\n".getBytes(StandardCharsets.UTF_8), LIMIT, "task", "exec",
                    "--exec-id", "e1", "stdin-exec", "cat");
            assertEquals("123\n", r.stdout(), r.stderr());
            assertEquals(0, r.exitCode());
        } finally {
            h.remove("stdin-exec");
        }
    }

    @Test
    void ctrTaskAttachTalksToADetachedTaskThroughItsFifos() throws Exception {
        // containerd's TestContainerAttach: a second client opens the FIFOs the task's State names
        PrivateContainerd.Result run = h.ctr(new byte[0], LIMIT, "run", "-d", "--runtime", ShimHarness.RUNTIME,
                ShimHarness.IMAGE, "stdin-attach", "sh", "-c", "while read l; do echo got $l; done; echo bye");
        try {
            assertEquals(0, run.exitCode(), run.stderr());
            PrivateContainerd.Result r = h.ctr("hi\n".getBytes(StandardCharsets.UTF_8), LIMIT, "task", "attach",
                    "stdin-attach");
            // the attach's input ended after it sent something: the task's stdin ends, as with ctr run
            assertEquals("got hi\nbye\n", r.stdout(), r.stderr());
            assertEquals(0, r.exitCode(), r.stderr());
        } finally {
            h.remove("stdin-attach");
        }
    }

    @Test
    void aDetachedShellKeepsRunningAfterCtrExitsWithoutInput() throws Exception {
        // ctr run -d opens the stdin FIFO, sends nothing and exits: as with runc, sh must not see EOF
        PrivateContainerd.Result r = h.ctr(new byte[0], LIMIT, "run", "-d", "--runtime", ShimHarness.RUNTIME,
                ShimHarness.IMAGE, "stdin-detached", "sh");
        try {
            assertEquals(0, r.exitCode(), r.stderr());
            Thread.sleep(2000);
            assertEquals("RUNNING", h.taskStatus("stdin-detached").orElse("not listed"));
        } finally {
            h.remove("stdin-detached");
        }
    }
}
