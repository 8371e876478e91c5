package io.a3s.box.conformance;

import io.a3s.box.shim.daemon.TaskRecord;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A private containerd that finds {@code containerd-shim-a3s-box} in the checkout's {@code bin/} (built by
 * scripts/setup), with the shim's state tree and configuration in a private directory, and a busybox image
 * imported.
 *
 * <p>Leak checks: {@link #assertNothingLeft()} after each test (no task, no task file, no mount, no VM but the
 * warm pool's), and {@link #close()}, which fails if a mount under the test's directories or a QEMU of its
 * state directory is left once containerd and the shim daemon are stopped (and removes them, so that one
 * test's leak does not break the next).
 */
final class ShimHarness implements AutoCloseable {
    static final String IMAGE = "localhost/a3s/busybox:latest";
    /** The same image with {@code User: app} (uid 1000) in its config: ctr 1.6 has no --user flag. */
    static final String IMAGE_APP_USER = "localhost/a3s/busybox-app:latest";
    static final String RUNTIME = "io.a3s.box";
    static final String NS = "a3s-conformance";
    /** Two idle VMs: the next container rarely waits for a boot, and TCG boots stay few. */
    static final String DEFAULT_CONFIG = "[pool]\nsize = 2\n";

    final Path repo = Path.of(System.getProperty("a3s.repo", "..")).toAbsolutePath().normalize();
    final Path state;
    final PrivateContainerd containerd;
    final int poolSize;

    ShimHarness() throws IOException, InterruptedException {
        this(DEFAULT_CONFIG, 2);
    }

    /**
     * @param config   the shim's config.toml ({@code A3S_BOX_CONFIG})
     * @param poolSize its {@code [pool] size}: how many VMs may run with no task
     */
    ShimHarness(String config, int poolSize) throws IOException, InterruptedException {
        this.poolSize = poolSize;
        Path shim = repo.resolve("bin/containerd-shim-a3s-box");
        if (!Files.isExecutable(shim)) {
            throw new IllegalStateException(shim + " is missing: run scripts/setup");
        }
        Files.createDirectories(Path.of("/run/a3s-test"));
        state = Files.createTempDirectory(Path.of("/run/a3s-test"), "st");
        Path configFile = state.resolve("config.toml");
        Files.writeString(configFile, config);
        containerd = PrivateContainerd.start(List.of(repo.resolve("bin")),
                Map.of("A3S_BOX_STATE", state.toString(), "A3S_BOX_CONFIG", configFile.toString()));
        importImage(IMAGE, "");
        importImage(IMAGE_APP_USER, "app");
    }

    private void importImage(String name, String user) throws IOException, InterruptedException {
        Path tar = state.resolve("image-" + Math.abs(name.hashCode()) + ".tar");
        Process p = new ProcessBuilder("bash", repo.resolve("scripts/lib/busybox-image.sh").toString(),
                tar.toString(), name, user).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IOException("building the busybox image " + name + " failed");
        }
        PrivateContainerd.Result r = ctr("images", "import", tar.toString());
        if (r.exitCode() != 0) {
            throw new IOException("ctr images import: " + r.stderr());
        }
        Files.delete(tar);
    }

    // ---- ctr ------------------------------------------------------------------------------------------------

    /**
     * How long one ctr command may take: a container that has to wait for a VM boot under TCG on a loaded
     * host (the first of a pool daemon, or past the pool's idle VMs) can take a minute before it even runs.
     */
    static final Duration CTR_LIMIT = Duration.ofMinutes(5);

    /** {@code ctr -n NS args...}, its stdin left open and empty, killed after {@link #CTR_LIMIT}. */
    PrivateContainerd.Result ctr(String... args) throws IOException, InterruptedException {
        return containerd.ctr(null, CTR_LIMIT, withNamespace(args));
    }

    /** {@code ctr task exec} of {@code cmd} in task {@code id}, under an exec id of its own. */
    PrivateContainerd.Result exec(String id, String... cmd) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("task", "exec", "--exec-id", "x" + System.nanoTime(), id));
        args.addAll(List.of(cmd));
        return ctr(args.toArray(String[]::new));
    }

    /** {@code ctr -n NS args...} with {@code stdin} written and closed, killed after {@code timeout}. */
    PrivateContainerd.Result ctr(byte[] stdin, Duration timeout, String... args)
            throws IOException, InterruptedException {
        return containerd.ctr(stdin, timeout, withNamespace(args));
    }

    private static String[] withNamespace(String... args) {
        String[] full = new String[args.length + 2];
        full[0] = "-n";
        full[1] = NS;
        System.arraycopy(args, 0, full, 2, args.length);
        return full;
    }

    /** The command line of {@code ctr -n NS args...}, for other tools to run (script). */
    List<String> ctrCommand(String... args) {
        List<String> cmd = new ArrayList<>(List.of(PrivateContainerd.CTR.toString(), "--address",
                containerd.grpcSocket().toString()));
        cmd.addAll(List.of(withNamespace(args)));
        return cmd;
    }

    /** {@code ctr run --rm --runtime io.a3s.box [flags] IMAGE id cmd...}: flags end at the image. */
    PrivateContainerd.Result run(List<String> flags, String id, String... cmd)
            throws IOException, InterruptedException {
        return runImage(IMAGE, flags, id, cmd);
    }

    PrivateContainerd.Result runImage(String image, List<String> flags, String id, String... cmd)
            throws IOException, InterruptedException {
        return ctr(runArgs(image, flags, id, cmd));
    }

    static String[] runArgs(String image, List<String> flags, String id, String... cmd) {
        List<String> args = new ArrayList<>(List.of("run", "--rm", "--runtime", RUNTIME));
        args.addAll(flags);
        args.add(image);
        args.add(id);
        args.addAll(List.of(cmd));
        return args.toArray(String[]::new);
    }

    /** {@code ctr run -d}: the task keeps running after ctr returned. */
    void runDetached(String id, String... cmd) throws IOException, InterruptedException {
        runDetached(List.of(), id, cmd);
    }

    /** {@code ctr run -d FLAGS...}. */
    void runDetached(List<String> flags, String id, String... cmd) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("run", "-d", "--runtime", RUNTIME));
        args.addAll(flags);
        args.addAll(List.of(IMAGE, id));
        args.addAll(List.of(cmd));
        PrivateContainerd.Result r = ctr(args.toArray(String[]::new));
        if (r.exitCode() != 0) {
            throw new AssertionError("ctr run -d " + id + " failed (" + r.exitCode() + "): " + r.stderr());
        }
    }

    /** The STATUS column of {@code ctr task ls} for {@code id}, empty when it is not listed. */
    Optional<String> taskStatus(String id) throws IOException, InterruptedException {
        return taskRow(id).map(cols -> cols[2]);
    }

    /** The columns (TASK, PID, STATUS) of {@code id}'s row in {@code ctr task ls}. */
    Optional<String[]> taskRow(String id) throws IOException, InterruptedException {
        PrivateContainerd.Result r = ctr("task", "ls");
        return r.stdout().lines().skip(1).map(l -> l.trim().split("\\s+")).filter(c -> c.length >= 3)
                .filter(c -> c[0].equals(id)).findFirst();
    }

    /** Polls {@code ctr task ls} until {@code id} has {@code status}; fails after {@code timeout}. */
    void awaitStatus(String id, String status, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        Optional<String> now = taskStatus(id);
        while (!now.equals(Optional.of(status))) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("task " + id + " is " + now.orElse("not listed") + ", not " + status
                        + " after " + timeout);
            }
            Thread.sleep(100);
            now = taskStatus(id);
        }
    }

    /** Kills (if running), deletes the task and the container {@code id}, whatever state they are in. */
    void remove(String id) throws Exception {
        Optional<String> st = taskStatus(id);
        if (st.isPresent()) {
            if (!st.get().equals("STOPPED")) {
                ctr("task", "kill", "-s", "KILL", id);
                awaitStatus(id, "STOPPED", Duration.ofSeconds(30));
            }
            ctr("task", "rm", id);
        }
        ctr("container", "rm", id);
    }

    // ---- what the shim holds ----------------------------------------------------------------------------------

    /** The shim daemon's pid, from its pid file. */
    Optional<Long> daemonPid() throws IOException {
        Path shimDir = state.resolve("shim");
        if (!Files.isDirectory(shimDir)) {
            return Optional.empty();
        }
        try (Stream<Path> files = Files.list(shimDir)) {
            for (Path pid : files.filter(f -> f.toString().endsWith(".pid")).toList()) {
                return Optional.of(Long.parseLong(Files.readString(pid).trim()));
            }
        }
        return Optional.empty();
    }

    /** The number of tasks the shim daemon holds, creates in flight included (its Admin/Ping). */
    int daemonTasks() throws Exception {
        try (Stream<Path> files = Files.list(state.resolve("shim"))) {
            Path socket = files.filter(f -> f.toString().endsWith(".sock")).findFirst()
                    .orElseThrow(() -> new AssertionError("no shim daemon socket in " + state.resolve("shim")));
            try (io.a3s.box.ttrpc.TtrpcClient c = io.a3s.box.ttrpc.TtrpcClient.connect(socket)) {
                return c.call("a3s.shim.v1.Admin", "Ping", io.a3s.box.shim.admin.v1.PingRequest.getDefaultInstance(),
                        io.a3s.box.shim.admin.v1.PingResponse.parser(), Duration.ofSeconds(5)).getTasks();
            }
        }
    }

    /** VM state directories whose owner file names {@code pid} (the process that holds, or pools, the VM). */
    List<Path> vmsOwnedBy(long pid) throws IOException {
        Path vms = state.resolve("vms");
        if (!Files.isDirectory(vms)) {
            return List.of();
        }
        List<Path> out = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(vms)) {
            for (Path d : dirs.toList()) {
                try {
                    if (Files.readString(d.resolve("owner")).trim().split("\\s+")[0].equals(Long.toString(pid))) {
                        out.add(d);
                    }
                } catch (IOException e) {
                    // no owner file (yet, or any more)
                }
            }
        }
        return out;
    }

    /** The VM state directory of task {@code id}, from the shim's task file. */
    Path vmOf(String id) throws IOException {
        TaskRecord t = TaskRecord.read(taskFile(id));
        return Path.of(t.vmStateDir());
    }

    Path taskFile(String id) {
        return state.resolve("tasks").resolve(NS).resolve(id + ".json");
    }

    /** The pid of the QEMU of a VM state directory. */
    static long qemuPid(Path vmDir) throws IOException {
        return Long.parseLong(Files.readString(vmDir.resolve("qemu.pid")).trim());
    }

    /** QEMU processes whose command line names this test's state directory. */
    List<String> qemuProcesses() throws IOException {
        return qemuProcessesUnder(state);
    }

    /** QEMU processes whose command line names a path under {@code dir}. */
    static List<String> qemuProcessesUnder(Path dir) throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
                    .toList()) {
                String cmdline;
                try {
                    cmdline = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8)
                            .replace('\0', ' ');
                } catch (IOException e) {
                    continue; // exited meanwhile
                }
                if (cmdline.contains("qemu") && cmdline.contains(dir + "/")) {
                    out.add(p.getFileName() + " " + cmdline);
                }
            }
        }
        return out;
    }

    /** Mount points under this test's directories (the shim's state, containerd's). */
    List<String> mounts() throws IOException {
        return mountsUnder(state, containerd.dir());
    }

    /** Mount points under any of {@code dirs}. */
    static List<String> mountsUnder(Path... dirs) throws IOException {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String mountPoint = line.split(" ")[4].replace("\\040", " ");
            for (Path d : dirs) {
                if (mountPoint.startsWith(d + "/")) {
                    out.add(mountPoint);
                    break;
                }
            }
        }
        return out;
    }

    static String tail(String text, int lines) {
        List<String> all = text.lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    /** The last {@code lines} lines of the shim daemon's log. */
    String daemonLog(int lines) {
        try (Stream<Path> files = Files.list(state.resolve("shim"))) {
            StringBuilder out = new StringBuilder();
            for (Path log : files.filter(f -> f.toString().endsWith(".log")).toList()) {
                List<String> all = Files.readAllLines(log);
                all.subList(Math.max(0, all.size() - lines), all.size()).forEach(l -> out.append(l).append('\n'));
            }
            return out.toString();
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Task files the shim keeps while a task holds host resources. */
    List<Path> taskFiles() throws IOException {
        Path tasks = state.resolve("tasks");
        if (!Files.isDirectory(tasks)) {
            return List.of();
        }
        try (Stream<Path> files = Files.walk(tasks)) {
            return files.filter(Files::isRegularFile).toList();
        }
    }

    /**
     * After a test: no task or container left in containerd, no task file, no mount (a leased VM has the
     * container's rootfs bound into its share), and no more QEMUs than the warm pool may keep with no task:
     * its size, plus two refill boots it may have started early. A released VM is destroyed in the
     * background: a few seconds. On failure, what is left is removed, so that the next test fails only for
     * what it leaves itself.
     */
    void assertNothingLeft() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        String what;
        while (true) {
            List<String> tasks = listed("task", "ls");
            List<String> containers = listed("container", "ls");
            List<Path> files = taskFiles();
            List<String> mounts = mounts();
            List<String> qemus = qemuProcesses();
            what = "tasks " + tasks + ", containers " + containers + ", task files " + files + ", mounts " + mounts
                    + ", " + qemus.size() + " VMs (pool size " + poolSize + " + 2)";
            if (tasks.isEmpty() && containers.isEmpty() && files.isEmpty() && mounts.isEmpty()
                    && qemus.size() <= poolSize + 2) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                AssertionError e = new AssertionError("left behind: " + what + "\n" + String.join("\n", qemus)
                        + "\nshim daemon log:\n" + daemonLog(40) + "\ncontainerd log:\n"
                        + tail(containerd.log(), 30));
                for (String c : containers) {
                    try {
                        remove(c.trim().split("\\s+")[0]);
                    } catch (Exception | AssertionError cleanup) {
                        e.addSuppressed(cleanup);
                    }
                }
                throw e;
            }
            Thread.sleep(200);
        }
    }

    /** The rows of a {@code ctr ... ls}, header skipped. */
    private List<String> listed(String... ls) throws IOException, InterruptedException {
        return ctr(ls).stdout().lines().skip(1).filter(l -> !l.isBlank()).toList();
    }

    // ---- a terminal -------------------------------------------------------------------------------------------

    /**
     * Runs {@code ctr args...} with a terminal for stdin and stdout: {@code script} (util-linux) gives it a
     * pty of the size asked. What the test writes is typed into that terminal.
     */
    Terminal terminal(int cols, int rows, String... ctrArgs) throws IOException {
        String ctrLine = String.join(" ", ctrCommand(ctrArgs).stream().map(ShimHarness::shellQuote).toList());
        return new Terminal(new ProcessBuilder("script", "-qfec",
                "stty cols " + cols + " rows " + rows + "; exec " + ctrLine, "/dev/null")
                .redirectErrorStream(true).start());
    }

    static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /** A program on a terminal: its screen output (CR and NUL dropped), keyboard input, and exit. */
    static final class Terminal implements AutoCloseable {
        private final Process process;
        private final StringBuffer screen = new StringBuffer();
        private final OutputStream keyboard;

        Terminal(Process process) {
            this.process = process;
            this.keyboard = process.getOutputStream();
            Thread.ofVirtual().start(() -> {
                try (InputStream in = process.getInputStream()) {
                    byte[] buf = new byte[4096];
                    for (int n; (n = in.read(buf)) > 0; ) {
                        screen.append(new String(buf, 0, n, StandardCharsets.UTF_8).replace("\r", "")
                                .replace("\0", ""));
                    }
                } catch (IOException ignored) {
                    // the program exited
                }
            });
        }

        String screen() {
            return screen.toString();
        }

        /** Waits until the screen shows {@code text}. */
        void await(String text, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!screen.toString().contains(text)) {
                if (System.nanoTime() - deadline > 0 || !process.isAlive() && !screen.toString().contains(text)) {
                    Thread.sleep(200); // the last output may still be on its way
                    if (screen.toString().contains(text)) {
                        return;
                    }
                    throw new AssertionError("the terminal never showed \"" + text + "\"; it shows:\n" + screen);
                }
                Thread.sleep(20);
            }
        }

        void type(String text) throws IOException {
            keyboard.write(text.getBytes(StandardCharsets.UTF_8));
            keyboard.flush();
        }

        /** The exit status of the program (script passes ctr's on), after it exited. */
        int exitCode(Duration timeout) throws InterruptedException {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("the terminal program did not exit within " + timeout + "; screen:\n"
                        + screen);
            }
            return process.exitValue();
        }

        @Override
        public void close() {
            if (process.isAlive()) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
            }
        }
    }

    // ---- the end ----------------------------------------------------------------------------------------------

    /** SIGTERM to the pool daemon of this state directory, if one runs, and waits for its stop sequence. */
    private void stopPool(List<String> leaks) throws IOException {
        Path pidFile = state.resolve("pool.pid");
        if (!Files.exists(pidFile)) {
            return;
        }
        long pid = Long.parseLong(Files.readString(pidFile).trim());
        Optional<ProcessHandle> h = ProcessHandle.of(pid);
        if (h.isPresent()) {
            h.get().destroy();
            try {
                h.get().onExit().get(150, TimeUnit.SECONDS);
            } catch (Exception e) {
                leaks.add("pool daemon " + pid + " did not stop within 150 s of SIGTERM");
                h.get().destroyForcibly();
            }
        }
    }

    /**
     * Stops containerd, the shim daemon of this containerd (which outlives it by design) and the pool daemon it
     * started, then fails if anything of the test is left: a mount under its directories, a QEMU of its state
     * directory. Whatever is left is removed first.
     */
    @Override
    public void close() throws Exception {
        List<String> leaks = new ArrayList<>();
        try {
            // before containerd's own cleanup can hide them: a task's rootfs, a VM's share binds
            mounts().forEach(m -> leaks.add("mount " + m));
            containerd.close();
            Optional<Long> daemon = daemonPid();
            if (daemon.isPresent()) {
                Optional<ProcessHandle> h = ProcessHandle.of(daemon.get());
                if (h.isPresent()) {
                    h.get().destroy();
                    try {
                        h.get().onExit().get(60, TimeUnit.SECONDS);
                    } catch (Exception e) {
                        leaks.add("shim daemon " + daemon.get() + " did not stop within 60 s of SIGTERM");
                        h.get().destroyForcibly();
                    }
                }
            }
            // then the host's pool daemon, which the shim daemon started on demand: it destroys its idle VMs as it
            // stops (the shim daemon released its leased ones on its way out)
            stopPool(leaks);
            for (String q : qemuProcesses()) {
                leaks.add("qemu " + q);
                ProcessHandle.of(Long.parseLong(q.substring(0, q.indexOf(' '))))
                        .ifPresent(ProcessHandle::destroyForcibly);
            }
        } finally {
            PrivateContainerd.unmountUnder(state);
            new ProcessBuilder("rm", "-rf", "--one-file-system", state.toString()).inheritIO().start().waitFor();
        }
        if (!leaks.isEmpty()) {
            throw new AssertionError("left behind by the tests:\n" + String.join("\n", leaks));
        }
    }
}
