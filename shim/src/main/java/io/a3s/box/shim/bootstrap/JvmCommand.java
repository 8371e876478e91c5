package io.a3s.box.shim.bootstrap;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How to start another JVM like this one: the java binary and every option before the main class, exactly as
 * the launcher started this process (flags, class path, AOT cache, system properties). {@code start} spawns the
 * daemon with it, so the daemon runs the same build with the same settings without the launcher having to
 * pass them twice.
 */
public record JvmCommand(List<String> prefix) {
    /** Options that make a JVM write files at exit (AOT training): the daemon must not inherit them. */
    private static final List<String> NOT_INHERITED = List.of("-XX:AOTCacheOutput=", "-XX:AOTMode=",
            "-XX:AOTConfiguration=", "-XX:ArchiveClassesAtExit=", "-XX:DumpLoadedClassList=");

    /**
     * The system property (set by the launchers) naming the AOT cache trained on the long-lived daemons' own work.
     */
    public static final String DAEMON_AOT_PROPERTY = "a3s.daemon.aot";
    /**
     * The system property (set by the launchers when {@code scripts/build-native} has built it) naming the
     * daemons' native image, which a daemon runs in place of a JVM.
     */
    public static final String DAEMON_NATIVE_PROPERTY = "a3s.daemon.native";
    /** The options of a JVM command line that a native image takes too: system properties, heap and stack sizes. */
    private static final List<String> NATIVE_OPTIONS = List.of("-D", "-Xmx", "-Xms", "-Xmn", "-Xss");
    private static final String AOT_CACHE = "-XX:AOTCache=";
    private static final String UNLOCK_DIAGNOSTIC = "-XX:+UnlockDiagnosticVMOptions";
    private static final String NO_RELOCATION = "-XX:ArchiveRelocationMode=0";

    public JvmCommand {
        prefix = List.copyOf(prefix);
    }

    /**
     * The command for a long-lived daemon (the shim daemon, the pool daemon): the daemons' AOT cache, named by
     * {@value #DAEMON_AOT_PROPERTY}, in place of this JVM's, when that file exists; else this command unchanged.
     *
     * <p>Why a cache of its own: a cache trained on a short {@code start} leaves most of a daemon's classes to be
     * loaded from the jars into metaspace (12 MiB of the shim daemon's PSS). Why mapped where it was dumped
     * ({@code ArchiveRelocationMode=0}, the JDK's default until 20): a relocated cache has every page patched, so
     * private to the process, while one mapped as dumped stays clean file pages that the shim daemon and the pool
     * daemon share (measured in docs/performance.md). The price is that the cache's class metadata sits at a
     * fixed address in both daemons; their heaps, stacks and code stay randomised.
     */
    public JvmCommand forDaemon() {
        String image = System.getProperty(DAEMON_NATIVE_PROPERTY, "");
        if (!image.isEmpty() && Files.isExecutable(Path.of(image))) {
            return withNativeImage(image);
        }
        String cache = System.getProperty(DAEMON_AOT_PROPERTY, "");
        return cache.isEmpty() || !Files.isRegularFile(Path.of(cache)) ? this : withDaemonCache(cache);
    }

    /**
     * The command for a daemon run from the native image {@code image}: this command's system properties and
     * memory sizes, without the JVM's other options (a native image has no JIT, class path or AOT cache). The
     * main class stays on the command line ({@link io.a3s.box.shim.NativeMain} dispatches on it), so a daemon
     * reads its own command back with {@link #current} as a JVM would.
     */
    JvmCommand withNativeImage(String image) {
        List<String> out = new ArrayList<>();
        out.add(image);
        for (String a : prefix.subList(1, prefix.size())) {
            if (NATIVE_OPTIONS.stream().anyMatch(a::startsWith)) {
                out.add(a);
            }
        }
        return new JvmCommand(out);
    }

    JvmCommand withDaemonCache(String cache) {
        List<String> out = new ArrayList<>();
        for (String a : prefix) {
            if (!a.startsWith(AOT_CACHE) && !a.equals(UNLOCK_DIAGNOSTIC) && !a.equals(NO_RELOCATION)) {
                out.add(a);
            }
        }
        // java first, then the flags that select the cache
        out.addAll(1, List.of(UNLOCK_DIAGNOSTIC, NO_RELOCATION, AOT_CACHE + cache));
        return new JvmCommand(out);
    }

    /**
     * This process's command line up to (not including) {@code mainClass}.
     *
     * @throws IllegalStateException if the command line cannot be read or does not name {@code mainClass}
     */
    public static JvmCommand current(String mainClass) {
        ProcessHandle.Info info = ProcessHandle.current().info();
        String java = info.command().orElseThrow(() -> new IllegalStateException("cannot read this JVM's command"));
        String[] argv = info.arguments().orElseThrow(
                () -> new IllegalStateException("cannot read this JVM's arguments"));
        return of(java, Arrays.asList(argv), mainClass);
    }

    /**
     * This process's command line up to the first of {@code mainClasses} it names (a daemon started by the shim
     * daemon or by the {@code a3s-box} command line runs the same JVM with another main class).
     *
     * @throws IllegalStateException if the command line cannot be read or names none of them
     */
    public static JvmCommand currentAny(List<String> mainClasses) {
        IllegalStateException last = null;
        for (String main : mainClasses) {
            try {
                return current(main);
            } catch (IllegalStateException e) {
                last = e;
            }
        }
        throw last != null ? last : new IllegalStateException("no main class given");
    }

    static JvmCommand of(String java, List<String> args, String mainClass) {
        int main = -1;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals(mainClass)) {
                main = i;
                break;
            }
            if (a.equals("-cp") || a.equals("-classpath") || a.equals("--class-path")) {
                i++; // its value is not the main class, whatever it looks like
            }
        }
        if (main < 0) {
            throw new IllegalStateException("this JVM's command line does not name " + mainClass
                    + " (start the shim with its launcher)");
        }
        List<String> prefix = new ArrayList<>();
        prefix.add(java);
        for (String a : args.subList(0, main)) {
            if (NOT_INHERITED.stream().noneMatch(a::startsWith)) {
                prefix.add(a);
            }
        }
        return new JvmCommand(prefix);
    }

    /** The full command: this prefix, {@code mainClass}, then {@code args}. */
    public List<String> with(String mainClass, List<String> args) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(mainClass);
        cmd.addAll(args);
        return cmd;
    }
}
