package io.a3s.box.shim.pool;

import io.a3s.box.shim.Layout;
import io.a3s.box.shim.config.ShimConfig;
import io.a3s.box.shim.pool.v1.KeyStatus;
import io.a3s.box.shim.pool.v1.StatusResponse;
import io.a3s.box.shim.sys.ProcessRef;
import io.a3s.box.shim.vm.StateDir;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.shim.vm.qemu.QemuBackend;
import io.a3s.box.ttrpc.StatusException;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The warm pool benchmark behind {@code scripts/bench-pool}: not a test. A real pool daemon (the launcher's
 * {@code a3s-box pool start --foreground}) on a private state tree, real QEMU VMs (TCG here), the command
 * {@code true}. Prints one figure per line, {@code name value unit}.
 *
 * <ul>
 *   <li>cold: a pool with {@code size = 0}, so every lease boots its VM on the request path (a miss);
 *       warm: {@code size = F}, and before each run the benchmark waits until the pool is full again and boots
 *       nothing (a hit on a quiet host); warm loaded: runs back to back, so the refill of the previous lease boots
 *       a VM on the same cores while the run goes on (a hit under the pool's own load).</li>
 *   <li>{@code pool_*_lease_to_exit_ms}: in a long-lived JVM, as the shim daemon does it: lease (and attach),
 *       CreateContainer, StartProcess, the command to its exit and end of output, release. N runs each, one at a
 *       time; p50, p95, and the cold/warm ratio.</li>
 *   <li>{@code pool_cli_*_wall_ms}: the wall time of the {@code a3s-box pool run -- true} command, JVM start
 *       included, N runs each.</li>
 *   <li>{@code pool_warm_burst_*}: F runs at once with F IDLE VMs.</li>
 *   <li>{@code pool_fill_*}: from the daemon's start to F IDLE VMs (at most {@code max_concurrent_boots} = 2
 *       boots at once).</li>
 *   <li>{@code pool_idle_vm_pss_mib}: host memory per IDLE VM: PSS of its QEMU process (guest RAM it touched
 *       included, it is a memfd mapped by QEMU), averaged over F; {@code pool_daemon_rss_mib}: the daemon JVM.</li>
 * </ul>
 *
 * Usage: {@code PoolBench A3S_BOX_LAUNCHER IMAGE_DIR [N=20] [F=4]}.
 */
public final class PoolBench {
    private static final Duration WAIT = Duration.ofMinutes(3);
    /** Each run's breakdown on stderr ({@code A3S_BENCH_VERBOSE=1}). */
    private static final boolean VERBOSE = System.getenv("A3S_BENCH_VERBOSE") != null;

    private PoolBench() {
    }

    public static void main(String[] args) throws Exception {
        Path launcher = Path.of(args[0]).toAbsolutePath();
        Path image = Path.of(args[1]);
        int n = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        int fill = args.length > 3 ? Integer.parseInt(args[3]) : 4;
        Path root = Files.createTempDirectory(Path.of("/tmp"), "a3s-bp");
        VmConfig img = VmConfig.ofImage(image);
        try {
            // ---- cold: every lease is a miss
            Path coldConfig = config(root, "cold.toml", img, 0, 3);
            Bench cold = new Bench(launcher, new Layout(root.resolve("cold")), coldConfig);
            List<Long> coldRuns = new ArrayList<>();
            List<Long> coldCli = new ArrayList<>();
            try {
                cold.start();
                cold.run(); // class loading and JIT of this JVM: not counted
                for (int i = 0; i < n; i++) {
                    PoolRun.Result r = cold.run();
                    check(r, false);
                    coldRuns.add(r.totalMs());
                }
                for (int i = 0; i < n; i++) {
                    coldCli.add(cold.cli());
                }
            } finally {
                cold.stop();
            }

            // ---- fill, memory, warm
            Path warmConfig = config(root, "warm.toml", img, fill, fill + 2);
            Bench warm = new Bench(launcher, new Layout(root.resolve("warm")), warmConfig);
            List<Long> warmRuns = new ArrayList<>();
            List<Long> warmCli = new ArrayList<>();
            List<Long> burst = new ArrayList<>();
            try {
                long t0 = System.nanoTime();
                warm.start();
                warm.awaitIdle(fill);
                double fillSeconds = (System.nanoTime() - t0) / 1e9;
                Thread.sleep(2000); // let the guests settle after their boot
                double pss = warm.idleQemuPssMib() / fill;
                double daemonRss = warm.daemonRssMib();
                warm.awaitIdle(1);
                warm.run(); // warm-up of this JVM
                // quiet: the pool is full and no boot runs; loaded: back to back, the refill of the previous
                // lease booting (and warming up) a VM on the same cores
                List<Long> warmLoaded = new ArrayList<>();
                List<Long> warmCliLoaded = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    warm.awaitFull(fill);
                    PoolRun.Result r = warm.run();
                    check(r, true);
                    warmRuns.add(r.totalMs());
                }
                for (int i = 0; i < n; i++) {
                    warm.awaitIdle(1);
                    PoolRun.Result r = warm.run();
                    check(r, true);
                    warmLoaded.add(r.totalMs());
                }
                for (int i = 0; i < n; i++) {
                    warm.awaitFull(fill);
                    warmCli.add(warm.cli());
                }
                for (int i = 0; i < n; i++) {
                    warm.awaitIdle(1);
                    warmCliLoaded.add(warm.cli());
                }
                warm.awaitFull(fill);
                List<CompletableFuture<PoolRun.Result>> all = new ArrayList<>();
                for (int i = 0; i < fill; i++) {
                    CompletableFuture<PoolRun.Result> f = new CompletableFuture<>();
                    Thread.ofVirtual().start(() -> f.complete(warm.run()));
                    all.add(f);
                }
                int burstHits = 0;
                for (CompletableFuture<PoolRun.Result> f : all) {
                    PoolRun.Result r = f.get(5, TimeUnit.MINUTES);
                    burst.add(r.totalMs());
                    burstHits += r.warm() ? 1 : 0;
                }
                StatusResponse s = warm.client.status();
                KeyStatus k = s.getKeysList().getFirst();

                print("pool_cold_lease_to_exit_p50_ms", p(coldRuns, 50), "ms",
                        "in a long-lived JVM, miss: boot on the request path, N=" + n);
                print("pool_cold_lease_to_exit_p95_ms", p(coldRuns, 95), "ms", "");
                print("pool_warm_lease_to_exit_p50_ms", p(warmRuns, 50), "ms",
                        "in a long-lived JVM, hit: an IDLE VM, pool full, N=" + n);
                print("pool_warm_lease_to_exit_p95_ms", p(warmRuns, 95), "ms", "");
                ratio("pool_cold_warm_ratio_p50", p(coldRuns, 50), p(warmRuns, 50));
                ratio("pool_cold_warm_ratio_p95", p(coldRuns, 95), p(warmRuns, 95));
                print("pool_warm_loaded_lease_to_exit_p50_ms", p(warmLoaded, 50), "ms",
                        "hit, back to back: a refill boot in flight, N=" + n);
                print("pool_warm_loaded_lease_to_exit_p95_ms", p(warmLoaded, 95), "ms", "");
                ratio("pool_cold_warm_loaded_ratio_p50", p(coldRuns, 50), p(warmLoaded, 50));
                ratio("pool_cold_warm_loaded_ratio_p95", p(coldRuns, 95), p(warmLoaded, 95));
                print("pool_cli_cold_wall_p50_ms", p(coldCli, 50), "ms",
                        "a3s-box pool run -- true, JVM start included, N=" + n);
                print("pool_cli_cold_wall_p95_ms", p(coldCli, 95), "ms", "");
                print("pool_cli_warm_wall_p50_ms", p(warmCli, 50), "ms", "the same, hit, pool full, N=" + n);
                print("pool_cli_warm_wall_p95_ms", p(warmCli, 95), "ms", "");
                ratio("pool_cli_cold_warm_ratio_p50", p(coldCli, 50), p(warmCli, 50));
                ratio("pool_cli_cold_warm_ratio_p95", p(coldCli, 95), p(warmCli, 95));
                print("pool_cli_warm_loaded_wall_p50_ms", p(warmCliLoaded, 50), "ms",
                        "the same, hit, a refill boot in flight, N=" + n);
                print("pool_cli_warm_loaded_wall_p95_ms", p(warmCliLoaded, 95), "ms", "");
                print("pool_warm_burst_p50_ms", p(burst, 50), "ms",
                        fill + " runs at once on " + fill + " IDLE VMs, " + burstHits + " hits");
                print("pool_warm_burst_max_ms", p(burst, 100), "ms", "");
                print("pool_fill_time_ms", Math.round(fillSeconds * 1000), "ms",
                        "daemon start to " + fill + " IDLE VMs, 2 boots at once");
                System.out.printf(Locale.ROOT, "pool_fill_rate_vms_per_min %.1f VMs/min%n", fill * 60 / fillSeconds);
                print("pool_boot_p50_ms", k.getBootP50Ms(), "ms",
                        "as the pool measured its " + k.getBoots() + " boots (launch to Hello)");
                print("pool_boot_p95_ms", k.getBootP95Ms(), "ms", "");
                System.out.printf(Locale.ROOT, "pool_idle_vm_pss_mib %.1f MiB (PSS of an IDLE VM's QEMU, guest RAM "
                        + "included, mean of %d)%n", pss, fill);
                System.out.printf(Locale.ROOT, "pool_daemon_rss_mib %.1f MiB (the pool daemon's JVM)%n", daemonRss);
            } finally {
                warm.stop();
            }
        } finally {
            try (Stream<Path> s = Files.walk(root)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private static void check(PoolRun.Result r, boolean warm) {
        if (r.status() != 0) {
            throw new IllegalStateException("pool run of true failed with status " + r.status());
        }
        if (r.warm() != warm) {
            throw new IllegalStateException("expected a " + (warm ? "hit" : "miss") + ": " + r.describe());
        }
    }

    private static Path config(Path root, String name, VmConfig img, int size, int max) throws IOException {
        Path p = root.resolve(name);
        Files.writeString(p, """
                [vm]
                kernel = "%s"
                initrd = "%s"
                [pool]
                size = %d
                max_vms = %d
                max_concurrent_boots = 2
                lease_wait = "5m"
                """.formatted(img.kernel().toAbsolutePath(), img.initrd().toAbsolutePath(), size, max));
        return p;
    }

    /** One pool daemon and a client of it in this JVM. */
    private static final class Bench {
        final Path launcher;
        final Layout layout;
        final Path config;
        final ShimConfig settings;
        final PoolClient client;
        final PoolRun.Options options;
        final PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());

        Bench(Path launcher, Layout layout, Path config) throws Exception {
            this.launcher = launcher;
            this.layout = layout;
            this.config = config;
            this.settings = ShimConfig.defaults().overlay(config);
            this.client = new PoolClient(layout, new QemuBackend(), new PoolStarter(layout,
                    () -> List.of(launcher.toString(), "pool", "start", "--foreground"), env()), WAIT);
            this.options = PoolRun.parse(List.of("--", "true"));
        }

        Map<String, String> env() {
            return Map.of(Layout.ROOT_ENV, layout.root().toString(), ShimConfig.PATH_ENV, config.toString());
        }

        void start() throws Exception {
            Files.createDirectories(layout.root());
            new PoolStarter(layout, () -> List.of(launcher.toString(), "pool", "start", "--foreground"), env())
                    .connect().close();
        }

        PoolRun.Result run() {
            PoolRun.Result r = new PoolRun(options, layout, settings, System.err, OutputStream.nullOutputStream(),
                    OutputStream.nullOutputStream()).execute(client);
            if (VERBOSE) {
                System.err.println("run: " + r.describe());
            }
            return r;
        }

        /** Wall time of {@code a3s-box pool run -- true}. */
        long cli() throws Exception {
            ProcessBuilder pb = new ProcessBuilder(launcher.toString(), "pool", "run", "--", "true")
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.INHERIT);
            pb.environment().putAll(env());
            long t0 = System.nanoTime();
            Process p = pb.start();
            int status = p.waitFor();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            if (status != 0) {
                throw new IllegalStateException("a3s-box pool run -- true exited with " + status);
            }
            return ms;
        }

        /** Until the pool holds {@code fill} IDLE VMs and boots none. */
        void awaitFull(int fill) throws Exception {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (true) {
                StatusResponse s = client.status();
                if (!s.getKeysList().isEmpty() && s.getKeys(0).getIdle() >= fill && s.getKeys(0).getBooting() == 0
                        && s.getKeys(0).getDestroying() == 0) {
                    return;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the pool did not fill within " + WAIT + ": " + s);
                }
                Thread.sleep(20);
            }
        }

        void awaitIdle(int idle) throws Exception {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (true) {
                StatusResponse s = client.status();
                if (!s.getKeysList().isEmpty() && s.getKeys(0).getIdle() >= idle) {
                    return;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("no " + idle + " idle VMs within " + WAIT + ": " + s);
                }
                Thread.sleep(20);
            }
        }

        double idleQemuPssMib() throws IOException {
            long kib = 0;
            for (Path dir : StateDir.list(layout.root())) {
                long pid = Long.parseLong(Files.readString(dir.resolve(StateDir.PID)).trim());
                kib += rollup(pid, "Pss:");
            }
            return kib / 1024.0;
        }

        double daemonRssMib() throws IOException {
            long pid = Long.parseLong(Files.readString(layout.poolPidFile()).trim());
            return rollup(pid, "Rss:") / 1024.0;
        }

        void stop() throws Exception {
            try {
                client.close();
                java.util.Optional<Long> pid = client.stop();
                if (pid.isPresent()) {
                    try (ProcessRef r = ProcessRef.open(pid.get())) {
                        r.awaitExit(Duration.ofMinutes(2));
                    } catch (io.a3s.box.shim.sys.Linux.ErrnoException e) {
                        // gone
                    }
                }
            } catch (StatusException e) {
                System.err.println("pool stop: " + e.getMessage());
            }
        }
    }

    private static long rollup(long pid, String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps_rollup"))) {
            if (line.startsWith(field)) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no " + field + " in /proc/" + pid + "/smaps_rollup");
    }

    /** Nearest-rank percentile. */
    static long p(List<Long> values, int pct) {
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int rank = (int) Math.ceil(pct / 100.0 * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
    }

    private static void print(String name, long value, String unit, String detail) {
        System.out.println(name + " " + value + " " + unit + (detail.isEmpty() ? "" : " (" + detail + ")"));
    }

    private static void ratio(String name, long cold, long warm) {
        System.out.printf(Locale.ROOT, "%s %.1f x (cold %d ms / warm %d ms)%n", name, (double) cold / Math.max(1, warm),
                cold, warm);
    }
}
