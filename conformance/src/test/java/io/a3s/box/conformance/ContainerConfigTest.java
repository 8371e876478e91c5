package io.a3s.box.conformance;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What {@code ctr run} puts into config.json reaches the container: environment, working directory, bind
 * mounts read-only and read-write, a read-only rootfs, memory and CPU limits.
 */
class ContainerConfigTest extends ConformanceTest {
    /** ctr's spec mounts no cgroup file system: this one shows the container's cgroup (as with runc). */
    static final String CGROUP_MOUNT = "type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro";
    /** The container's own cgroup directory, without a cgroup namespace. */
    static final String CG = "/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)";

    @TempDir
    Path host;

    @ParameterizedTest
    @ValueSource(strings = {"io.containerd.runc.v2", ShimHarness.RUNTIME})
    void theRootAndAVolumeAreNeitherNosuidNorNodevAsUnderRunc(String runtime) throws Exception {
        // sudo, su, ping and passwd run setuid from the image, which a nosuid root defeats; a device node in a
        // volume opens. The VM's 9p exports were mounted nosuid,nodev, and every bind of them inherited that.
        String id = runtime.equals(ShimHarness.RUNTIME) ? "suid-a3s" : "suid-runc";
        Path dir = Files.createDirectories(host.resolve(id));
        HostShell.sh("mknod " + dir.resolve("null") + " c 1 3 && chmod 666 " + dir.resolve("null"));
        List<String> lines = runWithVolume(runtime, id, dir, 3,
                "awk '$5 == \"/\" || $5 == \"/data\" { print $5, $6 }' /proc/self/mountinfo;"
                        + " echo x > /data/null && echo opened");
        for (String mount : lines.subList(0, 2)) {
            assertFalse(mount.contains("nosuid") || mount.contains("nodev"), runtime + ": " + mount);
        }
        assertEquals("opened", lines.get(2), runtime);
    }

    /** {@code sh -c script} under {@code runtime} with {@code dir} on /data: its stdout's lines, as many as said. */
    private List<String> runWithVolume(String runtime, String id, Path dir, int lineCount, String script)
            throws Exception {
        PrivateContainerd.Result r = h.ctr("run", "--rm", "--runtime", runtime,
                "--mount", "type=bind,src=" + dir + ",dst=/data,options=rbind:rw", ShimHarness.IMAGE, id, "sh", "-c",
                script);
        assertEquals(0, r.exitCode(), runtime + ": " + r.stderr());
        List<String> lines = r.stdout().lines().toList();
        assertEquals(lineCount, lines.size(), runtime + ": " + r.stdout() + r.stderr());
        return lines;
    }

    /**
     * Serves a Unix socket at argv[1] to a client process it forks, which connects by that path and sends a byte
     * (busybox has no such applet): "served", or the failed step and its errno's message.
     */
    private static final String BIND_UNIX = """
            #include <stdio.h>
            #include <string.h>
            #include <errno.h>
            #include <unistd.h>
            #include <sys/socket.h>
            #include <sys/un.h>
            #include <sys/wait.h>
            static int fail(const char *step) { printf("%s: %s\\n", step, strerror(errno)); return 1; }
            int main(int argc, char **argv) {
                struct sockaddr_un a = { .sun_family = AF_UNIX };
                strncpy(a.sun_path, argv[1], sizeof(a.sun_path) - 1);
                int s = socket(AF_UNIX, SOCK_STREAM, 0);
                if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) return fail("bind");
                if (listen(s, 1) < 0) return fail("listen");
                pid_t child = fork();
                if (child == 0) {
                    int c = socket(AF_UNIX, SOCK_STREAM, 0);
                    _exit(c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0 && write(c, "x", 1) == 1 ? 0 : 1);
                }
                int conn = accept(s, NULL, NULL);
                char b = 0;
                if (conn < 0 || read(conn, &b, 1) != 1 || b != 'x') return fail("accept");
                int status;
                waitpid(child, &status, 0);
                printf("served\\n");
                return 0;
            }
            """;

    @ParameterizedTest
    @ValueSource(strings = {"io.containerd.runc.v2", ShimHarness.RUNTIME})
    void fifosAndUnixSocketsCanBeMadeInTheRootfsAVolumeAndATmpfs(String runtime) throws Exception {
        // A server's socket under /run (on the rootfs under Kubernetes, which mounts no tmpfs there), a script's
        // mkfifo in /tmp. On a tmpfs they are the guest kernel's; on the rootfs and volumes, 9p's: Debian 12's QEMU
        // 7.2 failed those with ENXIO (its CVE-2023-2861 check), 10.0 makes them (docs/vm.md, "QEMU's version").
        String id = runtime.equals(ShimHarness.RUNTIME) ? "special-a3s" : "special-runc";
        Path dir = Files.createDirectories(host.resolve(id));
        Files.writeString(dir.resolve("bindunix.c"), BIND_UNIX);
        HostShell.sh("gcc -static -O -o " + dir.resolve("bindunix") + " " + dir.resolve("bindunix.c"));
        // a FIFO made and used (a writer in the background, a reader), a socket served; and what the host sees
        List<String> lines = runWithVolume(runtime, id, dir, 4, "for d in /run /dev/shm /tmp /data; do"
                + " echo \"$d fifo $(mkfifo -m 640 $d/f 2>&1 && { echo passed > $d/f & read l < $d/f; echo $l; })"
                + " socket $(/data/bindunix $d/s)\"; done");
        assertEquals(List.of("/run fifo passed socket served", "/dev/shm fifo passed socket served",
                "/tmp fifo passed socket served", "/data fifo passed socket served"), lines, runtime);
        assertEquals("fifo 640\nsocket", HostShell.sh("stat -c '%F %a' " + dir.resolve("f")
                + " && stat -c '%F' " + dir.resolve("s")), runtime);
    }

    @Test
    void rlimitsTheSpecLeavesOutAreContainerdsAsUnderRunc() throws Exception {
        // runc's container inherits containerd's limits (through runc's shim) for whatever its spec does not set
        // (ctr sets only the open files; Kubernetes sets none): in the VM, the agent's would apply, 781 processes
        // per user in a 256 MiB VM where the host allows 96 367
        String cmd = "cat /proc/self/limits";
        PrivateContainerd.Result runc = h.ctr("run", "--rm", "--runtime", "io.containerd.runc.v2", ShimHarness.IMAGE,
                "limits-runc", "sh", "-c", cmd);
        PrivateContainerd.Result a3s = h.run(List.of(), "limits-a3s", "sh", "-c", cmd);
        assertEquals(0, runc.exitCode(), runc.stderr());
        assertEquals(0, a3s.exitCode(), a3s.stderr());
        assertEquals(runc.stdout(), a3s.stdout());
    }

    @Test
    void oomScoreAdjTheSpecLeavesOutIsTheShimsAsUnderRunc() throws Exception {
        // runc's init and execs inherit its shim's oom_score_adj (containerd's + 1) when the spec sets none (ctr,
        // nerdctl; Kubernetes always sets one); in the VM they would get the agent's 0
        String cmd = "echo $(cat /proc/1/oom_score_adj) $(cat /proc/self/oom_score_adj)";
        Map<String, String> seen = new LinkedHashMap<>();
        for (String runtime : List.of("io.containerd.runc.v2", ShimHarness.RUNTIME)) {
            String id = runtime.equals(ShimHarness.RUNTIME) ? "oom-a3s" : "oom-runc";
            PrivateContainerd.Result r = h.ctr("run", "-d", "--runtime", runtime, ShimHarness.IMAGE, id, "sleep", "600");
            assertEquals(0, r.exitCode(), r.stderr());
            try {
                PrivateContainerd.Result e = h.exec(id, "sh", "-c", cmd);
                assertEquals(0, e.exitCode(), e.stderr());
                seen.put(runtime, e.stdout().strip());
            } finally {
                h.remove(id);
            }
        }
        String runc = seen.get("io.containerd.runc.v2");
        assertTrue(runc.matches("-?\\d+ -?\\d+"), runc);
        assertEquals(runc, seen.get(ShimHarness.RUNTIME), "init's and an exec's oom_score_adj: runc's, then a3s's");
    }

    @Test
    void envAndCwdAreThoseOfTheCommandLine() throws Exception {
        PrivateContainerd.Result r = h.run(List.of("--env", "GREETING=bonjour", "--env", "EMPTY=", "--cwd", "/tmp"),
                "envcwd", "sh", "-c", "echo \"$GREETING\"; echo \"[${EMPTY-unset}]\"; pwd; echo $PATH");
        assertEquals("bonjour\n[]\n/tmp\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n", r.stdout(),
                r.stderr());
        assertEquals(0, r.exitCode());
    }

    @Test
    void theRuntimeConfigPathSizesTheTasksVm() throws Exception {
        // ctr --runtime-config-path sends runtimeoptions.v1.Options{config_path}: its [vm] is the task's VM (a pool
        // miss here, so a cold boot), over the daemon's configuration (256 MiB VMs)
        Path config = host.resolve("big.toml");
        Files.writeString(config, "[vm]\nmemory_mib = 384\n");
        PrivateContainerd.Result r = h.run(List.of("--runtime-config-path", config.toString()), "vm-384",
                "sh", "-c", "sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo");
        assertEquals(0, r.exitCode(), r.stderr());
        long kib = Long.parseLong(r.stdout().trim());
        assertTrue(kib > 300 * 1024 && kib <= 384 * 1024, "MemTotal " + kib + " kB in a 384 MiB VM");

        Files.writeString(config, "[vm]\nvcpus = 0\n");
        r = h.run(List.of("--runtime-config-path", config.toString()), "vm-bad", "true");
        assertTrue(r.exitCode() != 0, "a bad value is refused");
        assertTrue(r.stderr().contains(config + ": vm.vcpus: 0 is out of range 1..64"), r.stderr());
    }

    @Test
    void aReadOnlyBindMountShowsTheHostFileAndRefusesWrites() throws Exception {
        Files.writeString(host.resolve("f"), "from the host\n");
        PrivateContainerd.Result r = h.run(List.of("--mount", "type=bind,src=" + host + ",dst=/data,options=rbind:ro"),
                "bind-ro", "sh", "-c", "cat /data/f; echo x > /data/g && echo wrote || echo refused");
        assertEquals("from the host\nrefused\n", r.stdout(), r.stderr());
        assertTrue(r.stderr().contains("Read-only file system"), r.stderr());
        assertFalse(Files.exists(host.resolve("g")));
    }

    @Test
    void aReadWriteBindMountTakesWritesTheHostSeesOnceCtrReturns() throws Exception {
        PrivateContainerd.Result r = h.run(List.of("--mount", "type=bind,src=" + host + ",dst=/out,options=rbind:rw"),
                "bind-rw", "sh", "-c",
                "echo from the container > /out/f; mkdir /out/d; head -c 100000 /dev/zero > /out/d/z");
        assertEquals(0, r.exitCode(), r.stderr());
        assertEquals("from the container\n", Files.readString(host.resolve("f")));
        assertEquals(100000, Files.size(host.resolve("d/z")));
    }

    @Test
    void whatTheHostWritesIntoAVolumeWhileTheContainerRunsIsSeenAtOnce() throws Exception {
        // config files, secrets, logs shared with the host: the guest must not serve them from a stale cache
        Files.writeString(host.resolve("f"), "one\n");
        h.runDetached(List.of("--mount", "type=bind,src=" + host + ",dst=/data,options=rbind:rw"), "vol-live",
                "sleep", "600");
        try {
            assertEquals("one\n", exec("vol-live", "cat", "/data/f"));
            Files.writeString(host.resolve("f"), "two, longer\n"); // same inode, new size and content
            Files.writeString(host.resolve("g"), "new\n");
            assertEquals("two, longer\n", exec("vol-live", "cat", "/data/f"));
            assertEquals("f\ng\n", exec("vol-live", "ls", "/data"));
            Files.delete(host.resolve("g"));
            assertEquals("f\n", exec("vol-live", "ls", "/data"));
            // and the other way, while it runs
            exec("vol-live", "sh", "-c", "echo from the guest > /data/h");
            assertEquals("from the guest\n", Files.readString(host.resolve("h")));
        } finally {
            h.remove("vol-live");
        }
    }

    private String exec(String id, String... cmd) throws Exception {
        PrivateContainerd.Result r = h.exec(id, cmd);
        assertEquals(0, r.exitCode(), r.stderr());
        return r.stdout();
    }

    @Test
    void aReadOnlyRootfsRefusesWritesEvenWhenTheImageLacksMountPoints() throws Exception {
        // the test image has no /proc, /dev or /sys: the runtime creates them before making the rootfs read-only
        PrivateContainerd.Result r = h.run(List.of("--read-only"), "rootfs-ro", "sh", "-c",
                "touch /x && echo wrote || echo refused; cat /proc/self/stat > /dev/null && echo proc");
        assertEquals("refused\nproc\n", r.stdout(), r.stderr());
        assertEquals(0, r.exitCode());
    }

    @Test
    void memoryLimitIsTheCgroupsMemoryMax() throws Exception {
        PrivateContainerd.Result r = h.run(List.of("--memory-limit", "67108864", "--mount", CGROUP_MOUNT),
                "mem", "sh", "-c", "cat " + CG + "/memory.max");
        assertEquals("67108864\n", r.stdout(), r.stderr());
    }

    @Test
    void cpusIsTheCgroupsCpuMax() throws Exception {
        PrivateContainerd.Result r = h.run(List.of("--cpus", "0.5", "--mount", CGROUP_MOUNT), "cpus", "sh", "-c",
                "cat " + CG + "/cpu.max");
        assertEquals("50000 100000\n", r.stdout(), r.stderr());
    }
}
