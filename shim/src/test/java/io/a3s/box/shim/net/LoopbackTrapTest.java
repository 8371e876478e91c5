package io.a3s.box.shim.net;

import io.a3s.box.shim.sys.Linux;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link LoopbackTrap} in a real network namespace with real iptables: connections made to 127.0.0.1 there, as
 * containerd's PortForward makes them, reach the handler with their port; closing leaves the namespace as it was.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class LoopbackTrapTest {
    private static final String NS = "a3s-trap-" + ProcessHandle.current().pid();
    private static final String NETNS = "/run/netns/" + NS;

    @BeforeAll
    static void namespace() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root (network namespaces, iptables)");
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/iptables")), "needs iptables");
        run("ip", "netns", "add", NS);
        run("ip", "-n", NS, "link", "set", "lo", "up");
    }

    @AfterAll
    static void removeNamespace() throws Exception {
        if (Files.exists(Path.of(NETNS))) {
            run("ip", "netns", "del", NS);
        }
    }

    /** What {@code busybox nc 127.0.0.1 PORT} prints, run in the namespace. */
    private static String dial(int port) throws Exception {
        return run("ip", "netns", "exec", NS, "busybox", "nc", "-w", "5", "127.0.0.1", Integer.toString(port));
    }

    @Test
    void connectionsTo127001InTheNamespaceReachTheHandlerWithTheirPort() throws Exception {
        try (LoopbackTrap trap = LoopbackTrap.open(NETNS, (fd, port) -> {
            try {
                Linux.writeAll(fd, ("caught " + port + "\n").getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new AssertionError(e);
            } finally {
                Linux.close(fd);
            }
        })) {
            assertEquals("caught 8080\n", dial(8080));
            assertEquals("caught 4242\n", dial(4242));
            assertNotEquals(8080, trap.port());
            assertTrue(run("ip", "netns", "exec", NS, "iptables", "-t", "nat", "-S", "OUTPUT")
                    .contains("--to-ports " + trap.port()));
        }
        // closed: the rule is gone, and nothing answers any more
        assertFalse(run("ip", "netns", "exec", NS, "iptables", "-t", "nat", "-S", "OUTPUT").contains("REDIRECT"));
        assertEquals("", dialQuietly(8080));
    }

    @Test
    void aNamespaceThatDoesNotExistFailsNamingIt() {
        IOException e = assertThrows(IOException.class, () -> LoopbackTrap.open("/run/netns/a3s-no-such-ns",
                (fd, port) -> Linux.close(fd)));
        assertTrue(e.getMessage().contains("/run/netns/a3s-no-such-ns"), e.getMessage());
    }

    private static String dialQuietly(int port) throws Exception {
        Process p = new ProcessBuilder("ip", "netns", "exec", NS, "busybox", "nc", "-w", "5", "127.0.0.1",
                Integer.toString(port)).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        assertNotEquals(0, p.exitValue(), "a connection to 127.0.0.1:" + port + " was accepted: " + out);
        return out;
    }

    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(List.of(cmd)).redirectInput(ProcessBuilder.Redirect.from(
                new java.io.File("/dev/null"))).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), String.join(" ", cmd) + ": no end");
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
        return out;
    }
}
