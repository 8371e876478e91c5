package io.a3s.box.shim.bootstrap;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Any;
import io.a3s.box.containerd.bootstrap.BootstrapParams;
import io.a3s.box.containerd.bootstrap.LogLevel;
import io.a3s.box.containerd.runtimeoptions.Options;
import io.a3s.box.containerd.task.DeleteResponse;
import io.a3s.box.containerd.types.RuntimeInfo;
import io.a3s.box.shim.Layout;
import io.a3s.box.shim.daemon.TaskRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code start} and {@code delete} as containerd runs them: real processes, a stand-in daemon, no containerd. */
class StartDeleteProcessTest {
    @TempDir
    Path tmp;
    Path state;
    String address;
    String ttrpc;
    Layout layout;

    @BeforeEach
    void setUp() {
        state = tmp.resolve("state");
        address = tmp.resolve("containerd.sock").toString();
        ttrpc = address + ".ttrpc";
        layout = new Layout(state);
    }

    @AfterEach
    void tearDown() throws Exception {
        ShimProcess.killDaemons(state);
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

    private ShimProcess.Result start(String id, byte[] stdin, Map<String, String> env, String... flags)
            throws Exception {
        return ShimProcess.run(ShimProcess.jvmCommand(List.of(flags), args(id, "start")), bundle(id), env, stdin);
    }

    private ShimProcess.Result delete(String id) throws Exception {
        Path b = bundle(id);
        return ShimProcess.run(ShimProcess.jvmCommand(List.of(), args(id, "-bundle", b.toString(), "delete")), b,
                ShimProcess.env(state, ttrpc), new byte[0]);
    }

    private String expectedAddress() {
        return "unix://" + layout.shimSocket(address, ttrpc);
    }

    private void assertStarted(String id, ShimProcess.Result r, String expected) throws Exception {
        assertEquals("", r.stderr(), "nothing on stderr: containerd reads it as part of the answer");
        assertEquals(0, r.exit());
        assertEquals(expected, r.out(), "stdout is exactly the address");
        assertEquals(expected, Files.readString(bundle(id).resolve("address")));
    }

    @Test
    void concurrentStartsSpawnOneDaemon() throws Exception {
        Map<String, String> env = ShimProcess.env(state, ttrpc);
        List<Future<ShimProcess.Result>> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 5; i++) {
                String id = "c" + i;
                // the daemon waits before it listens: every start finds none answering and races for the lock
                results.add(pool.submit(() -> start(id, new byte[0], env, "-Da3s.test.daemon.delay-ms=300")));
            }
        }
        for (int i = 0; i < 5; i++) {
            assertStarted("c" + i, results.get(i).get(), expectedAddress());
        }
        assertEquals(1, ShimProcess.spawns(state).size(), ShimProcess.spawns(state).toString());
        String pid = Files.readString(layout.shimPidFile(address, ttrpc)).strip();
        assertTrue(ProcessHandle.of(Long.parseLong(pid)).map(ProcessHandle::isAlive).orElse(false));
        // containerd's AdjustOOMScore: the daemon's score is start's parent's (here this JVM's) plus one
        int parentScore = Integer.parseInt(Files.readString(Path.of("/proc/self/oom_score_adj")).strip());
        assertEquals(Integer.toString(Math.min(parentScore + 1, 1000)),
                Files.readString(Path.of("/proc", pid, "oom_score_adj")).strip());

        // a later start reuses it
        assertStarted("c5", start("c5", new byte[0], env), expectedAddress());
        assertEquals(1, ShimProcess.spawns(state).size());
        assertTrue(ShimProcess.spawns(state).getFirst().contains(" " + address + " " + ttrpc + " debug=false"));
    }

    @Test
    void startWithBootstrapParamsTakesTheTtrpcAddressAndLogLevelFromThem() throws Exception {
        String paramsTtrpc = tmp.resolve("other.sock.ttrpc").toString();
        BootstrapParams p = BootstrapParams.newBuilder().setInstanceId("b1").setNamespace("default")
                .setLogLevel(LogLevel.DEBUG).setContainerdTtrpcAddress(paramsTtrpc).setContainerdGrpcAddress(address)
                .setContainerdVersion("v2.3.0").build();
        ShimProcess.Result r = start("b1", p.toByteArray(), ShimProcess.env(state, null));
        assertStarted("b1", r, "unix://" + layout.shimSocket(address, paramsTtrpc));
        assertTrue(ShimProcess.spawns(state).getFirst().endsWith(" " + paramsTtrpc + " debug=true"));
    }

    @Test
    void startWithLegacyOptionsOrGarbageOnStdin() throws Exception {
        Map<String, String> env = ShimProcess.env(state, ttrpc);
        Any legacy = Any.newBuilder().setTypeUrl("runtimeoptions.v1.Options")
                .setValue(Options.newBuilder().setConfigPath("/etc/a3s-box/x.toml").build().toByteString()).build();
        assertStarted("l1", start("l1", legacy.toByteArray(), env), expectedAddress());
        byte[] garbage = new byte[4096];
        new java.util.Random(7).nextBytes(garbage);
        assertStarted("g1", start("g1", garbage, env), expectedAddress());
        assertEquals(1, ShimProcess.spawns(state).size());
    }

    @Test
    void startReplacesWhatADeadDaemonLeftBehind() throws Exception {
        Files.createDirectories(layout.shimDir());
        Files.writeString(layout.shimSocket(address, ttrpc), "not a socket");
        Files.writeString(layout.shimPidFile(address, ttrpc), "999999999\n");
        assertStarted("s1", start("s1", new byte[0], ShimProcess.env(state, ttrpc)), expectedAddress());
        assertEquals(1, ShimProcess.spawns(state).size());
    }

    @Test
    void startFailuresAreOneLineOnStderrAndExit1() throws Exception {
        ShimProcess.Result r = start("f1", new byte[0], ShimProcess.env(state, null));
        assertEquals(1, r.exit());
        assertEquals("", r.out());
        assertEquals("containerd-shim-a3s-box start: $TTRPC_ADDRESS is not set (containerd sets it for every shim)\n",
                r.stderr());

        r = ShimProcess.run(ShimProcess.jvmCommand(List.of(), List.of("-namespace", "default", "-address", address,
                "-id", "../../etc", "start")), bundle("f2"), ShimProcess.env(state, ttrpc), new byte[0]);
        assertEquals(1, r.exit());
        assertEquals("containerd-shim-a3s-box start: -id \"../../etc\" is not a valid containerd identifier\n",
                r.stderr());
        assertTrue(ShimProcess.spawns(state).isEmpty());
    }

    @Test
    void aDaemonThatCannotStartIsReportedWithItsReason() throws Exception {
        Path conf = tmp.resolve("config.toml");
        Files.writeString(conf, "[vm]\nvcpus = 0\n");
        Map<String, String> env = ShimProcess.env(state, ttrpc);
        env.put("A3S_BOX_CONFIG", conf.toString());
        ShimProcess.Result r = start("bad1", new byte[0], env);
        assertEquals(1, r.exit());
        assertEquals("", r.out());
        assertTrue(r.stderr().startsWith("containerd-shim-a3s-box start: the shim daemon exited with status 1 "
                + "before it answered ("), r.stderr());
        assertTrue(r.stderr().endsWith(" containerd-shim-a3s-box serve: " + conf
                        + ": vm.vcpus: 0 is out of range 1..64)\n"),
                r.stderr());
        assertEquals(1, r.stderr().lines().count());
    }

    private static DeleteResponse parse(ShimProcess.Result r) throws Exception {
        assertEquals(0, r.exit(), r.stderr());
        return DeleteResponse.parseFrom(r.stdout());
    }

    private static void assertKilledNow(DeleteResponse d, Instant before) {
        assertEquals(137, d.getExitStatus());
        long s = d.getExitedAt().getSeconds();
        assertTrue(s >= before.getEpochSecond() && s <= Instant.now().getEpochSecond(), d.toString());
    }

    @Test
    void deleteAsksTheLiveDaemonToCleanUp() throws Exception {
        assertStarted("d1", start("d1", new byte[0], ShimProcess.env(state, ttrpc)), expectedAddress());
        Instant before = Instant.now();
        for (int i = 0; i < 2; i++) { // idempotent
            DeleteResponse d = parse(delete("d1"));
            assertKilledNow(d, before);
            assertEquals(0, d.getPid());
        }
        DeleteResponse d = parse(delete("exited1"));
        assertEquals(42, d.getPid());
        assertEquals(3, d.getExitStatus());
        assertEquals(1_700_000_000L, d.getExitedAt().getSeconds());
        assertEquals(500_000_000, d.getExitedAt().getNanos());
        List<String> calls = Files.readAllLines(state.resolve(TestDaemon.CALLS));
        assertEquals(List.of("cleanup default d1 " + bundle("d1"), "cleanup default d1 " + bundle("d1"),
                "cleanup default exited1 " + bundle("exited1")), calls);
    }

    @Test
    void deleteWithoutDaemonOrLeftoversAnswersAtOnce() throws Exception {
        Instant before = Instant.now();
        for (int i = 0; i < 2; i++) {
            ShimProcess.Result r = delete("n1");
            assertEquals("", r.stderr());
            assertKilledNow(parse(r), before);
        }
        assertTrue(ShimProcess.spawns(state).isEmpty(), "delete never spawns a daemon");
    }

    /** Runs {@code delete} in a private mount namespace where {@code <bundle>/rootfs} is a bind mount. */
    private String deleteWithMountedRootfs(String id) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/unshare")) && "root".equals(System.getProperty("user.name")),
                "needs root and unshare(1)");
        Path b = bundle(id);
        Path src = Files.createDirectories(tmp.resolve("layers").resolve(id));
        Files.writeString(src.resolve("marker"), "x");
        List<String> java = ShimProcess.jvmCommand(List.of(), args(id, "-bundle", b.toString(), "delete"));
        String script = "set -e; mount --bind \"$1\" \"$2/rootfs\"; test -e \"$2/rootfs/marker\"; shift 2; "
                + "rc=0; \"$@\" > \"$OUT\" 2> \"$ERR\" || rc=$?; echo \"exit=$rc\"; "
                + "if mountpoint -q \"$BUNDLE/rootfs\"; then echo mounted; else echo unmounted; fi";
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/unshare", "-m", "--propagation", "private", "bash",
                "-c", script, "sh", src.toString(), b.toString()));
        cmd.addAll(java);
        Map<String, String> env = ShimProcess.env(state, ttrpc);
        env.put("OUT", tmp.resolve(id + ".out").toString());
        env.put("ERR", tmp.resolve(id + ".err").toString());
        env.put("BUNDLE", b.toString());
        ShimProcess.Result r = ShimProcess.run(cmd, b, env, new byte[0]);
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(Files.exists(src.resolve("marker")), "unmounting never deletes what was mounted");
        DeleteResponse d = DeleteResponse.parseFrom(Files.readAllBytes(tmp.resolve(id + ".out")));
        assertEquals(137, d.getExitStatus());
        return r.out() + Files.readString(tmp.resolve(id + ".err"));
    }

    @Test
    void deleteAfterTheDaemonDiedCleansUpFromTheTaskFile() throws Exception {
        Path taskFile = layout.taskFile("default", "dead1");
        new TaskRecord("default", "dead1", bundle("dead1").toString(), true, "", "").write(taskFile);
        String out = deleteWithMountedRootfs("dead1");
        assertTrue(out.startsWith("exit=0\nunmounted\n"), out);
        assertFalse(Files.exists(taskFile), "the task file is gone once everything is released");
    }

    @Test
    void deleteUnmountsALeftoverRootfsEvenWithoutTaskFile() throws Exception {
        String out = deleteWithMountedRootfs("left1");
        assertEquals("exit=0\nunmounted\n", out);
    }

    @Test
    void deleteNeverRemovesADirectoryOutsideTheVmTree() throws Exception {
        Path victim = Files.createDirectories(tmp.resolve("precious"));
        Path taskFile = layout.taskFile("default", "evil1");
        new TaskRecord("default", "evil1", bundle("evil1").toString(), false, "vm1", victim.toString()).write(taskFile);
        ShimProcess.Result r = delete("evil1");
        parse(r);
        assertTrue(r.stderr().contains("outside " + layout.vms()), r.stderr());
        assertTrue(Files.isDirectory(victim));
    }

    @Test
    void versionInfoAndUsage() throws Exception {
        ShimProcess.Result r = ShimProcess.run(ShimProcess.jvmCommand(List.of(), List.of("-v")), tmp,
                ShimProcess.env(state, ttrpc), new byte[0]);
        assertEquals(0, r.exit());
        assertTrue(r.out().matches("containerd-shim-a3s-box:\n  Version:  \\S+\n  Revision: \\S+\n"
                + "  Java version: 25\\S*\n"), r.out());
        // -info: containerd 2.x writes the runtime options on stdin and reads a RuntimeInfo from stdout
        Any options = Any.newBuilder().setTypeUrl("runtimeoptions.v1.Options")
                .setValue(Options.newBuilder().setConfigPath("/etc/a3s-box/config.toml").build().toByteString())
                .build();
        r = ShimProcess.run(ShimProcess.jvmCommand(List.of(), List.of("-info")), tmp, ShimProcess.env(state, ttrpc),
                options.toByteArray());
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("", r.stderr());
        RuntimeInfo info = RuntimeInfo.parseFrom(r.stdout());
        assertEquals("io.a3s.box", info.getName());
        assertEquals(options, info.getOptions());
        assertEquals("types.containerd.io/opencontainers/runtime-spec/1/features/Features",
                info.getFeatures().getTypeUrl());
        JsonNode features = new ObjectMapper()
                .readTree(info.getFeatures().getValue().toStringUtf8());
        assertEquals("1.0.0", features.path("ociVersionMin").asText());
        assertFalse(features.path("linux").path("mountExtensions").path("idmap").path("enabled").asBoolean(true));
        // containerd 2.x's TestRuntimeInfo, and CRI's recursive read-only mounts, look for "rro"
        assertTrue(features.path("mountOptions").toString().contains("\"rro\""), features.toString());
        assertEquals("[\"prestart\",\"createRuntime\",\"poststart\",\"poststop\"]", features.path("hooks").toString());
        assertTrue(features.path("linux").path("seccomp").path("enabled").asBoolean(false));
        assertFalse(features.path("linux").path("seccomp").path("actions").toString().contains("NOTIFY"));
        assertTrue(features.path("linux").path("capabilities").toString().contains("\"CAP_SYS_ADMIN\""));
        r = ShimProcess.run(ShimProcess.jvmCommand(List.of(), List.of("-info")), tmp, ShimProcess.env(state, ttrpc),
                new byte[] {(byte) 0xff, 1, 2, 3});
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("-info: stdin is not a serialized Any"), r.stderr());
        r = ShimProcess.run(ShimProcess.jvmCommand(List.of(), List.of("-frobnicate", "start")), tmp,
                ShimProcess.env(state, ttrpc), new byte[0]);
        assertEquals(1, r.exit());
        assertTrue(r.stderr().startsWith("containerd-shim-a3s-box: flag provided but not defined: -frobnicate\n"),
                r.stderr());
        r = ShimProcess.run(ShimProcess.jvmCommand(List.of(), List.of("-id", "x", "stop")), tmp,
                ShimProcess.env(state, ttrpc), new byte[0]);
        assertEquals(1, r.exit());
        assertTrue(r.stderr().startsWith("containerd-shim-a3s-box: unknown action \"stop\""), r.stderr());
    }
}
