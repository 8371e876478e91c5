package io.a3s.box.conformance;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ctr run --runtime io.a3s.box} against a real containerd: the product, end to end, with the
 * container in a microVM leased from the warm pool.
 */
class CtrRunTest extends ConformanceTest {
    @Test
    void outputAndExitCode() throws Exception {
        PrivateContainerd.Result r = h.run(List.of(), "hello", "sh", "-c", "echo hi; exit 7");
        assertEquals("hi\n", r.stdout(), () -> "stderr: " + r.stderr() + "\ncontainerd:\n" + h.containerd.log());
        assertEquals(7, r.exitCode(), r.stderr());
    }

    @Test
    void envAndCwdAreHonoured() throws Exception {
        PrivateContainerd.Result r = h.run(List.of("--env", "GREETING=bonjour", "--cwd", "/tmp"),
                "envcwd", "sh", "-c", "echo $GREETING; pwd");
        assertEquals("bonjour\n/tmp\n", r.stdout(), r.stderr());
        assertEquals(0, r.exitCode());
    }

    @Test
    void imageUserIsHonoured() throws Exception {
        PrivateContainerd.Result r = h.runImage(ShimHarness.IMAGE_APP_USER, List.of(), "user", "sh", "-c",
                "id -u; id -g");
        assertEquals("1000\n1000\n", r.stdout(), r.stderr());
        assertEquals(0, r.exitCode());
    }

    @Test
    void missingBinaryFailsClearly() throws Exception {
        PrivateContainerd.Result r = h.run(List.of(), "nobin", "/no/such/binary");
        assertTrue(r.exitCode() != 0);
        assertTrue(r.stderr().contains("no such file") || r.stderr().contains("No such file"), r.stderr());
    }
}
