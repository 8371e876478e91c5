package io.a3s.box.conformance;

import io.a3s.box.conformance.cri.v1.ContainerConfig;
import io.a3s.box.conformance.cri.v1.ContainerMetadata;
import io.a3s.box.conformance.cri.v1.ContainerState;
import io.a3s.box.conformance.cri.v1.ContainerStatus;
import io.a3s.box.conformance.cri.v1.ImageSpec;
import io.a3s.box.conformance.cri.v1.LinuxContainerConfig;
import io.a3s.box.conformance.cri.v1.LinuxContainerSecurityContext;
import io.a3s.box.conformance.cri.v1.LinuxPodSandboxConfig;
import io.a3s.box.conformance.cri.v1.LinuxSandboxSecurityContext;
import io.a3s.box.conformance.cri.v1.NamespaceMode;
import io.a3s.box.conformance.cri.v1.NamespaceOption;
import io.a3s.box.conformance.cri.v1.PodSandbox;
import io.a3s.box.conformance.cri.v1.PodSandboxConfig;
import io.a3s.box.conformance.cri.v1.PodSandboxMetadata;
import io.a3s.box.conformance.cri.v1.RuntimeCondition;
import io.a3s.box.conformance.cri.v1.StatusResponse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A private containerd with its CRI plugin enabled, driven as kubelet drives it: {@link #cri} speaks CRI v1 on
 * containerd's socket. Everything is private: containerd's root and state (so the CRI plugin's, with the
 * pods' network namespaces and /dev/shm mounts), runc's state root, the CNI configuration and plugins, the
 * shim's state tree and the pods' logs, all under two directories in /run/a3s-test.
 *
 * <p>Runtime handlers: {@value #RUNC} ({@code io.containerd.runc.v2}, to prove the harness),
 * {@value #A3S} ({@code io.a3s.box}, found as ShimHarness finds it: the checkout's bin/ on containerd's PATH,
 * with {@code A3S_BOX_STATE} and {@code A3S_BOX_CONFIG} in its environment), and {@value #A3S_384}, the same
 * runtime with a CRI {@code options} table whose {@code ConfigPath} gives its pods' VMs 384 MiB.
 *
 * <p>Network: a pod that is not on the host's network gets a network namespace of its own with only the CNI
 * {@code loopback} plugin run in it (the only plugin in the private CNI bin directory): no bridge, no veth, no
 * address but 127.0.0.1 on {@code lo}, so nothing a pod does can reach beyond it ({@link #LOOPBACK_NETWORK}).
 * Or, made with {@link #withBridgeNetwork()}, a real pod network ({@link BridgeNetwork}): containerd runs in a
 * network namespace of the harness's own, where CNI's bridge joins the pods' veths, each pod with an address
 * of its own; nothing of it is on the host's network.
 * The CRI plugin's streaming server listens on 127.0.0.1 (of containerd's network namespace) only: the
 * port-forward test reaches it from the host's, with the loopback network.
 *
 * <p>Images: a busybox image ({@value #IMAGE}) and a pause image ({@value #PAUSE_IMAGE}, the same busybox whose
 * Cmd sleeps for ever: CRI stops a sandbox with SIGKILL), built by scripts/lib/busybox-image.sh and imported
 * into the {@code k8s.io} namespace. Both names are under {@code localhost/}: the CRI plugin never needs to
 * pull them, and if it ever tried to, it could only reach this machine.
 */
final class PrivateCri implements AutoCloseable {
    static final String NS = "k8s.io";
    static final String IMAGE = "localhost/a3s/busybox:latest";
    static final String PAUSE_IMAGE = "localhost/a3s/pause:latest";
    static final String RUNC = "runc";
    static final String A3S = "a3s";
    /** io.a3s.box again, with CRI runtime options: a ConfigPath whose [vm] gives the pods' VMs 384 MiB. */
    static final String A3S_384 = "a3s-384";
    /** The pause image's Cmd: 2^31-1 seconds, the most busybox sleep takes. */
    static final List<String> PAUSE_ARGV = List.of("sleep", "2147483647");
    /** {@link #PAUSE_ARGV} as the image config's JSON array. */
    static final String PAUSE_CMD = "[\"" + String.join("\",\"", PAUSE_ARGV) + "\"]";
    static final Path CNI_PLUGINS = Path.of("/usr/lib/cni");
    /** The shim's configuration: two idle VMs, as ShimHarness's default. */
    static final String SHIM_CONFIG = "[pool]\nsize = 2\n";
    static final int POOL_SIZE = 2;
    private static final Duration READY_DEADLINE = Duration.ofSeconds(60);
    /**
     * The pods' CNI network: the loopback plugin alone, which brings {@code lo} up in the pod's netns and does
     * nothing else. containerd 1.6's CRI plugin, though, fails RunPodSandbox ("failed to find network info for
     * sandbox") unless the CNI result has an {@code eth0} with an address, and loopback reports only
     * {@code lo}. So the plugin's config carries a {@code prevResult}: loopback passes a previous result on
     * unchanged (what it does as a chained plugin), and libcni leaves that key alone in the first plugin's
     * config. It names {@code eth0} with 127.0.0.1: nothing is created or configured from it, it is only what
     * containerd reports as the pod's IP, and anything that dialled it would stay on this machine.
     */
    static final String LOOPBACK_NETWORK = """
            {
              "cniVersion": "1.0.0",
              "name": "a3s-loopback",
              "plugins": [
                {
                  "type": "loopback",
                  "prevResult": {
                    "cniVersion": "1.0.0",
                    "interfaces": [{"name": "eth0"}],
                    "ips": [{"address": "127.0.0.1/8", "interface": 0}]
                  }
                }
              ]
            }
            """;

    final Path repo = Path.of(System.getProperty("a3s.repo", "..")).toAbsolutePath().normalize();
    /** The shim's state tree ({@code A3S_BOX_STATE}), with its config, the CNI directories and the pods' logs. */
    final Path state;
    final Path cniConf;
    final Path cniBin;
    final Path logs;
    /** The pods' bridge network and containerd's namespace; null for the loopback-only network. */
    final BridgeNetwork network;
    final PrivateContainerd containerd;
    final CriClient cri;

    /** The harness with the loopback-only pod network. */
    PrivateCri() throws IOException, InterruptedException {
        this(false);
    }

    /**
     * The harness with a bridge network for the pods, containerd in a network namespace of its own
     * ({@link BridgeNetwork}); {@link #close()} deletes that namespace.
     */
    static PrivateCri withBridgeNetwork() throws IOException, InterruptedException {
        return new PrivateCri(true);
    }

    private PrivateCri(boolean bridge) throws IOException, InterruptedException {
        Path shim = repo.resolve("bin/containerd-shim-a3s-box");
        if (!Files.isExecutable(shim)) {
            throw new IllegalStateException(shim + " is missing: run scripts/setup");
        }
        for (String plugin : bridge ? BridgeNetwork.plugins() : List.of("loopback")) {
            if (!Files.isExecutable(CNI_PLUGINS.resolve(plugin))) {
                throw new IllegalStateException(CNI_PLUGINS.resolve(plugin)
                        + " is missing (Debian's containernetworking-plugins): run scripts/setup");
            }
        }
        Files.createDirectories(Path.of("/run/a3s-test"));
        state = Files.createTempDirectory(Path.of("/run/a3s-test"), "cri");
        Path shimConfig = state.resolve("config.toml");
        Files.writeString(shimConfig, SHIM_CONFIG);
        Files.writeString(state.resolve("vm-384.toml"), "[vm]\nmemory_mib = 384\n");
        cniConf = Files.createDirectories(state.resolve("cni/conf"));
        cniBin = Files.createDirectories(state.resolve("cni/bin"));
        logs = Files.createDirectories(state.resolve("pods"));
        BridgeNetwork net = null;
        PrivateContainerd c = null;
        CriClient client = null;
        try {
            if (bridge) {
                net = BridgeNetwork.create(Files.createDirectories(state.resolve("cni/ipam")));
                // the only plugins containerd can run: the bridge network's
                for (String plugin : BridgeNetwork.plugins()) {
                    Files.createSymbolicLink(cniBin.resolve(plugin), CNI_PLUGINS.resolve(plugin));
                }
                Files.writeString(cniConf.resolve("10-a3s-bridge.conflist"), net.conflist());
            } else {
                // the only plugin containerd can run: loopback
                Files.createSymbolicLink(cniBin.resolve("loopback"), CNI_PLUGINS.resolve("loopback"));
                Files.writeString(cniConf.resolve("10-a3s-loopback.conflist"), LOOPBACK_NETWORK);
            }
            c = PrivateContainerd.start(List.of(repo.resolve("bin")),
                    Map.of("A3S_BOX_STATE", state.toString(), "A3S_BOX_CONFIG", shimConfig.toString()),
                    this::criConfig, net == null ? List.of() : net.wrapper());
            client = new CriClient(c.grpcSocket());
        } catch (Throwable e) {
            try {
                if (c != null) {
                    c.close();
                }
                removeState();
            } catch (Exception | Error suppressed) {
                e.addSuppressed(suppressed);
            }
            try {
                if (net != null) {
                    net.close();
                }
            } catch (Exception | Error suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        network = net;
        containerd = c;
        cri = client;
        try {
            awaitCriReady();
            importImage(IMAGE, null);
            importImage(PAUSE_IMAGE, PAUSE_CMD);
        } catch (Throwable e) {
            try {
                close();
            } catch (Exception | Error suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /**
     * The CRI plugin's configuration, given containerd's directory (see the class comment). Besides the private
     * paths: the netns mounts go under containerd's state directory, not /var/run/netns; runc keeps its state
     * under containerd's directory, not /run/containerd/runc; and {@code restrict_oom_score_adj} keeps the
     * OOM score adjustments CRI asks for (-998 for a sandbox) no lower than containerd's own, since lowering one
     * needs CAP_SYS_RESOURCE, which these machines do not give (runc's init would die on it: "can't get final
     * child's PID from pipe").
     */
    private String criConfig(Path dir) {
        return """
                [plugins."io.containerd.internal.v1.opt"]
                  path = "%1$s/opt"
                [plugins."io.containerd.grpc.v1.cri"]
                  sandbox_image = "%2$s"
                  stream_server_address = "127.0.0.1"
                  stream_server_port = "0"
                  netns_mounts_under_state_dir = true
                  enable_selinux = false
                  restrict_oom_score_adj = true
                  [plugins."io.containerd.grpc.v1.cri".containerd]
                    snapshotter = "overlayfs"
                    default_runtime_name = "%5$s"
                    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%5$s]
                      runtime_type = "io.containerd.runc.v2"
                      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%5$s.options]
                        Root = "%1$s/runc"
                    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%6$s]
                      runtime_type = "%7$s"
                    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%8$s]
                      runtime_type = "%7$s"
                      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%8$s.options]
                        ConfigPath = "%9$s"
                  [plugins."io.containerd.grpc.v1.cri".cni]
                    bin_dir = "%3$s"
                    conf_dir = "%4$s"
                    max_conf_num = 1
                """.formatted(dir, PAUSE_IMAGE, cniBin, cniConf, RUNC, A3S, ShimHarness.RUNTIME, A3S_384,
                        state.resolve("vm-384.toml"));
    }

    /** Waits until the CRI plugin answers and reports the runtime and its network ready. */
    private void awaitCriReady() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + READY_DEADLINE.toNanos();
        String last = "no answer";
        while (System.nanoTime() - deadline < 0) {
            try {
                cri.version();
                StatusResponse s = cri.status();
                List<RuntimeCondition> conditions = s.getStatus().getConditionsList();
                if (!conditions.isEmpty() && conditions.stream().allMatch(RuntimeCondition::getStatus)) {
                    return;
                }
                last = conditions.toString();
            } catch (RuntimeException e) {
                last = e.toString();
            }
            Thread.sleep(200);
        }
        throw new IOException("the CRI plugin is not ready within " + READY_DEADLINE + ": " + last
                + "\ncontainerd log:\n" + ShimHarness.tail(containerd.log(), 40));
    }

    /** Builds the busybox image as {@code name} (with {@code cmd} as its Cmd, if given) and imports it. */
    private void importImage(String name, String cmd) throws IOException, InterruptedException {
        importImage(name, cmd, "");
    }

    /**
     * Imports (once) an image of this project's busybox plus the host's {@code hostPaths} at the same paths,
     * with the libraries they load (scripts/lib/busybox-image.sh, BUSYBOX_EXTRA).
     */
    synchronized void importImageWithHostFiles(String name, String... hostPaths)
            throws IOException, InterruptedException {
        if (!imported.contains(name)) {
            importImage(name, null, String.join(" ", hostPaths));
            imported.add(name);
        }
    }

    private final java.util.Set<String> imported = new java.util.HashSet<>();

    private void importImage(String name, String cmd, String extra) throws IOException, InterruptedException {
        Path tar = state.resolve("image-" + Math.abs(name.hashCode()) + ".tar");
        List<String> build = new ArrayList<>(List.of("bash", repo.resolve("scripts/lib/busybox-image.sh").toString(),
                tar.toString(), name));
        if (cmd != null) {
            build.add("");
            build.add(cmd);
        }
        ProcessBuilder pb = new ProcessBuilder(build).inheritIO();
        pb.environment().put("BUSYBOX_EXTRA", extra);
        Process p = pb.start();
        if (p.waitFor() != 0) {
            throw new IOException("building the image " + name + " failed");
        }
        PrivateContainerd.Result r = ctr("images", "import", tar.toString());
        if (r.exitCode() != 0) {
            throw new IOException("ctr -n k8s.io images import: " + r.stderr());
        }
        Files.delete(tar);
        // the CRI plugin learns of it from containerd's image events: wait until it does
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!cri.hasImage(name)) {
            if (System.nanoTime() - deadline > 0) {
                throw new IOException("the CRI plugin does not see the imported image " + name);
            }
            Thread.sleep(100);
        }
    }

    /** {@code ctr -n k8s.io args...}. */
    PrivateContainerd.Result ctr(String... args) throws IOException, InterruptedException {
        String[] full = new String[args.length + 2];
        full[0] = "-n";
        full[1] = NS;
        System.arraycopy(args, 0, full, 2, args.length);
        return containerd.ctr(null, ShimHarness.CTR_LIMIT, full);
    }

    // ---- what kubelet sends ---------------------------------------------------------------------------------------

    /**
     * The namespaces kubelet asks for a pod without hostNetwork, hostPID or hostIPC: the pod's network and IPC
     * namespaces, and a PID namespace of each container's own (a v1 pod's default, shareProcessNamespace unset).
     */
    static NamespaceOption kubeletNamespaces() {
        return NamespaceOption.newBuilder().setNetwork(NamespaceMode.POD).setPid(NamespaceMode.CONTAINER)
                .setIpc(NamespaceMode.POD).build();
    }

    /**
     * A pod's config as kubelet sends it for a pod named {@code name} with {@code hostname}: its uid, its
     * log directory (created, under this harness's directory), its namespaces and a default security context.
     */
    PodSandboxConfig pod(String name, String hostname) throws IOException {
        String uid = UUID.randomUUID().toString();
        Path logDir = Files.createDirectories(logs.resolve("a3s-test_" + name + "_" + uid));
        return PodSandboxConfig.newBuilder()
                .setMetadata(PodSandboxMetadata.newBuilder().setName(name).setUid(uid).setNamespace("a3s-test")
                        .setAttempt(0))
                .setHostname(hostname)
                .setLogDirectory(logDir.toString())
                .putLabels("io.kubernetes.pod.name", name)
                .putLabels("io.kubernetes.pod.namespace", "a3s-test")
                .putLabels("io.kubernetes.pod.uid", uid)
                .setLinux(LinuxPodSandboxConfig.newBuilder().setSecurityContext(LinuxSandboxSecurityContext
                        .newBuilder().setNamespaceOptions(kubeletNamespaces())))
                .build();
    }

    /**
     * A container's config: {@value #IMAGE} running {@code command}, its log at {@code name/0.log} under the
     * pod's log directory, the pod's namespaces as kubelet asks them.
     */
    static ContainerConfig container(String name, String... command) {
        return ContainerConfig.newBuilder()
                .setMetadata(ContainerMetadata.newBuilder().setName(name).setAttempt(0))
                .setImage(ImageSpec.newBuilder().setImage(IMAGE))
                .addAllCommand(List.of(command))
                .setLogPath(name + "/0.log")
                .putLabels("io.kubernetes.container.name", name)
                .setLinux(LinuxContainerConfig.newBuilder().setSecurityContext(LinuxContainerSecurityContext
                        .newBuilder().setNamespaceOptions(kubeletNamespaces())))
                .build();
    }

    /** Creates and starts {@code config} in the pod; returns the container's id. */
    String run(String podId, PodSandboxConfig pod, ContainerConfig config) {
        String id = cri.createContainer(podId, config, pod);
        cri.startContainer(id);
        return id;
    }

    /** Polls ContainerStatus until the container has exited; fails after {@code timeout}. */
    ContainerStatus awaitExited(String id, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            ContainerStatus s = cri.containerStatus(id, false).getStatus();
            if (s.getState() == ContainerState.CONTAINER_EXITED) {
                return s;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("container " + id + " is " + s.getState() + " after " + timeout
                        + "\ncontainerd log:\n" + ShimHarness.tail(containerd.log(), 30));
            }
            Thread.sleep(100);
        }
    }

    /**
     * The lines of a container's CRI log without their time stamps: {@code STREAM TAG CONTENT}, e.g.
     * {@code stdout F hello} (F: a full line, P: part of one).
     */
    static List<String> logLines(Path log) throws IOException {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
            String[] parts = line.split(" ", 2);
            out.add(parts.length == 2 ? parts[1] : "(not a CRI log line) " + line);
        }
        return out;
    }

    // ---- cleaning up --------------------------------------------------------------------------------------------

    /** Stops and removes every pod the CRI plugin knows (their containers with them); errors are collected. */
    List<Throwable> removeAllPods() {
        List<Throwable> errors = new ArrayList<>();
        List<PodSandbox> pods;
        try {
            pods = cri.listPodSandbox().getItemsList();
        } catch (RuntimeException e) {
            errors.add(e);
            return errors;
        }
        for (PodSandbox p : pods) {
            try {
                cri.stopPodSandbox(p.getId());
                cri.removePodSandbox(p.getId());
            } catch (RuntimeException e) {
                errors.add(new AssertionError("removing pod " + p.getMetadata().getName() + " (" + p.getId()
                        + "): " + e, e));
            }
        }
        return errors;
    }

    /**
     * After a test: no pod and no container in the CRI plugin, no task or container in containerd's
     * {@code k8s.io} namespace, no mount under the private directories (a sandbox's netns and /dev/shm, a
     * container's rootfs), and no more QEMUs than the warm pool may keep with no task (its size, plus two
     * refill boots); with the bridge network, no veth, address reservation or cached CNI result
     * ({@link BridgeNetwork#leftovers()}). A released VM is destroyed in the background: this waits up to 15 s
     * for that.
     */
    void assertNothingLeft() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (true) {
            List<String> pods = cri.listPodSandbox().getItemsList().stream().map(PodSandbox::getId).toList();
            List<String> containers = cri.listContainers(null).getContainersList().stream()
                    .map(c -> c.getId()).toList();
            List<String> tasks = listed("tasks", "ls");
            List<String> ctrContainers = listed("containers", "ls");
            List<String> mounts = mounts();
            List<String> qemus = qemuProcesses();
            List<String> net = network == null ? List.of() : network.leftovers();
            String what = "pods " + pods + ", CRI containers " + containers + ", tasks " + tasks
                    + ", containerd containers " + ctrContainers + ", mounts " + mounts + ", " + qemus.size()
                    + " VMs (pool size " + POOL_SIZE + " + 2)" + (net.isEmpty() ? "" : ", network " + net);
            if (pods.isEmpty() && containers.isEmpty() && tasks.isEmpty() && ctrContainers.isEmpty()
                    && mounts.isEmpty() && qemus.size() <= POOL_SIZE + 2 && net.isEmpty()) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("left behind: " + what + "\n" + String.join("\n", qemus)
                        + "\ncontainerd log:\n" + ShimHarness.tail(containerd.log(), 30));
            }
            Thread.sleep(200);
        }
    }

    /** The rows of {@code ctr -n k8s.io ... ls}, header skipped. */
    List<String> listed(String... ls) throws IOException, InterruptedException {
        return ctr(ls).stdout().lines().skip(1).filter(l -> !l.isBlank()).toList();
    }

    /** Mount points under this harness's directories (containerd's, the shim's state tree). */
    List<String> mounts() throws IOException {
        return ShimHarness.mountsUnder(state, containerd.dir());
    }

    /** QEMU processes whose command line names the shim's state tree. */
    List<String> qemuProcesses() throws IOException {
        return ShimHarness.qemuProcessesUnder(state);
    }

    /** The last lines of the shim daemon's log, if it ran (the a3s handler), for failure messages. */
    String shimLog(int lines) {
        Path dir = state.resolve("shim");
        if (!Files.isDirectory(dir)) {
            return "(the shim daemon did not run)";
        }
        StringBuilder out = new StringBuilder();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path log : files.filter(f -> f.toString().endsWith(".log")).toList()) {
                out.append(ShimHarness.tail(Files.readString(log), lines)).append('\n');
            }
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
        return out.toString();
    }

    /**
     * Removes every pod, stops containerd, then the shim daemon this containerd started (it outlives
     * containerd by design) and its pool daemon, as ShimHarness does; fails if a pod could not be removed, or a
     * mount or a QEMU of this harness is left (and removes them first, and both directories). Last, the bridge
     * network's namespace is deleted.
     */
    @Override
    public void close() throws Exception {
        List<String> leaks = new ArrayList<>();
        List<Throwable> errors = new ArrayList<>();
        try {
            errors.addAll(removeAllPods());
            cri.close();
            mounts().forEach(m -> leaks.add("mount " + m));
            containerd.close();
            stopDaemon(daemonPid(), "shim daemon", 60, leaks);
            Path poolPid = state.resolve("pool.pid");
            if (Files.exists(poolPid)) {
                stopDaemon(Optional.of(Long.parseLong(Files.readString(poolPid).trim())), "pool daemon", 150, leaks);
            }
            for (String q : qemuProcesses()) {
                leaks.add("qemu " + q);
                ProcessHandle.of(Long.parseLong(q.substring(0, q.indexOf(' '))))
                        .ifPresent(ProcessHandle::destroyForcibly);
            }
        } finally {
            try {
                removeState();
            } finally {
                if (network != null) {
                    network.close();
                }
            }
        }
        if (!leaks.isEmpty() || !errors.isEmpty()) {
            AssertionError e = new AssertionError("left behind by the CRI tests:\n" + String.join("\n", leaks));
            errors.forEach(e::addSuppressed);
            throw e;
        }
    }

    private void removeState() throws IOException, InterruptedException {
        PrivateContainerd.unmountUnder(state);
        new ProcessBuilder("rm", "-rf", "--one-file-system", state.toString()).inheritIO().start().waitFor();
    }

    /** The shim daemon's pid, from its pid file, if it ever ran. */
    private Optional<Long> daemonPid() throws IOException {
        Path dir = state.resolve("shim");
        if (!Files.isDirectory(dir)) {
            return Optional.empty();
        }
        try (Stream<Path> files = Files.list(dir)) {
            for (Path pid : files.filter(f -> f.toString().endsWith(".pid")).toList()) {
                return Optional.of(Long.parseLong(Files.readString(pid).trim()));
            }
        }
        return Optional.empty();
    }

    /** SIGTERM to {@code pid} and a wait for its exit; SIGKILL and a leak noted when it does not come. */
    private static void stopDaemon(Optional<Long> pid, String what, int seconds, List<String> leaks) {
        Optional<ProcessHandle> h = pid.flatMap(ProcessHandle::of);
        if (h.isEmpty()) {
            return;
        }
        h.get().destroy();
        try {
            h.get().onExit().get(seconds, TimeUnit.SECONDS);
        } catch (Exception e) {
            leaks.add(what + " " + pid.get() + " did not stop within " + seconds + " s of SIGTERM");
            h.get().destroyForcibly();
        }
    }
}
