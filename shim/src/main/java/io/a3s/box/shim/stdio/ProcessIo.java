package io.a3s.box.shim.stdio;

import io.a3s.box.guest.v1.ReadOutputResponse;
import io.a3s.box.guest.v1.Stream;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Copies one process's stdio between the host ends containerd gave (FIFOs, files) and the guest.
 *
 * <ul>
 *   <li>Output: one virtual thread per stream pulls from the guest and writes to the host end; at the
 *       guest's EOF it waits, on a FIFO, until the reader has taken all that was written (for as long as it keeps
 *       taking), then closes the host end, so the reader (ctr, CRI) sees EOF. containerd 1.6 closes its end as
 *       soon as it handles the exit, and what is still in the pipe then is lost. A host reader that stops
 *       reading blocks only this copier, which stops pulling, which back-pressures only this process in the
 *       guest: never another stream, container or the control channel.</li>
 *   <li>FIFOs are opened read-write, as containerd's shims do: open() never blocks, and a reader that goes
 *       away (containerd restarting) does not make writes fail.</li>
 *   <li>Input: the copier opens the stdin FIFO read-only, which waits for a writer, and copies until every
 *       writer closed its end. It opens it through an {@code O_PATH} handle taken at creation
 *       ({@code /proc/self/fd/N}), so that {@link #close} can always release a copier waiting for a writer,
 *       even after the client removed the FIFO (ctr does, right after the exit): by name, that copier would
 *       wait forever, one thread per container run. Stdin then ends (the process's stdin is closed in the guest) if the client
 *       sent data before closing, or if CloseIO came; otherwise the copier waits for the next writer.
 *       So {@code echo x | ctr run ... cat} ends although ctr sends no CloseIO when its stdin ends before
 *       the task exists (runc's shim hangs there, as firecracker-containerd does in its #775), and
 *       {@code ctr run -d IMAGE ID sh} keeps running after ctr exits, as with runc. {@link #closeStdin}
 *       (containerd's CloseIO) ends stdin once the client's end is closed and drained, at once if no client
 *       has it open.</li>
 *   <li>With a terminal, all output comes on the guest's stdout and stderr is ignored (no client opens it).</li>
 * </ul>
 */
public final class ProcessIo implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ProcessIo.class);
    /** Bytes asked of the guest per read: large enough for throughput, well under the 4 MiB frame cap. */
    public static final int READ_CHUNK = 256 * 1024;
    /** How long CloseIO holds the stdin FIFO open for a copier that waits in open(). */
    private static final Duration STDIN_RELEASE_BOUND = Duration.ofSeconds(10);
    /** After a stream's EOF, how long a FIFO reader may take nothing before the copier stops waiting for it. */
    static final Duration READER_STALL = Duration.ofMillis(500);
    /** After a stream's EOF, the longest the copier waits for a FIFO reader that keeps taking. */
    private static final Duration READER_BOUND = Duration.ofSeconds(10);
    private static final Duration READER_POLL = Duration.ofMillis(5);
    private static final int S_IFMT = 0170000;
    private static final int S_IFIFO = 0010000;

    private final String name;
    private final StdioPaths paths;
    private final GuestStreams guest;
    private final List<AutoCloseable> handles = new ArrayList<>();
    private final WritableByteChannel stdoutSink;
    private final WritableByteChannel stderrSink;
    /** The stdin FIFO or file, null without stdin. */
    private final Path stdinPath;
    private final Object stdinLock = new Object();
    // guarded by stdinLock: an O_PATH fd on stdinPath while the copier may need it, else -1
    private int stdinHandle;
    // guarded by stdinLock: CloseIO (or close) came
    private boolean stdinCloseRequested;
    // guarded by stdinLock: while the copier waits in open() for a writer, completed once it opened
    private CompletableFuture<Void> stdinOpening;
    private final CompletableFuture<Void> stdoutDone = new CompletableFuture<>();
    private final CompletableFuture<Void> stderrDone = new CompletableFuture<>();
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile Thread stdinThread;

    private ProcessIo(String name, StdioPaths paths, GuestStreams guest, WritableByteChannel out,
                      WritableByteChannel err, Path stdinPath, int stdinHandle) {
        this.name = name;
        this.stdinHandle = stdinHandle;
        this.paths = paths;
        this.guest = guest;
        this.stdoutSink = out;
        this.stderrSink = err;
        this.stdinPath = stdinPath;
        if (out == null) {
            stdoutDone.complete(null);
        }
        if (err == null) {
            stderrDone.complete(null);
        }
    }

    /**
     * Opens the host ends.
     *
     * @param name for logs, e.g. {@code "task c1"} or {@code "exec c1/e2"}
     * @throws StatusException NOT_FOUND if a FIFO containerd named does not exist, INVALID_ARGUMENT for a
     *                         form this shim does not handle (yet: {@code binary://})
     */
    public static ProcessIo open(String name, StdioPaths paths, GuestStreams guest) throws StatusException {
        return open(name, paths, guest, Map.of());
    }

    /**
     * As {@link #open(String, StdioPaths, GuestStreams)}, with the environment of a {@code binary://} logging
     * driver ({@code CONTAINER_ID}, {@code CONTAINER_NAMESPACE}).
     */
    public static ProcessIo open(String name, StdioPaths paths, GuestStreams guest, Map<String, String> loggerEnv)
            throws StatusException {
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            WritableByteChannel out = null;
            WritableByteChannel err = null;
            switch (paths.kind()) {
                case NULL -> {
                }
                case FIFO_OR_FILE -> {
                    if (!paths.stdout().isEmpty()) {
                        out = track(opened, openSink(StdioPaths.plainPath(paths.stdout())));
                    }
                    if (!paths.stderr().isEmpty() && !paths.terminal()) {
                        err = track(opened, openSink(StdioPaths.plainPath(paths.stderr())));
                    }
                }
                case FILE_URI -> {
                    Path file = Path.of(paths.uri().getPath());
                    Files.createDirectories(file.getParent());
                    FileChannel shared = track(opened, FileChannel.open(file, StandardOpenOption.WRITE,
                            StandardOpenOption.CREATE, StandardOpenOption.APPEND));
                    out = new SharedSink(shared);
                    err = paths.terminal() ? null : new SharedSink(shared);
                }
                case BINARY -> {
                    BinaryLogger logger = track(opened, BinaryLogger.start(paths.uri(), loggerEnv));
                    out = logger.stdout;
                    // with a terminal, fd 4 gets an unused stream, as containerd's runc shim does
                    err = paths.terminal() ? null : logger.stderr;
                }
            }
            Path stdinPath = null;
            int stdinHandle = -1;
            if (paths.hasStdin()) {
                stdinPath = StdioPaths.plainPath(paths.stdin());
                requireExists(stdinPath); // opened by the copier: opening a FIFO waits for a writer
                stdinHandle = Linux.openPath(stdinPath.toString());
            }
            ProcessIo io = new ProcessIo(name, paths, guest, out, err, stdinPath, stdinHandle);
            io.handles.addAll(opened);
            return io;
        } catch (StatusException e) {
            closeAll(opened);
            throw e;
        } catch (IOException e) {
            closeAll(opened);
            throw Code.INVALID_ARGUMENT.toException("stdio of %s: %s", name, e.getMessage());
        }
    }

    private static WritableByteChannel openSink(Path p) throws IOException, StatusException {
        if (Files.exists(p) && isFifo(p)) {
            return FifoSink.open(p);
        }
        if (!Files.exists(p) && !Files.isDirectory(p.getParent() == null ? Path.of("/") : p.getParent())) {
            throw Code.NOT_FOUND.toException("stdio: %s does not exist", p);
        }
        return FileChannel.open(p, StandardOpenOption.WRITE, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private static void requireExists(Path p) throws StatusException {
        if (!Files.exists(p)) {
            throw Code.NOT_FOUND.toException("stdio: fifo %s does not exist", p);
        }
    }

    private static boolean isFifo(Path p) throws IOException {
        return ((Integer) Files.getAttribute(p, "unix:mode") & S_IFMT) == S_IFIFO;
    }

    private static <T extends AutoCloseable> T track(List<AutoCloseable> list, T c) {
        list.add(c);
        return c;
    }

    /**
     * Starts the copiers. Safe to call before the process runs: a parked process writes nothing.
     *
     * <p>The copiers are platform threads: a read or write on a FIFO blocks in the kernel (stdin for as long as
     * the client keeps it open, output while the reader is slow), and a virtual thread blocked in file I/O
     * holds its carrier. With as many such copiers as CPUs, every virtual thread of the daemon would stall.
     */
    public void start() {
        if (!started.compareAndSet(false, true)) {
            return;
        }
        if (stdoutSink != null) {
            copier("stdout-" + name).start(() -> copyOut(Stream.STDOUT, stdoutSink, stdoutDone));
        }
        if (stderrSink != null) {
            copier("stderr-" + name).start(() -> copyOut(Stream.STDERR, stderrSink, stderrDone));
        }
        if (stdinPath != null) {
            stdinThread = copier("stdin-" + name).start(this::copyIn);
        }
    }

    private static Thread.Builder copier(String threadName) {
        return Thread.ofPlatform().daemon().name(threadName);
    }

    /** Completes when every output stream reached EOF and its host end was closed (or failed). */
    public CompletableFuture<Void> outputDone() {
        return CompletableFuture.allOf(stdoutDone, stderrDone);
    }

    /**
     * containerd's CloseIO(stdin): stdin ends once the client's end is closed and drained, at once if no
     * client has it open.
     */
    public void closeStdin() {
        if (stdinPath != null) {
            requestStdinClose();
        } else if (!paths.hasStdin()) {
            // no host stdin: nothing is queued, end the guest's stdin now
            Thread.ofVirtual().start(this::closeGuestStdin);
        }
    }

    /**
     * Makes the copier end stdin at the next EOF. If it is waiting in open() for a writer, lets it go on:
     * holds a writer of its own (a read-write open never waits) until the copier opened, then drops it, so
     * that the copier sees EOF.
     */
    private void requestStdinClose() {
        CompletableFuture<Void> opening;
        synchronized (stdinLock) {
            stdinCloseRequested = true;
            opening = stdinOpening;
        }
        if (opening == null) {
            return; // the copier is reading (it ends at the client's EOF), or done, or never started
        }
        Thread.ofVirtual().name("stdin-release-" + name).start(() -> {
            FileChannel writer;
            try {
                synchronized (stdinLock) {
                    if (stdinHandle < 0) {
                        return; // the copier is done
                    }
                    // a read-write open never waits; under the lock, the fd number cannot be reused meanwhile
                    writer = FileChannel.open(handlePath(), StandardOpenOption.READ, StandardOpenOption.WRITE);
                }
            } catch (IOException e) {
                log.warn("{}: cannot release the stdin copier: {}", name, e.toString());
                return;
            }
            try (writer) {
                opening.get(STDIN_RELEASE_BOUND.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                log.warn("{}: the stdin copier did not open {} within {}", name, stdinPath, STDIN_RELEASE_BOUND);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException | ExecutionException e) {
                log.debug("{}: releasing stdin: {}", name, e.toString());
            }
        });
    }

    private void copyOut(Stream stream, WritableByteChannel sink, CompletableFuture<Void> done) {
        try {
            while (true) {
                ReadOutputResponse r = guest.read(stream, READ_CHUNK);
                ByteBuffer b = r.getData().asReadOnlyByteBuffer();
                while (b.hasRemaining()) {
                    sink.write(b);
                }
                if (r.getEof()) {
                    break;
                }
            }
            if (sink instanceof FifoSink fifo) {
                awaitReader(fifo, stream);
            }
        } catch (StatusException e) {
            if (!closed.get()) {
                log.warn("{}: {} stopped: {}", name, stream, e.getMessage());
            }
        } catch (ClosedChannelException e) {
            // close() while copying
        } catch (IOException e) {
            log.warn("{}: writing {} to the host failed: {}", name, stream, e.getMessage());
        } finally {
            if (!(sink instanceof SharedSink)) {
                closeQuietly(sink);
            }
            done.complete(null);
            if (outputDone().isDone()) {
                // both streams ended: a file shared by stdout and stderr can be closed now
                handles.forEach(ProcessIo::closeQuietly);
            }
        }
    }

    /**
     * Waits until the FIFO's reader has taken everything written, for as long as it keeps taking. containerd 1.6
     * closes its end of the FIFOs as soon as it handles the exit (its {@code task.Delete} closes the IO before
     * waiting for it): whatever is still in the pipe then is lost, the tail of a CRI log among it. With no reader
     * (a detached {@code ctr run} that exited) nothing moves, and the exit is held back only {@link #READER_STALL}.
     */
    // Polled: a pipe wakes a writer when there is room (POLLOUT), never when it is empty.
    private void awaitReader(FifoSink fifo, Stream stream) throws IOException {
        long start = System.nanoTime();
        long lastProgress = start;
        int last = Integer.MAX_VALUE;
        while (!closed.get()) {
            int unread = fifo.unread();
            long now = System.nanoTime();
            if (unread == 0) {
                return;
            }
            if (unread < last) {
                last = unread;
                lastProgress = now;
            } else if (now - lastProgress > READER_STALL.toNanos() || now - start > READER_BOUND.toNanos()) {
                log.debug("{}: {} bytes of {} left unread in {}", name, unread, stream, fifo.path);
                return;
            }
            try {
                Thread.sleep(READER_POLL);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** {@code /proc/self/fd/N} of the stdin handle. Call with stdinLock held and the handle open. */
    private Path handlePath() {
        return Path.of("/proc/self/fd/" + stdinHandle);
    }

    private void closeStdinHandle() {
        synchronized (stdinLock) {
            Linux.close(stdinHandle);
            stdinHandle = -1;
        }
    }

    private void copyIn() {
        try {
            copyStdin();
        } finally {
            closeStdinHandle();
        }
    }

    private void copyStdin() {
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        boolean received = false;
        try {
            while (true) {
                CompletableFuture<Void> opening = new CompletableFuture<>();
                Path handle;
                synchronized (stdinLock) {
                    if (stdinCloseRequested || stdinHandle < 0) {
                        break;
                    }
                    stdinOpening = opening;
                    handle = handlePath();
                }
                FileChannel in;
                try {
                    in = FileChannel.open(handle, StandardOpenOption.READ); // waits for a writer
                } finally {
                    synchronized (stdinLock) {
                        stdinOpening = null;
                    }
                    opening.complete(null);
                }
                try (in) {
                    if (closed.get()) {
                        return;
                    }
                    while (true) {
                        buf.clear();
                        int n = in.read(buf);
                        if (n < 0) {
                            break; // every writer closed its end
                        }
                        if (n > 0) {
                            received = true;
                            byte[] data = new byte[n];
                            buf.flip().get(data);
                            guest.write(data);
                        }
                    }
                }
                if (received) {
                    break; // the client sent its input and closed: the end of input
                }
                // a client that closed without sending anything (ctr run -d exiting): wait for the next writer
            }
            if (!closed.get()) {
                closeGuestStdin();
            }
        } catch (StatusException e) {
            if (!closed.get()) {
                log.warn("{}: stdin stopped: {}", name, e.getMessage());
            }
        } catch (ClosedChannelException e) {
            // close() while copying
        } catch (IOException e) {
            log.warn("{}: reading stdin failed: {}", name, e.toString());
        }
    }

    private void closeGuestStdin() {
        try {
            guest.closeStdin();
        } catch (StatusException e) {
            if (e.code() != Code.NOT_FOUND && !closed.get()) {
                log.warn("{}: closing stdin in the guest failed: {}", name, e.getMessage());
            }
        }
    }

    /** Stops copying and closes every host end. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (stdinPath != null) {
            requestStdinClose(); // a copier waiting in open() for a writer goes on, and sees closed
        }
        Thread t = stdinThread;
        if (t != null) {
            t.interrupt(); // a copier blocked in read: closes its channel
        } else if (!started.get()) {
            closeStdinHandle(); // no copier will
        }
        closeAll(handles);
        stdoutDone.complete(null);
        stderrDone.complete(null);
    }

    private static void closeAll(List<AutoCloseable> list) {
        list.forEach(ProcessIo::closeQuietly);
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // closing
        }
    }

    /**
     * A FIFO, opened read-write, through a descriptor kept to ask how much of what was written is still unread
     * and a channel reopened from it (the same pipe, even if the name is replaced meanwhile).
     */
    private static final class FifoSink implements WritableByteChannel {
        private final Path path;
        private final FileChannel channel;
        private final Object lock = new Object();
        // guarded by lock: -1 once closed, so that a number the kernel reuses is never queried
        private int fd;

        private FifoSink(Path path, FileChannel channel, int fd) {
            this.path = path;
            this.channel = channel;
            this.fd = fd;
        }

        static FifoSink open(Path p) throws IOException {
            int fd = Linux.openReadWrite(p.toString());
            try {
                FileChannel ch = FileChannel.open(Path.of("/proc/self/fd/" + fd), StandardOpenOption.READ,
                        StandardOpenOption.WRITE);
                return new FifoSink(p, ch, fd);
            } catch (IOException | RuntimeException e) {
                Linux.close(fd);
                throw e;
            }
        }

        /** Bytes written and not yet read; 0 once closed. */
        int unread() throws IOException {
            synchronized (lock) {
                return fd < 0 ? 0 : Linux.unreadBytes(fd);
            }
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            return channel.write(src);
        }

        @Override
        public boolean isOpen() {
            return channel.isOpen();
        }

        @Override
        public void close() throws IOException {
            synchronized (lock) {
                Linux.close(fd);
                fd = -1;
            }
            channel.close();
        }
    }

    /** stdout and stderr appended to one file: writes are serialized, closing is the owner's job. */
    private record SharedSink(FileChannel file) implements WritableByteChannel {
        @Override
        public int write(ByteBuffer src) throws IOException {
            synchronized (file) {
                return file.write(src);
            }
        }

        @Override
        public boolean isOpen() {
            return file.isOpen();
        }

        @Override
        public void close() {
            // the shared file is closed once both streams are done
        }
    }

}
