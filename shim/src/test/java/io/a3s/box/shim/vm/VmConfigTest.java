package io.a3s.box.shim.vm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class VmConfigTest {
    private static final Path K = Path.of("/k");
    private static final Path I = Path.of("/i");

    @Test
    void badValuesAreRejectedNamingTheKeyAndTheRange() {
        assertEquals("vcpus: 0 is out of range 1..64", assertThrows(IllegalArgumentException.class,
                () -> VmConfig.of(K, I).withVcpus(0)).getMessage());
        assertEquals("memory_mib: 32 is out of range 64..1048576", assertThrows(IllegalArgumentException.class,
                () -> VmConfig.of(K, I).withMemoryMiB(32)).getMessage());
        assertEquals("boot_deadline: must be positive, got PT0S", assertThrows(IllegalArgumentException.class,
                () -> VmConfig.of(K, I).withBootDeadline(Duration.ZERO)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> VmConfig.of(K, I).withExtraKernelArgs(List.of("a\nb")));
    }

    @Test
    void equalConfigsAreInterchangeable() {
        assertEquals(VmConfig.of(K, I).withVcpus(2), VmConfig.of(K, I).withVcpus(2));
    }

    @Test
    void anImagePrefersItsPvhKernel(@TempDir Path dir) throws Exception {
        assertEquals(dir.resolve("vmlinuz"), VmConfig.ofImage(dir).kernel());
        Files.writeString(dir.resolve("vmlinux"), "elf");
        assertEquals(dir.resolve("vmlinux"), VmConfig.ofImage(dir).kernel());
        assertEquals(dir.resolve("initrd.img"), VmConfig.ofImage(dir).initrd());
    }

    @Test
    void stateDirectoriesAreNamedByVmId() {
        assertEquals(Path.of("/run/a3s-box/vms/abc-1"), StateDir.of(Path.of("/run/a3s-box"), "abc-1"));
        assertThrows(IllegalArgumentException.class, () -> StateDir.of(Path.of("/r"), "../x"));
        assertThrows(IllegalArgumentException.class, () -> StateDir.of(Path.of("/r"), ""));
    }
}
