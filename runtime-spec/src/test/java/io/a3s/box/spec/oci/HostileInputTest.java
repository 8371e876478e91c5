package io.a3s.box.spec.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.a3s.box.spec.Limits;
import io.a3s.box.spec.SpecError;
import io.a3s.box.spec.SpecException;
import io.a3s.box.spec.guest.SpecMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Broken and hostile documents: each must give a clear, located error, never an exception of another type and
 * never an OutOfMemoryError (these run with surefire's default heap).
 */
class HostileInputTest {
    private static final String HEAD = "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},";

    private static List<SpecError> errors(String json) {
        return errors(json.getBytes(StandardCharsets.UTF_8));
    }

    private static List<SpecError> errors(byte[] json) {
        return assertThrows(SpecException.class, () -> OciJson.parseSpec(json)).errors();
    }

    private static String only(List<SpecError> errors) {
        assertEquals(1, errors.size(), () -> "expected one error, got " + errors);
        return errors.getFirst().toString();
    }

    /** A syntactically valid config with an env array of {@code entries} entries. */
    private static byte[] envOf(int entries) {
        StringBuilder json = new StringBuilder(HEAD).append("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",")
                .append("\"user\":{\"uid\":0,\"gid\":0},\"env\":[");
        for (int i = 0; i < entries; i++) {
            json.append(i == 0 ? "" : ",").append("\"V").append(i).append("=1\"");
        }
        return json.append("]}}").toString().getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void tenMebibyteConfigIsRefusedBeforeParsing() {
        byte[] big = new byte[10 * 1024 * 1024];
        java.util.Arrays.fill(big, (byte) ' ');
        assertEquals("$: the document is 10485760 bytes, more than the 4194304 allowed", only(errors(big)));
    }

    @Test
    void tenMebibyteFileIsRefusedWithoutReadingIt(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("config.json");
        try (var channel = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            channel.write(java.nio.ByteBuffer.wrap(new byte[] {' '}), 10L * 1024 * 1024 - 1); // sparse
        }
        SpecException e = assertThrows(SpecException.class, () -> OciJson.readSpec(dir));
        assertEquals("$: the document is 10485760 bytes, more than the 4194304 allowed", only(e.errors()));
    }

    @Test
    void twoMillionEnvEntriesAreRefusedBySize() {
        byte[] json = envOf(2_000_000);
        assertTrue(json.length > Limits.MAX_DOCUMENT_BYTES);
        assertTrue(only(errors(json)).startsWith("$: the document is "));
    }

    @Test
    void theLargestEnvThatFitsIsParsedWithinTheDefaultHeap() throws Exception {
        // About 400,000 entries fit in the document limit: the parser must cope with all of them.
        int entries = 340_000;
        byte[] json = envOf(entries);
        assertTrue(json.length <= Limits.MAX_DOCUMENT_BYTES, "test document too big: " + json.length);
        Spec spec = OciJson.parseSpec(json);
        assertEquals(entries, spec.process().env().size());
        SpecMapper.map("c1", Path.of("/b"), spec); // and the mapping, too
    }

    @Test
    void deepNestingIsRefused() {
        String deep = "[".repeat(100_000) + "]".repeat(100_000);
        String error = only(errors(HEAD + "\"x\":" + deep + "}"));
        assertTrue(error.contains("nesting depth") && error.contains("exceeds the maximum allowed (64"), error);
        assertTrue(error.startsWith("x["), error);
    }

    @Test
    void deepNestingOfAKnownFieldIsRefused() {
        String error = only(errors("{\"linux\":{\"resources\":{\"memory\":" + "{\"a\":".repeat(200) + "1"
                + "}".repeat(200) + "}}}"));
        assertTrue(error.startsWith("linux.resources.memory.a.a.a"), error);
    }

    @Test
    void absurdNumbersAreRefused() {
        String error = only(errors(HEAD + "\"linux\":{\"resources\":{\"memory\":{\"limit\":" + "9".repeat(5000)
                + "}}}}"));
        assertTrue(error.startsWith("linux.resources.memory.limit: invalid JSON: Number value length"), error);
        assertEquals("linux.resources.memory.limit: 99999999999999999999 is out of range",
                only(errors(HEAD + "\"linux\":{\"resources\":{\"memory\":{\"limit\":99999999999999999999}}}}")));
    }

    @Test
    void hugeStringIsRefusedBySize() {
        String error = only(errors(HEAD + "\"hostname\":\"" + "h".repeat(5 * 1024 * 1024) + "\"}"));
        assertTrue(error.startsWith("$: the document is "), error);
    }

    @Test
    void wrongTypesAreAllReportedWithTheirPaths() {
        List<SpecError> errors = errors("""
                {"ociVersion": 1,
                 "process": {"args": "sh -c true", "terminal": "yes", "user": {"uid": "0", "gid": 1.5},
                             "env": ["A=1", null, 7], "rlimits": {"type": "RLIMIT_NOFILE"}},
                 "root": [],
                 "mounts": [{"destination": "/x", "options": "ro"}],
                 "annotations": {"a": 1},
                 "linux": {"sysctl": {"net.ipv4.ip_forward": 1}, "resources": {"cpu": {"shares": "1024"}}}}
                """);
        assertEquals(List.of(
                "ociVersion: expected a string, got the integer 1",
                "process.args: expected an array, got a string",
                "process.terminal: expected true or false, got a string",
                "process.user.uid: expected an integer, got a string",
                "process.user.gid: expected an integer, got the number 1.5",
                "process.env[1]: null is not allowed here",
                "process.env[2]: expected a string, got the integer 7",
                "process.rlimits: expected an array, got an object",
                "root: expected an object, got an array",
                "mounts[0].options: expected an array, got a string",
                "annotations.a: expected a string, got the integer 1",
                "linux.sysctl[\"net.ipv4.ip_forward\"]: expected a string, got the integer 1",
                "linux.resources.cpu.shares: expected an integer, got a string"),
                errors.stream().map(SpecError::toString).toList());
    }

    @Test
    void truncatedJsonIsRefusedWithItsLocation() {
        String error = only(errors(HEAD + "\"process\":{\"args\":[\"sh\""));
        assertTrue(error.startsWith("process.args[0]: invalid JSON: Unexpected end-of-input"), error);
        assertTrue(error.contains("line 1"), error);
    }

    @Test
    void nonObjectRootsAreRefused() {
        assertEquals("$: expected an object, got an array", only(errors("[]")));
        assertEquals("$: expected an object, got a string", only(errors("\"config\"")));
        assertEquals("$: expected an object, got the integer 42", only(errors("42")));
        assertEquals("$: expected an object, got null", only(errors("null")));
        assertEquals("$: the document is empty", only(errors("")));
        assertEquals("$: the document is empty", only(errors("   \n")));
    }

    @Test
    void notQuiteJsonIsRefused() {
        assertTrue(only(errors("{\"ociVersion\":\"1.0.2\"} {}")).contains("invalid JSON: Trailing token"));
        assertTrue(only(errors("{\"hostname\":\"a\",\"hostname\":\"b\"}")).startsWith(
                "hostname: invalid JSON: Duplicate field 'hostname'"));
        assertTrue(only(errors("{\"linux\":{\"resources\":{\"memory\":{\"limit\":NaN}}}}")).startsWith(
                "linux.resources.memory.limit: invalid JSON"));
        assertTrue(only(errors("{'ociVersion':'1'}")).contains("invalid JSON"));
        assertTrue(only(errors(new byte[] {'{', '"', (byte) 0xff, '"', ':', '1', '}'})).contains("invalid JSON"));
    }

    @Test
    void aFieldNamedExtraIsJustAnUnknownField() throws Exception {
        Spec spec = OciJson.parseSpec((HEAD + "\"extra\":{\"a\":1}}").getBytes(StandardCharsets.UTF_8));
        assertEquals(1, spec.extra().get("extra").get("a").asInt());
    }

    @Test
    void theNameJacksonUsesForUnknownFieldsIsRefused() {
        assertEquals("process[\"\0a3s-box-unknown-fields\"]: this field name is reserved",
                only(errors("{\"process\":{\"\\u0000a3s-box-unknown-fields\":{}}}")));
    }

    @Test
    void execProcessLimitsApplyToo() {
        SpecException e = assertThrows(SpecException.class,
                () -> OciJson.parseProcess("{\"args\":[1]}".getBytes(StandardCharsets.UTF_8)));
        assertEquals("args[0]: expected a string, got the integer 1", only(e.errors()));
    }

    @Test
    void missingFileIsAnIoErrorNotASpecError(@TempDir Path dir) {
        assertThrows(java.nio.file.NoSuchFileException.class, () -> OciJson.readSpec(dir));
        assertThrows(java.nio.file.NoSuchFileException.class, () -> OciJson.readSpec(dir.resolve("x.json")));
    }

    @Test
    void readsABundleDirectory(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("config.json"), io.a3s.box.spec.Fixtures.bytes("default"));
        assertEquals(io.a3s.box.spec.Fixtures.spec("default"), OciJson.readSpec(dir));
    }
}
