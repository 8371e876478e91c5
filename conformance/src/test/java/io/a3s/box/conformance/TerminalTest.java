package io.a3s.box.conformance;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ctr run -t} and {@code ctr task exec -t}: the process gets a terminal of ctr's terminal size, and
 * what is typed on ctr's terminal reaches it. ctr's terminal is a pty from util-linux {@code script}, driven
 * by the test.
 */
class TerminalTest extends ConformanceTest {
    static final Duration BOOT = ShimHarness.CTR_LIMIT;
    @Test
    void runDashTGivesATerminalOfCtrsSize() throws Exception {
        // ctr sends the first ResizePty after Start (cmd/ctr run.go: Start, then HandleConsoleResize), with runc
        // too: the size lands a moment after the process runs; wait for it rather than race it (seen once in CI)
        try (ShimHarness.Terminal t = h.terminal(91, 37, ShimHarness.runArgs(ShimHarness.IMAGE, List.of("-t"),
                "tty-size", "sh", "-c", "tty; for i in $(seq 50); do s=$(stty size 2>/dev/null); case $s in [1-9]*)"
                        + " break;; esac; sleep 0.1; done; echo \"$s\"; [ -t 0 ] && echo stdin-is-a-tty; exit 4"))) {
            assertEquals(4, t.exitCode(BOOT));
            assertTrue(t.screen().contains("/dev/console\n"), t.screen());
            assertTrue(t.screen().contains("37 91\n"), t.screen());
            assertTrue(t.screen().contains("stdin-is-a-tty\n"), t.screen());
        }
    }

    @Test
    void whatIsTypedReachesAShellOnTheTerminalAndItsExitCodeComesBack() throws Exception {
        try (ShimHarness.Terminal t = h.terminal(80, 24, ShimHarness.runArgs(ShimHarness.IMAGE, List.of("-t"),
                "tty-typing", "sh"))) {
            t.await("# ", BOOT);
            t.type("echo typed-$((6*7))\n");
            t.await("typed-42\n", Duration.ofSeconds(30));
            t.type("exit 3\n");
            assertEquals(3, t.exitCode(Duration.ofSeconds(60)));
        }
    }

    @Test
    void execDashTGivesTheExecATerminalOfTheContainersOwn() throws Exception {
        h.runDetached("tty-exec", "sleep", "600");
        try {
            // ctr 1.6 starts an exec before its first ResizePty (as it does ctr run -t): the size lands a
            // moment after the process runs, as with runc; wait for it rather than race it
            try (ShimHarness.Terminal t = h.terminal(77, 22, "task", "exec", "-t", "--exec-id", "x1", "tty-exec", "sh",
                    "-c", "tty; for i in $(seq 50); do s=$(stty size 2>/dev/null); case $s in [1-9]*) break;; esac;"
                            + " sleep 0.1; done; echo \"$s\"; exit 6")) {
                assertEquals(6, t.exitCode(Duration.ofSeconds(60)));
                assertTrue(t.screen().matches("(?s).*/dev/pts/[0-9]+\n.*"), "tty: " + t.screen());
                assertTrue(t.screen().contains("22 77\n"), t.screen());
            }
            try (ShimHarness.Terminal t = h.terminal(80, 24, "task", "exec", "-t", "--exec-id", "x2", "tty-exec",
                    "sh")) {
                t.await("# ", Duration.ofSeconds(60));
                t.type("echo exec-typed-$((2+3))\n");
                t.await("exec-typed-5\n", Duration.ofSeconds(30));
                t.type("exit\n");
                assertEquals(0, t.exitCode(Duration.ofSeconds(60)));
            }
        } finally {
            h.remove("tty-exec");
        }
    }
}
