package io.a3s.box.shim.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.a3s.box.containerd.runtimeoptions.Options;
import io.a3s.box.shim.Layout;
import io.a3s.box.shim.events.Anys;
import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The a3s-box configuration: {@code /etc/a3s-box/config.toml} (or {@code $A3S_BOX_CONFIG}), optionally
 * overlaid per task by containerd's runtime options. Every key is optional; see
 * {@code docs/config.toml.sample} for each key, its default and its range.
 *
 * <pre>
 * [vm]    backend, accelerator, kernel, initrd, vcpus, memory_mib, boot_timeout
 * [pool]  size, max_vms, idle_ttl, lease_wait, max_concurrent_boots
 * [shim]  state_dir, debug
 * </pre>
 * Unknown keys and bad values are refused with the key and the allowed range
 * ({@code vm.vcpus: 0 is out of range 1..64}): a typo must not silently fall back to a default.
 *
 * <p>Layering: defaults, then the global file, then (per task, {@link #withRuntimeOptions}) the runtime options'
 * {@code config_path} file or {@code config_body}. Only {@code [vm]} is per task; {@code [pool]} and
 * {@code [shim]} are read by daemons that serve every task, so their values are taken from the global file
 * (a per-task file may contain them, they are validated and then have no effect there).
 */
public record ShimConfig(Vm vm, Pool pool, Shim shim) {
    private static final String DEFAULT_PATH_TEXT = "/etc/a3s-box/config.toml";
    public static final Path DEFAULT_PATH = Path.of(DEFAULT_PATH_TEXT);
    /** Overrides {@link #DEFAULT_PATH} (tests, private setups). */
    public static final String PATH_ENV = "A3S_BOX_CONFIG";
    /** Full name (type URL without prefix) of containerd's options for non-runc runtimes. */
    public static final String RUNTIME_OPTIONS_TYPE = "runtimeoptions.v1.Options";
    /**
     * Where a3s-box is: a checkout (the guest image in {@code build/guest/current}) or an install prefix (the
     * guest image in {@code share/a3s-box/guest}). The launchers set it; else {@code $A3S_BOX_HOME}, else
     * {@code /usr/local}.
     */
    public static final String HOME_PROPERTY = "a3s.home";
    public static final String HOME_ENV = "A3S_BOX_HOME";

    public static final List<String> BACKENDS = List.of("qemu");
    public static final int MAX_POOL_SIZE = 4096;
    public static final Duration MIN_BOOT_TIMEOUT = Duration.ofSeconds(1);
    public static final Duration MAX_BOOT_TIMEOUT = Duration.ofMinutes(30);
    public static final Duration MIN_IDLE_TTL = Duration.ofSeconds(1);
    public static final Duration MAX_IDLE_TTL = Duration.ofDays(7);
    public static final Duration MAX_LEASE_WAIT = Duration.ofHours(1);
    /** {@code <state_dir>/shim/<16 hex>.sock} must fit in {@link Layout#MAX_SOCKET_PATH}. */
    static final int MAX_KERNEL_ARGS = 32;
    static final int MAX_KERNEL_ARG_LENGTH = 256;
    public static final int MAX_STATE_DIR_LENGTH = Layout.MAX_SOCKET_PATH - "/shim/0123456789abcdef.sock".length();

    public ShimConfig {
        Objects.requireNonNull(vm, "vm");
        Objects.requireNonNull(pool, "pool");
        Objects.requireNonNull(shim, "shim");
    }

    /**
     * {@code [vm]}: how each task's microVM is built.
     *
     * @param bootTimeout how long one boot may take until the guest agent answers
     * @param kernelArgs  appended to the guest kernel's command line (e.g. {@code a3s.debug} or {@code a3s.trace};
     *                    docs/vm.md)
     */
    public record Vm(String backend, Accelerator accelerator, Path kernel, Path initrd, int vcpus, int memoryMib,
                     Duration bootTimeout, List<String> kernelArgs) {
        public static final String DEFAULT_BACKEND = "qemu";

        public Vm {
            Objects.requireNonNull(backend, "backend");
            Objects.requireNonNull(accelerator, "accelerator");
            Objects.requireNonNull(kernel, "kernel");
            Objects.requireNonNull(initrd, "initrd");
            Objects.requireNonNull(bootTimeout, "bootTimeout");
            kernelArgs = List.copyOf(kernelArgs);
        }

        /** The VM this section describes, for the backend and the warm pool (which keys on it). */
        public VmConfig toVmConfig() {
            return VmConfig.of(kernel, initrd).withVcpus(vcpus).withMemoryMiB(memoryMib).withAccelerator(accelerator)
                    .withBootDeadline(bootTimeout).withExtraKernelArgs(kernelArgs);
        }
    }

    /**
     * {@code [pool]}: the host's warm pool of booted VMs.
     *
     * @param size per VM configuration, how many idle VMs to keep booted ahead of demand (0 = no warm pool)
     */
    public record Pool(int size, int maxVms, Duration idleTtl, Duration leaseWait, int maxConcurrentBoots) {
        public static final int DEFAULT_SIZE = 1;
        public static final int DEFAULT_MAX_VMS = 16;
        public static final Duration DEFAULT_IDLE_TTL = Duration.ofMinutes(10);
        public static final Duration DEFAULT_LEASE_WAIT = Duration.ofSeconds(30);
        public static final int DEFAULT_MAX_CONCURRENT_BOOTS = 2;

        public Pool {
            Objects.requireNonNull(idleTtl, "idleTtl");
            Objects.requireNonNull(leaseWait, "leaseWait");
        }
    }

    /**
     * {@code [shim]}: the shim daemon.
     *
     * @param stateDir the state root, or null for {@code $A3S_BOX_STATE} / {@code /run/a3s-box}
     * @param debug    log at debug level even when containerd does not ask for it
     */
    public record Shim(Path stateDir, boolean debug) {
    }

    /** Every key at its default. */
    public static ShimConfig defaults() {
        Path guest = defaultGuestDir();
        return new ShimConfig(
                new Vm(Vm.DEFAULT_BACKEND, Accelerator.AUTO, VmConfig.kernelOf(guest), guest.resolve("initrd.img"),
                        VmConfig.DEFAULT_VCPUS, VmConfig.DEFAULT_MEMORY_MIB, VmConfig.DEFAULT_BOOT_DEADLINE, List.of()),
                new Pool(Pool.DEFAULT_SIZE, Pool.DEFAULT_MAX_VMS, Pool.DEFAULT_IDLE_TTL, Pool.DEFAULT_LEASE_WAIT,
                        Pool.DEFAULT_MAX_CONCURRENT_BOOTS),
                new Shim(null, false));
    }

    /**
     * Where {@code vmlinuz} and {@code initrd.img} are by default: under the a3s-box home ({@value #HOME_PROPERTY},
     * else {@code $A3S_BOX_HOME}, else {@code /usr/local}), {@code build/guest/current} if that is a checkout with
     * a built image, else {@code share/a3s-box/guest}.
     */
    public static Path defaultGuestDir() {
        String home = System.getProperty(HOME_PROPERTY);
        if (home == null || home.isBlank()) {
            home = System.getenv().getOrDefault(HOME_ENV, "/usr/local");
        }
        Path checkout = Path.of(home, "build", "guest", "current");
        if (Files.isDirectory(checkout)) {
            return checkout;
        }
        return Path.of(home, "share", "a3s-box", "guest");
    }

    /** The global file's path: {@code $A3S_BOX_CONFIG}, else {@value #DEFAULT_PATH_TEXT}. */
    public static Path globalPath(Map<String, String> env) {
        String p = env.get(PATH_ENV);
        return p == null || p.isBlank() ? DEFAULT_PATH : Path.of(p);
    }

    /**
     * The global configuration: {@code $A3S_BOX_CONFIG} (which must exist), else {@link #DEFAULT_PATH} if it
     * exists, else the defaults.
     */
    public static ShimConfig loadGlobal(Map<String, String> env) throws ConfigException {
        Path path = globalPath(env);
        boolean explicit = env.get(PATH_ENV) != null && !env.get(PATH_ENV).isBlank();
        if (!explicit && !Files.exists(path)) {
            return defaults();
        }
        return defaults().overlay(path);
    }

    /**
     * {@code shim.state_dir} of the global configuration, or null if it does not set one. For the short-lived
     * actions, which need nothing else from the file: a file that does not mention {@code state_dir} outside
     * comments is not parsed at all (the TOML parser is the heaviest thing they would load; the daemon
     * validates the whole file anyway).
     *
     * @throws ConfigException if {@code $A3S_BOX_CONFIG} names a missing file, or the file mentions
     *                         {@code state_dir} and is not a valid configuration
     */
    public static Path globalStateDir(Map<String, String> env) throws ConfigException {
        Path path = globalPath(env);
        boolean explicit = env.get(PATH_ENV) != null && !env.get(PATH_ENV).isBlank();
        String text;
        try {
            text = Files.readString(path, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            if (explicit) {
                throw new ConfigException(path + ": no such file");
            }
            return null;
        } catch (IOException e) {
            throw new ConfigException(path + ": cannot read: " + e.getMessage(), e);
        }
        boolean mentioned = text.lines().map(l -> {
            int hash = l.indexOf('#');
            return hash < 0 ? l : l.substring(0, hash);
        }).anyMatch(l -> l.contains("state_dir"));
        return mentioned ? defaults().overlay(text, path.toString()).shim().stateDir() : null;
    }

    /** The global configuration as {@link #loadGlobal} finds it from this process's environment. */
    public static ShimConfig loadGlobal() throws ConfigException {
        return loadGlobal(System.getenv());
    }

    /** This configuration with the keys of the TOML file at {@code path} (which must exist) on top. */
    public ShimConfig overlay(Path path) throws ConfigException {
        String text;
        try {
            text = Files.readString(path, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException(path + ": no such file");
        } catch (IOException e) {
            throw new ConfigException(path + ": cannot read: " + e.getMessage(), e);
        }
        return overlay(text, path.toString());
    }

    /**
     * This configuration with the keys of {@code toml} on top.
     *
     * @param source names the text in error messages (a path, or "runtime options config_body")
     */
    public ShimConfig overlay(String toml, String source) throws ConfigException {
        return overlay(toml, source, false);
    }

    private ShimConfig overlay(String toml, String source, boolean fromRuntimeOptions) throws ConfigException {
        JsonNode root;
        try {
            root = TomlHolder.MAPPER.readTree(toml);
        } catch (JacksonException e) {
            throw new ConfigException(source + ": not valid TOML: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " (line " + e.getLocation().getLineNr() + ")" : ""), e);
        }
        Draft d = new Draft(this, source);
        if (root == null || root.isMissingNode() || root.isNull()) {
            return this;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String section = e.getKey();
            if (fromRuntimeOptions && (section.equals("TypeUrl") || section.equals("ConfigPath"))) {
                continue; // CRI copies the whole options table, its own keys included, into config_body
            }
            switch (section) {
                case "vm", "pool", "shim" -> {
                    if (!e.getValue().isObject()) {
                        throw d.error(section, "must be a table ([" + section + "])");
                    }
                    for (Iterator<Map.Entry<String, JsonNode>> kit = e.getValue().fields(); kit.hasNext(); ) {
                        Map.Entry<String, JsonNode> k = kit.next();
                        d.set(section, k.getKey(), k.getValue());
                    }
                }
                default -> throw d.error(section, "unknown key (known sections: [vm], [pool], [shim])");
            }
        }
        return d.build();
    }

    /**
     * The configuration of one task: this (global) configuration overlaid with containerd's runtime options
     * ({@code CreateTaskRequest.options}); {@link TaskOptions} is what the daemon calls per task.
     * <ul>
     *   <li>null or empty {@code Any}: this configuration;</li>
     *   <li>{@code runtimeoptions.v1.Options} (type URL with or without {@code type.googleapis.com/}):
     *       {@code config_path} names a TOML file (it must exist); otherwise {@code config_body} (containerd
     *       1.7+) is the TOML text; both empty: this configuration;</li>
     *   <li>any other type: refused.</li>
     * </ul>
     *
     * @throws StatusException INVALID_ARGUMENT naming the source, the key and what is allowed
     */
    public ShimConfig withRuntimeOptions(Any options) throws StatusException {
        try {
            if (options == null || (options.getTypeUrl().isEmpty() && options.getValue().isEmpty())) {
                return this;
            }
            if (!Anys.is(options, RUNTIME_OPTIONS_TYPE)) {
                throw Code.INVALID_ARGUMENT.toException("runtime options: expected %s, got %s (configure the "
                        + "a3s-box runtime with ConfigPath or a config body; of runc's options only shim_cgroup "
                        + "applies)",
                        RUNTIME_OPTIONS_TYPE,
                        options.getTypeUrl().isEmpty() ? "an empty type URL" : options.getTypeUrl());
            }
            Options o;
            try {
                o = Options.parseFrom(options.getValue());
            } catch (InvalidProtocolBufferException e) {
                throw Code.INVALID_ARGUMENT.toException("runtime options: cannot decode %s: %s",
                        RUNTIME_OPTIONS_TYPE, e.getMessage());
            }
            ShimConfig merged;
            if (!o.getConfigPath().isEmpty()) {
                Path p = Path.of(o.getConfigPath());
                if (!p.isAbsolute()) {
                    throw Code.INVALID_ARGUMENT.toException("runtime options: config_path %s must be absolute",
                            o.getConfigPath());
                }
                merged = overlay(p);
            } else if (!o.getConfigBody().isEmpty()) {
                merged = overlay(o.getConfigBody().toStringUtf8(), "runtime options config_body", true);
            } else {
                return this;
            }
            // Only [vm] is per task: the pool and the daemon serve every task.
            return new ShimConfig(merged.vm(), pool(), shim());
        } catch (ConfigException e) {
            throw Code.INVALID_ARGUMENT.toException("config: %s", e.getMessage());
        }
    }

    /** The TOML mapper, created on first use (it is the heaviest class set the short-lived actions may load). */
    private static final class TomlHolder {
        static final TomlMapper MAPPER = new TomlMapper();
    }

    /** A configuration being overlaid, key by key. */
    private static final class Draft {
        private final String source;
        private String backend;
        private Accelerator accelerator;
        private Path kernel;
        private Path initrd;
        private int vcpus;
        private int memoryMib;
        private Duration bootTimeout;
        private List<String> kernelArgs;
        private int size;
        private int maxVms;
        private Duration idleTtl;
        private Duration leaseWait;
        private int maxConcurrentBoots;
        private Path stateDir;
        private boolean debug;

        Draft(ShimConfig base, String source) {
            this.source = source;
            backend = base.vm.backend();
            accelerator = base.vm.accelerator();
            kernel = base.vm.kernel();
            initrd = base.vm.initrd();
            vcpus = base.vm.vcpus();
            memoryMib = base.vm.memoryMib();
            bootTimeout = base.vm.bootTimeout();
            kernelArgs = base.vm.kernelArgs();
            size = base.pool.size();
            maxVms = base.pool.maxVms();
            idleTtl = base.pool.idleTtl();
            leaseWait = base.pool.leaseWait();
            maxConcurrentBoots = base.pool.maxConcurrentBoots();
            stateDir = base.shim.stateDir();
            debug = base.shim.debug();
        }

        void set(String section, String key, JsonNode v) throws ConfigException {
            String name = section + "." + key;
            switch (name) {
                case "vm.backend" -> backend = oneOf(name, v, BACKENDS);
                case "vm.accelerator" -> accelerator = Accelerator.valueOf(
                        oneOf(name, v, List.of("auto", "kvm", "tcg")).toUpperCase(Locale.ROOT));
                case "vm.kernel" -> kernel = absolutePath(name, v);
                case "vm.initrd" -> initrd = absolutePath(name, v);
                case "vm.vcpus" -> vcpus = intIn(name, v, 1, VmConfig.MAX_VCPUS);
                case "vm.memory_mib" -> memoryMib = intIn(name, v, VmConfig.MIN_MEMORY_MIB, VmConfig.MAX_MEMORY_MIB);
                case "vm.boot_timeout" -> bootTimeout = durationIn(name, v, MIN_BOOT_TIMEOUT, MAX_BOOT_TIMEOUT);
                case "vm.kernel_args" -> kernelArgs = kernelArgs(name, v);
                case "pool.size" -> size = intIn(name, v, 0, MAX_POOL_SIZE);
                case "pool.max_vms" -> maxVms = intIn(name, v, 1, MAX_POOL_SIZE);
                case "pool.idle_ttl" -> idleTtl = durationIn(name, v, MIN_IDLE_TTL, MAX_IDLE_TTL);
                case "pool.lease_wait" -> leaseWait = durationIn(name, v, Duration.ZERO, MAX_LEASE_WAIT);
                case "pool.max_concurrent_boots" -> maxConcurrentBoots = intIn(name, v, 1, MAX_POOL_SIZE);
                case "shim.state_dir" -> {
                    Path p = absolutePath(name, v);
                    if (p.toString().length() > MAX_STATE_DIR_LENGTH) {
                        throw error(name, "\"" + p + "\" is too long (at most " + MAX_STATE_DIR_LENGTH
                                + " bytes: socket paths under it must fit in " + Layout.MAX_SOCKET_PATH + ")");
                    }
                    stateDir = p;
                }
                case "shim.debug" -> {
                    if (!v.isBoolean()) {
                        throw error(name, "expected true or false, got " + show(v));
                    }
                    debug = v.booleanValue();
                }
                default -> throw error(name, "unknown key (known in [" + section + "]: " + known(section) + ")");
            }
        }

        ShimConfig build() throws ConfigException {
            if (maxConcurrentBoots > maxVms) {
                throw error("pool.max_concurrent_boots", maxConcurrentBoots + " is out of range 1.." + maxVms
                        + " (pool.max_vms)");
            }
            return new ShimConfig(new Vm(backend, accelerator, kernel, initrd, vcpus, memoryMib, bootTimeout,
                    kernelArgs),
                    new Pool(size, maxVms, idleTtl, leaseWait, maxConcurrentBoots), new Shim(stateDir, debug));
        }

        ConfigException error(String key, String what) {
            return new ConfigException(source + ": " + key + ": " + what);
        }

        private static String known(String section) {
            return switch (section) {
                case "vm" -> "backend, accelerator, kernel, initrd, vcpus, memory_mib, boot_timeout, kernel_args";
                case "pool" -> "size, max_vms, idle_ttl, lease_wait, max_concurrent_boots";
                default -> "state_dir, debug";
            };
        }

        private String string(String key, JsonNode v) throws ConfigException {
            if (!v.isTextual()) {
                throw error(key, "expected a string, got " + show(v));
            }
            return v.textValue();
        }

        /** An array of kernel command line words: no blanks inside one (the line is split on them). */
        private List<String> kernelArgs(String key, JsonNode v) throws ConfigException {
            if (!v.isArray()) {
                throw error(key, "expected an array of strings, got " + show(v));
            }
            if (v.size() > MAX_KERNEL_ARGS) {
                throw error(key, v.size() + " arguments, at most " + MAX_KERNEL_ARGS);
            }
            List<String> out = new java.util.ArrayList<>();
            for (int i = 0; i < v.size(); i++) {
                JsonNode a = v.get(i);
                if (!a.isTextual() || a.textValue().isEmpty() || a.textValue().length() > MAX_KERNEL_ARG_LENGTH
                        || a.textValue().chars().anyMatch(c -> Character.isWhitespace(c) || c == 0)) {
                    throw error(key + "[" + i + "]", "expected one kernel argument (1.." + MAX_KERNEL_ARG_LENGTH
                            + " characters, no blanks), got " + show(a));
                }
                out.add(a.textValue());
            }
            return out;
        }

        private String oneOf(String key, JsonNode v, List<String> allowed) throws ConfigException {
            String s = string(key, v);
            if (!allowed.contains(s)) {
                throw error(key, "\"" + s + "\" is not one of " + String.join(", ", allowed.stream()
                        .map(a -> "\"" + a + "\"").toList()));
            }
            return s;
        }

        private Path absolutePath(String key, JsonNode v) throws ConfigException {
            String s = string(key, v);
            if (s.isEmpty() || !s.startsWith("/") || s.indexOf('\0') >= 0) {
                throw error(key, "\"" + s + "\" must be an absolute path");
            }
            return Path.of(s).normalize();
        }

        private int intIn(String key, JsonNode v, int min, int max) throws ConfigException {
            if (!v.isIntegralNumber()) {
                throw error(key, "expected an integer in " + min + ".." + max + ", got " + show(v));
            }
            if (!v.canConvertToLong() || v.longValue() < min || v.longValue() > max) {
                throw error(key, v.asText() + " is out of range " + min + ".." + max);
            }
            return v.intValue();
        }

        private Duration durationIn(String key, JsonNode v, Duration min, Duration max) throws ConfigException {
            if (!v.isTextual()) {
                throw error(key, "expected a duration string such as \"30s\" or \"5m\", got " + show(v));
            }
            Duration d;
            try {
                d = Durations.parse(v.textValue());
            } catch (IllegalArgumentException e) {
                throw error(key, e.getMessage());
            }
            if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
                throw error(key, "\"" + v.textValue() + "\" is out of range " + Durations.format(min) + ".."
                        + Durations.format(max));
            }
            return d;
        }

        private static String show(JsonNode v) {
            if (v.isTextual()) {
                return "the string \"" + v.textValue() + "\"";
            }
            if (v.isObject()) {
                return "a table";
            }
            if (v.isArray()) {
                return "an array";
            }
            return v.toString();
        }
    }
}
