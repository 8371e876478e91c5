package io.a3s.box.conformance;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * What the conformance classes share: one {@link ShimHarness} per class (a private containerd, the shim's state
 * tree, the busybox image), and after every test the check that it left nothing behind.
 */
@Timeout(600)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ConformanceTest {
    ShimHarness h;

    /** The harness of this class: the default pool and configuration unless a class needs others. */
    ShimHarness newHarness() throws Exception {
        return new ShimHarness();
    }

    @BeforeAll
    void startHarness() throws Exception {
        h = newHarness();
    }

    @AfterAll
    void stopHarness() throws Exception {
        if (h != null) {
            h.close();
        }
    }

    @AfterEach
    void nothingLeft() throws Exception {
        h.assertNothingLeft();
    }
}
