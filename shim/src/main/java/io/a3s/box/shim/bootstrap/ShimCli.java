package io.a3s.box.shim.bootstrap;

import io.a3s.box.shim.BuildInfo;
import io.a3s.box.shim.config.ConfigException;
import io.a3s.box.shim.config.ShimConfig;
import io.a3s.box.shim.daemon.DaemonConfig;

import java.time.Instant;

/**
 * The shim binary's entry point behind {@code ShimMain}: parses the command line and runs one action. Returns
 * the exit status; only {@code main} exits.
 */
public final class ShimCli {
    static final String NAME = "containerd-shim-a3s-box";
    private static final String LOG_LEVEL = "org.slf4j.simpleLogger.defaultLogLevel";

    private ShimCli() {
    }

    public static int run(String[] argv, Invocation inv) {
        ShimArgs args;
        try {
            args = ShimArgs.parse(argv);
        } catch (UsageException e) {
            inv.stderr().println(NAME + ": " + e.getMessage());
            inv.stderr().println("usage: " + NAME + " -namespace NS -address ADDR -publish-binary BIN -id ID "
                    + "[-bundle DIR] [-debug] start|delete   (or -v)");
            return 1;
        }
        if (args.version()) {
            inv.stdout().print(version());
            inv.stdout().flush();
            return 0;
        }
        if (args.info()) {
            return InfoAction.run(inv);
        }
        return switch (args.action()) {
            case "start" -> {
                quietLogging();
                yield StartAction.run(args, inv);
            }
            case "delete" -> {
                quietLogging();
                yield DeleteAction.run(args, inv, VmReaper.qemu());
            }
            default -> serve(args, inv);
        };
    }

    /** {@code -v}, in the layout of containerd's Go shims. */
    static String version() {
        return NAME + ":\n"
                + "  Version:  " + BuildInfo.CURRENT.version() + "\n"
                + "  Revision: " + BuildInfo.CURRENT.commit() + "\n"
                + "  Java version: " + Runtime.version() + "\n";
    }

    /**
     * The hidden {@code serve} action: the daemon that {@code start} spawns, with stdout and stderr appended
     * to its log file (where {@code start} looks for a reason when the daemon exits before it answers).
     */
    private static int serve(ShimArgs args, Invocation inv) {
        try {
            String address = args.require("address", args.address());
            String ttrpcAddress = args.require("ttrpc-address", args.ttrpcAddress());
            ShimConfig config = ShimConfig.loadGlobal(inv.env());
            DaemonConfig dc = new DaemonConfig(inv.layout(config), address, ttrpcAddress,
                    args.debug() || config.shim().debug());
            if (dc.debug() && System.getProperty(LOG_LEVEL) == null) {
                // before the first logger exists: SLF4J's simple logger reads its settings once
                System.setProperty(LOG_LEVEL, "debug");
                System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
                System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
            }
            return DaemonEntry.serve(dc);
        } catch (Throwable e) {
            String reason = e instanceof UsageException || e instanceof ConfigException ? e.getMessage()
                    : e.toString();
            inv.stderr().println(Instant.now() + " " + NAME + " serve: " + StartAction.oneLine(reason));
            return 1;
        }
    }

    /**
     * The short-lived actions must print nothing but their answer: keep SLF4J from reporting on stderr that it
     * has no provider (the runtime class path has none), and log nowhere.
     */
    private static void quietLogging() {
        if (System.getProperty("slf4j.internal.verbosity") == null) {
            System.setProperty("slf4j.internal.verbosity", "ERROR");
        }
        if (System.getProperty("slf4j.provider") == null) {
            System.setProperty("slf4j.provider", "org.slf4j.helpers.NOP_FallbackServiceProvider");
        }
    }
}
