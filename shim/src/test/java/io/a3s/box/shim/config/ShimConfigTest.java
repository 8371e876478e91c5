package io.a3s.box.shim.config;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.a3s.box.containerd.runtimeoptions.Options;
import io.a3s.box.shim.Layout;
import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShimConfigTest {
    @TempDir
    Path tmp;

    private static ShimConfig parse(String toml) throws ConfigException {
        return ShimConfig.defaults().overlay(toml, "test.toml");
    }

    private static String error(String toml) {
        return assertThrows(ConfigException.class, () -> parse(toml)).getMessage();
    }

    @Test
    void defaults() {
        ShimConfig c = ShimConfig.defaults();
        assertEquals("qemu", c.vm().backend());
        assertEquals(Accelerator.AUTO, c.vm().accelerator());
        assertEquals(VmConfig.DEFAULT_VCPUS, c.vm().vcpus());
        assertEquals(VmConfig.DEFAULT_MEMORY_MIB, c.vm().memoryMib());
        assertEquals(VmConfig.DEFAULT_BOOT_DEADLINE, c.vm().bootTimeout());
        assertEquals(VmConfig.kernelOf(ShimConfig.defaultGuestDir()), c.vm().kernel());
        assertEquals("initrd.img", c.vm().initrd().getFileName().toString());
        assertEquals(1, c.pool().size());
        assertEquals(16, c.pool().maxVms());
        assertEquals(Duration.ofMinutes(10), c.pool().idleTtl());
        assertEquals(Duration.ofSeconds(30), c.pool().leaseWait());
        assertEquals(2, c.pool().maxConcurrentBoots());
        assertNull(c.shim().stateDir());
        assertFalse(c.shim().debug());
    }

    @Test
    void guestImageDefaultsFollowTheHomeTheLauncherSets() throws Exception {
        String home = System.getProperty(ShimConfig.HOME_PROPERTY);
        try {
            System.setProperty(ShimConfig.HOME_PROPERTY, tmp.toString());
            assertEquals(tmp.resolve("share/a3s-box/guest/vmlinuz"), ShimConfig.defaults().vm().kernel(),
                    "an install prefix");
            Files.createDirectories(tmp.resolve("build/guest/current"));
            assertEquals(tmp.resolve("build/guest/current/initrd.img"), ShimConfig.defaults().vm().initrd(),
                    "a checkout with a built guest image");
            Files.writeString(tmp.resolve("build/guest/current/vmlinux"), "elf");
            assertEquals(tmp.resolve("build/guest/current/vmlinux"), ShimConfig.defaults().vm().kernel(),
                    "its PVH kernel when it has one");
        } finally {
            restore(ShimConfig.HOME_PROPERTY, home);
        }
    }

    private static void restore(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }

    @Test
    void parsesEveryKey() throws Exception {
        ShimConfig c = parse("""
                [vm]
                backend = "qemu"
                accelerator = "tcg"
                kernel = "/boot/a3s/vmlinuz"
                initrd = "/boot/a3s/initrd.img"
                vcpus = 2
                memory_mib = 512
                boot_timeout = "90s"

                [pool]
                size = 3
                max_vms = 32
                idle_ttl = "1h"
                lease_wait = "0"
                max_concurrent_boots = 4

                [shim]
                state_dir = "/run/a3s-test"
                debug = true
                """);
        assertEquals(Accelerator.TCG, c.vm().accelerator());
        assertEquals(Path.of("/boot/a3s/vmlinuz"), c.vm().kernel());
        assertEquals(Path.of("/boot/a3s/initrd.img"), c.vm().initrd());
        assertEquals(2, c.vm().vcpus());
        assertEquals(512, c.vm().memoryMib());
        assertEquals(Duration.ofSeconds(90), c.vm().bootTimeout());
        assertEquals(3, c.pool().size());
        assertEquals(32, c.pool().maxVms());
        assertEquals(Duration.ofHours(1), c.pool().idleTtl());
        assertEquals(Duration.ZERO, c.pool().leaseWait());
        assertEquals(4, c.pool().maxConcurrentBoots());
        assertEquals(Path.of("/run/a3s-test"), c.shim().stateDir());
        assertTrue(c.shim().debug());

        VmConfig vm = c.vm().toVmConfig();
        assertEquals(2, vm.vcpus());
        assertEquals(512, vm.memoryMiB());
        assertEquals(Accelerator.TCG, vm.accelerator());
        assertEquals(Duration.ofSeconds(90), vm.bootDeadline());
    }

    @Test
    void anEmptyFileOrSectionKeepsTheDefaults() throws Exception {
        assertEquals(ShimConfig.defaults(), parse(""));
        assertEquals(ShimConfig.defaults(), parse("# nothing\n[vm]\n[pool]\n"));
    }

    @Test
    void dottedKeysAreTheSameKeys() throws Exception {
        assertEquals(4, parse("vm.vcpus = 4").vm().vcpus());
    }

    @Test
    void refusesValuesOutOfRangeNamingKeyAndRange() {
        assertEquals("test.toml: vm.vcpus: 0 is out of range 1..64", error("[vm]\nvcpus = 0"));
        assertEquals("test.toml: vm.vcpus: 65 is out of range 1..64", error("[vm]\nvcpus = 65"));
        assertEquals("test.toml: vm.memory_mib: 32 is out of range 64..1048576", error("[vm]\nmemory_mib = 32"));
        assertEquals("test.toml: pool.size: -1 is out of range 0..4096", error("[pool]\nsize = -1"));
        assertEquals("test.toml: pool.max_vms: 0 is out of range 1..4096", error("[pool]\nmax_vms = 0"));
        assertEquals("test.toml: vm.boot_timeout: \"0\" is out of range 1s..30m", error("[vm]\nboot_timeout = \"0\""));
        assertEquals("test.toml: pool.idle_ttl: \"8000h\" is out of range 1s..168h",
                error("[pool]\nidle_ttl = \"8000h\""));
        assertEquals("test.toml: pool.max_concurrent_boots: 5 is out of range 1..4 (pool.max_vms)",
                error("[pool]\nmax_vms = 4\nmax_concurrent_boots = 5"));
        assertTrue(error("[vm]\nvcpus = 99999999999999").contains("out of range 1..64"));
    }

    @Test
    void refusesWrongTypes() {
        assertEquals("test.toml: vm.vcpus: expected an integer in 1..64, got the string \"2\"",
                error("[vm]\nvcpus = \"2\""));
        assertEquals("test.toml: vm.vcpus: expected an integer in 1..64, got 1.5", error("[vm]\nvcpus = 1.5"));
        assertEquals("test.toml: pool.idle_ttl: expected a duration string such as \"30s\" or \"5m\", got 30",
                error("[pool]\nidle_ttl = 30"));
        assertEquals("test.toml: pool.lease_wait: \"30\" is not a duration (examples: \"500ms\", \"30s\", \"5m\", "
                + "\"1h30m\")", error("[pool]\nlease_wait = \"30\""));
        assertEquals("test.toml: shim.debug: expected true or false, got the string \"yes\"",
                error("[shim]\ndebug = \"yes\""));
        assertEquals("test.toml: vm: must be a table ([vm])", error("vm = 3"));
    }

    @Test
    void refusesUnknownKeysAndEnumValues() {
        assertEquals("test.toml: vm.cpus: unknown key (known in [vm]: backend, accelerator, kernel, initrd, vcpus, "
                + "memory_mib, boot_timeout, kernel_args)", error("[vm]\ncpus = 2"));
        assertEquals("test.toml: vmm: unknown key (known sections: [vm], [pool], [shim])", error("[vmm]\nx = 1"));
        assertEquals("test.toml: vm.accelerator: \"hvf\" is not one of \"auto\", \"kvm\", \"tcg\"",
                error("[vm]\naccelerator = \"hvf\""));
        assertEquals("test.toml: vm.backend: \"firecracker\" is not one of \"qemu\"",
                error("[vm]\nbackend = \"firecracker\""));
        assertEquals("test.toml: vm.kernel: \"vmlinuz\" must be an absolute path", error("[vm]\nkernel = \"vmlinuz\""));
        assertTrue(error("[shim]\nstate_dir = \"/" + "x".repeat(100) + "\"").contains("too long"));
    }

    @Test
    void theLongestStateDirGivesASocketPathTheJdkBindsAndOneByteMoreIsRefused() throws Exception {
        // the limit is the JDK's (106 bytes), not sun_path's 107: an 80-byte state_dir failed at bind
        Path base = Files.createTempDirectory(Path.of("/tmp"), "sd");
        try {
            String longest = base + "/" + "x".repeat(ShimConfig.MAX_STATE_DIR_LENGTH - base.toString().length() - 1);
            assertEquals(ShimConfig.MAX_STATE_DIR_LENGTH, longest.length());
            assertEquals(longest, parse("[shim]\nstate_dir = \"" + longest + "\"").shim().stateDir().toString());
            assertTrue(error("[shim]\nstate_dir = \"" + longest + "y\"").contains("too long"));
            Path socket = Path.of(longest, "shim", "0123456789abcdef.sock");
            assertEquals(Layout.MAX_SOCKET_PATH, socket.toString().length());
            Files.createDirectories(socket.getParent());
            try (var ch = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
                ch.bind(java.net.UnixDomainSocketAddress.of(socket));
            }
            Path tooLong = Path.of(longest + "y", "shim", "0123456789abcdef.sock");
            Files.createDirectories(tooLong.getParent());
            try (var ch = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
                assertThrows(java.io.IOException.class, () -> ch.bind(java.net.UnixDomainSocketAddress.of(tooLong)));
            }
        } finally {
            try (var walk = Files.walk(base)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void kernelArgsAreWordsAppendedToTheGuestCommandLine() throws Exception {
        ShimConfig c = parse("[vm]\nkernel_args = [\"a3s.trace\", \"loglevel=7\"]");
        assertEquals(List.of("a3s.trace", "loglevel=7"), c.vm().kernelArgs());
        assertEquals(List.of("a3s.trace", "loglevel=7"), c.vm().toVmConfig().extraKernelArgs());
        assertEquals(List.of(), ShimConfig.defaults().vm().toVmConfig().extraKernelArgs());
        assertEquals("test.toml: vm.kernel_args[1]: expected one kernel argument (1..256 characters, no blanks), "
                + "got the string \"a b\"", error("[vm]\nkernel_args = [\"x\", \"a b\"]"));
        assertTrue(error("[vm]\nkernel_args = \"a3s.trace\"").contains("expected an array of strings"));
        assertTrue(error("[vm]\nkernel_args = [1]").contains("vm.kernel_args[0]"));
    }

    @Test
    void reportsSyntaxErrorsWithTheirLine() {
        String e = error("[vm]\nvcpus = 2\nmemory_mib = = 3\n");
        assertTrue(e.startsWith("test.toml: not valid TOML: "), e);
        assertTrue(e.contains("line 3"), e);
    }

    @Test
    void globalFileIsOptionalUnlessNamedExplicitly() throws Exception {
        Path missing = tmp.resolve("missing.toml");
        ConfigException e = assertThrows(ConfigException.class,
                () -> ShimConfig.loadGlobal(Map.of(ShimConfig.PATH_ENV, missing.toString())));
        assertEquals(missing + ": no such file", e.getMessage());
        Path f = tmp.resolve("config.toml");
        Files.writeString(f, "[vm]\nvcpus = 3\n");
        assertEquals(3, ShimConfig.loadGlobal(Map.of(ShimConfig.PATH_ENV, f.toString())).vm().vcpus());
        Files.writeString(f, "[vm]\nvcpus = 0\n");
        e = assertThrows(ConfigException.class, () -> ShimConfig.loadGlobal(Map.of(ShimConfig.PATH_ENV, f.toString())));
        assertEquals(f + ": vm.vcpus: 0 is out of range 1..64", e.getMessage());
    }

    @Test
    void stateDirIsReadWithoutParsingFilesThatDoNotSetIt() throws Exception {
        Path f = tmp.resolve("config.toml");
        Map<String, String> env = Map.of(ShimConfig.PATH_ENV, f.toString());
        assertThrows(ConfigException.class, () -> ShimConfig.globalStateDir(env), "explicit and missing");
        // not valid, but it does not mention state_dir: start and delete do not care (the daemon will)
        Files.writeString(f, "# state_dir = \"/x\"\n[vm]\nvcpus = 0\n");
        assertNull(ShimConfig.globalStateDir(env));
        Files.writeString(f, "[shim]\nstate_dir = \"/run/a3s-x\" # here\n");
        assertEquals(Path.of("/run/a3s-x"), ShimConfig.globalStateDir(env));
        Files.writeString(f, "[shim]\nstate_dir = \"/run/a3s-x\"\n[vm]\nvcpus = 0\n");
        assertThrows(ConfigException.class, () -> ShimConfig.globalStateDir(env));
    }

    private Map<String, String> globalWith(String toml) throws Exception {
        Path f = tmp.resolve("global.toml");
        Files.writeString(f, toml);
        return Map.of(ShimConfig.PATH_ENV, f.toString());
    }

    private static Any options(Options o, String typeUrl) {
        return Any.newBuilder().setTypeUrl(typeUrl).setValue(o.toByteString()).build();
    }

    @Test
    void optionsAbsentOrEmptyGiveTheGlobalConfig() throws Exception {
        Map<String, String> env = globalWith("[vm]\nvcpus = 3\n[pool]\nsize = 2\n");
        assertEquals(3, ShimConfig.loadGlobal(env).withRuntimeOptions(null).vm().vcpus());
        assertEquals(3, ShimConfig.loadGlobal(env).withRuntimeOptions(Any.getDefaultInstance()).vm().vcpus());
        assertEquals(3, ShimConfig.loadGlobal(env)
                .withRuntimeOptions(options(Options.getDefaultInstance(), "runtimeoptions.v1.Options")).vm().vcpus());
    }

    @Test
    void optionsConfigPathOverlaysTheGlobalFile() throws Exception {
        Map<String, String> env = globalWith("[vm]\nvcpus = 3\nmemory_mib = 1024\n[pool]\nsize = 2\n");
        Path task = tmp.resolve("task.toml");
        Files.writeString(task, "[vm]\nvcpus = 4\n[pool]\nsize = 9\n");
        for (String url : new String[]{"runtimeoptions.v1.Options", "type.googleapis.com/runtimeoptions.v1.Options"}) {
            ShimConfig c = ShimConfig.loadGlobal(env).withRuntimeOptions(options(Options.newBuilder()
                    .setConfigPath(task.toString()).setConfigBody(ByteString.copyFromUtf8("[vm]\nvcpus = 8")).build(),
                    url));
            assertEquals(4, c.vm().vcpus(), "config_path wins over config_body");
            assertEquals(1024, c.vm().memoryMib(), "the global file is the base");
            assertEquals(2, c.pool().size(), "[pool] is host-wide: from the global file only");
        }
    }

    @Test
    void optionsConfigBodyOverlaysTheGlobalFile() throws Exception {
        Map<String, String> env = globalWith("[vm]\nmemory_mib = 1024\n");
        // CRI (containerd 1.7+) sends the runtime's whole options table as TOML, its own keys included
        ShimConfig c = ShimConfig.loadGlobal(env).withRuntimeOptions(options(Options.newBuilder().setConfigBody(
                ByteString.copyFromUtf8("TypeUrl = \"io.a3s.box\"\n[vm]\nvcpus = 2\naccelerator = \"tcg\"\n"))
                .build(), "runtimeoptions.v1.Options"));
        assertEquals(2, c.vm().vcpus());
        assertEquals(Accelerator.TCG, c.vm().accelerator());
        assertEquals(1024, c.vm().memoryMib());
    }

    @Test
    void taskOptionsTakeShimCgroupFromEitherOfRuncsOptionsAndTheVmFromRuntimeOptions() throws Exception {
        ShimConfig global = ShimConfig.loadGlobal(globalWith("[vm]\nvcpus = 3\n"));

        TaskOptions none = TaskOptions.of(null, global);
        assertEquals(global, none.config());
        assertTrue(none.shimCgroup().isEmpty());

        TaskOptions v2 = TaskOptions.of(Any.newBuilder().setTypeUrl("containerd.runc.v1.Options").setValue(
                io.a3s.box.containerd.runc.Options.newBuilder().setShimCgroup("/containerd/shim")
                        .setBinaryName("no-runc").build().toByteString()).build(), global);
        assertEquals(java.util.Optional.of("/containerd/shim"), v2.shimCgroup());
        assertEquals(global, v2.config(), "runc's other options do not touch the VM");

        TaskOptions v1 = TaskOptions.of(Any.newBuilder()
                .setTypeUrl("type.googleapis.com/containerd.linux.runc.CreateOptions")
                .setValue(io.a3s.box.containerd.runc.linux.CreateOptions.newBuilder().setShimCgroup("/k/shim")
                        .build().toByteString()).build(), global);
        assertEquals(java.util.Optional.of("/k/shim"), v1.shimCgroup());

        assertTrue(TaskOptions.of(Any.newBuilder().setTypeUrl("containerd.runc.v1.Options").build(), global)
                .shimCgroup().isEmpty());

        TaskOptions runtime = TaskOptions.of(options(Options.newBuilder().setConfigBody(
                ByteString.copyFromUtf8("[vm]\nmemory_mib = 384\n")).build(), "runtimeoptions.v1.Options"), global);
        assertEquals(384, runtime.config().vm().memoryMib());
        assertEquals(3, runtime.config().vm().vcpus(), "the rest of [vm] from the daemon's configuration");

        StatusException e = assertThrows(StatusException.class, () -> TaskOptions.of(Any.newBuilder()
                .setTypeUrl("io.containerd.runsc.v1.options").build(), global));
        assertEquals(Code.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("got io.containerd.runsc.v1.options"), e.getMessage());
        e = assertThrows(StatusException.class, () -> TaskOptions.of(Any.newBuilder()
                .setTypeUrl("containerd.runc.v1.Options").setValue(ByteString.copyFrom(new byte[]{(byte) 0xff}))
                .build(), global));
        assertTrue(e.getMessage().contains("cannot decode containerd.runc.v1.Options"), e.getMessage());
    }

    @Test
    void badOptionsAreInvalidArgument() throws Exception {
        Map<String, String> env = globalWith("");
        ShimConfig global = ShimConfig.loadGlobal(env);
        StatusException e = assertThrows(StatusException.class, () -> global.withRuntimeOptions(options(
                Options.newBuilder().setConfigBody(ByteString.copyFromUtf8("[vm]\nvcpus = 0")).build(),
                "runtimeoptions.v1.Options")));
        assertEquals(Code.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("runtime options config_body: vm.vcpus: 0 is out of range 1..64"),
                e.getMessage());

        e = assertThrows(StatusException.class, () -> global.withRuntimeOptions(options(
                Options.newBuilder().setConfigPath(tmp.resolve("nope.toml").toString()).build(),
                "runtimeoptions.v1.Options")));
        assertEquals(Code.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("nope.toml: no such file"), e.getMessage());

        e = assertThrows(StatusException.class, () -> global.withRuntimeOptions(options(
                Options.newBuilder().setConfigPath("relative.toml").build(), "runtimeoptions.v1.Options")));
        assertTrue(e.getMessage().contains("must be absolute"), e.getMessage());

        e = assertThrows(StatusException.class, () -> global.withRuntimeOptions(Any.newBuilder()
                .setTypeUrl("containerd.runc.v1.Options").build()));
        assertEquals(Code.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("expected runtimeoptions.v1.Options, got containerd.runc.v1.Options"),
                e.getMessage());

        e = assertThrows(StatusException.class, () -> global.withRuntimeOptions(Any.newBuilder()
                .setTypeUrl("runtimeoptions.v1.Options").setValue(ByteString.copyFrom(new byte[]{(byte) 0xff}))
                .build()));
        assertTrue(e.getMessage().contains("cannot decode"), e.getMessage());
    }

    @Test
    void theSampleFileParsesAndEqualsTheDefaults() throws Exception {
        Path sample = Path.of(System.getProperty("a3s.repo", "..")).resolve("docs/config.toml.sample");
        String text = Files.readString(sample);
        assertEquals(ShimConfig.defaults(), ShimConfig.defaults().overlay(text, sample.toString()),
                "every key is commented out");
        // uncommented, every key is valid (and known)
        StringBuilder b = new StringBuilder();
        for (String line : text.split("\n")) {
            b.append(line.matches("#\\s?[a-z_]+ = .*") ? line.replaceFirst("#\\s?", "") : line).append('\n');
        }
        ShimConfig all = ShimConfig.defaults().overlay(b.toString(), "sample, uncommented");
        assertEquals(ShimConfig.defaults().pool(), all.pool());
        assertEquals(ShimConfig.defaults().vm().vcpus(), all.vm().vcpus());
    }
}
