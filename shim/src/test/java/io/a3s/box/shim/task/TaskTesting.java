package io.a3s.box.shim.task;

import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;

import java.io.FileInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Helpers shared by the task tests: FIFOs, polling with a deadline, status assertions, fd counting. */
final class TaskTesting {
    /** How long anything that should happen "at once" may take. */
    static final Duration PROMPT = Duration.ofSeconds(5);

    private TaskTesting() {
    }

    /** A code that throws a {@link StatusException}. */
    @FunctionalInterface
    interface Call {
        void run() throws Exception;
    }

    /** Asserts that {@code call} fails with {@code code} and a message containing every one of {@code parts}. */
    static StatusException assertStatus(Code code, Call call, String... parts) {
        StatusException e = assertThrows(StatusException.class, call::run);
        assertEquals(code, e.code(), () -> "wrong code: " + e.getMessage());
        String message = e.status().description();
        for (String part : parts) {
            assertTrue(message != null && message.contains(part),
                    () -> "message \"" + message + "\" should name \"" + part + "\"");
        }
        return e;
    }

    /** Polls until {@code condition} holds, failing after {@link #PROMPT}. */
    static void eventually(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + PROMPT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("not within " + PROMPT + ": " + what);
            }
            try {
                Thread.sleep(2);     // poll interval, not synchronization
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted");
            }
        }
    }

    static Path mkfifo(Path path) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("mkfifo", path.toString()).inheritIO().start();
        assertEquals(0, p.waitFor(), "mkfifo " + path);
        return path;
    }

    /** Open descriptors of this JVM. */
    static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    /**
     * Reads a FIFO to EOF. Open it while the shim holds its end (after Create or Exec, before the process can
     * finish): the open then does not block, and it is done here, on the caller's thread, because a reader
     * that opened only after the shim closed its end would lose the output and wait forever. Reads on a
     * platform thread: a virtual thread blocked in file I/O would hold a carrier.
     */
    static final class FifoReader {
        final CompletableFuture<byte[]> eof = new CompletableFuture<>();

        private FifoReader(Path fifo) throws IOException {
            InputStream in = new FileInputStream(fifo.toFile());
            Thread.ofPlatform().daemon().name("fifo-reader-" + fifo.getFileName()).start(() -> {
                try (in) {
                    eof.complete(in.readAllBytes());
                } catch (Exception e) {
                    eof.completeExceptionally(e);
                }
            });
        }

        static FifoReader open(Path fifo) throws IOException {
            return new FifoReader(fifo);
        }

        /** Everything read, once the writer closed its end. */
        String text() throws Exception {
            return new String(eof.get(PROMPT.toMillis(), TimeUnit.MILLISECONDS), StandardCharsets.UTF_8);
        }
    }
}
