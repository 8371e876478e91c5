package io.a3s.box.shim.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.a3s.box.spec.guest.HostHooks;
import io.a3s.box.spec.oci.Hook;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Host hooks with real processes: the holder in a new network namespace, the state, failures and deadlines. */
class ContainerHooksTest {
    private static final List<String> ENV = List.of("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
    @TempDir
    Path dir;

    private static Hook sh(String script, Long timeout) {
        return new Hook("/bin/sh", List.of("sh", "-c", script), ENV, timeout, Map.of());
    }

    private HostHooks hooks(List<Hook> create, List<Hook> poststop) {
        return new HostHooks(List.of(), create, List.of(), poststop, Map.of("io.x/k", "v"));
    }

    @Test
    void aContainerWithoutHostHooksGetsNoHolder() throws Exception {
        assertSame(ContainerHooks.NONE, ContainerHooks.prepare("c", dir, HostHooks.NONE,
                new ContainerHooks.Netns.Fresh()));
        ContainerHooks.NONE.close(); // and closing it does nothing
    }

    @Test
    void hooksReadTheStateOfAHolderInANewNetworkNamespaceWhichGoesAtClose() throws Exception {
        Path out = dir.resolve("state.json");
        Path stopped = dir.resolve("stopped.json");
        ContainerHooks h = ContainerHooks.prepare("c1", dir, hooks(
                List.of(sh("cat > " + out + "; pwd > " + dir.resolve("cwd") + "; env > " + dir.resolve("env"), null)),
                List.of(sh("cat > " + stopped, null))), new ContainerHooks.Netns.Fresh());
        long pid = h.pid();
        try {
            assertNotEquals(Files.readSymbolicLink(Path.of("/proc/self/ns/net")),
                    Files.readSymbolicLink(Path.of(h.netnsPath())), "a namespace of its own");
            h.runCreate();
            JsonNode state = new ObjectMapper().readTree(out.toFile());
            assertEquals("c1", state.get("id").asText());
            assertEquals("creating", state.get("status").asText());
            assertEquals(pid, state.get("pid").asLong());
            assertEquals(dir.toString(), state.get("bundle").asText());
            assertEquals("v", state.get("annotations").get("io.x/k").asText());
            assertEquals(dir.toString(), Files.readString(dir.resolve("cwd")).strip(), "runs in the bundle");
            assertFalse(Files.readString(dir.resolve("env")).contains("JAVA_HOME"), "exactly the hook's env");
        } finally {
            h.close();
        }
        assertEquals("stopped", new ObjectMapper().readTree(stopped.toFile()).get("status").asText());
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "the holder is gone");
    }

    @Test
    void aFailingHookFailsTheCreateWithItsStatusAndOutput() throws Exception {
        try (ContainerHooks h = ContainerHooks.prepare("c2", dir, hooks(List.of(sh("echo no luck >&2; exit 4", null),
                sh("touch " + dir.resolve("second"), null)), List.of()), new ContainerHooks.Netns.Host())) {
            StatusException e = assertThrows(StatusException.class, h::runCreate);
            assertEquals(Code.FAILED_PRECONDITION, e.code());
            assertEquals("task c2: hooks.createRuntime[0] (/bin/sh) exited with status 4: no luck",
                    e.status().description());
            assertFalse(Files.exists(dir.resolve("second")), "the hooks after a failed one do not run");
        }
    }

    @Test
    void aHookPastItsTimeoutIsKilledAndFailsTheCreate() throws Exception {
        try (ContainerHooks h = ContainerHooks.prepare("c3", dir, hooks(List.of(sh("sleep 30", 1L)), List.of()),
                new ContainerHooks.Netns.Host())) {
            long t0 = System.nanoTime();
            StatusException e = assertThrows(StatusException.class, h::runCreate);
            assertEquals(Code.DEADLINE_EXCEEDED, e.code());
            assertTrue(e.status().description().contains("did not finish within 1 s; killed"), e.toString());
            assertTrue(System.nanoTime() - t0 < 10_000_000_000L);
        }
    }

    @Test
    void aHookThatDoesNotExistIsNamed() throws Exception {
        try (ContainerHooks h = ContainerHooks.prepare("c4", dir, hooks(List.of(new Hook("/no/such/hook", List.of(),
                ENV, null, Map.of())), List.of()), new ContainerHooks.Netns.Host())) {
            StatusException e = assertThrows(StatusException.class, h::runCreate);
            assertTrue(e.status().description().startsWith("task c4: hooks.createRuntime[0] (/no/such/hook): cannot"
                    + " run:"), e.toString());
        }
    }

    @Test
    void aNamespaceThatDoesNotExistFailsThePrepareClearly() {
        StatusException e = assertThrows(StatusException.class, () -> ContainerHooks.prepare("c5", dir,
                hooks(List.of(sh("true", null)), List.of()), new ContainerHooks.Netns.Join("/no/such/netns")));
        assertTrue(e.status().description().contains("did not start: nsenter"), e.toString());
    }
}
