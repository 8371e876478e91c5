package io.a3s.box.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

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
}
