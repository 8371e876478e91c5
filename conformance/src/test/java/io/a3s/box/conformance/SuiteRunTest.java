package io.a3s.box.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How a failure's own lines are picked out of a {@code go test -v} log (no peers: the parsing alone). */
class SuiteRunTest {

    @Test
    void aFailedTestsLinesAreItsIndentedOnesUnderItsHeadersOnly() {
        List<String> log = List.of(
                "=== RUN   TestA",
                "=== PAUSE TestA",
                "=== RUN   TestB",
                "    b_test.go:10: B's own line",
                "time=\"2026-12-06T04:20:33Z\" level=info msg=\"the daemon's, not indented\"",
                "=== CONT  TestA",
                "    a_test.go:5: first",
                "        more of it",
                "--- PASS: TestB (0.01s)",
                "=== CONT  TestA",
                "    a_test.go:7: second",
                "--- FAIL: TestA (1.00s)",
                "=== RUN   TestAB",
                "    ab_test.go:1: a test whose name starts with TestA",
                "--- FAIL: TestAB (0.00s)");
        assertEquals(List.of("a_test.go:5: first", "more of it", "a_test.go:7: second"),
                SuiteRun.failureLines(log, "TestA"));
    }

    @Test
    void subtestsCountAsTheTestsAndNameThemselves() {
        List<String> log = List.of(
                "=== RUN   TestS",
                "=== RUN   TestS/hostpid",
                "    s_test.go:65: ",
                "        \tError:      \tReceived unexpected error:",
                "=== RUN   TestS/podpid",
                "--- FAIL: TestS (186.03s)",
                "    --- FAIL: TestS/hostpid (180.00s)",
                "    --- PASS: TestS/podpid (1.00s)");
        assertEquals(List.of("s_test.go:65:", "Error:      \tReceived unexpected error:",
                "--- FAIL: TestS/hostpid (180.00s)"), SuiteRun.failureLines(log, "TestS"));
    }

    @Test
    void atMostWhyLines() {
        List<String> log = new java.util.ArrayList<>(List.of("=== RUN   TestL"));
        for (int i = 0; i < 50; i++) {
            log.add("    l_test.go:" + i + ": line");
        }
        assertEquals(SuiteRun.WHY_LINES, SuiteRun.failureLines(log, "TestL").size());
    }

    @TempDir
    Path dir;

    /** A stand-in for a suite script: the full run fails TestF (flaky) and TestB; alone, TestB fails again. */
    Path script() throws Exception {
        Path script = dir.resolve("suite");
        Files.writeString(script, """
                #!/bin/sh
                echo "$@" >> "$(dirname "$0")/calls"
                case "$*" in
                  *-t*) printf '%s\\n' 'PASS TestF a3s' 'FAIL TestB a3s' ;;
                  *) printf '%s\\n' 'PASS TestF runc' 'PASS TestB runc' 'PASS TestK runc' 'FAIL TestF a3s' \\
                       'FAIL TestB a3s' 'FAIL TestK a3s' ;;
                esac
                printf '%s\\n' '=== RUN   TestB' '    b_test.go:1: broken' > "$(dirname "$0")/a3s.log"
                """);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        return script;
    }

    @Test
    void unexpectedFailuresAreRunAgainAloneAndOnlyThoseThatFailAgainCount() throws Exception {
        Path script = script();
        SuiteRun run = SuiteRun.of(script, Duration.ofSeconds(20), dir, "runc", "a3s", "-r", "runc", "-r", "a3s");
        List<String> wrong = run.wrongAfterRetry(Map.of("TestK", "known"), script, Duration.ofSeconds(20));
        assertEquals(1, wrong.size(), String.valueOf(wrong));
        assertEquals("TestB failed with a3s-box\n      b_test.go:1: broken\n  ...and again when run alone (FAIL)"
                + "\n      b_test.go:1: broken", wrong.getFirst());
        assertEquals(List.of("-r runc -r a3s", "--no-setup -r a3s -t ^(TestB|TestF)$"),
                Files.readAllLines(dir.resolve("calls")));
    }

    @Test
    void noRetryWhenRuncFailedToo() throws Exception {
        Path script = dir.resolve("suite");
        Files.writeString(script, "#!/bin/sh\necho x >> \"$(dirname \"$0\")/calls\"\n"
                + "printf '%s\\n' 'FAIL TestF runc' 'FAIL TestF a3s'\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        SuiteRun run = SuiteRun.of(script, Duration.ofSeconds(20), dir, "runc", "a3s");
        assertEquals(2, run.wrongAfterRetry(Map.of(), script, Duration.ofSeconds(20)).size());
        assertEquals(1, Files.readAllLines(dir.resolve("calls")).size());
    }
}
