package io.a3s.box.shim.pool;

import io.a3s.box.shim.Layout;
import io.a3s.box.shim.config.ConfigException;
import io.a3s.box.shim.config.ShimConfig;
import io.a3s.box.shim.pool.v1.StatusResponse;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.shim.sys.ProcessRef;
import io.a3s.box.ttrpc.StatusException;
import io.a3s.box.ttrpc.TtrpcClient;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code a3s-box pool ...}: start, stop, status and run. Returns exit statuses; never exits the JVM itself.
 * Nothing here logs at INFO unless it is the daemon ({@code start --foreground}): the other subcommands' output is
 * the user's.
 */
public final class PoolCli {
    public static final String USAGE = """
            usage: a3s-box pool COMMAND
              start [--foreground]    start the host's pool daemon (in the background unless --foreground);
                                      clients start it on demand anyway
              status [--json]         idle / booting / leased VMs per key, hits, misses, boot times
              stop                    stop the pool daemon: idle VMs are destroyed, leased ones stay with their
                                      holders (the next pool adopts them)
              run [OPTIONS] -- CMD    run one command in a pooled VM (a3s-box pool run --help)
            """;

    /** Idle VMs are destroyed (QMP quit, a kill after 2 s) in parallel; leased ones are left alone. */
    private static final Duration STOP_WAIT = Duration.ofSeconds(150);

    private PoolCli() {
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0) {
            err.print(USAGE);
            return 2;
        }
        String cmd = args[0];
        List<String> rest = Arrays.asList(args).subList(1, args.length);
        boolean daemon = cmd.equals("start") && rest.contains("--foreground");
        configureLogging(daemon);
        try {
            ShimConfig config = ShimConfig.loadGlobal();
            Layout layout = layout(config, System.getenv());
            return switch (cmd) {
                case "start" -> start(rest, layout, config, out, err);
                case "status" -> status(rest, layout, out, err);
                case "stop" -> stop(rest, layout, out, err);
                case "run" -> {
                    if (rest.contains("--help") || rest.contains("-h")) {
                        out.print(PoolRun.USAGE);
                        yield 0;
                    }
                    try {
                        yield new PoolRun(PoolRun.parse(rest), layout, config, err).run();
                    } catch (PoolRun.UsageException e) {
                        err.println("a3s-box " + e.getMessage());
                        err.print(PoolRun.USAGE);
                        yield PoolRun.SETUP_FAILED;
                    }
                }
                case "help", "--help", "-h" -> {
                    out.print(USAGE);
                    yield 0;
                }
                default -> {
                    err.println("a3s-box pool: unknown command \"" + cmd + "\"");
                    err.print(USAGE);
                    yield 2;
                }
            };
        } catch (ConfigException e) {
            err.println("a3s-box pool: configuration: " + e.getMessage());
            return cmd.equals("run") ? PoolRun.SETUP_FAILED : 1;
        } catch (Exception e) {
            err.println("a3s-box pool " + cmd + ": " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return cmd.equals("run") ? PoolRun.SETUP_FAILED : 1;
        }
    }

    /**
     * The state tree as every a3s-box process resolves it: {@code $A3S_BOX_STATE}, else {@code [shim] state_dir},
     * else {@value Layout#DEFAULT_ROOT}.
     */
    static Layout layout(ShimConfig config, Map<String, String> env) {
        String e = env.get(Layout.ROOT_ENV);
        if (e != null && !e.isBlank()) {
            return new Layout(Path.of(e));
        }
        Path p = config.shim().stateDir();
        return new Layout(p != null ? p : Path.of(Layout.DEFAULT_ROOT));
    }

    private static int start(List<String> args, Layout layout, ShimConfig config, PrintStream out, PrintStream err)
            throws Exception {
        for (String a : args) {
            if (!a.equals("--foreground")) {
                err.println("a3s-box pool start: unknown option " + a);
                return 2;
            }
        }
        if (args.contains("--foreground")) {
            return PoolDaemon.serve(layout, config);
        }
        try (TtrpcClient c = PoolStarter.sameJvm(layout).connect()) {
            StatusResponse s = c.call(PoolService.NAME, "Status", io.a3s.box.shim.pool.v1.StatusRequest
                    .getDefaultInstance(), StatusResponse.parser(), PoolClient.SHORT_CALL);
            out.println("pool daemon running: pid " + s.getPid() + ", " + layout.poolSocket() + ", log "
                    + layout.poolLog());
            return 0;
        }
    }

    private static int status(List<String> args, Layout layout, PrintStream out, PrintStream err) {
        boolean json = false;
        for (String a : args) {
            if (a.equals("--json")) {
                json = true;
            } else {
                err.println("a3s-box pool status: unknown option " + a);
                return 2;
            }
        }
        try (PoolClient c = new PoolClient(layout, null, null, Duration.ZERO)) {
            StatusResponse s = c.status();
            out.print(json ? StatusText.json(s) : StatusText.text(s, Instant.now()));
            return 0;
        } catch (StatusException e) {
            if (json) {
                out.println("{\"running\": false}");
            } else {
                out.println("pool: not running (nothing answers on " + layout.poolSocket() + ")");
            }
            return 3;
        }
    }

    private static int stop(List<String> args, Layout layout, PrintStream out, PrintStream err) throws Exception {
        if (!args.isEmpty()) {
            err.println("a3s-box pool stop: unknown option " + args.getFirst());
            return 2;
        }
        Optional<Long> pid;
        try (PoolClient c = new PoolClient(layout, null, null, Duration.ZERO)) {
            pid = c.stop();
        }
        if (pid.isEmpty()) {
            out.println("pool: not running");
            return 0;
        }
        try (ProcessRef daemon = ProcessRef.open(pid.get())) {
            if (!daemon.awaitExit(STOP_WAIT)) {
                err.println("a3s-box pool stop: pool daemon " + pid.get() + " still runs after "
                        + STOP_WAIT.toSeconds() + " s");
                return 1;
            }
        } catch (Linux.ErrnoException e) {
            // exited already
        }
        // the lock file is released by the daemon's exit; wait for the socket to go too
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (Files.exists(layout.poolSocket()) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        out.println("pool daemon " + pid.get() + " stopped");
        return 0;
    }

    /**
     * slf4j-simple reads its settings once, from system properties: timestamps for the daemon's log, and only
     * warnings for the commands whose output is the user's.
     */
    private static void configureLogging(boolean daemon) {
        if (daemon) {
            System.setProperty("org.slf4j.simpleLogger.showDateTime",
                    System.getProperty("org.slf4j.simpleLogger.showDateTime", "true"));
            System.setProperty("org.slf4j.simpleLogger.dateTimeFormat",
                    System.getProperty("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"));
        } else if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
    }
}
