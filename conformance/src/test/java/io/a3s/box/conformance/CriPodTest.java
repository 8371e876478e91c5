package io.a3s.box.conformance;

import io.a3s.box.conformance.cri.v1.AttachRequest;
import io.a3s.box.conformance.cri.v1.Capability;
import io.a3s.box.conformance.cri.v1.ContainerConfig;
import io.a3s.box.conformance.cri.v1.ContainerState;
import io.a3s.box.conformance.cri.v1.ContainerStats;
import io.a3s.box.conformance.cri.v1.ContainerStatus;
import io.a3s.box.conformance.cri.v1.DNSConfig;
import io.a3s.box.conformance.cri.v1.ExecRequest;
import io.a3s.box.conformance.cri.v1.ExecSyncResponse;
import io.a3s.box.conformance.cri.v1.Int64Value;
import io.a3s.box.conformance.cri.v1.LinuxContainerResources;
import io.a3s.box.conformance.cri.v1.LinuxContainerSecurityContext;
import io.a3s.box.conformance.cri.v1.Mount;
import io.a3s.box.conformance.cri.v1.MountPropagation;
import io.a3s.box.conformance.cri.v1.NamespaceMode;
import io.a3s.box.conformance.cri.v1.NamespaceOption;
import io.a3s.box.conformance.cri.v1.PodSandboxConfig;
import io.a3s.box.conformance.cri.v1.PodSandboxState;
import io.a3s.box.conformance.cri.v1.PodSandboxStatus;
import io.a3s.box.conformance.cri.v1.SecurityProfile;
import io.a3s.box.shim.daemon.TaskRecord;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.ClassOrderer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestClassOrder;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kubernetes pods through containerd's CRI plugin, driven over CRI v1 as kubelet drives them: sandbox
 * lifecycle, a container's log, ExecSync, the pod's shared IPC and UTS namespaces, StopContainer's grace
 * period. The same tests run for the {@code runc} handler, which proves the harness (and is cheap: no VM),
 * and for the {@code a3s} handler ({@code io.a3s.box}), the point: every container of a pod in the pod's VM.
 *
 * <p>One containerd for the class ({@link PrivateCri}); after each test every pod is removed and nothing may
 * be left: no task, container or mount, no VM beyond the warm pool's.
 */
@Timeout(600)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestClassOrder(ClassOrderer.OrderAnnotation.class)
class CriPodTest {
    PrivateCri h;

    @BeforeAll
    void startCri() throws Exception {
        h = new PrivateCri();
    }

    @AfterAll
    void stopCri() throws Exception {
        if (h != null) {
            h.close();
        }
    }

    /** runc: the containers are host processes, on the host's kernel. */
    @Nested
    @Order(1)
    class Runc extends PodTests {
        @Override
        String handler() {
            return PrivateCri.RUNC;
        }

        @Override
        void assertPlacement(String podId, List<String> containerIds) {
            for (String c : containerIds) {
                assertEquals(HOST_KERNEL, kernelOf(c), "container " + c + " is not on the host's kernel");
            }
        }

        /**
         * Not a baseline here: with runc under containerd 1.6.20 the CRI log of {@code seq 1 20000} ends early (at
         * line 12 089, then 13 455, in two runs on 2026-12-04), the tail lost at the exit. The loss is
         * containerd's: 1.6's client {@code task.Delete} closes its ends of the FIFOs before it waits for the
         * copy ("read /proc/self/fd/N: file already closed" in its log), so whatever the shim wrote that it has
         * not read yet is dropped. a3s-box's shim reports the exit only once the reader has taken everything
         * from the FIFOs, and delivers every line (it lost the tail too, 1 run in 2, before it did).
         */
        @Override
        @Test
        void aLongOutputArrivesWholeInTheCriLog() {
            Assumptions.abort("with runc, containerd 1.6.20 loses the tail of this log here (see the javadoc)");
        }
    }

    /** io.a3s.box: the sandbox and every container of the pod in one VM, on the guest's kernel. */
    @Nested
    @Order(2)
    class A3s extends PodTests {
        @Override
        String handler() {
            return PrivateCri.A3S;
        }

        @Override
        void assertPlacement(String podId, List<String> containerIds) throws Exception {
            Path vm = vmOf(podId);
            for (String c : containerIds) {
                assertNotEquals(HOST_KERNEL, kernelOf(c), "container " + c + " runs on the host's kernel");
                assertEquals(vm, vmOf(c), "container " + c + " is not in its pod's VM");
            }
        }

        @Test
        void aPodWhoseGuestHangsStillStopsAndIsRemoved() throws Exception {
            // Kata #13441, containerd#14081: kill-path calls against a hung runtime, pods Terminating for days
            PodSandboxConfig pod = h.pod("hung", "hung-host");
            String podId = runPod(pod);
            String id = runContainer(podId, pod, "sleeper", "sleep", "1000");
            long qemu = Long.parseLong(Files.readString(vmOf(podId).resolve("qemu.pid")).strip());
            assertEquals(0, new ProcessBuilder("kill", "-STOP", Long.toString(qemu)).start().waitFor());
            try {
                long t0 = System.nanoTime();
                h.cri.stopPodSandbox(podId);
                Duration took = Duration.ofNanos(System.nanoTime() - t0);
                assertTrue(took.compareTo(Duration.ofSeconds(60)) < 0, "StopPodSandbox took " + took);
                // The SIGKILL of the container the hung guest does not take kills the VM, and the pause container
                // dies with it: containerd 1.6/1.7's CRI then races its own handling of that exit (its stop finds
                // the task already deleted and returns before the status is updated), so NOTREADY may come a
                // moment after StopPodSandbox returned, as kubelet's next poll sees it
                assertEquals(PodSandboxState.SANDBOX_NOTREADY, polled(Duration.ofSeconds(10),
                        () -> h.cri.podSandboxStatus(podId, false).getStatus().getState(),
                        st -> st == PodSandboxState.SANDBOX_NOTREADY));
                ContainerStatus s = h.cri.containerStatus(id, false).getStatus();
                assertEquals(ContainerState.CONTAINER_EXITED, s.getState(), s.toString());
                assertEquals(137, s.getExitCode(), s.toString());
                assertFalse(ProcessHandle.of(qemu).isPresent(), "the hung qemu " + qemu + " still runs");
                h.cri.removePodSandbox(podId); // and @AfterEach checks that nothing is left
            } finally {
                new ProcessBuilder("kill", "-KILL", Long.toString(qemu)).start().waitFor();
            }
        }

        @Test
        void aHandlersConfigPathSizesItsPodsVm() throws Exception {
            // [...runtimes.a3s-384.options] ConfigPath: CRI sends runtimeoptions.v1.Options with the pod's tasks
            PodSandboxConfig pod = h.pod("big", "big-host");
            String podId;
            try {
                podId = h.cri.runPodSandbox(pod, PrivateCri.A3S_384);
            } catch (RuntimeException e) {
                throw new AssertionError("RunPodSandbox (" + PrivateCri.A3S_384 + "): " + e + diagnostics(), e);
            }
            String id = runContainer(podId, pod, "meminfo", "sleep", "1000");
            ExecSyncResponse r = h.cri.execSync(id, List.of("sed", "-n", "s/^MemTotal: *\\([0-9]*\\) kB/\\1/p",
                    "/proc/meminfo"), 60);
            assertEquals(0, r.getExitCode(), r.getStderr().toString(StandardCharsets.UTF_8));
            long kib = Long.parseLong(r.getStdout().toString(StandardCharsets.UTF_8).trim());
            assertTrue(kib > 300 * 1024 && kib <= 384 * 1024, "MemTotal " + kib + " kB in a 384 MiB VM");
            assertEquals(vmOf(podId), vmOf(id), "the container is in its pod's VM");
        }

        @Test
        void aKernelModuleOfTheGuestImageIsLoadedWhenAContainerFirstNeedsIt() throws Exception {
            // The guest's /sbin/modprobe is the agent, reading the image's on-demand modules over 9p: a dummy
            // link makes the kernel ask for rtnl-link-dummy, an alias of dummy.ko. (runc: this host's kernel
            // has no modules directory, so the same command fails there: not a baseline.)
            PodSandboxConfig pod = h.pod("modules", "modules-host");
            String podId = runPod(pod);
            String admin = runContainer(podId, pod, secured(PrivateCri.container("admin", "sleep", "1000"),
                    s -> s.setCapabilities(Capability.newBuilder().addAddCapabilities("NET_ADMIN"))));
            assertEquals("", exec(admin, List.of("sh", "-c", "grep -w '^dummy' /proc/modules || true")),
                    "dummy is not loaded at boot");
            assertExec(admin, 0, "ip", "link", "add", "a3s-dummy0", "type", "dummy");
            assertTrue(exec(admin, List.of("ip", "-o", "link", "show", "a3s-dummy0")).contains("a3s-dummy0"));
            assertTrue(exec(admin, List.of("cat", "/proc/modules")).contains("dummy "), "dummy is loaded now");
        }

        /** The VM state directory of task {@code id}, from the shim's task file. */
        private Path vmOf(String id) throws Exception {
            Path file = h.state.resolve("tasks").resolve(PrivateCri.NS).resolve(id + ".json");
            String vm = TaskRecord.read(file).vmStateDir();
            assertFalse(vm.isEmpty(), "task " + id + " has no VM");
            return Path.of(vm);
        }
    }

    static final String HOST_KERNEL = System.getProperty("os.version");

    /** The tests, for one runtime handler. */
    abstract class PodTests {
        /** How long a container may take to run to its end: a VM boot under TCG, if the pool has none idle. */
        static final Duration EXIT_LIMIT = Duration.ofMinutes(3);

        /** The CRI runtime handler the pods run with. */
        abstract String handler();

        /** Checks that the running containers of pod {@code podId} run where the handler runs them. */
        abstract void assertPlacement(String podId, List<String> containerIds) throws Exception;

        /** The kernel release a running container sees. */
        String kernelOf(String containerId) {
            ExecSyncResponse r = h.cri.execSync(containerId, List.of("uname", "-r"), 60);
            assertEquals(0, r.getExitCode(), r.getStderr().toString(StandardCharsets.UTF_8));
            return r.getStdout().toString(StandardCharsets.UTF_8).trim();
        }

        @AfterEach
        void removePodsAndCheckNothingLeft() throws Exception {
            List<Throwable> errors = h.removeAllPods();
            if (!errors.isEmpty()) {
                AssertionError e = new AssertionError("removing the test's pods failed");
                errors.forEach(e::addSuppressed);
                throw e;
            }
            h.assertNothingLeft();
        }

        /** RunPodSandbox with a message that has the logs a failure needs. */
        String runPod(PodSandboxConfig pod) {
            try {
                return h.cri.runPodSandbox(pod, handler());
            } catch (RuntimeException e) {
                throw new AssertionError("RunPodSandbox (" + handler() + "): " + e + diagnostics(), e);
            }
        }

        /** Create and Start, with a message that has the logs a failure needs. */
        String runContainer(String podId, PodSandboxConfig pod, String name, String... command) {
            return runContainer(podId, pod, PrivateCri.container(name, command));
        }

        String runContainer(String podId, PodSandboxConfig pod, ContainerConfig config) {
            try {
                return h.run(podId, pod, config);
            } catch (RuntimeException e) {
                throw new AssertionError("CreateContainer/StartContainer " + config.getMetadata().getName() + " ("
                        + handler() + "): " + e + diagnostics(), e);
            }
        }

        String diagnostics() {
            return "\ncontainerd log:\n" + ShimHarness.tail(h.containerd.log(), 30) + "\nshim daemon log:\n"
                    + h.shimLog(30);
        }

        @Test
        void podSandboxLifecycle() throws Exception {
            PodSandboxConfig pod = h.pod("lifecycle", "lifecycle-host");
            String id = runPod(pod);
            PodSandboxStatus s = h.cri.podSandboxStatus(id, false).getStatus();
            assertEquals(PodSandboxState.SANDBOX_READY, s.getState(), s.toString());
            assertEquals("lifecycle", s.getMetadata().getName());
            assertEquals(handler(), s.getRuntimeHandler());
            // the sandbox is a containerd task (the pause container), running
            List<String> tasks = h.listed("tasks", "ls");
            assertTrue(tasks.stream().anyMatch(t -> t.startsWith(id) && t.contains("RUNNING")), tasks.toString());

            h.cri.stopPodSandbox(id);
            s = h.cri.podSandboxStatus(id, false).getStatus();
            assertEquals(PodSandboxState.SANDBOX_NOTREADY, s.getState(), s.toString());
            h.cri.removePodSandbox(id);
            assertTrue(h.cri.listPodSandbox().getItemsList().stream().noneMatch(p -> p.getId().equals(id)));
            assertEquals(List.of(), h.listed("tasks", "ls"));
        }

        @Test
        void aContainerLogsToItsCriLogAndSeesThePodHostname() throws Exception {
            PodSandboxConfig pod = h.pod("logs", "logs-host");
            String podId = runPod(pod);
            String id = runContainer(podId, pod, "hello", "sh", "-c", "echo hello; hostname");
            ContainerStatus s = h.awaitExited(id, EXIT_LIMIT);
            assertEquals(0, s.getExitCode(), s.toString());
            Path log = Path.of(pod.getLogDirectory(), "hello/0.log");
            assertEquals(log.toString(), s.getLogPath());
            // the log is complete once the container's output is closed: normally before its exit is reported
            List<String> lines = polled(Duration.ofSeconds(10),
                    () -> Files.exists(log) ? PrivateCri.logLines(log) : List.of(), l -> l.size() >= 2);
            assertEquals(List.of("stdout F hello", "stdout F logs-host"), lines,
                    () -> "CRI log " + log + ":\n" + read(log));
        }

        @Test
        void execSyncReturnsStdoutAndExitCode() throws Exception {
            PodSandboxConfig pod = h.pod("exec", "exec-host");
            String podId = runPod(pod);
            String id = runContainer(podId, pod, "sleeper", "sleep", "1000");
            ExecSyncResponse r = h.cri.execSync(id, List.of("sh", "-c", "echo x; exit 3"), 60);
            assertEquals("x\n", r.getStdout().toString(StandardCharsets.UTF_8),
                    () -> "stderr: " + r.getStderr().toString(StandardCharsets.UTF_8));
            assertEquals(3, r.getExitCode());
            assertEquals(ContainerState.CONTAINER_RUNNING, h.cri.containerStatus(id, false).getStatus().getState());
        }

        @Test
        void anExecOfACommandThatDoesNotExistFailsAtOnce() throws Exception {
            // Kata #8026: "crictl/kubectl exec hang 60s when use not exist command"
            PodSandboxConfig pod = h.pod("noexec", "noexec-host");
            String podId = runPod(pod);
            String id = runContainer(podId, pod, "sleeper", "sleep", "1000");
            long t0 = System.nanoTime();
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> h.cri.execSync(id, List.of("no-such-command"), 60));
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            assertTrue(e.getMessage().contains("no-such-command"), e.getMessage());
            assertTrue(took.compareTo(Duration.ofSeconds(10)) < 0, "the failed exec took " + took);
            assertEquals(ContainerState.CONTAINER_RUNNING, h.cri.containerStatus(id, false).getStatus().getState());
        }

        @Test
        void aContainerOverItsMemoryLimitIsReportedOomKilled() throws Exception {
            // Kata runtime#2150, #8821: the kubelet's OOMKilled comes from the runtime's /tasks/oom event
            PodSandboxConfig pod = h.pod("oom", "oom-host");
            String podId = runPod(pod);
            ContainerConfig c = PrivateCri.container("oom", "sh", "-c",
                    "exec dd if=/dev/zero of=/dev/null bs=64M count=1");
            c = c.toBuilder().setLinux(c.getLinux().toBuilder().setResources(LinuxContainerResources.newBuilder()
                    .setMemoryLimitInBytes(32L << 20))).build();
            String id;
            try {
                id = h.run(podId, pod, c);
            } catch (RuntimeException e) {
                throw new AssertionError("CreateContainer/StartContainer oom: " + e + diagnostics(), e);
            }
            ContainerStatus s = h.awaitExited(id, EXIT_LIMIT);
            assertEquals(137, s.getExitCode(), s.toString());
            assertEquals("OOMKilled", s.getReason(), s + diagnostics());
        }

        @Test
        void aLongOutputArrivesWholeInTheCriLog() throws Exception {
            // Kata #1713: "Logs output on Kata Containers pod is being truncated"
            PodSandboxConfig pod = h.pod("longlog", "longlog-host");
            String podId = runPod(pod);
            int n = 20_000;
            String id = runContainer(podId, pod, "seq", "seq", "1", Integer.toString(n));
            ContainerStatus s = h.awaitExited(id, EXIT_LIMIT);
            assertEquals(0, s.getExitCode(), s.toString());
            Path log = Path.of(s.getLogPath());
            List<String> lines = polled(Duration.ofSeconds(20),
                    () -> Files.exists(log) ? PrivateCri.logLines(log) : List.of(), l -> l.size() >= n);
            assertEquals(n, lines.size(), () -> "lines in " + log + ", the last: "
                    + ShimHarness.tail(read(log), 3) + "\nshim log:\n" + h.shimLog(40)
                    + "\ncontainerd log:\n" + ShimHarness.tail(h.containerd.log(), 60));
            for (int i = 0; i < n; i++) {
                assertEquals("stdout F " + (i + 1), lines.get(i), "line " + (i + 1) + " of " + log);
            }
        }

        @Test
        void containerStatsReportTheContainersCpuAndMemory() throws Exception {
            // what kubelet reads for kubectl top and for evictions
            PodSandboxConfig pod = h.pod("stats", "stats-host");
            String podId = runPod(pod);
            // 16 MiB held in a file of /dev, a tmpfs in both runtimes, charged to the container; a little CPU spent
            String id = runContainer(podId, pod, "busy", "sh", "-c",
                    "head -c 16777216 /dev/zero > /dev/held; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done;"
                            + " touch /tmp/ready; exec sleep 1000");
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (h.cri.execSync(id, List.of("test", "-e", "/tmp/ready"), 30).getExitCode() != 0) {
                assertTrue(System.nanoTime() - deadline < 0, "the container never got ready");
                Thread.sleep(200);
            }
            ContainerStats s = h.cri.containerStats(id).getStats();
            assertEquals(id, s.getAttributes().getId(), s.toString());
            assertEquals("busy", s.getAttributes().getMetadata().getName(), s.toString());
            assertTrue(s.getCpu().getTimestamp() > 0, s.toString());
            assertTrue(s.getCpu().getUsageCoreNanoSeconds().getValue() > 10_000_000L, "CPU: " + s.getCpu());
            long ws = s.getMemory().getWorkingSetBytes().getValue();
            assertTrue(ws >= 16L << 20 && ws < 512L << 20, "working set " + ws + " B: " + s.getMemory());
            assertTrue(s.getMemory().getUsageBytes().getValue() >= ws, s.getMemory().toString());
        }

        @Test
        void containersOfAPodShareMemoryThroughDevShm() throws Exception {
            // shm_open, sem_open, Python's multiprocessing: a /dev/shm file mapped MAP_SHARED by two containers
            Path bin = Files.createTempDirectory(Path.of("/tmp"), "a3s-shmprobe");
            try {
                Process cc = new ProcessBuilder("gcc", "-static", "-O2", "-o", bin.resolve("shmprobe").toString(),
                        h.repo.resolve("conformance/src/test/c/shmprobe.c").toString()).redirectErrorStream(true)
                        .start();
                String ccOut = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertEquals(0, cc.waitFor(), "gcc: " + ccOut);
                PodSandboxConfig pod = h.pod("shm", "shm-host");
                String podId = runPod(pod);
                ContainerConfig.Builder c = PrivateCri.container("a", "sleep", "1000").toBuilder()
                        .addMounts(Mount.newBuilder().setContainerPath("/probe").setHostPath(bin.toString())
                                .setReadonly(true));
                String a = runContainer(podId, pod, c.build());
                String b = runContainer(podId, pod, c.setMetadata(c.getMetadata().toBuilder().setName("b"))
                        .setLogPath("b/0.log").build());
                ExecSyncResponse set = h.cri.execSync(a, List.of("/probe/shmprobe", "set", "/dev/shm/probe",
                        "written by a"), 60);
                assertEquals(0, set.getExitCode(), () -> "set: " + set.getStderr().toString(StandardCharsets.UTF_8));
                ExecSyncResponse get = h.cri.execSync(b, List.of("/probe/shmprobe", "get", "/dev/shm/probe"), 60);
                assertEquals(0, get.getExitCode(), () -> "get: " + get.getStderr().toString(StandardCharsets.UTF_8));
                assertEquals("written by a\n", get.getStdout().toString(StandardCharsets.UTF_8));
            } finally {
                try (var files = Files.list(bin)) {
                    for (Path f : files.toList()) {
                        Files.delete(f);
                    }
                }
                Files.delete(bin);
            }
        }

        @Test
        void updateContainerResourcesChangesTheMemoryLimitTheContainerSees() throws Exception {
            // kubelet's in-place pod resize; the limit as the container itself finds it, as the JVM and Go do:
            // cgroup v2 in the VM (its own cgroup through /proc/self/cgroup: CRI adds a cgroup namespace only
            // on v2 hosts), v1 on these hosts for runc
            PodSandboxConfig pod = h.pod("resize", "resize-host");
            String podId = runPod(pod);
            ContainerConfig c = PrivateCri.container("sleeper", "sleep", "1000");
            c = c.toBuilder().setLinux(c.getLinux().toBuilder().setResources(LinuxContainerResources.newBuilder()
                    .setMemoryLimitInBytes(64L << 20))).build();
            String id = runContainer(podId, pod, c);
            List<String> read = List.of("sh", "-c",
                    "f=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)/memory.max;"
                            + " if [ -f $f ]; then cat $f; else cat /sys/fs/cgroup/memory/memory.limit_in_bytes; fi");
            ExecSyncResponse before = h.cri.execSync(id, read, 60);
            assertEquals(Long.toString(64L << 20), before.getStdout().toString(StandardCharsets.UTF_8).strip(),
                    () -> "stderr: " + before.getStderr().toString(StandardCharsets.UTF_8));
            h.cri.updateContainerResources(id, LinuxContainerResources.newBuilder().setMemoryLimitInBytes(96L << 20)
                    .build());
            ExecSyncResponse after = h.cri.execSync(id, read, 60);
            assertEquals(Long.toString(96L << 20), after.getStdout().toString(StandardCharsets.UTF_8).strip(),
                    () -> "stderr: " + after.getStderr().toString(StandardCharsets.UTF_8));
        }

        @Test
        void kubectlPortForwardThroughTheCriStreamingServerReachesThePodsLoopback() throws Exception {
            // CRI PortForward, the streaming server's WebSocket, containerd's dial in the pod's network namespace:
            // kubelet's whole path for kubectl port-forward, to a server on the pod's 127.0.0.1 only
            PodSandboxConfig pod = h.pod("pf", "pf-host");
            String podId = runPod(pod);
            runContainer(podId, pod, "web", "sh", "-c", "mkdir -p /srv && echo forwarded-page > /srv/index.html"
                    + " && exec httpd -f -p 127.0.0.1:8080 -h /srv");
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            PortForwardClient.Result r;
            do { // until the server is up
                r = PortForwardClient.exchange(h.cri.portForward(podId, 8080),
                        "GET /index.html HTTP/1.0\r\n\r\n", Duration.ofSeconds(10));
                if (r.data().contains("forwarded-page")) {
                    break;
                }
                Thread.sleep(500);
            } while (System.nanoTime() - deadline < 0);
            assertTrue(r.data().contains("200 OK") && r.data().contains("forwarded-page"),
                    "data: " + r.data() + "\nerror: " + r.error() + diagnostics());
        }

        @Test
        void theSecurityContextsUserGroupsAndReadOnlyRootfsHold() throws Exception {
            // what critest checks of a container's security context: RunAsUser, RunAsGroup, SupplementalGroups,
            // ReadOnlyRootfs, and the no_new_privs that allowPrivilegeEscalation=false sets
            PodSandboxConfig pod = h.pod("secctx", "secctx-host");
            String podId = runPod(pod);
            ContainerConfig c = PrivateCri.container("sleeper", "sleep", "1000");
            c = c.toBuilder().setLinux(c.getLinux().toBuilder().setSecurityContext(c.getLinux().getSecurityContext()
                    .toBuilder().setRunAsUser(Int64Value.newBuilder().setValue(1234))
                    .setRunAsGroup(Int64Value.newBuilder().setValue(2345)).addSupplementalGroups(3456)
                    .addSupplementalGroups(4567).setReadonlyRootfs(true).setNoNewPrivs(true))).build();
            String id = runContainer(podId, pod, c);
            ExecSyncResponse r = h.cri.execSync(id, List.of("sh", "-c", "id -u; id -g; id -G;"
                    + " grep NoNewPrivs /proc/self/status; touch /written 2>/dev/null && echo writable || echo ro"), 60);
            assertEquals(0, r.getExitCode(), () -> "stderr: " + r.getStderr().toString(StandardCharsets.UTF_8));
            List<String> lines = r.getStdout().toString(StandardCharsets.UTF_8).lines().map(String::strip).toList();
            assertEquals(5, lines.size(), lines.toString());
            assertEquals("1234", lines.get(0));
            assertEquals("2345", lines.get(1));
            assertEquals(List.of("2345", "3456", "4567"), List.of(lines.get(2).split("\\s+")).stream().sorted()
                    .toList(), "groups: " + lines.get(2));
            assertEquals("NoNewPrivs:\t1", r.getStdout().toString(StandardCharsets.UTF_8).lines().toList().get(3));
            assertEquals("ro", lines.get(4));
        }

        @Test
        void thePodsSysctlsHoldInItsContainers() throws Exception {
            // kubelet's safe sysctls, set on the pod: one of its ipc namespace, one of its network namespace
            PodSandboxConfig pod = h.pod("sysctl", "sysctl-host");
            pod = pod.toBuilder().setLinux(pod.getLinux().toBuilder().putSysctls("kernel.shm_rmid_forced", "1")
                    .putSysctls("net.ipv4.ip_unprivileged_port_start", "0")
                    .putSysctls("fs.mqueue.msg_max", "100")).build(); // an unsafe one too (critest's)
            String podId = runPod(pod);
            String id = runContainer(podId, pod, "sleeper", "sleep", "1000");
            ExecSyncResponse r = h.cri.execSync(id, List.of("cat", "/proc/sys/kernel/shm_rmid_forced",
                    "/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/fs/mqueue/msg_max"), 60);
            assertEquals(List.of("1", "0", "100"), r.getStdout().toString(StandardCharsets.UTF_8).lines()
                    .map(String::strip).toList(), () -> "stderr: " + r.getStderr().toString(StandardCharsets.UTF_8));
        }

        @Test
        void anExecSyncPastItsTimeoutIsEndedAndTheContainerGoesOn() throws Exception {
            // critest's "execSync with timeout": containerd kills the exec at the deadline and deletes it
            PodSandboxConfig pod = h.pod("exectimeout", "exectimeout-host");
            String podId = runPod(pod);
            String id = runContainer(podId, pod, "sleeper", "sleep", "1000");
            long t0 = System.nanoTime();
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> h.cri.execSync(id, List.of("sleep", "60"), 3));
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            assertTrue(e.getMessage().contains("timeout"), e.getMessage());
            assertTrue(took.compareTo(Duration.ofSeconds(30)) < 0, "the timed-out exec took " + took);
            ExecSyncResponse r = h.cri.execSync(id, List.of("sh", "-c", "ps -o args | grep -cx 'sleep 60' || true"), 60);
            assertEquals("0", r.getStdout().toString(StandardCharsets.UTF_8).strip(),
                    "the timed-out exec still runs: " + r.getStdout().toStringUtf8());
            assertEquals(ContainerState.CONTAINER_RUNNING, h.cri.containerStatus(id, false).getStatus().getState());
        }

        @Test
        void theRuntimeDefaultSeccompProfilePutsTheContainerInFilterMode() throws Exception {
            // seccompProfile: RuntimeDefault, containerd's default profile: the container runs in filter mode
            PodSandboxConfig pod = h.pod("seccomp", "seccomp-host");
            String podId = runPod(pod);
            ContainerConfig c = PrivateCri.container("sleeper", "sleep", "1000");
            c = c.toBuilder().setLinux(c.getLinux().toBuilder().setSecurityContext(c.getLinux().getSecurityContext()
                    .toBuilder().setSeccomp(SecurityProfile.newBuilder()
                            .setProfileType(SecurityProfile.ProfileType.RuntimeDefault)))).build();
            String id = runContainer(podId, pod, c);
            ExecSyncResponse r = h.cri.execSync(id, List.of("grep", "^Seccomp:", "/proc/self/status"), 60);
            assertEquals("Seccomp:\t2", r.getStdout().toString(StandardCharsets.UTF_8).strip(),
                    () -> "stderr: " + r.getStderr().toString(StandardCharsets.UTF_8));
        }

        @Test
        void thePodsDnsConfigIsTheContainersResolvConf() throws Exception {
            PodSandboxConfig pod = h.pod("dns", "dns-host").toBuilder().setDnsConfig(DNSConfig.newBuilder()
                    .addServers("10.214.0.10").addSearches("a3s.test").addOptions("ndots:3")).build();
            String podId = runPod(pod);
            String id = runContainer(podId, pod, "sleeper", "sleep", "1000");
            ExecSyncResponse r = h.cri.execSync(id, List.of("cat", "/etc/resolv.conf"), 60);
            List<String> lines = r.getStdout().toString(StandardCharsets.UTF_8).lines().map(String::strip).toList();
            assertTrue(lines.contains("nameserver 10.214.0.10") && lines.contains("search a3s.test")
                    && lines.contains("options ndots:3"), "resolv.conf: " + lines);
        }

        @Test
        void theStandardDevicesOpenUnderTheDenyAllRuleCriSends() throws Exception {
            PodSandboxConfig pod = h.pod("dev", "dev-host");
            String podId = runPod(pod);
            String id = runContainer(podId, pod, "sleeper", "sleep", "1000");
            // CRI's device allowlist is "deny all" alone: the runtime must still allow what runc always does.
            ExecSyncResponse r = h.cri.execSync(id, List.of("sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero"
                    + " | wc -c && head -c 4 /dev/urandom | wc -c && head -c 2 /dev/full | wc -c; echo $?"), 60);
            assertEquals(List.of("4", "4", "2", "0"), r.getStdout().toString(StandardCharsets.UTF_8).lines()
                    .map(String::strip).toList(), () -> "stderr: " + r.getStderr().toString(StandardCharsets.UTF_8));
        }

        @Test
        void containersOfAPodShareItsIpcAndUtsNamespaces() throws Exception {
            PodSandboxConfig pod = h.pod("shared", "shared-host");
            String podId = runPod(pod);
            String a = runContainer(podId, pod, "a", "sleep", "1000");
            String b = runContainer(podId, pod, "b", "sleep", "1000");
            List<String> probe = List.of("sh", "-c",
                    "readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; hostname");
            ExecSyncResponse ra = h.cri.execSync(a, probe, 60);
            ExecSyncResponse rb = h.cri.execSync(b, probe, 60);
            assertEquals(0, ra.getExitCode(), ra.getStderr().toString(StandardCharsets.UTF_8));
            assertEquals(0, rb.getExitCode(), rb.getStderr().toString(StandardCharsets.UTF_8));
            List<String> seenByA = ra.getStdout().toString(StandardCharsets.UTF_8).lines().toList();
            List<String> seenByB = rb.getStdout().toString(StandardCharsets.UTF_8).lines().toList();
            assertEquals(3, seenByA.size(), seenByA.toString());
            assertTrue(seenByA.get(0).startsWith("ipc:["), seenByA.toString());
            assertTrue(seenByA.get(1).startsWith("uts:["), seenByA.toString());
            assertEquals("shared-host", seenByA.get(2));
            assertEquals(seenByA, seenByB, "container a sees " + seenByA + ", container b " + seenByB);
            assertPlacement(podId, List.of(a, b));
        }

        @Test
        void containersOfAPodThatSharesItsProcessNamespaceSeeEachOthersProcesses() throws Exception {
            // shareProcessNamespace: CRI joins each container to the sandbox's pid namespace through
            // /proc/<the pid the runtime reported for the sandbox>/ns/pid; the pod goes leaving nothing behind
            // (Kata #3913: a shim leaked with shareProcessNamespace; the @AfterEach checks)
            NamespaceOption shared = PrivateCri.kubeletNamespaces().toBuilder().setPid(NamespaceMode.POD).build();
            PodSandboxConfig base = h.pod("sharedpid", "sharedpid-host");
            PodSandboxConfig pod = base.toBuilder().setLinux(base.getLinux().toBuilder().setSecurityContext(
                    base.getLinux().getSecurityContext().toBuilder().setNamespaceOptions(shared))).build();
            String podId = runPod(pod);
            String a = runContainer(podId, pod, sharingPid(PrivateCri.container("a", "sleep", "2001"), shared));
            String b = runContainer(podId, pod, sharingPid(PrivateCri.container("b", "sleep", "2002"), shared));
            List<String> probe = List.of("sh", "-c", "readlink /proc/self/ns/pid; ps -o args");
            ExecSyncResponse ra = h.cri.execSync(a, probe, 60);
            ExecSyncResponse rb = h.cri.execSync(b, probe, 60);
            assertEquals(0, ra.getExitCode(), ra.getStderr().toString(StandardCharsets.UTF_8));
            assertEquals(0, rb.getExitCode(), rb.getStderr().toString(StandardCharsets.UTF_8));
            String seenByA = ra.getStdout().toString(StandardCharsets.UTF_8);
            String seenByB = rb.getStdout().toString(StandardCharsets.UTF_8);
            assertEquals(seenByA.lines().findFirst(), seenByB.lines().findFirst(), "one pid namespace:\n" + seenByA
                    + "\n" + seenByB);
            assertTrue(seenByA.contains("sleep 2002") && seenByB.contains("sleep 2001"),
                    "each sees the other's process:\n" + seenByA + "\n" + seenByB);
            assertPlacement(podId, List.of(a, b));
        }

        private static ContainerConfig sharingPid(ContainerConfig c, NamespaceOption namespaces) {
            return c.toBuilder().setLinux(c.getLinux().toBuilder().setSecurityContext(c.getLinux()
                    .getSecurityContext().toBuilder().setNamespaceOptions(namespaces))).build();
        }

        // ---- what critest (kubernetes-sigs/cri-tools, "[k8s.io] Security Context" and "Container Mount
        // Propagation") checks of a runtime, each for runc and a3s; docs/testing.md maps them

        @Test
        void aPrivilegedContainerAndOneGrantedNetAdminCanAddABridgeAndAPlainOneCannot() throws Exception {
            // critest "Privileged is true/false", "adding capability": brctl addbr, which needs the bridge driver
            // (for a3s a module of the guest image's on-demand set, which the kernel asks for by name)
            PodSandboxConfig pod = privileged(h.pod("bridge", "bridge-host"));
            String podId = runPod(pod);
            String priv = runContainer(podId, pod, secured(PrivateCri.container("priv", "sleep", "1000"),
                    s -> s.setPrivileged(true)));
            String admin = runContainer(podId, pod, secured(PrivateCri.container("admin", "sleep", "1000"),
                    s -> s.setCapabilities(Capability.newBuilder().addAddCapabilities("NET_ADMIN"))));
            String plain = runContainer(podId, pod, "plain", "sleep", "1000");
            assertExec(priv, 0, "brctl", "addbr", "br-priv");
            assertExec(admin, 0, "brctl", "addbr", "br-admin");
            ExecSyncResponse r = h.cri.execSync(plain, List.of("brctl", "addbr", "br-plain"), 60);
            assertNotEquals(0, r.getExitCode(), "a container without CAP_NET_ADMIN added a bridge");
        }

        @Test
        void theCapabilitiesAddedAndDroppedAreTheContainersBoundingSet() throws Exception {
            // critest "dropping capability" (NET_RAW: ping refused), "adding/dropping ALL capabilities" (CapBnd)
            PodSandboxConfig pod = h.pod("caps", "caps-host");
            String podId = runPod(pod);
            String noRaw = runContainer(podId, pod, secured(PrivateCri.container("noraw", "sleep", "1000"),
                    s -> s.setCapabilities(Capability.newBuilder().addDropCapabilities("NET_RAW"))));
            String all = runContainer(podId, pod, secured(PrivateCri.container("all", "sleep", "1000"),
                    s -> s.setCapabilities(Capability.newBuilder().addAddCapabilities("ALL"))));
            String none = runContainer(podId, pod, secured(PrivateCri.container("none", "sleep", "1000"),
                    s -> s.setCapabilities(Capability.newBuilder().addDropCapabilities("ALL"))));
            ExecSyncResponse r = h.cri.execSync(noRaw, List.of("ping", "-c", "1", "127.0.0.1"), 60);
            String err = r.getStderr().toString(StandardCharsets.UTF_8);
            assertNotEquals(0, r.getExitCode(), "ping without CAP_NET_RAW: " + r.getStdout().toStringUtf8());
            assertTrue(err.toLowerCase(java.util.Locale.ROOT).contains("permission denied"), err);
            List<String> bounding = List.of("grep", "^CapBnd:", "/proc/self/status");
            assertNotEquals("CapBnd:\t0000000000000000", exec(all, bounding));
            assertEquals("CapBnd:\t0000000000000000", exec(none, bounding));
        }

        @Test
        void theMaskedAndReadOnlyPathsTheContainerNamesHold() throws Exception {
            // critest "MaskedPaths", "ReadonlyPaths": CRI's lists replace the runtime's defaults
            PodSandboxConfig pod = h.pod("paths", "paths-host");
            String podId = runPod(pod);
            String id = runContainer(podId, pod, secured(PrivateCri.container("sleeper", "sleep", "1000"),
                    s -> s.addMaskedPaths("/etc/passwd").addMaskedPaths("/home").addReadonlyPaths("/tmp")));
            assertEquals("0", exec(id, List.of("sh", "-c", "wc -c < /etc/passwd")), "a masked file reads empty");
            assertEquals("", exec(id, List.of("ls", "-A", "/home")), "a masked directory is empty");
            assertNotEquals("0", exec(id, List.of("sh", "-c", "wc -c < /etc/group")), "an unmasked file");
            ExecSyncResponse r = h.cri.execSync(id, List.of("touch", "/tmp/test"), 60);
            assertNotEquals(0, r.getExitCode());
            assertEquals("touch: /tmp/test: Read-only file system\n", r.getStderr().toString(StandardCharsets.UTF_8));
        }

        @Test
        void seccompProfilesFromHostFilesUnconfinedAndPrivilegedHold() throws Exception {
            // critest "SeccompProfilePath": a Localhost profile is a file on the host, which containerd reads
            Path dir = Files.createTempDirectory("a3s-seccomp");
            try {
                Path chmod = Files.writeString(dir.resolve("block-chmod.json"), """
                        {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod","fchmodat","fchmodat2"],\
                        "action":"SCMP_ACT_ERRNO"}]}""");
                Path hostname = Files.writeString(dir.resolve("block-host-name.json"), """
                        {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["sethostname"],\
                        "action":"SCMP_ACT_ERRNO"}]}""");
                PodSandboxConfig pod = h.pod("seccompfile", "seccompfile-host");
                String podId = runPod(pod);
                String noChmod = runContainer(podId, pod, secured(PrivateCri.container("nochmod", "sleep", "1000"),
                        s -> s.setSeccomp(localhost(chmod))));
                String free = runContainer(podId, pod, secured(PrivateCri.container("free", "sleep", "1000"),
                        s -> s.setSeccomp(SecurityProfile.newBuilder().setProfileType(
                                SecurityProfile.ProfileType.Unconfined)).setCapabilities(Capability.newBuilder()
                                .addAddCapabilities("SYS_ADMIN"))));
                String noHostname = runContainer(podId, pod, secured(PrivateCri.container("nohostname", "sleep",
                        "1000"), s -> s.setSeccomp(localhost(hostname)).setCapabilities(Capability.newBuilder()
                        .addAddCapabilities("SYS_ADMIN"))));
                ExecSyncResponse r = h.cri.execSync(noChmod, List.of("chmod", "400", "/"), 60);
                assertNotEquals(0, r.getExitCode(), "chmod under a profile that blocks it");
                assertTrue(r.getStderr().toStringUtf8().contains("Operation not permitted"),
                        r.getStderr().toStringUtf8());
                assertEquals("Seccomp:\t0", exec(free, List.of("grep", "^Seccomp:", "/proc/self/status")));
                assertExec(free, 0, "hostname", "ANewHostName");
                r = h.cri.execSync(noHostname, List.of("hostname", "ANewHostName"), 60);
                assertNotEquals(0, r.getExitCode(), "sethostname under a profile that blocks it");

                PodSandboxConfig privPod = privileged(h.pod("seccomppriv", "seccomppriv-host"));
                String privPodId = runPod(privPod);
                String priv = runContainer(privPodId, privPod, secured(PrivateCri.container("priv", "sleep", "1000"),
                        s -> s.setPrivileged(true).setSeccomp(localhost(hostname))));
                assertExec(priv, 0, "hostname", "ANewHostName"); // a privileged container has no seccomp filter
            } finally {
                try (var files = Files.list(dir)) {
                    for (Path f : files.toList()) {
                        Files.delete(f);
                    }
                }
                Files.delete(dir);
            }
        }

        @Test
        void aContainerOfAPodPidNamespaceSeesThePauseAsPidOneAndHostPidContainersSeeEachOther() throws Exception {
            // critest "PodPID" (pid 1 is the sandbox's process) and "HostPID" (containers with pid NODE share one
            // namespace: for runc the host's, for a3s the VM's)
            NamespaceOption podPid = PrivateCri.kubeletNamespaces().toBuilder().setPid(NamespaceMode.POD).build();
            PodSandboxConfig pod = withNamespaces(h.pod("podpid", "podpid-host"), podPid);
            String podId = runPod(pod);
            String c = runContainer(podId, pod, sharingPid(PrivateCri.container("c", "sleep", "3001"), podPid));
            String init = exec(c, List.of("sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline"));
            assertEquals(String.join(" ", PrivateCri.PAUSE_ARGV), init, "pid 1 of the pod's pid namespace");

            NamespaceOption hostPid = PrivateCri.kubeletNamespaces().toBuilder().setPid(NamespaceMode.NODE).build();
            PodSandboxConfig hostPod = withNamespaces(h.pod("hostpid", "hostpid-host"), hostPid);
            String hostPodId = runPod(hostPod);
            String a = runContainer(hostPodId, hostPod, sharingPid(PrivateCri.container("a", "sh", "-c",
                    "echo $$ > /tmp/pid; exec sleep 3002"), hostPid));
            String b = runContainer(hostPodId, hostPod, sharingPid(PrivateCri.container("b", "sleep", "3003"),
                    hostPid));
            // a's shell writes its pid just before it execs sleep: wait for it there, within the exec's deadline
            String pidOfA = exec(a, List.of("sh", "-c", "while [ ! -s /tmp/pid ]; do sleep 0.1; done; cat /tmp/pid"));
            List<String> seenByB = List.of(exec(b, List.of("pidof", "sleep")).split(" "));
            assertTrue(seenByB.contains(pidOfA), "b sees sleeps " + seenByB + ", not a's " + pidOfA);
        }

        @Test
        void aPrivateVolumeIgnoresHostMountsMadeAfterTheStartAndAnRslaveOneSeesThem() throws Exception {
            // critest "mount propagation" with 'rprivate' and 'rslave', from a source the host shares (as / is
            // under systemd): the host mounts on the source once the containers run
            Path dir = Files.createTempDirectory("a3s-propagation");
            Path source = Files.createDirectories(dir.resolve("mnt"));
            Path mountPoint = Files.createDirectories(source.resolve("later"));
            Path flags = Files.createDirectories(dir.resolve("flags"));
            Files.createFile(flags.resolve("flagFile"));
            host("mount", "--bind", source.toString(), source.toString());
            try {
                host("mount", "--make-rshared", source.toString());
                PodSandboxConfig pod = h.pod("propagation", "propagation-host");
                String podId = runPod(pod);
                String priv = runContainer(podId, pod, PrivateCri.container("private", "sleep", "1000").toBuilder()
                        .addMounts(Mount.newBuilder().setHostPath(source.toString()).setContainerPath("/mnt/vol")
                                .setPropagation(MountPropagation.PROPAGATION_PRIVATE)).build());
                String slave = runContainer(podId, pod, PrivateCri.container("slave", "sleep", "1000").toBuilder()
                        .addMounts(Mount.newBuilder().setHostPath(source.toString()).setContainerPath("/mnt/vol")
                                .setPropagation(MountPropagation.PROPAGATION_HOST_TO_CONTAINER)).build());
                host("mount", "--bind", flags.toString(), mountPoint.toString());
                assertEquals("", exec(priv, List.of("ls", "-A", "/mnt/vol/later")),
                        "a host mount made after the start reached a private volume");
                assertEquals("flagFile", exec(slave, List.of("ls", "-A", "/mnt/vol/later")),
                        "a host mount made after the start did not reach an rslave volume");
                assertExec(priv, 0, "mkdir", "/mnt/vol/made-inside");
                assertTrue(Files.isDirectory(source.resolve("made-inside")), "a directory the container made");
            } finally {
                new ProcessBuilder("umount", "-R", "-l", source.toString()).inheritIO().start().waitFor();
                new ProcessBuilder("rm", "-rf", dir.toString()).inheritIO().start().waitFor();
            }
        }

        @Test
        void execThroughTheStreamingServerWithAndWithoutATerminal() throws Exception {
            // critest "exec with tty=false and stdin=false" and "with tty=true and stdin=true": kubectl exec's
            // path, containerd's streaming server over a WebSocket; the exit code comes in the status channel
            PodSandboxConfig pod = h.pod("streamexec", "streamexec-host");
            String podId = runPod(pod);
            String id = runContainer(podId, pod, "sleeper", "sleep", "1000");
            try (ChannelSocket s = ChannelSocket.open(h.cri.exec(ExecRequest.newBuilder().setContainerId(id)
                    .addAllCmd(List.of("sh", "-c", "echo -n hello; echo -n oops >&2")).setStdout(true)
                    .setStderr(true).build()))) {
                assertTrue(s.awaitClosed(Duration.ofSeconds(60)), "the exec's stream did not end");
                assertEquals("hello", s.received(ChannelSocket.STDOUT));
                assertEquals("oops", s.received(ChannelSocket.STDERR));
                assertTrue(s.received(ChannelSocket.STATUS).contains("Success"), s.received(ChannelSocket.STATUS));
            }
            try (ChannelSocket s = ChannelSocket.open(h.cri.exec(ExecRequest.newBuilder().setContainerId(id)
                    .addAllCmd(List.of("sh", "-c", "exit 3")).setStdout(true).setStderr(true).build()))) {
                assertTrue(s.awaitClosed(Duration.ofSeconds(60)), "the exec's stream did not end");
                String status = s.received(ChannelSocket.STATUS);
                assertTrue(status.contains("NonZeroExitCode") && status.contains("\"message\":\"3\""), status);
            }
            try (ChannelSocket s = ChannelSocket.open(h.cri.exec(ExecRequest.newBuilder().setContainerId(id)
                    .addAllCmd(List.of("sh", "-c", "read line; echo \"got $line\"; tty")).setTty(true).setStdin(true)
                    .setStdout(true).build()))) {
                s.send(ChannelSocket.STDIN, "x\n");
                assertTrue(s.awaitClosed(Duration.ofSeconds(60)), "the exec's stream did not end: "
                        + s.received(ChannelSocket.STDOUT));
                String out = s.received(ChannelSocket.STDOUT);
                assertTrue(out.contains("got x") && out.contains("/dev/pts/"), out);
            }
            assertEquals(ContainerState.CONTAINER_RUNNING, h.cri.containerStatus(id, false).getStatus().getState());
        }

        @Test
        void attachWithStdinOnceEndsTheShellWhenTheClientsStdinEnds() throws Exception {
            // critest "attach": kubectl attach -i to a shell whose stdin is the client's once (stdinOnce); in
            // v4 the client ends its stdin by closing the stream, and containerd then closes the container's
            PodSandboxConfig pod = h.pod("attach", "attach-host");
            String podId = runPod(pod);
            String id = runContainer(podId, pod, PrivateCri.container("shell", "sh").toBuilder().setStdin(true)
                    .setStdinOnce(true).build());
            try (ChannelSocket s = ChannelSocket.open(h.cri.attach(AttachRequest.newBuilder().setContainerId(id)
                    .setStdin(true).setStdout(true).setStderr(true).build()))) {
                s.send(ChannelSocket.STDIN, "echo -n hello\n");
                assertEquals("hello", s.awaitReceived(ChannelSocket.STDOUT, o -> o.contains("hello"),
                        Duration.ofSeconds(60)));
                assertEquals(ContainerState.CONTAINER_RUNNING, h.cri.containerStatus(id, false).getStatus()
                        .getState());
            }
            ContainerStatus st = h.awaitExited(id, EXIT_LIMIT);
            assertEquals(0, st.getExitCode(), st.toString());
        }

        @Test
        void iptablesRunsAsAServiceMeshsInitContainerRunsIt() throws Exception {
            // istio-init, linkerd-init: with NET_ADMIN, iptables redirects the pod's traffic through its nat
            // table; Debian's iptables (nft and legacy) from the host, in a busybox image
            h.importImageWithHostFiles(IPTABLES_IMAGE, "/usr/sbin/xtables-nft-multi",
                    "/usr/sbin/xtables-legacy-multi", "/usr/lib/x86_64-linux-gnu/xtables");
            PodSandboxConfig pod = h.pod("mesh", "mesh-host");
            String podId = runPod(pod);
            ContainerConfig c = secured(PrivateCri.container("init", "sleep", "1000"), s -> s.setCapabilities(
                    Capability.newBuilder().addAddCapabilities("NET_ADMIN")));
            String id = runContainer(podId, pod, c.toBuilder().setImage(c.getImage().toBuilder()
                    .setImage(IPTABLES_IMAGE)).build());
            for (String flavour : List.of("xtables-nft-multi", "xtables-legacy-multi")) {
                String chain = flavour.contains("nft") ? "OUTPUT" : "PREROUTING";
                assertExec(id, 0, flavour, "iptables", "-t", "nat", "-A", chain, "-p", "tcp", "--dport", "80",
                        "-j", "REDIRECT", "--to-ports", "15001");
                assertEquals("-A " + chain + " -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 15001",
                        exec(id, List.of(flavour, "iptables", "-t", "nat", "-S", chain)).lines()
                                .filter(l -> l.startsWith("-A")).findFirst().orElse("(none)"), flavour);
            }
        }

        static final String IPTABLES_IMAGE = "localhost/a3s/iptables:latest";

        private static PodSandboxConfig privileged(PodSandboxConfig pod) {
            return pod.toBuilder().setLinux(pod.getLinux().toBuilder().setSecurityContext(pod.getLinux()
                    .getSecurityContext().toBuilder().setPrivileged(true))).build();
        }

        private static PodSandboxConfig withNamespaces(PodSandboxConfig pod, NamespaceOption namespaces) {
            return pod.toBuilder().setLinux(pod.getLinux().toBuilder().setSecurityContext(pod.getLinux()
                    .getSecurityContext().toBuilder().setNamespaceOptions(namespaces))).build();
        }

        static ContainerConfig secured(ContainerConfig c,
                java.util.function.UnaryOperator<LinuxContainerSecurityContext.Builder> edit) {
            return c.toBuilder().setLinux(c.getLinux().toBuilder().setSecurityContext(
                    edit.apply(c.getLinux().getSecurityContext().toBuilder()))).build();
        }

        private static SecurityProfile localhost(Path profile) {
            return SecurityProfile.newBuilder().setProfileType(SecurityProfile.ProfileType.Localhost)
                    .setLocalhostRef(profile.toString()).build();
        }

        /** ExecSync that must succeed with nothing on stderr (as critest's); its stdout, stripped. */
        String exec(String id, List<String> argv) {
            ExecSyncResponse r = h.cri.execSync(id, argv, 60);
            String err = r.getStderr().toString(StandardCharsets.UTF_8);
            assertEquals(0, r.getExitCode(), () -> argv + " in " + id + ": exit " + r.getExitCode() + ", " + err);
            assertEquals("", err, () -> argv + " in " + id + " wrote on stderr");
            return r.getStdout().toString(StandardCharsets.UTF_8).strip();
        }

        void assertExec(String id, int code, String... argv) {
            ExecSyncResponse r = h.cri.execSync(id, List.of(argv), 60);
            assertEquals(code, r.getExitCode(), () -> List.of(argv) + " in " + id + ": "
                    + r.getStderr().toString(StandardCharsets.UTF_8));
        }

        private static void host(String... argv) throws Exception {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), () -> String.join(" ", argv) + ": " + out);
        }

        @Test
        void aContainerAndItsExecsGetContainerdsOpenFileAndProcessLimits() throws Exception {
            // a Kubernetes spec sets no rlimits: runc's processes inherit containerd's (here this JVM's, which
            // started it), and so must a3s's, not the VM agent's 1024 open files (Elasticsearch refuses to start
            // under 65 535) and 781 processes per user
            PodSandboxConfig pod = h.pod("limits", "limits-host");
            String podId = runPod(pod);
            String id = runContainer(podId, pod, "limits", "sleep", "1000");
            String limits = exec(id, List.of("cat", "/proc/1/limits", "/proc/self/limits"));
            String host = Files.readString(Path.of("/proc/self/limits"));
            for (String name : List.of("Max open files", "Max processes", "Max pending signals")) {
                List<String> in = limitLines(limits, name);
                assertEquals(2, in.size(), limits);
                assertEquals(List.of(limitLines(host, name).getFirst(), limitLines(host, name).getFirst()), in, name);
            }
        }

        private static List<String> limitLines(String limits, String name) {
            return limits.lines().filter(l -> l.startsWith(name)).map(l -> l.replaceAll("\\s+", " ").strip()).toList();
        }

        @Test
        void stopContainerKillsAfterTheGracePeriod() throws Exception {
            PodSandboxConfig pod = h.pod("stop", "stop-host");
            String podId = runPod(pod);
            // sleep is the container's PID 1 (a PID namespace of its own): it has no SIGTERM handler, so the
            // kernel does not deliver SIGTERM to it, and only the SIGKILL after the grace period ends it
            String id = runContainer(podId, pod, "sleeper", "sleep", "1000");
            long started = System.nanoTime();
            h.cri.stopContainer(id, 2);
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            ContainerStatus s = h.cri.containerStatus(id, false).getStatus();
            assertEquals(ContainerState.CONTAINER_EXITED, s.getState(), s.toString());
            assertEquals(137, s.getExitCode(), s.toString());
            assertTrue(took.compareTo(Duration.ofMillis(1900)) >= 0, "stopped after " + took
                    + ", before the 2 s grace period was over");
        }

        private static String read(Path log) {
            try {
                return Files.readString(log);
            } catch (java.io.IOException e) {
                return "(" + e + ")";
            }
        }
    }

    /**
     * Reads {@code read} every 100 ms until {@code done} holds or {@code limit} has passed; the last value read,
     * for the caller to assert on (so a timeout fails with what was seen).
     */
    static <T> T polled(Duration limit, java.util.concurrent.Callable<T> read, java.util.function.Predicate<T> done)
            throws Exception {
        long deadline = System.nanoTime() + limit.toNanos();
        T value = read.call();
        while (!done.test(value) && System.nanoTime() - deadline < 0) {
            Thread.sleep(100);
            value = read.call();
        }
        return value;
    }
}
