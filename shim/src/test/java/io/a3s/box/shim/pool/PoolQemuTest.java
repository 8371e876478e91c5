package io.a3s.box.shim.pool;

import io.a3s.box.shim.Layout;
import io.a3s.box.shim.config.ShimConfig;
import io.a3s.box.shim.pool.v1.Holding;
import io.a3s.box.shim.pool.v1.KeyStatus;
import io.a3s.box.shim.pool.v1.StatusResponse;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.shim.sys.Mounts;
import io.a3s.box.shim.sys.ProcessRef;
import io.a3s.box.shim.vm.StateDir;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.shim.vm.qemu.QemuBackend;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import io.a3s.box.ttrpc.TtrpcClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pool daemon as users get it: a real daemon process (started on demand by the first client, as the shim
 * starts it), real QEMU microVMs (TCG) with the real guest agent, handed over to this JVM and to
 * {@code a3s-box pool run} processes. Covers the handover (the holder runs a container in a VM the pool booted),
 * the refill after a lease, a miss (cold boot) in the status, {@code pool run}'s output and exit status, a holder
 * that dies, and a pool killed with SIGKILL and started again (nothing leaked, the leased VM unharmed).
 * Pool size 1, at most 3 VMs: about seven TCG boots in all, at most two at once.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PoolQemuTest {
    private static final Duration WAIT = Duration.ofSeconds(120);

    private static Path root;
    private static Path config;
    private static Layout layout;
    private static ShimConfig settings;
    private static PoolClient client;
    private static VmConfig key;

    static Path repo() {
        return Path.of(System.getProperty("a3s.repo", "..")).toAbsolutePath().normalize();
    }

    static Path image() {
        return repo().resolve("build/guest/current");
    }

    static String classPath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

    /** {@code java -cp <test class path> A3sBox args...}, as the launcher runs it. */
    static List<String> a3sBox(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED",
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:UserThreadWaitAttemptsAtExit=0",
                "-Xlog:disable", "-Xlog:all=error:stderr", "-Da3s.home=" + repo(), "-cp", classPath(),
                PoolStarter.MAIN));
        cmd.addAll(List.of(args));
        return cmd;
    }

    static Map<String, String> env() {
        return Map.of(Layout.ROOT_ENV, root.toString(), ShimConfig.PATH_ENV, config.toString());
    }

    @BeforeAll
    static void setUp() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(QemuBackend.DEFAULT_QEMU),
                QemuBackend.DEFAULT_QEMU + " is missing: apt-get install qemu-system-x86");
        Assumptions.assumeTrue(Files.isReadable(image().resolve("initrd.img")),
                "no guest image in " + image() + ": run make -C guest && scripts/build-guest-image");
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/busybox")), "/bin/busybox is missing (busybox-static)");
        root = Files.createTempDirectory(Path.of("/tmp"), "a3s-pq");
        layout = new Layout(root);
        VmConfig img = VmConfig.ofImage(image());
        config = root.resolve("config.toml");
        Files.writeString(config, """
                [vm]
                kernel = "%s"
                initrd = "%s"
                [pool]
                size = 1
                max_vms = 3
                max_concurrent_boots = 2
                lease_wait = "2m"
                """.formatted(img.kernel(), img.initrd()));
        settings = ShimConfig.defaults().overlay(config);
        key = settings.vm().toVmConfig();
        client = new PoolClient(layout, new QemuBackend(), new PoolStarter(layout, () -> a3sBox("pool", "start",
                "--foreground"), env()), WAIT);
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (root == null) {
            return;
        }
        try {
            if (client != null) {
                client.close();
                client.stop();
            }
            awaitPoolGone();
        } finally {
            // whatever a failed test left: QEMUs of this root, mounts, files
            for (long pid : processesMentioning(root.toString())) {
                try (ProcessRef r = ProcessRef.open(pid)) {
                    r.signal(Linux.SIGKILL);
                    r.awaitExit(Duration.ofSeconds(5));
                } catch (Linux.ErrnoException e) {
                    // gone
                }
            }
            Mounts.detachAllUnder(root);
            try (Stream<Path> s = Files.walk(root)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    static void eventually(BooleanSupplier condition, String what) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what + "; pool status: " + statusOrNull());
            }
            Thread.sleep(50);
        }
    }

    static StatusResponse statusOrNull() {
        try {
            return client.status();
        } catch (StatusException e) {
            return null;
        }
    }

    static KeyStatus keyStatus(int memoryMib) {
        StatusResponse s = statusOrNull();
        return s == null ? KeyStatus.getDefaultInstance() : s.getKeysList().stream()
                .filter(k -> k.getKey().getMemoryMib() == memoryMib).findFirst()
                .orElse(KeyStatus.getDefaultInstance());
    }

    static void awaitIdle() throws Exception {
        eventually(() -> keyStatus(key.memoryMiB()).getIdle() == 1, "one idle VM");
    }

    static long poolPid() throws IOException {
        return Long.parseLong(Files.readString(layout.poolPidFile()).trim());
    }

    static long qemuPid(Path stateDir) throws IOException {
        return Long.parseLong(Files.readString(stateDir.resolve(StateDir.PID)).trim());
    }

    /** The niceness of every thread of {@code pid} (field 19 of /proc/<pid>/task/<tid>/stat). */
    static java.util.Set<Integer> threadNice(long pid) throws IOException {
        java.util.Set<Integer> out = new java.util.HashSet<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path t : tasks.toList()) {
                String stat = Files.readString(t.resolve("stat"));
                out.add(Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[16]));
            }
        }
        return out;
    }

    static List<Path> vmDirs() throws IOException {
        return StateDir.list(root);
    }

    static List<Path> mountsUnder(Path dir) {
        try {
            return Mounts.mountsUnder(dir);
        } catch (IOException e) {
            return List.of();
        }
    }

    static void awaitPoolGone() throws Exception {
        eventually(() -> !Files.exists(layout.poolSocket()), "the pool socket is gone");
    }

    static List<Long> processesMentioning(String needle) throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc"))) {
            return s.filter(p -> p.getFileName().toString().matches("\\d+"))
                    .map(p -> Long.parseLong(p.getFileName().toString()))
                    .filter(pid -> pid != ProcessHandle.current().pid())
                    .filter(pid -> String.join(" ", ProcessRef.cmdline(pid)).contains(needle))
                    .filter(ProcessRef::procAlive)
                    .toList();
        }
    }

    /** Runs a command in a leased VM as {@code pool run} does; returns its output and status. */
    static PoolRun.Result run(Lease lease, ByteArrayOutputStream out, String... cmd) throws Exception {
        PoolRun.Options o = PoolRun.parse(List.of(cmd));
        return new PoolRun(o, layout, settings, System.err, out, System.err).runIn(client, lease);
    }

    record Exec(int exit, String out, String err) {
    }

    static Exec exec(List<String> cmd, Duration timeout) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putAll(env());
        Process p = pb.start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread o = Thread.ofVirtual().start(() -> copy(p, true, out));
        Thread e = Thread.ofVirtual().start(() -> copy(p, false, err));
        assertTrue(p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS), "command did not finish: " + cmd);
        o.join();
        e.join();
        return new Exec(p.exitValue(), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static void copy(Process p, boolean stdout, ByteArrayOutputStream to) {
        try {
            (stdout ? p.getInputStream() : p.getErrorStream()).transferTo(to);
        } catch (IOException e) {
            // process gone
        }
    }

    @Test
    @Order(1)
    void theFirstClientStartsThePoolAndAWarmLeaseIsHandedOver() throws Exception {
        assertFalse(client.running(), "no pool daemon yet");
        StatusException notRunning = org.junit.jupiter.api.Assertions.assertThrows(StatusException.class,
                client::status);
        assertEquals(Code.UNAVAILABLE, notRunning.code());
        try (TtrpcClient c = new PoolStarter(layout, () -> a3sBox("pool", "start", "--foreground"), env()).connect()) {
            assertTrue(Files.exists(layout.poolPidFile()));
        }
        awaitIdle();
        Path idle = vmDirs().getFirst();
        assertEquals(java.util.Set.of(WarmPool.BACKGROUND_NICE), threadNice(qemuPid(idle)),
                "an IDLE VM runs at background priority");
        assertFalse(Files.exists(idle.resolve(StateDir.SHARE).resolve(GuestWarmUp.CONTAINER_ID)),
                "the warm-up left nothing in the share");
        assertEquals(List.of(), mountsUnder(root), "an IDLE VM has no mount");

        Lease lease = client.lease(key, "test");
        assertTrue(lease.warm(), "an IDLE VM served the lease");
        assertEquals(idle, lease.vm().stateDir());
        assertEquals(java.util.Set.of(0), threadNice(qemuPid(idle)), "a leased VM runs at normal priority");
        Path dir = lease.vm().stateDir();
        assertEquals(ProcessHandle.current().pid(), PoolService.ownerPid(dir).orElseThrow(),
                "the state directory names the holder");
        StatusResponse s = client.status();
        Holding h = s.getLeasesList().getFirst();
        assertEquals(lease.vm().id(), h.getVmId());
        assertEquals(ProcessHandle.current().pid(), h.getHolderPid());
        long qemu = qemuPid(dir);

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PoolRun.Result r = run(lease, out, "--", "sh", "-c", "echo hi; hostname; exit 7");
        assertEquals(7, r.status());
        String[] lines = out.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals("hi", lines[0]);
        assertTrue(lines[1].startsWith("run-"), "the container's own hostname: " + lines[1]);
        System.out.println("container in a handed-over VM: " + r.describe());

        // runIn released the lease: the VM is destroyed, never returned, and the refill replaces it
        eventually(() -> !Files.exists(dir) && !ProcessRef.procAlive(qemu), "the released VM is gone");
        eventually(() -> keyStatus(key.memoryMiB()).getLeased() == 0, "its lease ended");
        awaitIdle();
        assertEquals(1, keyStatus(key.memoryMiB()).getHits());
    }

    @Test
    @Order(2)
    void aMissFallsBackToAColdBootAndTheStatusSaysSo() throws Exception {
        VmConfig other = key.withMemoryMiB(192);
        Lease lease = client.lease(other, "miss");
        try {
            assertFalse(lease.warm(), "no IDLE VM of 192 MiB: booted on the request path");
            KeyStatus k = keyStatus(192);
            assertEquals(1, k.getMisses());
            assertEquals(0, k.getHits());
            assertEquals(1, k.getLeased());
            assertEquals(1, k.getBoots(), "its boot time is in the figures");
            assertTrue(StatusText.text(client.status(), java.time.Instant.now())
                    .contains("256 MiB tcg  idle 1/1"), "the configured key stays warm");
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            assertEquals(0, run(lease, out, "--", "true").status());
        } finally {
            client.release(lease);
        }
        eventually(() -> keyStatus(192).getLeased() == 0, "the cold VM released");
    }

    @Test
    @Order(3)
    void poolRunPrintsTheOutputAndExitsWithTheStatusOfTheCommand() throws Exception {
        awaitIdle();
        Exec e = exec(a3sBox("pool", "run", "--timing", "--", "sh", "-c", "echo hi; exit 7"), WAIT);
        assertEquals("hi\n", e.out(), e.err());
        assertEquals(7, e.exit(), e.err());
        assertTrue(e.err().contains("a3s-box pool run: warm vm"), e.err());

        Exec missing = exec(a3sBox("pool", "run", "--", "/no/such/binary"), WAIT);
        assertEquals(PoolRun.NOT_FOUND, missing.exit(), missing.err());
    }

    @Test
    @Order(4)
    void whenTheHolderDiesItsVmIsDestroyed() throws Exception {
        awaitIdle();
        ProcessBuilder pb = new ProcessBuilder(a3sBox("pool", "run", "--", "sleep", "600"))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().putAll(env());
        Process holder = pb.start();
        try {
            eventually(() -> {
                StatusResponse s = statusOrNull();
                return s != null && s.getLeasesList().stream().anyMatch(h -> h.getHolderPid() == holder.pid());
            }, "the pool run process holds a VM");
            Holding h = client.status().getLeasesList().stream().filter(x -> x.getHolderPid() == holder.pid())
                    .findFirst().orElseThrow();
            Path dir = StateDir.of(root, h.getVmId());
            long qemu = qemuPid(dir);
            eventually(() -> !mountsUnder(dir.resolve(StateDir.SHARE)).isEmpty(),
                    "the holder mounted its rootfs into the share");
            holder.destroyForcibly().waitFor();
            long t0 = System.nanoTime();
            eventually(() -> !ProcessRef.procAlive(qemu), "the dead holder's QEMU is gone");
            System.out.printf("holder SIGKILL to its VM's QEMU gone: %d ms%n", (System.nanoTime() - t0) / 1_000_000);
            eventually(() -> !Files.exists(dir), "its state directory (and the mount in it) is gone");
            eventually(() -> statusOrNull() != null && statusOrNull().getLeasesList().stream()
                    .noneMatch(x -> x.getVmId().equals(h.getVmId())), "its lease ended");
        } finally {
            holder.destroyForcibly();
        }
    }

    @Test
    @Order(5)
    void sigkillOfThePoolLeavesNothingBehindAndLeasedVmsSurvive() throws Exception {
        awaitIdle();
        Lease lease = client.lease(key, "survivor");
        awaitIdle();
        Path leasedDir = lease.vm().stateDir();
        long leasedQemu = qemuPid(leasedDir);
        Path idleDir = vmDirs().stream().filter(d -> !d.equals(leasedDir)).findFirst().orElseThrow();
        long idleQemu = qemuPid(idleDir);
        long pool = poolPid();

        try (ProcessRef p = ProcessRef.open(pool)) {
            p.signal(Linux.SIGKILL);
            assertTrue(p.awaitExit(Duration.ofSeconds(10)));
        }
        assertTrue(ProcessRef.procAlive(idleQemu) && ProcessRef.procAlive(leasedQemu),
                "QEMU outlives the pool (own session)");

        // the next client starts a new pool, which reconciles the state tree first
        try (TtrpcClient c = new PoolStarter(layout, () -> a3sBox("pool", "start", "--foreground"), env()).connect()) {
            assertTrue(poolPid() != pool);
        }
        StatusResponse s = client.status();
        assertEquals(1, s.getAdopted(), "the leased VM adopted: " + s);
        assertTrue(s.getReconciled() >= 1, "the dead pool's idle VM torn down: " + s);
        assertFalse(ProcessRef.procAlive(idleQemu), "the orphaned idle VM's QEMU was killed");
        assertFalse(Files.exists(idleDir), "and its state directory removed");
        assertTrue(ProcessRef.procAlive(leasedQemu), "the leased VM was left alone");
        assertEquals(1, keyStatus(key.memoryMiB()).getLeased());

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PoolRun.Result r = run(lease, out, "--", "echo", "still here");
        assertEquals(0, r.status());
        assertEquals("still here\n", out.toString(StandardCharsets.UTF_8), "the holder's session was not disturbed");
        eventually(() -> !ProcessRef.procAlive(leasedQemu) && !Files.exists(leasedDir), "released VM destroyed");
        awaitIdle();

        Optional<Long> stopped = client.stop();
        assertTrue(stopped.isPresent());
        awaitPoolGone();
        eventually(() -> !ProcessRef.procAlive(stopped.get()), "the pool daemon exited");
        assertEquals(List.of(), processesMentioning(root.toString()), "no QEMU (or anything) of this tree runs");
        assertEquals(List.of(), Mounts.mountsUnder(root), "no mount left");
        assertEquals(List.of(), vmDirs(), "no VM directory left");
        assertFalse(Files.exists(layout.poolPidFile()));
    }
}
