package io.a3s.box.conformance;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Ten {@code ctr run --rm} at once: each gets its own VM, its own output and its own exit code. */
@Timeout(900)
class ParallelRunTest extends ConformanceTest {
    static final int N = 10;
    /**
     * Ten VMs at once on two TCG cores: more boots in flight than the default two, and a lease wait long
     * enough for the last of them (each boot takes 5 to 15 s here).
     */
    static final String CONFIG = """
            [pool]
            size = 2
            max_concurrent_boots = 4
            lease_wait = "5m"
            """;

    @Override
    ShimHarness newHarness() throws Exception {
        return new ShimHarness(CONFIG, 2);
    }

    @Test
    void tenContainersStartedAtOnceAllSucceedWithTheirOwnOutput() throws Exception {
        List<CompletableFuture<PrivateContainerd.Result>> runs = new ArrayList<>();
        ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
        for (int i = 0; i < N; i++) {
            String id = "par" + i;
            int code = 10 + i;
            runs.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return h.ctr(null, Duration.ofSeconds(600), ShimHarness.runArgs(ShimHarness.IMAGE, List.of(), id,
                            "sh", "-c", "echo hello from $(hostname); exit " + code));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }, threads));
        }
        threads.close();
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < N; i++) {
            PrivateContainerd.Result r = runs.get(i).join();
            if (!r.stdout().equals("hello from par" + i + "\n") || r.exitCode() != 10 + i) {
                failures.add("par" + i + ": exit " + r.exitCode() + ", stdout [" + r.stdout() + "], stderr ["
                        + r.stderr() + "]");
            }
        }
        assertEquals(List.of(), failures);
        h.assertNothingLeft();
    }
}
