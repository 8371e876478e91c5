package io.a3s.box.shim.sys;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HostCgroupsTest {
    @TempDir
    Path tmp;

    @Test
    void theHierarchiesAreTheCgroupAndCgroup2Mounts() {
        List<String> mountinfo = List.of(
                "25 1 0:22 / /sys/fs/cgroup rw,relatime shared:5 - tmpfs tmpfs rw,mode=755",
                "26 25 0:23 / /sys/fs/cgroup/memory rw,relatime shared:6 - cgroup cgroup rw,memory",
                "27 25 0:24 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices",
                "28 25 0:25 / /sys/fs/cgroup/unified rw,relatime shared:8 - cgroup2 cgroup2 rw",
                "29 1 0:26 / /mnt/my\\040cgroup rw - cgroup2 none rw",
                "30 1 0:27 / /cgroup-lookalike rw - ext4 /dev/sda1 rw");
        assertEquals(List.of(Path.of("/sys/fs/cgroup/memory"), Path.of("/sys/fs/cgroup/devices"),
                        Path.of("/sys/fs/cgroup/unified"), Path.of("/mnt/my cgroup")),
                Mounts.cgroupHierarchies(mountinfo));
    }

    @Test
    void aPidJoinsTheCgroupInEveryHierarchyThatHasIt() throws Exception {
        Path memory = tmp.resolve("memory"), devices = tmp.resolve("devices"), unified = tmp.resolve("unified");
        for (Path h : List.of(memory, devices)) {
            Files.createDirectories(h.resolve("containerd/shim"));
            Files.writeString(h.resolve("containerd/shim/cgroup.procs"), "");
        }
        Files.createDirectories(unified);

        List<Path> written = HostCgroups.join(4242, "/containerd/shim", List.of(memory, devices, unified));
        assertEquals(List.of(memory.resolve("containerd/shim/cgroup.procs"),
                devices.resolve("containerd/shim/cgroup.procs")), written);
        assertEquals("4242", Files.readString(devices.resolve("containerd/shim/cgroup.procs")));
        assertFalse(Files.exists(unified.resolve("containerd")), "a hierarchy without the cgroup is left alone");
    }

    @Test
    void aCgroupNoHierarchyHasIsAnErrorNamingIt() {
        IOException e = assertThrows(IOException.class,
                () -> HostCgroups.join(1, "/nope/shim", List.of(tmp.resolve("memory"))));
        assertTrue(e.getMessage().contains("cgroup /nope/shim does not exist"), e.getMessage());
        e = assertThrows(IOException.class, () -> HostCgroups.join(1, "/", List.of(tmp)));
        assertTrue(e.getMessage().contains("not a cgroup below"), e.getMessage());
    }

    @Test
    void dotDotStaysBelowTheHierarchysRoot() throws Exception {
        Path memory = Files.createDirectories(tmp.resolve("h/memory/etc"));
        Files.writeString(memory.resolve("cgroup.procs"), "");
        List<Path> written = HostCgroups.join(7, "../../etc", List.of(tmp.resolve("h/memory")));
        assertEquals(List.of(memory.resolve("cgroup.procs")), written);
    }
}
