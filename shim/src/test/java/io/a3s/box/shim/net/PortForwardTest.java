package io.a3s.box.shim.net;

import io.a3s.box.shim.sys.Linux;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PortForwardTest {
    @Test
    void aConnectionCaughtAfterTheVmIsGoneIsClosedNotLeaked() throws Exception {
        int fd = Linux.eventfd(); // stands in for the caught connection: only its closing matters here
        Path proc = Path.of("/proc/self/fd/" + fd);
        assertTrue(Files.exists(proc));
        PortForward.bridge("vm-gone", () -> {
            throw new IllegalStateException("vm vm-gone has exited");
        }, fd, 8080);
        assertFalse(Files.exists(proc), "the caught connection's fd is closed");
    }
}
