package io.a3s.box.shim.bootstrap;

import com.google.protobuf.Timestamp;
import io.a3s.box.containerd.task.DeleteResponse;
import io.a3s.box.shim.Layout;
import io.a3s.box.shim.daemon.TaskRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The launcher script (scripts/lib/containerd-shim-a3s-box.in, as setup renders it): its shell fast paths must
 * answer exactly what the Java implementation answers, and leave every other case to Java.
 */
class LauncherTest {
    static final Path TEMPLATE = Path.of(System.getProperty("a3s.repo", "..")).resolve(
            "scripts/lib/containerd-shim-a3s-box.in");

    @TempDir
    Path tmp;
    Path state;
    String address;
    String ttrpc;
    Layout layout;
    /** Falls back to the real JVM (test class path, stand-in daemon). */
    Path launcher;
    /** Falls back to a java that does not exist: whatever it answers, it answered in shell. */
    Path shellOnly;

    @BeforeEach
    void setUp() throws Exception {
        state = tmp.resolve("state");
        address = tmp.resolve("containerd.sock").toString();
        ttrpc = address + ".ttrpc";
        layout = new Layout(state);
        launcher = render(tmp.resolve("containerd-shim-a3s-box"), ShimProcess.java());
        shellOnly = render(tmp.resolve("shell-only"), tmp.resolve("no-java-here").toString());
    }

    @AfterEach
    void tearDown() throws Exception {
        ShimProcess.killDaemons(state);
    }

    static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /** The template with the substitutions scripts/lib/shim-launcher.sh makes. */
    static Path render(Path out, String java) throws Exception {
        String text = Files.readString(TEMPLATE)
                .replace("@JAVA@", quote(java))
                .replace("@CLASSPATH@", quote(ShimProcess.classPath()))
                .replace("@AOT_CACHE@", "''")
                .replace("@JVM_FLAGS@", ShimProcess.JVM_FLAGS.stream().map(LauncherTest::quote)
                        .collect(Collectors.joining(" ")));
        Files.writeString(out, text);
        Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rwxr-xr-x"));
        return out;
    }

    /** Runs a function of the launcher in library mode: {@code bash -c '. launcher; <script>' -- args}. */
    private byte[] lib(String script, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("/bin/bash", "-c", ". \"$0\"; " + script, launcher.toString()));
        cmd.addAll(List.of(args));
        Map<String, String> env = ShimProcess.env(state, ttrpc);
        env.put("A3S_SHIM_LAUNCHER_LIB", "1");
        ShimProcess.Result r = ShimProcess.run(cmd, tmp, env, new byte[0]);
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("", r.stderr());
        return r.stdout();
    }

    @Test
    void daemonKeyIsLayoutsDaemonKey() throws Exception {
        String[][] pairs = {
                {"/run/containerd/containerd.sock", "/run/containerd/containerd.sock.ttrpc"},
                {"", ""},
                {"/tmp/with space/c.sock", "/tmp/with space/c.sock.ttrpc"},
                {"/tmp/ünïcødé/c.sock", "x"},
                {"unix:///run/k3s/containerd/containerd.sock", "/run/k3s/containerd/containerd.sock.ttrpc"},
        };
        for (String[] p : pairs) {
            String shell = new String(lib("a3s_daemon_key \"$1\" \"$2\" && printf %s \"$a3s_key\"", p[0], p[1]),
                    StandardCharsets.UTF_8);
            assertEquals(Layout.daemonKey(p[0], p[1]), shell, String.join(" / ", p));
        }
    }

    @Test
    void deleteResponseEncodingIsProtobufJavas() throws Exception {
        long[][] cases = {
                {0, 137, 1_700_000_000L, 123_456_000},
                {0, 137, 1_700_000_000L, 0},
                {1, 0, 0, 0},
                {127, 128, 127, 128},
                {300, 255, 16_384, 999_999_999},
                {4_294_967_295L, 4_294_967_295L, 4_102_444_800L, 1},
        };
        for (long[] c : cases) {
            byte[] shell = lib("a3s_delete_response \"$@\"", Long.toString(c[0]), Long.toString(c[1]),
                    Long.toString(c[2]), Long.toString(c[3]));
            byte[] java = DeleteResponse.newBuilder().setPid((int) c[0]).setExitStatus((int) c[1])
                    .setExitedAt(Timestamp.newBuilder().setSeconds(c[2]).setNanos((int) c[3])).build().toByteArray();
            assertEquals(HexFormat.of().formatHex(java), HexFormat.of().formatHex(shell), Arrays.toString(c));
        }
    }

    private List<String> args(String id, String... rest) {
        List<String> a = new ArrayList<>(List.of("-namespace", "default", "-address", address, "-publish-binary",
                "/usr/bin/containerd", "-id", id));
        a.addAll(List.of(rest));
        return a;
    }

    private Path bundle(String id) throws Exception {
        Path b = tmp.resolve("bundles").resolve(id);
        Files.createDirectories(b.resolve("rootfs"));
        return b;
    }

    private ShimProcess.Result run(Path script, String id, Map<String, String> env, byte[] stdin, String... rest)
            throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(script.toString());
        cmd.addAll(args(id, rest));
        return ShimProcess.run(cmd, bundle(id), env, stdin);
    }

    private ShimProcess.Result javaRun(String id, String... rest) throws Exception {
        return ShimProcess.run(ShimProcess.jvmCommand(List.of(), args(id, rest)), bundle(id),
                ShimProcess.env(state, ttrpc), new byte[0]);
    }

    @Test
    void startFastPathAnswersExactlyAsJava() throws Exception {
        Map<String, String> env = ShimProcess.env(state, ttrpc);
        ShimProcess.Result viaJava = javaRun("j1", "start"); // spawns the daemon
        assertEquals(0, viaJava.exit(), viaJava.stderr());

        ShimProcess.Result fast = run(shellOnly, "s1", env, "options the daemon does not need".getBytes(), "start");
        assertEquals("", fast.stderr());
        assertEquals(0, fast.exit());
        assertArrayEquals(viaJava.stdout(), fast.stdout());
        assertArrayEquals(Files.readAllBytes(bundle("j1").resolve("address")),
                Files.readAllBytes(bundle("s1").resolve("address")));
        try (var files = Files.list(bundle("s1"))) {
            assertEquals(List.of("address", "rootfs"), files.map(p -> p.getFileName().toString()).sorted().toList(),
                    "no temporary file left");
        }
        // with -debug, -flag=value and --flag forms, as Go's flag package accepts them
        ShimProcess.Result forms = ShimProcess.run(List.of(shellOnly.toString(), "--namespace=default",
                "-address=" + address, "-publish-binary", "/x", "--id", "s2", "-debug", "start"), bundle("s2"), env,
                new byte[0]);
        assertEquals(0, forms.exit(), forms.stderr());
        assertArrayEquals(viaJava.stdout(), forms.stdout());
        // stdin of any size is read to the end (here past the launcher's 64 KiB builtin read)
        byte[] big = new byte[300_000];
        new java.util.Random(1).nextBytes(big);
        ShimProcess.Result bigIn = run(shellOnly, "s3", env, big, "start");
        assertEquals(0, bigIn.exit(), bigIn.stderr());
        assertArrayEquals(viaJava.stdout(), bigIn.stdout());
        assertEquals(1, ShimProcess.spawns(state).size());
    }

    @Test
    void startFastPathFindsTheStateDirInTheConfigFile() throws Exception {
        assertEquals(0, javaRun("j1", "start").exit());
        Map<String, String> env = ShimProcess.env(state, ttrpc);
        env.remove(Layout.ROOT_ENV);
        Path conf = tmp.resolve("config.toml");
        env.put("A3S_BOX_CONFIG", conf.toString());
        Files.writeString(conf, "# state_dir in a comment\n[vm]\nvcpus = 2\n[shim]\n  state_dir = \"" + state
                + "//\"  # trailing comment\n");
        ShimProcess.Result fast = run(shellOnly, "s1", env, new byte[0], "start");
        assertEquals(0, fast.exit(), fast.stderr());
        assertEquals("unix://" + layout.shimSocket(address, ttrpc), fast.out());

        // what the shell reader is unsure about goes to Java
        Files.writeString(conf, "[shim]\nstate_dir = '" + state + "'\n");
        assertNotEquals(0, run(shellOnly, "s2", env, new byte[0], "start").exit());
        Files.writeString(conf, "shim.state_dir = \"" + state + "\"\n");
        assertNotEquals(0, run(shellOnly, "s3", env, new byte[0], "start").exit());
        // ... and Java agrees with the shell where the shell answers
        Files.writeString(conf, "[shim]\n  state_dir = \"" + state + "//\"  # trailing comment\n");
        ShimProcess.Result viaJava = run(launcher, "s4", env, new byte[0], "start");
        assertEquals(0, viaJava.exit(), viaJava.stderr());
        assertEquals(fast.out(), viaJava.out());
    }

    @Test
    void startGoesToJavaWhenTheDaemonIsNotThere() throws Exception {
        Map<String, String> env = ShimProcess.env(state, ttrpc);
        assertNotEquals(0, run(shellOnly, "s1", env, new byte[0], "start").exit(), "no daemon: not answered in shell");

        ShimProcess.Result r = run(launcher, "s1", env, new byte[0], "start");
        assertEquals("", r.stderr());
        assertEquals(0, r.exit());
        assertEquals("unix://" + layout.shimSocket(address, ttrpc), r.out());
        assertEquals(1, ShimProcess.spawns(state).size());

        // a pid file naming a live process that is not our daemon (pid reuse) is not trusted
        Path pidFile = layout.shimPidFile(address, ttrpc);
        String daemonPid = Files.readString(pidFile);
        Files.writeString(pidFile, ProcessHandle.current().pid() + "\n");
        assertNotEquals(0, run(shellOnly, "s2", env, new byte[0], "start").exit());
        Files.writeString(pidFile, daemonPid);
        // nor a daemon of another containerd
        Map<String, String> other = ShimProcess.env(state, ttrpc + ".other");
        assertNotEquals(0, run(shellOnly, "s3", other, new byte[0], "start").exit());
        assertEquals(0, run(shellOnly, "s4", env, new byte[0], "start").exit());
    }

    @Test
    void startAfterTheDaemonWasKilledPrintsOnlyTheAddress() throws Exception {
        // SIGKILL leaves the socket and the pid file of a dead pid; start's stderr is part of containerd's
        // answer, so a shell message about /proc/<pid> would break the address
        Map<String, String> env = ShimProcess.env(state, ttrpc);
        assertEquals(0, javaRun("j1", "start").exit());
        long pid = Long.parseLong(Files.readString(layout.shimPidFile(address, ttrpc)).trim());
        ProcessHandle daemon = ProcessHandle.of(pid).orElseThrow();
        daemon.destroyForcibly();
        daemon.onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
        ShimProcess.Result r = run(launcher, "s1", env, new byte[0], "start");
        assertEquals("", r.stderr());
        assertEquals(0, r.exit());
        assertEquals("unix://" + layout.shimSocket(address, ttrpc), r.out());
    }

    @Test
    void deleteFastPathAnswersExactlyAsJava() throws Exception {
        Map<String, String> env = ShimProcess.env(state, ttrpc);
        Instant before = Instant.now();
        ShimProcess.Result viaJava = javaRun("d1", "-bundle", bundle("d1").toString(), "delete");
        ShimProcess.Result fast = run(shellOnly, "d2", env, new byte[0], "-bundle", bundle("d2").toString(), "delete");
        assertEquals(0, fast.exit(), fast.stderr());
        assertEquals("", fast.stderr());
        DeleteResponse j = DeleteResponse.parseFrom(viaJava.stdout());
        DeleteResponse s = DeleteResponse.parseFrom(fast.stdout());
        // byte for byte what protobuf-java writes, and the same answer but for the time it was given
        assertArrayEquals(s.toByteArray(), fast.stdout());
        assertEquals(j.toBuilder().clearExitedAt().build(), s.toBuilder().clearExitedAt().build());
        assertEquals(137, s.getExitStatus());
        assertTrue(s.getExitedAt().getSeconds() >= before.getEpochSecond()
                && s.getExitedAt().getSeconds() <= Instant.now().getEpochSecond(), s.toString());
        // cwd as the bundle (no -bundle) works the same
        ShimProcess.Result noBundleFlag = run(shellOnly, "d3", env, new byte[0], "delete");
        assertEquals(0, noBundleFlag.exit(), noBundleFlag.stderr());
        assertEquals(137, DeleteResponse.parseFrom(noBundleFlag.stdout()).getExitStatus());
    }

    @Test
    void deleteGoesToJavaWhenSomethingIsLeft() throws Exception {
        Map<String, String> env = ShimProcess.env(state, ttrpc);
        new TaskRecord("default", "t1", bundle("t1").toString(), false, "", "")
                .write(layout.taskFile("default", "t1"));
        assertNotEquals(0, run(shellOnly, "t1", env, new byte[0], "delete").exit(),
                "a task file: not answered in shell");
        ShimProcess.Result r = run(launcher, "t1", env, new byte[0], "delete");
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(137, DeleteResponse.parseFrom(r.stdout()).getExitStatus());
        assertTrue(Files.notExists(layout.taskFile("default", "t1")), "Java cleaned up");
    }

    @Test
    void deleteGoesToJavaWhenTheRootfsIsStillMounted() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/unshare")) && "root".equals(System.getProperty("user.name")),
                "needs root and unshare(1)");
        Path b = bundle("m1");
        Files.createDirectories(b.resolve("rootfs/proc"));
        Path src = Files.createDirectories(tmp.resolve("layer"));
        // in a private mount namespace: mount, ask the shell-only launcher, report its exit status
        String script = "b=$1; shift; mount --bind \"$SRC\" \"$b/rootfs\" || exit 9; \"$@\" > /dev/null 2>&1; "
                + "echo rootfs=$?; umount \"$b/rootfs\"; mount --bind \"$SRC\" \"$b/rootfs/proc\" || exit 9; "
                + "\"$@\" > /dev/null 2>&1; echo below=$?; umount \"$b/rootfs/proc\"; \"$@\" > /dev/null 2>&1; "
                + "echo none=$?";
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/unshare", "-m", "--propagation", "private", "bash", "-c",
                script, "sh", b.toString(), shellOnly.toString()));
        cmd.addAll(args("m1", "-bundle", b.toString(), "delete"));
        Map<String, String> env = ShimProcess.env(state, ttrpc);
        env.put("SRC", src.toString());
        ShimProcess.Result r = ShimProcess.run(cmd, b, env, new byte[0]);
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("rootfs=127\nbelow=127\nnone=0\n", r.out(), "127: the shell-only launcher's java is missing");
    }

    @Test
    void deleteGoesToJavaForBundlePathsMountinfoWouldEscape() throws Exception {
        Path b = Files.createDirectories(tmp.resolve("with space").resolve("rootfs")).getParent();
        List<String> cmd = new ArrayList<>(List.of(shellOnly.toString()));
        cmd.addAll(args("w1", "-bundle", b.toString(), "delete"));
        assertEquals(127, ShimProcess.run(cmd, b, ShimProcess.env(state, ttrpc), new byte[0]).exit());
    }

    @Test
    void everythingElseGoesToJava() throws Exception {
        Map<String, String> env = ShimProcess.env(state, ttrpc);
        ShimProcess.Result v = ShimProcess.run(List.of(launcher.toString(), "-v"), tmp, env, new byte[0]);
        assertEquals(0, v.exit(), v.stderr());
        assertTrue(v.out().startsWith("containerd-shim-a3s-box:\n  Version:  "), v.out());
        ShimProcess.Result bad = ShimProcess.run(List.of(launcher.toString(), "-id", "x", "stop"), tmp, env,
                new byte[0]);
        assertEquals(1, bad.exit());
        assertTrue(bad.stderr().startsWith("containerd-shim-a3s-box: unknown action \"stop\""), bad.stderr());
        for (List<String> a : List.of(List.of("-v"), List.of("-info"), List.of("-id", "../x", "-namespace", "default",
                "-address", address, "delete"), List.of("-namespace", "default", "-address", address, "-id", "x",
                "-socket", "/s", "delete"))) {
            List<String> cmd = new ArrayList<>(List.of(shellOnly.toString()));
            cmd.addAll(a);
            assertNotEquals(0, ShimProcess.run(cmd, tmp, env, new byte[0]).exit(), a.toString());
        }
    }
}
