package io.a3s.box.spec.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.a3s.box.spec.Fixtures;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class RoundTripTest {
    private static final ObjectMapper PLAIN = new ObjectMapper();

    static List<String> containerConfigs() {
        return Fixtures.containerConfigs();
    }

    static List<String> execProcesses() {
        return Fixtures.execProcesses();
    }

    @Test
    void fixturesCoverTheContainerdFlagsTheIssueNames() {
        List<String> names = Fixtures.all();
        for (String expected : List.of("oci-spec-default", "default", "env", "cwd", "user", "tty", "mount",
                "memory-limit", "cpus", "privileged", "seccomp", "read-only", "net-host", "exec-plain")) {
            assertTrue(names.contains(expected), "missing fixture " + expected);
        }
    }

    @ParameterizedTest
    @MethodSource("containerConfigs")
    void specRoundTripIsLossless(String name) throws Exception {
        byte[] original = Fixtures.bytes(name);
        Spec parsed = OciJson.parseSpec(original);
        String written = OciJson.write(parsed);
        assertEquals(parsed, OciJson.parseSpec(written.getBytes(StandardCharsets.UTF_8)));
        // Equal as JSON trees too: nothing containerd wrote is lost or invented.
        assertEquals(PLAIN.readTree(original), PLAIN.readTree(written));
    }

    @ParameterizedTest
    @MethodSource("execProcesses")
    void processRoundTripIsLossless(String name) throws Exception {
        byte[] original = Fixtures.bytes(name);
        Process parsed = OciJson.parseProcess(original);
        String written = OciJson.write(parsed);
        assertEquals(parsed, OciJson.parseProcess(written.getBytes(StandardCharsets.UTF_8)));
        assertEquals(PLAIN.readTree(original), PLAIN.readTree(written));
    }

    @Test
    void unknownFieldsAreKeptAtEveryLevel() throws Exception {
        String json = """
                {"ociVersion":"1.2.0","future":{"nested":[1,2,{"x":null}]},
                 "process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0,"newUserField":"v"},
                            "execCPUAffinity":{"initial":"0"}},
                 "root":{"path":"rootfs"},
                 "linux":{"netDevices":{"eth1":{"name":"eth1"}},
                          "resources":{"memory":{"limit":1,"newKnob":true}}},
                 "windows":{"layerFolders":[]}}
                """;
        Spec spec = OciJson.parseSpec(json.getBytes(StandardCharsets.UTF_8));
        assertEquals(List.of("future", "windows"), List.copyOf(spec.extra().keySet()));
        assertEquals("v", spec.process().user().extra().get("newUserField").asText());
        assertTrue(spec.process().extra().containsKey("execCPUAffinity"));
        assertTrue(spec.linux().extra().containsKey("netDevices"));
        assertTrue(spec.linux().resources().memory().extra().get("newKnob").asBoolean());
        String written = OciJson.write(spec);
        assertEquals(PLAIN.readTree(json), PLAIN.readTree(written));
        assertEquals(spec, OciJson.parseSpec(written.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void absentAndEmptyStayDistinct() throws Exception {
        Spec spec = OciJson.parseSpec("""
                {"ociVersion":"1.0.2","mounts":[],"process":{"args":["a"],"cwd":"/","user":{"uid":0,"gid":0}}}
                """.getBytes(StandardCharsets.UTF_8));
        assertEquals(List.of(), spec.mounts());
        assertEquals(null, spec.annotations());
        JsonNode written = PLAIN.readTree(OciJson.write(spec));
        assertTrue(written.has("mounts"));
        assertFalse(written.has("annotations"));
    }

    @Test
    void modelIsImmutable() throws Exception {
        Spec spec = Fixtures.spec("mount");
        org.junit.jupiter.api.Assertions.assertThrows(UnsupportedOperationException.class,
                () -> spec.mounts().clear());
        org.junit.jupiter.api.Assertions.assertThrows(UnsupportedOperationException.class,
                () -> spec.process().env().add("X=1"));
    }

    @Test
    void uint64ValuesBeyondLongSurvive() throws Exception {
        String json = """
                {"ociVersion":"1.0.2","root":{"path":"r"},
                 "process":{"args":["a"],"cwd":"/","user":{"uid":0,"gid":0},
                            "rlimits":[{"type":"RLIMIT_CORE","soft":18446744073709551615,"hard":18446744073709551615}]}}
                """;
        Spec spec = OciJson.parseSpec(json.getBytes(StandardCharsets.UTF_8));
        assertEquals("18446744073709551615", spec.process().rlimits().getFirst().hard().toString());
        assertEquals(PLAIN.readTree(json), PLAIN.readTree(OciJson.write(spec)));
    }
}
