package io.a3s.box.shim.bootstrap;

import io.a3s.box.shim.Layout;
import io.a3s.box.shim.ShimMain;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the shim binary as containerd does: a real process (the JVM, or the launcher script) with a cwd,
 * environment and stdin, and its stdout, stderr and exit status captured. The JVM runs on this test's class
 * path with the stand-in {@link TestDaemon}.
 */
final class ShimProcess {
    /** What one run produced. */
    record Result(int exit, byte[] stdout, String stderr) {
        String out() {
            return new String(stdout, StandardCharsets.UTF_8);
        }
    }

    static final List<String> JVM_FLAGS = List.of("--sun-misc-unsafe-memory-access=allow",
            "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
            "-XX:CICompilerCount=1", "-XX:UserThreadWaitAttemptsAtExit=0", "-Xlog:disable", "-Xlog:all=error:stderr",
            "-D" + DaemonEntry.CLASS_PROPERTY + "=" + TestDaemon.class.getName());

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    static String classPath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

    /** {@code java <flags> -cp <test class path> ShimMain <args>}. */
    static List<String> jvmCommand(List<String> extraFlags, List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(java());
        cmd.addAll(JVM_FLAGS);
        cmd.addAll(extraFlags);
        cmd.add("-cp");
        cmd.add(classPath());
        cmd.add(ShimMain.class.getName());
        cmd.addAll(args);
        return cmd;
    }

    /** containerd's environment for a shim, with a private state root. */
    static Map<String, String> env(Path stateRoot, String ttrpcAddress) {
        Map<String, String> env = new HashMap<>();
        env.put("PATH", System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"));
        env.put(Layout.ROOT_ENV, stateRoot.toString());
        env.put("A3S_BOX_CONFIG", "/dev/null");
        if (ttrpcAddress != null) {
            env.put("TTRPC_ADDRESS", ttrpcAddress);
        }
        return env;
    }

    static Result run(List<String> command, Path cwd, Map<String, String> env, byte[] stdin)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).directory(cwd.toFile());
        pb.environment().clear();
        pb.environment().putAll(env);
        Process p = pb.start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread o = Thread.ofVirtual().start(() -> copy(p.getInputStream(), out));
        Thread e = Thread.ofVirtual().start(() -> copy(p.getErrorStream(), err));
        try (OutputStream in = p.getOutputStream()) {
            in.write(stdin);
        } catch (IOException ignored) {
            // the process need not read its stdin
        }
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + command);
        }
        // The daemon must not hold our pipes: these joins return only once every writer has closed them.
        if (!o.join(java.time.Duration.ofSeconds(10)) || !e.join(java.time.Duration.ofSeconds(10))) {
            throw new IOException("stdout/stderr still open after the process exited: a child holds them");
        }
        return new Result(p.exitValue(), out.toByteArray(), err.toString(StandardCharsets.UTF_8));
    }

    private static void copy(InputStream in, ByteArrayOutputStream out) {
        try (in) {
            in.transferTo(out);
        } catch (IOException ignored) {
            // process gone
        }
    }

    /** Kills every test daemon started under {@code stateRoot}. */
    static void killDaemons(Path stateRoot) throws IOException {
        Path spawns = stateRoot.resolve(TestDaemon.SPAWNS);
        if (!Files.exists(spawns)) {
            return;
        }
        for (String line : Files.readAllLines(spawns)) {
            long pid = Long.parseLong(line.split(" ")[1]);
            ProcessHandle.of(pid).ifPresent(h -> {
                h.destroyForcibly();
                h.onExit().join();
            });
        }
    }

    /** The lines of the test daemon's spawn log (one per daemon started). */
    static List<String> spawns(Path stateRoot) throws IOException {
        Path f = stateRoot.resolve(TestDaemon.SPAWNS);
        return Files.exists(f) ? Files.readAllLines(f) : List.of();
    }
}
