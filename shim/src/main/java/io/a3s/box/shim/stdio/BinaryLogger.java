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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A {@code binary://} logging driver, as containerd's shims run it: the binary gets the container's stdout
 * on fd 3 and stderr on fd 4 (read ends), signals readiness by closing (or writing a byte to) fd 5; its
 * environment is {@code CONTAINER_ID} (the exec's id for an exec's logger) and {@code CONTAINER_NAMESPACE} and
 * nothing else, but the URI's {@code env.NAME=value} pairs (containerd 2.x); its arguments are the other query
 * pairs, each key followed by its first value ({@code ""} for a key without one), as Go's {@code url.Query}
 * gives them. The process must not start before the logger is ready, or its first lines would be lost.
 *
 * <p>Java cannot hand a child descriptors beyond 0-2, so the pipes are FIFOs in a private directory and
 * {@code /bin/sh} opens them on fds 3, 4 and 5 before exec'ing the binary (their paths are sh's arguments, not
 * its environment, which the binary inherits). We hold the write ends read-write,
 * so neither side's open blocks. On close, EOF on fds 3 and 4 lets the binary finish; it gets SIGTERM after
 * {@link #EXIT_GRACE} and SIGKILL {@link #KILL_GRACE} later, as with containerd's runc shim.
 */
final class BinaryLogger implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BinaryLogger.class);
    static final long READY_TIMEOUT_SECONDS = 10;
    static final long EXIT_GRACE_SECONDS = 2;
    static final long KILL_GRACE_SECONDS = 12;
    /** Query keys that name an environment variable of the logger rather than an argument (containerd 2.x). */
    static final String ENV_PREFIX = "env.";

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
        Map<String, String> query = query(uri);
        Map<String, String> childEnv = new LinkedHashMap<>();
        List<String> args = new ArrayList<>();
        query.forEach((k, v) -> {
            if (k.startsWith(ENV_PREFIX)) {
                childEnv.put(k.substring(ENV_PREFIX.length()), v);
            } else {
                args.add(k);
                args.add(v);
            }
        });
        childEnv.putAll(env); // CONTAINER_ID and CONTAINER_NAMESPACE win over the URI's
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
            List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c",
                    "o=$1 e=$2 r=$3; shift 3; exec \"$0\" \"$@\" 3<\"$o\" 4<\"$e\" 5>\"$r\"", binary.toString(),
                    out.toString(), err.toString(), ready.toString()));
            argv.addAll(args);
            ProcessBuilder pb = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD);
            pb.environment().clear();
            pb.environment().putAll(childEnv);
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

    /**
     * The query's pairs as Go's {@code url.Query} reads them for containerd: split at {@code &}, a key without
     * {@code =} has the value {@code ""}, a repeated key keeps its first value, a pair with {@code ;} or a bad
     * escape is dropped. In the order of first appearance (Go's map has none).
     */
    static Map<String, String> query(URI uri) {
        Map<String, String> pairs = new LinkedHashMap<>();
        String raw = uri.getRawQuery();
        if (raw == null) {
            return pairs;
        }
        for (String pair : raw.split("&")) {
            if (pair.isEmpty() || pair.contains(";")) {
                continue;
            }
            int eq = pair.indexOf('=');
            try {
                pairs.putIfAbsent(decode(eq < 0 ? pair : pair.substring(0, eq)), eq < 0 ? "" : decode(pair.substring(eq + 1)));
            } catch (IllegalArgumentException e) {
                log.warn("binary:// logger {}: query pair {} dropped: {}", uri.getPath(), pair, e.getMessage());
            }
        }
        return pairs;
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
