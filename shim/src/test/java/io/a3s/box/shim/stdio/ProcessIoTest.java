package io.a3s.box.shim.stdio;

import com.google.protobuf.ByteString;
import io.a3s.box.guest.v1.ReadOutputResponse;
import io.a3s.box.guest.v1.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(30)
class ProcessIoTest {
    @TempDir
    Path dir;

    /** A guest whose process writes until {@link #stop} and never reads its stdin. */
    static final class Endless implements GuestStreams {
        final AtomicInteger reads = new AtomicInteger();
        volatile boolean stop;

        @Override
        public ReadOutputResponse read(Stream stream, int maxBytes) {
            reads.incrementAndGet();
            if (stop) {
                return ReadOutputResponse.newBuilder().setEof(true).build();
            }
            return ReadOutputResponse.newBuilder().setData(ByteString.copyFrom(new byte[128 * 1024])).build();
        }

        @Override
        public void write(byte[] data) {
        }

        @Override
        public void closeStdin() {
        }
    }

    @Test
    void copiersBlockedOnFifosDoNotStallTheDaemonsVirtualThreads() throws Exception {
        // A client that keeps stdin open and does not read stdout (ctr run -i, then idle) blocks both copiers
        // in the kernel. With more such processes than CPUs, the daemon's virtual threads must still run.
        int n = Runtime.getRuntime().availableProcessors() + 1;
        List<ProcessIo> ios = new ArrayList<>();
        List<Endless> guests = new ArrayList<>();
        List<InputStream> readers = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                Path in = mkfifo(dir.resolve("in" + i));
                Path out = mkfifo(dir.resolve("out" + i));
                Endless guest = new Endless();
                ProcessIo io = ProcessIo.open("task t" + i, new StdioPaths(in.toString(), out.toString(), "", false),
                        guest);
                ios.add(io);
                guests.add(guest);
                // opened now, while the copier holds its end; read only at the end, so the pipe fills
                readers.add(new FileInputStream(out.toFile()));
                io.start();
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            for (Endless g : guests) {
                // a read returned 128 KiB: the copier is writing them into a pipe that holds 64 KiB, and blocks
                while (g.reads.get() < 1) {
                    assertTrue(System.nanoTime() < deadline, "a copier never ran: the blocked ones hold every carrier");
                    Thread.sleep(2);
                }
            }
            CompletableFuture<String> ran = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> ran.complete("ran"));
            assertEquals("ran", ran.get(3, TimeUnit.SECONDS), "a virtual thread could not run");
        } finally {
            // Unblock every copier from outside first, so that a failure here cannot hang the JVM: stdin sees
            // EOF once no writer is left, stdout ends once its FIFO is drained.
            guests.forEach(g -> g.stop = true);
            ios.forEach(ProcessIo::closeStdin);
            List<Thread> drains = new ArrayList<>();
            for (InputStream in : readers) {
                drains.add(Thread.ofPlatform().daemon().start(() -> {
                    try (in) {
                        in.readAllBytes();
                    } catch (Exception ignored) {
                        // cleanup only
                    }
                }));
            }
            for (Thread t : drains) {
                t.join(5000);
            }
            ios.forEach(ProcessIo::close);
        }
    }

    /** A guest whose process wrote {@code bytes} and exited. */
    static final class Wrote implements GuestStreams {
        private final byte[] data;
        private boolean sent;

        Wrote(int bytes) {
            data = new byte[bytes];
        }

        @Override
        public synchronized ReadOutputResponse read(Stream stream, int maxBytes) {
            if (sent) {
                return ReadOutputResponse.newBuilder().setEof(true).build();
            }
            sent = true;
            return ReadOutputResponse.newBuilder().setData(ByteString.copyFrom(data)).build();
        }

        @Override
        public void write(byte[] data) {
        }

        @Override
        public void closeStdin() {
        }
    }

    @Test
    void outputIsDoneOnlyOnceTheFifoReaderTookItAll() throws Exception {
        // containerd 1.6 closes its end of the FIFO as soon as it hears of the exit: what it has not read by then
        // is lost (the tail of a CRI log). So the output, and with it the exit, waits for a reader that reads.
        int bytes = 48 * 1024; // fits in the pipe: the copier has written it all long before the reader reads
        Path out = mkfifo(dir.resolve("out"));
        ProcessIo io = ProcessIo.open("task slow-reader", new StdioPaths("", out.toString(), "", false),
                new Wrote(bytes));
        try (FileInputStream reader = new FileInputStream(out.toFile())) {
            // a dependent future, not a field: get() on outputDone may return before its dependents have run
            CompletableFuture<Long> doneAt = io.outputDone().thenApply(v -> System.nanoTime());
            io.start();
            Thread.sleep(200); // the reader is late, but well within the stall bound
            byte[] buf = new byte[4096];
            int total = 0;
            long lastDataReadStarted = 0;
            while (true) {
                long started = System.nanoTime();
                int n = reader.read(buf);
                if (n < 0) {
                    break;
                }
                total += n;
                lastDataReadStarted = started;
                Thread.sleep(20); // a slow reader, still making progress
            }
            assertEquals(bytes, total);
            long done = doneAt.get(5, TimeUnit.SECONDS);
            assertTrue(done >= lastDataReadStarted,
                    "the output was done " + (lastDataReadStarted - done) / 1_000_000
                            + " ms before the reader asked for its last bytes");
        } finally {
            io.close();
        }
    }

    @Test
    void withoutAReaderTheOutputIsDoneAfterAShortStall() throws Exception {
        // ctr run -d: once ctr exits nobody reads the FIFO, and the exit must not wait for anyone
        Path out = mkfifo(dir.resolve("out"));
        ProcessIo io = ProcessIo.open("task no-reader", new StdioPaths("", out.toString(), "", false),
                new Wrote(1024));
        try {
            long t0 = System.nanoTime();
            io.start();
            io.outputDone().get(ProcessIo.READER_STALL.toMillis() + 2000, TimeUnit.MILLISECONDS);
            assertTrue(System.nanoTime() - t0 < ProcessIo.READER_STALL.toNanos() + 2_000_000_000L);
        } finally {
            io.close();
        }
    }

    static Path mkfifo(Path path) throws Exception {
        assertEquals(0, new ProcessBuilder("mkfifo", path.toString()).inheritIO().start().waitFor());
        return path;
    }
}
