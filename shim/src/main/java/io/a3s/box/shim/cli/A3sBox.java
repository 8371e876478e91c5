package io.a3s.box.shim.cli;

import com.google.protobuf.Timestamp;
import io.a3s.box.containerd.events.TaskExit;
import io.a3s.box.shim.BuildInfo;
import io.a3s.box.shim.events.EventPublisher;

import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code a3s-box}: the user's command line. Each subcommand returns its exit status; {@link #main} is the
 * only place that exits.
 */
public final class A3sBox {
    static final String USAGE = """
            usage: a3s-box COMMAND [ARGS...]

            commands:
              version                 print the version
              check                   whether this host can run a3s-box, and why not
              spec check [--id ID] PATH
                                      validate a config.json (or a bundle directory) and print the guest
                                      spec it maps to, or every error with its JSON path (exit status 1)
              spec check --process PATH
                                      the same for an exec's OCI Process JSON
              pool start [--foreground] | status [--json] | stop
                                      the host's warm pool of microVMs (a3s-box pool help)
              pool run [OPTIONS] -- CMD [ARGS...]
                                      run one command in a pooled VM, exit with its status
              debug publish-exit      forward a TaskExit event to containerd over ttrpc (diagnostics):
                  --address PATH        containerd's ttrpc socket (default: $TTRPC_ADDRESS)
                  --namespace NS        containerd namespace (default: default)
                  --id ID               container id
                  --pid N --exit-status N
            """;

    private A3sBox() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0) {
            err.print(USAGE);
            return 2;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        try {
            return switch (args[0]) {
                case "version", "--version", "-v" -> {
                    out.println("a3s-box " + BuildInfo.CURRENT + ", java " + Runtime.version());
                    yield 0;
                }
                case "debug" -> debug(rest, out, err);
                case "check" -> HostCheck.run(out, io.a3s.box.shim.config.ShimConfig.defaultGuestDir());
                case "spec" -> io.a3s.box.spec.cli.SpecCheck.run(rest, out, err);
                case "pool" -> io.a3s.box.shim.pool.PoolCli.run(rest, out, err);
                case "help", "--help", "-h" -> {
                    out.print(USAGE);
                    yield 0;
                }
                default -> {
                    err.println("a3s-box: unknown command \"" + args[0] + "\"");
                    err.print(USAGE);
                    yield 2;
                }
            };
        } catch (UsageException e) {
            err.println("a3s-box: " + e.getMessage());
            return 2;
        } catch (Exception e) {
            err.println("a3s-box: " + e.getMessage());
            return 1;
        }
    }

    private static int debug(String[] args, PrintStream out, PrintStream err) throws Exception {
        if (args.length == 0 || !args[0].equals("publish-exit")) {
            throw new UsageException("debug: expected \"publish-exit\"");
        }
        Map<String, String> flags = flags(Arrays.copyOfRange(args, 1, args.length));
        String address = flags.getOrDefault("address", System.getenv("TTRPC_ADDRESS"));
        if (address == null || address.isEmpty()) {
            throw new UsageException("debug publish-exit: --address or $TTRPC_ADDRESS is required");
        }
        String id = required(flags, "id");
        Instant now = Instant.now();
        TaskExit exit = TaskExit.newBuilder().setContainerId(id).setId(id)
                .setPid(Integer.parseUnsignedInt(flags.getOrDefault("pid", "0")))
                .setExitStatus(Integer.parseUnsignedInt(flags.getOrDefault("exit-status", "0")))
                .setExitedAt(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()))
                .build();
        try (EventPublisher p = new EventPublisher(EventPublisher.parseAddress(address)).start()) {
            p.publish(flags.getOrDefault("namespace", "default"), exit);
            p.shutdown();
            if (!p.awaitTermination(Duration.ofSeconds(30))) {
                err.println("a3s-box: event not delivered within 30 s");
                return 1;
            }
        }
        out.println("forwarded /tasks/exit for " + id + " to " + address);
        return 0;
    }

    /** Go-style flags: {@code -name value}, {@code --name value}, {@code --name=value}. */
    static Map<String, String> flags(String[] args) throws UsageException {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("-")) {
                throw new UsageException("unexpected argument \"" + a + "\"");
            }
            String name = a.replaceFirst("^--?", "");
            int eq = name.indexOf('=');
            if (eq >= 0) {
                m.put(name.substring(0, eq), name.substring(eq + 1));
            } else if (i + 1 < args.length) {
                m.put(name, args[++i]);
            } else {
                throw new UsageException("flag -" + name + " needs a value");
            }
        }
        return m;
    }

    private static String required(Map<String, String> flags, String name) throws UsageException {
        String v = flags.get(name);
        if (v == null || v.isEmpty()) {
            throw new UsageException("--" + name + " is required");
        }
        return v;
    }

    static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }
}
