package io.a3s.box.shim.bootstrap;

import java.util.Set;

/**
 * The shim binary's command line, parsed the way Go's {@code flag} package does it (containerd builds it for a
 * Go shim): flags first, each as {@code -name value}, {@code -name=value}, {@code --name value} or
 * {@code --name=value}; a boolean flag is {@code -debug} or {@code -debug=false}, never {@code -debug false};
 * {@code --} ends the flags; then the action.
 *
 * <pre>
 * start:  -namespace NS -address GRPC -publish-binary BIN -id ID [-debug] start
 * delete: -namespace NS -address GRPC -publish-binary BIN -id ID -bundle DIR [-debug] delete
 * serve:  -address GRPC -ttrpc-address TTRPC [-debug] serve        (hidden: the daemon start spawns)
 * </pre>
 *
 * @param action "start", "delete", "serve", or null (with {@code -v} or {@code -info})
 */
public record ShimArgs(String namespace, String address, String publishBinary, String id, String bundle,
                       String socket, String ttrpcAddress, boolean debug, boolean version, boolean info,
                       String action) {

    public static final Set<String> ACTIONS = Set.of("start", "delete", "serve");
    private static final Set<String> BOOLEAN_FLAGS = Set.of("debug", "v", "version", "info");
    private static final Set<String> STRING_FLAGS = Set.of("namespace", "address", "publish-binary", "id", "bundle",
            "socket", "ttrpc-address");

    /**
     * Parses {@code args}.
     *
     * @throws UsageException naming the unknown flag or action, or the flag that lacks a value
     */
    public static ShimArgs parse(String... args) throws UsageException {
        String namespace = "";
        String address = "";
        String publishBinary = "";
        String id = "";
        String bundle = "";
        String socket = "";
        String ttrpcAddress = "";
        boolean debug = false;
        boolean version = false;
        boolean info = false;
        int i = 0;
        for (; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--")) {
                i++;
                break;
            }
            if (a.length() < 2 || a.charAt(0) != '-') {
                break; // the first non-flag argument: the action
            }
            String body = a.startsWith("--") ? a.substring(2) : a.substring(1);
            if (body.isEmpty() || body.startsWith("-") || body.startsWith("=")) {
                throw new UsageException("bad flag syntax: " + a);
            }
            int eq = body.indexOf('=');
            String name = eq < 0 ? body : body.substring(0, eq);
            String value = eq < 0 ? null : body.substring(eq + 1);
            if (BOOLEAN_FLAGS.contains(name)) {
                boolean b = value == null || parseBool(name, value);
                switch (name) {
                    case "debug" -> debug = b;
                    case "v", "version" -> version = b;
                    default -> info = b;
                }
                continue;
            }
            if (!STRING_FLAGS.contains(name)) {
                throw new UsageException("flag provided but not defined: -" + name);
            }
            if (value == null) {
                if (i + 1 >= args.length) {
                    throw new UsageException("flag needs an argument: -" + name);
                }
                value = args[++i];
            }
            switch (name) {
                case "namespace" -> namespace = value;
                case "address" -> address = value;
                case "publish-binary" -> publishBinary = value;
                case "id" -> id = value;
                case "bundle" -> bundle = value;
                case "socket" -> socket = value;
                default -> ttrpcAddress = value;
            }
        }
        String action = null;
        if (i < args.length) {
            action = args[i];
            if (!ACTIONS.contains(action)) {
                throw new UsageException("unknown action \"" + action + "\" (expected start or delete)");
            }
            if (i + 1 < args.length) {
                throw new UsageException("unexpected argument after " + action + ": \"" + args[i + 1] + "\"");
            }
        } else if (!version && !info) {
            throw new UsageException("no action given (expected start or delete)");
        }
        return new ShimArgs(namespace, address, publishBinary, id, bundle, socket, ttrpcAddress, debug, version,
                info, action);
    }

    /** Go's {@code strconv.ParseBool}. */
    private static boolean parseBool(String flag, String v) throws UsageException {
        return switch (v) {
            case "1", "t", "T", "true", "TRUE", "True" -> true;
            case "0", "f", "F", "false", "FALSE", "False" -> false;
            default -> throw new UsageException("invalid boolean value \"" + v + "\" for -" + flag);
        };
    }

    /** A required flag's value, or a UsageException naming it. */
    String require(String flag, String value) throws UsageException {
        if (value == null || value.isEmpty()) {
            throw new UsageException(action + ": -" + flag + " is required");
        }
        return value;
    }
}
