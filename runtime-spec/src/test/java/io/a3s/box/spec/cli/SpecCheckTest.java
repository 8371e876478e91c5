package io.a3s.box.spec.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.a3s.box.spec.Fixtures;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpecCheckTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return SpecCheck.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void acceptsEveryRunnableFixtureAndPrintsTheGuestSpec() throws Exception {
        for (String name : Fixtures.runnable()) {
            out.reset();
            err.reset();
            assertEquals(SpecCheck.OK, run("check", Fixtures.dir().resolve(name + ".json").toString()), () -> err());
            JsonNode json = new ObjectMapper().readTree(out());
            assertEquals("spec-check", json.get("containerId").asText());
            assertTrue(json.get("process").get("args").size() > 0);
        }
    }

    @Test
    void bundleDirectoryAndId(@TempDir Path bundle) throws Exception {
        Files.write(bundle.resolve("config.json"), Fixtures.bytes("mount"));
        assertEquals(SpecCheck.OK, run("check", "--id", "web-1", bundle.toString()));
        JsonNode json = new ObjectMapper().readTree(out());
        assertEquals("/run/a3s/share/web-1/rootfs", json.get("root").get("path").asText());
        assertEquals(bundle.resolve("rootfs").toString(), json.get("shares").get(0).get("hostPath").asText());
        assertEquals("", err());
    }

    @Test
    void warningsGoToStderr() {
        assertEquals(SpecCheck.OK, run("check", Fixtures.dir().resolve("net-host.json").toString()));
        assertTrue(err().startsWith("warning: linux.namespaces: no network namespace"), err());
    }

    @Test
    void errorsOnePerLineWithStatus1(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("config.json");
        Files.writeString(config, """
                {"ociVersion":"1.0.2","root":{"path":"rootfs"},
                 "process":{"args":["sh"],"cwd":"tmp","user":{"uid":0,"gid":0},
                            "rlimits":[{"type":"RLIMIT_NOFILE","soft":2048,"hard":1024}]}}
                """);
        assertEquals(SpecCheck.INVALID, run("check", config.toString()));
        assertEquals("process.cwd: \"tmp\" is not an absolute path\n"
                + "process.rlimits[0]: soft 2048 exceeds hard 1024\n", err());
        assertEquals("", out());
    }

    @Test
    void execProcess() throws Exception {
        assertEquals(SpecCheck.OK, run("check", "--process",
                Fixtures.dir().resolve("exec-cwd-user.json").toString()));
        assertEquals("/tmp", new ObjectMapper().readTree(out()).get("cwd").asText());
    }

    @Test
    void usageAndIoErrorsExit2(@TempDir Path dir) {
        assertEquals(SpecCheck.USAGE, run());
        assertEquals(SpecCheck.USAGE, run("verify", "x"));
        assertEquals(SpecCheck.USAGE, run("check"));
        assertEquals(SpecCheck.USAGE, run("check", "a", "b"));
        assertEquals(SpecCheck.USAGE, run("check", "--id"));
        assertEquals(SpecCheck.USAGE, run("check", "--bogus", "x"));
        assertEquals(SpecCheck.USAGE, run("check", "--id", "../x", Fixtures.dir().resolve("default.json").toString()));
        err.reset();
        assertEquals(SpecCheck.USAGE, run("check", dir.resolve("missing.json").toString()));
        assertTrue(err().contains("no such file"), err());
        assertEquals(SpecCheck.OK, run("check", "--help"));
    }
}
