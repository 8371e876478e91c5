package io.a3s.box.shim.stdio;

import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A {@code binary://} logging driver, as containerd's shims run it: the binary gets the container's stdout
 * on fd 3 and stderr on fd 4 (read ends), signals readiness by closing (or writing a byte to) fd 5, and
 * {@code CONTAINER_ID} / {@code CONTAINER_NAMESPACE} in its environment; its arguments are the URI's query
 * pairs. The process must not start before the logger is ready, or its first lines would be lost.
 *
 * <p>Java cannot hand a child descriptors beyond 0-2, so the pipes are FIFOs in a private directory and
 * {@code /bin/sh} opens them on fds 3, 4 and 5 before exec'ing the binary. We hold the write ends read-write,
 * so neither side's open blocks. On close, EOF on fds 3 and 4 lets the binary finish; it gets SIGTERM after
 * {@link #EXIT_GRACE} and SIGKILL {@link #KILL_GRACE} later, as with containerd's runc shim.
 */
final class BinaryLogger implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BinaryLogger.class);
    static final long READY_TIMEOUT_SECONDS = 10;
    static final long EXIT_GRACE_SECONDS = 2;
    static final long KILL_GRACE_SECONDS = 12;

    private final Path dir;
    private final Process process;
    final FileChannel stdout;
    final FileChannel stderr;

    private BinaryLogger(Path dir, Process process, FileChannel stdout, FileChannel stderr) {
        this.dir = dir;
        this.process = process;
        this.stdout = stdout;
        this.stderr = stderr;
    }

    static BinaryLogger start(URI uri, Map<String, String> env) throws StatusException {
        Path binary = Path.of(uri.getPath());
        if (!Files.isExecutable(binary)) {
            throw Code.NOT_FOUND.toException("stdio: logging binary %s does not exist or is not executable", binary);
        }
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c",
                "exec \"$0\" \"$@\" 3<\"$A3S_LOG_OUT\" 4<\"$A3S_LOG_ERR\" 5>\"$A3S_LOG_READY\"", binary.toString()));
        if (uri.getRawQuery() != null) {
            for (String pair : uri.getRawQuery().split("&")) {
                int eq = pair.indexOf('=');
                argv.add(decode(eq < 0 ? pair : pair.substring(0, eq)));
                if (eq >= 0) {
                    argv.add(decode(pair.substring(eq + 1)));
                }
            }
        }
        Path dir = null;
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            dir = Files.createTempDirectory("a3s-logger");
            Path out = dir.resolve("out");
            Path err = dir.resolve("err");
            Path ready = dir.resolve("ready");
            for (Path fifo : List.of(out, err, ready)) {
                mkfifo(fifo);
            }
            FileChannel outW = FileChannel.open(out, StandardOpenOption.READ, StandardOpenOption.WRITE);
            opened.add(outW);
            FileChannel errW = FileChannel.open(err, StandardOpenOption.READ, StandardOpenOption.WRITE);
            opened.add(errW);
            ProcessBuilder pb = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD);
            pb.environment().putAll(env);
            pb.environment().put("A3S_LOG_OUT", out.toString());
            pb.environment().put("A3S_LOG_ERR", err.toString());
            pb.environment().put("A3S_LOG_READY", ready.toString());
            Process p = pb.start();
            awaitReady(ready, p, binary);
            return new BinaryLogger(dir, p, outW, errW);
        } catch (IOException e) {
            opened.forEach(BinaryLogger::closeQuietly);
            removeDir(dir);
            throw Code.INTERNAL.toException("stdio: starting logging binary %s: %s", binary, e.getMessage());
        } catch (StatusException e) {
            opened.forEach(BinaryLogger::closeQuietly);
            removeDir(dir);
            throw e;
        }
    }

    /** Opening the read end blocks until sh opened fd 5; then EOF or a byte means ready. */
    private static void awaitReady(Path ready, Process p, Path binary) throws StatusException {
        CompletableFuture<Void> done = CompletableFuture.runAsync(() -> {
            try (FileChannel r = FileChannel.open(ready, StandardOpenOption.READ)) {
                r.read(ByteBuffer.allocate(1));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, runnable -> Thread.ofPlatform().daemon().start(runnable));
        try {
            done.get(READY_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (Exception e) {
            p.destroyForcibly();
            // unblock the opener if sh never opened its end
            try (FileChannel unblock = FileChannel.open(ready, StandardOpenOption.WRITE)) {
                unblock.force(false);
            } catch (IOException ignored) {
                // gone already
            }
            throw Code.DEADLINE_EXCEEDED.toException("stdio: logging binary %s was not ready within %d s%s", binary,
                    READY_TIMEOUT_SECONDS, p.isAlive() ? "" : " (it exited)");
        }
    }

    /** EOF to the logger, then a bounded wait for it to finish. Idempotent. */
    @Override
    public void close() {
        closeQuietly(stdout);
        closeQuietly(stderr);
        Thread.ofPlatform().daemon().name("logger-exit").start(() -> {
            try {
                if (!process.waitFor(EXIT_GRACE_SECONDS, TimeUnit.SECONDS)) {
                    process.destroy();
                    if (!process.waitFor(KILL_GRACE_SECONDS, TimeUnit.SECONDS)) {
                        process.destroyForcibly();
                    }
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
            } finally {
                removeDir(dir);
            }
        });
    }

    private static void mkfifo(Path p) throws IOException {
        try {
            Process mk = new ProcessBuilder("mkfifo", "-m", "600", p.toString()).redirectErrorStream(true).start();
            if (mk.waitFor() != 0) {
                throw new IOException("mkfifo " + p + ": " + new String(mk.getInputStream().readAllBytes()).trim());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    private static String decode(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    private static void removeDir(Path dir) {
        if (dir == null) {
            return;
        }
        try (var files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            log.debug("cannot remove {}: {}", dir, e.toString());
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // closing
        }
    }
}
