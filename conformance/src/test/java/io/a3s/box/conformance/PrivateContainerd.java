package io.a3s.box.conformance;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A real containerd (Debian's package) on private paths: its own root, state, sockets and config, so tests
 * never collide with each other or with a system containerd. {@link #close()} stops it and removes
 * everything it made, mounts included.
 *
 * <p>Sockets live under a short directory in /run because Unix socket paths are limited to 107 bytes.
 */
public final class PrivateContainerd implements AutoCloseable {
    /**
     * Where containerd, ctr and containerd-shim-runc-v2 come from: {@code $A3S_CONTAINERD_DIR} when set (e.g.
     * {@code build/containerd-2.1/bin}, which {@code scripts/fetch-containerd 2.1} prints, to run the tests
     * under containerd 2.1), else Debian's package in /usr/bin.
     */
    public static final Path BIN_DIR = Path.of(System.getenv().getOrDefault("A3S_CONTAINERD_DIR", "/usr/bin"));
    public static final Path CONTAINERD = BIN_DIR.resolve("containerd");
    public static final Path CTR = BIN_DIR.resolve("ctr");
    private static final Duration START_DEADLINE = Duration.ofSeconds(30);

    private final Path dir;
    private final Path grpcSocket;
    private final Path ttrpcSocket;
    private final ProcessBuilder command;
    private Process process;

    private PrivateContainerd(Path dir, ProcessBuilder command, Process process) {
        this.dir = dir;
        this.grpcSocket = dir.resolve("c.sock");
        this.ttrpcSocket = dir.resolve("c.sock.ttrpc");
        this.command = command;
        this.process = process;
    }

    /**
     * Starts containerd and waits until it answers {@code ctr version}.
     *
     * @param extraPath directories prepended to containerd's PATH (where it looks up shims), may be empty
     */
    public static PrivateContainerd start(List<Path> extraPath) throws IOException, InterruptedException {
        return start(extraPath, java.util.Map.of());
    }

    /** As {@link #start(List)}, with extra environment for containerd (and so for the shims it runs). */
    public static PrivateContainerd start(List<Path> extraPath, java.util.Map<String, String> env)
            throws IOException, InterruptedException {
        return start(extraPath, env, null);
    }

    /**
     * As {@link #start(List, java.util.Map)}, with the CRI plugin enabled when {@code criConfig} is not null:
     * it is given containerd's directory and returns the TOML tables to append to the config (the plugin's
     * own, under {@code [plugins."io.containerd.grpc.v1.cri"]}). Null keeps the CRI plugin disabled, as the
     * ctr-driven tests want it: it would start a CNI and image machinery they do not use.
     */
    public static PrivateContainerd start(List<Path> extraPath, java.util.Map<String, String> env,
            java.util.function.Function<Path, String> criConfig) throws IOException, InterruptedException {
        return start(extraPath, env, criConfig, List.of());
    }

    /**
     * As {@link #start(List, java.util.Map, java.util.function.Function)}, containerd started through
     * {@code wrapper} (a command that ends by exec'ing its arguments, e.g. {@code nsenter --net=PATH}, which
     * runs containerd, and so everything it starts, in another network namespace). Empty: none.
     */
    public static PrivateContainerd start(List<Path> extraPath, java.util.Map<String, String> env,
            java.util.function.Function<Path, String> criConfig, List<String> wrapper)
            throws IOException, InterruptedException {
        if (!Files.isExecutable(CONTAINERD) || !Files.isExecutable(CTR)) {
            throw new IllegalStateException("containerd is not installed (" + CONTAINERD + "): run scripts/setup");
        }
        Path base = Path.of("/run/a3s-test");
        Files.createDirectories(base);
        Path dir = Files.createTempDirectory(base, "ctd");
        String config = """
                version = 2
                root = "%1$s/root"
                state = "%1$s/state"
                %2$s
                [grpc]
                  address = "%1$s/c.sock"
                [ttrpc]
                  address = "%1$s/c.sock.ttrpc"
                [debug]
                  address = "%1$s/debug.sock"
                  level = "info"
                [metrics]
                  address = ""
                """.formatted(dir, criConfig == null ? "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]" : "");
        if (criConfig != null) {
            config += criConfig.apply(dir);
        }
        Path configFile = dir.resolve("config.toml");
        Files.writeString(configFile, config);
        List<String> command = new ArrayList<>(wrapper);
        command.addAll(List.of(CONTAINERD.toString(), "--config", configFile.toString()));
        ProcessBuilder pb = new ProcessBuilder(command);
        StringBuilder path = new StringBuilder();
        // containerd finds its shims on PATH first: ours, then the runc shim of the same containerd
        List<Path> shimPath = new ArrayList<>(extraPath);
        shimPath.add(BIN_DIR);
        for (Path p : shimPath) {
            path.append(p).append(':');
        }
        path.append(System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"));
        pb.environment().put("PATH", path.toString());
        pb.environment().putAll(env);
        pb.redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("containerd.log").toFile()));
        Process p = pb.start();
        PrivateContainerd c = new PrivateContainerd(dir, pb, p);
        try {
            c.awaitReady();
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    private void awaitReady() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_DEADLINE.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("containerd exited with " + process.exitValue() + ": " + log());
            }
            if (Files.exists(grpcSocket) && ctr("version").exitCode() == 0) {
                return;
            }
            Thread.sleep(50);
        }
        throw new IOException("containerd not ready within " + START_DEADLINE + ": " + log());
    }

    /**
     * Stops containerd (SIGTERM, as systemd does) and starts it again on the same root, state, sockets and
     * environment, leaving its shims and their tasks alone; returns once it answers again.
     */
    public void restart() throws IOException, InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            throw new IOException("containerd did not stop within 10 s of SIGTERM");
        }
        process = command.start();
        awaitReady();
    }

    /** containerd's pid. */
    public long pid() {
        return process.pid();
    }

    public Path grpcSocket() {
        return grpcSocket;
    }

    public Path ttrpcSocket() {
        return ttrpcSocket;
    }

    public Path dir() {
        return dir;
    }

    /** containerd's own log, for failure messages. */
    public String log() {
        try {
            return Files.readString(dir.resolve("containerd.log"));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    public record Result(int exitCode, String stdout, String stderr) {
    }

    /** Runs {@code ctr --address <ours> args...} and waits up to 60 s. ctr's stdin stays open (and empty). */
    public Result ctr(String... args) throws IOException, InterruptedException {
        return ctr(null, Duration.ofSeconds(60), args);
    }

    /**
     * Runs {@code ctr --address <ours> args...}, writing {@code stdin} to it and closing it (null: leaves it
     * open and empty), reading its output as it comes; kills it and fails after {@code timeout}.
     */
    public Result ctr(byte[] stdin, Duration timeout, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(CTR.toString(), "--address", grpcSocket.toString()));
        cmd.addAll(List.of(args));
        return run(cmd, stdin, timeout);
    }

    /** Runs {@code cmd} as {@link #ctr(byte[], Duration, String...)} runs ctr. */
    public static Result run(List<String> cmd, byte[] stdin, Duration timeout)
            throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).start();
        CompletableFuture<String> out = new CompletableFuture<>();
        CompletableFuture<String> err = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> out.complete(readAll(p.getInputStream())));
        Thread.ofVirtual().start(() -> err.complete(readAll(p.getErrorStream())));
        if (stdin != null) {
            Thread.ofVirtual().start(() -> {
                try (var in = p.getOutputStream()) {
                    in.write(stdin);
                } catch (IOException ignored) {
                    // the process exited without reading all of it: its result says what happened
                }
            });
        }
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
            throw new IOException(String.join(" ", cmd) + " did not finish within " + timeout + "; stdout: "
                    + out.getNow("") + "; stderr: " + err.getNow(""));
        }
        try {
            return new Result(p.exitValue(), out.get(10, TimeUnit.SECONDS), err.get(10, TimeUnit.SECONDS));
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("reading the output of " + String.join(" ", cmd) + ": " + e, e);
        }
    }

    private static String readAll(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(read failed: " + e + ")";
        }
    }

    /** Starts {@code ctr --address <ours> args...} without waiting (e.g. {@code ctr events}). */
    public Process startCtr(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(CTR.toString(), "--address", grpcSocket.toString()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).start();
    }

    /**
     * {@code ctr events}, returned once it is subscribed: ctr subscribes asynchronously, so this creates probe
     * namespaces until the create event of one comes out (containerd publishes {@code /namespaces/create}), then
     * removes it. An event published after this returns is seen.
     */
    public Events events() throws IOException, InterruptedException {
        Events events = new Events(startCtr("events"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (int i = 0; System.nanoTime() < deadline; i++) {
            String probe = "a3s-events-probe-" + i;
            ctr("namespaces", "create", probe);
            String seen = events.await(Duration.ofSeconds(1), "/namespaces/create", probe);
            ctr("namespaces", "remove", probe);
            if (seen != null) {
                return events;
            }
        }
        events.close();
        throw new IOException("ctr events saw no event within 30 s; containerd log:\n" + log());
    }

    /** A running {@code ctr events}: its lines as they come. */
    public static final class Events implements AutoCloseable {
        private final Process process;
        private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

        Events(Process process) {
            this.process = process;
            Thread.ofVirtual().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        lines.add(l);
                    }
                } catch (IOException ignored) {
                    // ctr killed by close()
                }
            });
        }

        /** The next line that contains every one of {@code parts}, or null when none came within {@code timeout}. */
        public String await(Duration timeout, String... parts) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            for (long left; (left = deadline - System.nanoTime()) > 0; ) {
                String l = lines.poll(left, TimeUnit.NANOSECONDS);
                if (l != null && java.util.Arrays.stream(parts).allMatch(l::contains)) {
                    return l;
                }
            }
            return null;
        }

        @Override
        public void close() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
        }
    }

    /** Stops containerd (TERM, then KILL), unmounts what it left and removes its directory. Idempotent. */
    @Override
    public void close() throws IOException, InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
        unmountUnder(dir);
        if (Files.exists(dir)) {
            new ProcessBuilder("rm", "-rf", "--one-file-system", dir.toString()).inheritIO().start().waitFor();
        }
    }

    /** Lazily unmounts every mount below {@code root}, deepest first. */
    static void unmountUnder(Path root) throws IOException, InterruptedException {
        List<String> mounts = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String mountPoint = line.split(" ")[4].replace("\\040", " ");
            if (mountPoint.startsWith(root + "/")) {
                mounts.add(mountPoint);
            }
        }
        mounts.sort((a, b) -> b.length() - a.length());
        for (String m : mounts) {
            new ProcessBuilder("umount", "-l", m).inheritIO().start().waitFor();
        }
    }
}
