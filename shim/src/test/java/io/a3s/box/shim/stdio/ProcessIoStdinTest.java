package io.a3s.box.shim.stdio;

import io.a3s.box.guest.v1.ReadOutputResponse;
import io.a3s.box.guest.v1.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * When stdin ends. containerd's clients close their end of the stdin FIFO when their input ends, but ctr
 * sends CloseIO only if that happens after the task exists: {@code echo x | ctr run ... cat} closes at once
 * and never sends it. Stdin must end then, and yet not end when a detached ctr exits without having sent
 * anything ({@code ctr run -d IMAGE ID sh}), as with runc.
 */
@Timeout(30)
class ProcessIoStdinTest {
    @TempDir
    Path dir;

    /** The guest end of a process that has no output and records its stdin. */
    static final class Recorder implements GuestStreams {
        final ByteArrayOutputStream stdin = new ByteArrayOutputStream();
        final CompletableFuture<String> closed = new CompletableFuture<>();

        @Override
        public ReadOutputResponse read(Stream stream, int maxBytes) {
            return ReadOutputResponse.newBuilder().setEof(true).build();
        }

        @Override
        public synchronized void write(byte[] data) {
            stdin.writeBytes(data);
        }

        @Override
        public synchronized void closeStdin() {
            closed.complete(stdin.toString(StandardCharsets.UTF_8));
        }
    }

    private ProcessIo open(Path in, Recorder guest) throws Exception {
        ProcessIo io = ProcessIo.open("task t", new StdioPaths(in.toString(), "", "", false), guest);
        io.start();
        return io;
    }

    private static void write(Path fifo, String text) throws Exception {
        try (OutputStream w = new FileOutputStream(fifo.toFile())) {
            w.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    @Test
    void stdinEndsWhenTheClientClosesItsEndAfterSendingDataWithoutCloseIo() throws Exception {
        Path in = ProcessIoTest.mkfifo(dir.resolve("in"));
        Recorder guest = new Recorder();
        try (ProcessIo io = open(in, guest)) {
            write(in, "x\n");
            assertEquals("x\n", guest.closed.get(5, TimeUnit.SECONDS));
        }
    }

    @Test
    void aMebibyteOfStdinArrivesWholeBeforeTheEnd() throws Exception {
        Path in = ProcessIoTest.mkfifo(dir.resolve("in"));
        Recorder guest = new Recorder();
        String big = "0123456789abcdef".repeat(64 * 1024);
        try (ProcessIo io = open(in, guest)) {
            write(in, big);
            assertEquals(big, guest.closed.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void aClientThatClosesWithoutSendingAnythingLeavesStdinOpenUntilCloseIo() throws Exception {
        // ctr run -d IMAGE ID sh: ctr opens the FIFO, sends nothing, and exits; sh must keep running
        Path in = ProcessIoTest.mkfifo(dir.resolve("in"));
        Recorder guest = new Recorder();
        try (ProcessIo io = open(in, guest)) {
            write(in, "");
            Thread.sleep(300);
            assertFalse(guest.closed.isDone(), "stdin ended although the client sent nothing");
            write(in, "later\n"); // a second client (an attach) is heard
            assertEquals("later\n", guest.closed.get(5, TimeUnit.SECONDS));
        }
    }

    @Test
    void closeIoEndsStdinWhenNoClientEverOpenedIt() throws Exception {
        Path in = ProcessIoTest.mkfifo(dir.resolve("in"));
        Recorder guest = new Recorder();
        try (ProcessIo io = open(in, guest)) {
            Thread.sleep(100);
            io.closeStdin();
            assertEquals("", guest.closed.get(5, TimeUnit.SECONDS));
        }
    }

    @Test
    void closeIoWhileTheClientStillHasItsEndOpenEndsStdinAtItsEofWithNothingLost() throws Exception {
        Path in = ProcessIoTest.mkfifo(dir.resolve("in"));
        Recorder guest = new Recorder();
        try (ProcessIo io = open(in, guest); OutputStream w = new FileOutputStream(in.toFile())) {
            w.write("a".getBytes(StandardCharsets.UTF_8));
            w.flush();
            io.closeStdin();
            Thread.sleep(200);
            assertFalse(guest.closed.isDone(), "stdin ended while the client still had its end open");
            w.write("b".getBytes(StandardCharsets.UTF_8));
            w.close();
            assertEquals("ab", guest.closed.get(5, TimeUnit.SECONDS));
        }
    }

    @Test
    void closeStopsACopierThatWaitsForAWriter() throws Exception {
        Path in = ProcessIoTest.mkfifo(dir.resolve("in"));
        Recorder guest = new Recorder();
        ProcessIo io = open(in, guest);
        Thread.sleep(100);
        io.close();
        awaitNoThread("stdin-task t");
        assertFalse(guest.closed.isDone(), "a deleted process's stdin is not closed in the guest");
    }

    @Test
    void closeStopsACopierWaitingForAWriterAfterTheClientRemovedTheFifo() throws Exception {
        // ctr run --rm with its stdin at EOF: ctr closes its end having sent nothing, then removes the FIFO;
        // the copier waits for the next writer on a name that is gone. Delete must still end it.
        Path in = ProcessIoTest.mkfifo(dir.resolve("in"));
        Recorder guest = new Recorder();
        ProcessIo io = open(in, guest);
        write(in, "");
        Thread.sleep(200);
        java.nio.file.Files.delete(in);
        io.close();
        awaitNoThread("stdin-task t");
        assertFalse(guest.closed.isDone(), "a deleted process's stdin is not closed in the guest");
    }

    @Test
    void aProcessNeverStartedLeavesNoHandle() throws Exception {
        Path in = ProcessIoTest.mkfifo(dir.resolve("in"));
        ProcessIo io = ProcessIo.open("task t", new StdioPaths(in.toString(), "", "", false), new Recorder());
        assertEquals(1, fdsOn(in), "the O_PATH handle on stdin");
        io.close();
        assertEquals(0, fdsOn(in));
    }

    /** How many of this process's fds refer to {@code file}. */
    private static long fdsOn(Path file) throws Exception {
        try (var fds = java.nio.file.Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return java.nio.file.Files.readSymbolicLink(fd).equals(file);
                } catch (java.io.IOException e) {
                    return false; // closed meanwhile
                }
            }).count();
        }
    }

    private static void awaitNoThread(String name) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals(name))) {
            assertTrue(System.nanoTime() < deadline, "the stdin copier is still there after close");
            Thread.sleep(10);
        }
    }
}
