package io.a3s.box.shim.bootstrap;

import io.a3s.box.shim.Layout;
import io.a3s.box.shim.config.ConfigException;
import io.a3s.box.shim.config.ShimConfig;

import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * One run of the shim binary: its environment, working directory and standard streams (injected, so tests
 * can run the actions in-process).
 *
 * @param cwd containerd runs {@code start} and {@code delete} in the bundle directory
 */
public record Invocation(Map<String, String> env, Path cwd, InputStream stdin, PrintStream stdout,
                         PrintStream stderr) {
    public static final String TTRPC_ADDRESS_ENV = "TTRPC_ADDRESS";

    /** containerd's identifier rule (namespaces and container ids): also keeps ids out of path tricks. */
    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*");
    private static final int MAX_IDENTIFIER = 76;

    /** This process's. */
    public static Invocation system() {
        return new Invocation(System.getenv(), Path.of("").toAbsolutePath(), System.in, System.out, System.err);
    }

    /** An environment variable, or "" when unset. */
    String getenv(String name) {
        String v = env.get(name);
        return v == null ? "" : v;
    }

    /**
     * The state tree: {@code $A3S_BOX_STATE}, else the config's {@code shim.state_dir}, else
     * {@value Layout#DEFAULT_ROOT}. The launcher's fast paths resolve it the same way.
     */
    Layout layout(ShimConfig config) {
        return layout(config == null ? null : config.shim().stateDir());
    }

    /** {@link #layout(ShimConfig)} given only the config's {@code shim.state_dir} (null: not set). */
    Layout layout(Path configStateDir) {
        String env = getenv(Layout.ROOT_ENV);
        if (!env.isBlank()) {
            return new Layout(Path.of(env));
        }
        return new Layout(configStateDir != null ? configStateDir : Path.of(Layout.DEFAULT_ROOT));
    }

    /** The state tree for start and delete: the config file is read only if $A3S_BOX_STATE does not decide. */
    Layout layout() throws ConfigException {
        return getenv(Layout.ROOT_ENV).isBlank() ? layout(ShimConfig.globalStateDir(env)) : layout((Path) null);
    }

    /** Checks a namespace or id the way containerd does before it names files after it. */
    static String identifier(String flag, String value) throws UsageException {
        if (value.isEmpty()) {
            throw new UsageException("-" + flag + " is required");
        }
        if (value.length() > MAX_IDENTIFIER || !IDENTIFIER.matcher(value).matches()) {
            throw new UsageException("-" + flag + " \"" + value + "\" is not a valid containerd identifier");
        }
        return value;
    }
}
