package io.a3s.box.shim.vm.qemu;

import io.a3s.box.shim.sys.Mounts;
import io.a3s.box.shim.vm.VmConfig;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Locates QEMU and the guest image for tests that boot real microVMs. */
final class VmTestSupport {
    static final Path QEMU = QemuBackend.DEFAULT_QEMU;

    private VmTestSupport() {}

    static Path repo() {
        return Path.of(System.getProperty("a3s.repo", "..")).toAbsolutePath().normalize();
    }

    /** build/guest/current, as written by scripts/build-guest-image. */
    static Path image() {
        return repo().resolve("build/guest/current");
    }

    /** Skips the test (with the reason) when QEMU or the guest image is missing. */
    static void assumeVmSupport() {
        Assumptions.assumeTrue(Files.isExecutable(QEMU), QEMU + " is missing: apt-get install qemu-system-x86");
        Assumptions.assumeTrue(Files.isReadable(image().resolve("vmlinuz"))
                        && Files.isReadable(image().resolve("initrd.img")),
                "no guest image in " + image() + ": run make -C guest && scripts/build-guest-image");
    }

    static VmConfig config() {
        return VmConfig.ofImage(image());
    }

    /** A short state root under /tmp (Unix socket paths are limited to 106 bytes, Layout.MAX_SOCKET_PATH). */
    static Path newStateRoot() throws IOException {
        return Files.createTempDirectory(Path.of("/tmp"), "a3s-vmt");
    }

    /** Removes a test state root, refusing to cross mounts. */
    static void removeStateRoot(Path root) throws IOException {
        if (root == null || !Files.exists(root)) {
            return;
        }
        Mounts.detachAllUnder(root);
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Pids of processes whose command line mentions {@code needle}. */
    static List<Long> processesMentioning(String needle) throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc"))) {
            return s.filter(p -> p.getFileName().toString().matches("\\d+"))
                    .map(p -> Long.parseLong(p.getFileName().toString()))
                    .filter(pid -> pid != ProcessHandle.current().pid())
                    .filter(pid -> String.join(" ", io.a3s.box.shim.sys.ProcessRef.cmdline(pid)).contains(needle))
                    .toList();
        }
    }
}
