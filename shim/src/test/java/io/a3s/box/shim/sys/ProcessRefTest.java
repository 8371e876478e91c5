package io.a3s.box.shim.sys;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** pidfd-based watching of processes that are not (or are) children of this JVM. */
class ProcessRefTest {
    @Test
    void onExitCompletesWithinMillisecondsOfADeath() throws Exception {
        Process p = new ProcessBuilder("sleep", "60").start();
        try (ProcessRef ref = ProcessRef.open(p.pid())) {
            assertTrue(ref.isAlive());
            assertFalse(ref.onExit().isDone());
            long t0 = System.nanoTime();
            ref.signal(Linux.SIGKILL);
            ref.onExit().get(2, TimeUnit.SECONDS);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms < 1000, "noticed after " + ms + " ms");
            assertFalse(ref.isAlive());
            ref.signal(Linux.SIGKILL);    // signalling a dead process is not an error
        } finally {
            p.waitFor();
        }
    }

    @Test
    void manyWatchedProcessesEachCompleteOnTheirOwn() throws Exception {
        Process a = new ProcessBuilder("sleep", "60").start();
        Process b = new ProcessBuilder("sleep", "0.2").start();
        try (ProcessRef ra = ProcessRef.open(a.pid()); ProcessRef rb = ProcessRef.open(b.pid())) {
            assertTrue(rb.awaitExit(Duration.ofSeconds(5)));
            assertFalse(ra.onExit().isDone());
            a.destroyForcibly();
            assertTrue(ra.awaitExit(Duration.ofSeconds(5)));
        }
    }

    @Test
    void aMissingProcessIsEsrch() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        Linux.ErrnoException e = assertThrows(Linux.ErrnoException.class, () -> ProcessRef.open(p.pid()));
        assertEquals(Linux.ESRCH, e.errno());
    }

    @Test
    void aClosedReferenceRefusesSignals() throws Exception {
        Process p = new ProcessBuilder("sleep", "60").start();
        try {
            ProcessRef ref = ProcessRef.open(p.pid());
            ref.close();
            ref.close();
            assertThrows(Linux.ErrnoException.class, () -> ref.signal(Linux.SIGTERM));
            assertTrue(p.isAlive());
        } finally {
            p.destroyForcibly();
            p.waitFor();
        }
    }
}
