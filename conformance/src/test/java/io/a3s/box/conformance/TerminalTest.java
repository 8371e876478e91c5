package io.a3s.box.conformance;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ctr run -t} and {@code ctr task exec -t}: the process gets a terminal of ctr's terminal size, and
 * what is typed on ctr's terminal reaches it. ctr's terminal is a pty from util-linux {@code script}, driven
 * by the test.
 */
@Timeout(600)
class TerminalTest {
    static final Duration BOOT = ShimHarness.CTR_LIMIT;
    static ShimHarness h;

    @BeforeAll
    static void start() throws Exception {
        h = new ShimHarness();
    }

    @AfterAll
    static void stop() throws Exception {
        if (h != null) {
            h.close();
        }
    }

    @AfterEach
    void nothingLeft() throws Exception {
        h.assertNothingLeft();
    }

    @Test
    void runDashTGivesATerminalOfCtrsSize() throws Exception {
        try (ShimHarness.Terminal t = h.terminal(91, 37, ShimHarness.runArgs(ShimHarness.IMAGE, List.of("-t"),
                "tty-size", "sh", "-c", "tty; stty size; [ -t 0 ] && echo stdin-is-a-tty; exit 4"))) {
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
            try (ShimHarness.Terminal t = h.terminal(77, 22, "task", "exec", "-t", "--exec-id", "x1", "tty-exec", "sh",
                    "-c", "tty; stty size; exit 6")) {
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
