package io.a3s.box.shim.pool;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import io.a3s.box.guest.v1.CloseStdinRequest;
import io.a3s.box.guest.v1.ContainerSpec;
import io.a3s.box.guest.v1.CreateContainerRequest;
import io.a3s.box.guest.v1.ReadOutputRequest;
import io.a3s.box.guest.v1.ReadOutputResponse;
import io.a3s.box.guest.v1.SignalProcessRequest;
import io.a3s.box.guest.v1.StartProcessRequest;
import io.a3s.box.guest.v1.Stream;
import io.a3s.box.guest.v1.WaitProcessRequest;
import io.a3s.box.guest.v1.WriteStdinRequest;
import io.a3s.box.shim.Layout;
import io.a3s.box.shim.config.ShimConfig;
import io.a3s.box.shim.daemon.GuestSpecs;
import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.spec.SpecError;
import io.a3s.box.spec.SpecException;
import io.a3s.box.spec.guest.GuestContainerSpec;
import io.a3s.box.spec.guest.ShareBind;
import io.a3s.box.spec.guest.SpecMapper;
import io.a3s.box.spec.oci.OciJson;
import io.a3s.box.spec.oci.Spec;
import io.a3s.box.ttrpc.StatusException;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * {@code a3s-box pool run [OPTIONS] -- CMD [ARGS...]}: one command in a pooled VM with the semantics of a
 * container started by containerd: a default OCI spec (the one {@code ctr run} writes: namespaces, capabilities,
 * masked and read-only paths, rlimits, no_new_privs) mapped by the same code as the shim's, the root filesystem
 * bind-mounted into the VM's share, CreateContainer (parked before execve), StartProcess (spawn-main), stdout
 * and stderr streamed to ours, and the container's exit status as this command's. The VM is released (and so
 * destroyed) at the end.
 *
 * <p>Exit status: the command's (128+n when signal n killed it); 125 when the run could not be set up (no VM,
 * bad options), 126 when the command could not be executed, 127 when it was not found (as {@code docker run}).
 */
final class PoolRun {
    static final int SETUP_FAILED = 125;
    static final int CANNOT_EXECUTE = 126;
    static final int NOT_FOUND = 127;
    private static final Duration CALL = Duration.ofSeconds(60);
    private static final Duration FOREVER = Duration.ofDays(3650);
    private static final String DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    private static final List<String> DEFAULT_CAPS = List.of("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID",
            "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
            "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE");
    private static final List<String> MASKED = List.of("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
            "/proc/scsi");
    private static final List<String> READONLY = List.of("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
            "/proc/sysrq-trigger");

    /** Parsed command line. */
    record Options(Path rootfs, boolean readOnly, Integer vcpus, Integer memoryMib, boolean tty, boolean interactive,
                   List<String> env, String cwd, boolean timing, Duration leaseWait, List<String> command) {
    }

    static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }

    static final String USAGE = """
            usage: a3s-box pool run [OPTIONS] [--] CMD [ARGS...]
              --rootfs DIR      root filesystem (default: a busybox one, shared read-only)
              --read-only       mount --rootfs DIR read-only
              --vcpus N         VM size (default: [vm] vcpus); another size is another pool key
              --memory MIB      VM memory (default: [vm] memory_mib)
              -t, --tty         allocate a pty (stdin forwarded, host terminal in raw mode)
              -i, --interactive forward stdin
              -e, --env K=V     add an environment variable (repeatable)
              -w, --cwd DIR     working directory in the container (default /)
              --wait DURATION   how long to wait for a VM at the cap (default: [pool] lease_wait)
              --timing          print where the time went on stderr
            """;

    static Options parse(List<String> args) throws UsageException {
        Path rootfs = null;
        boolean readOnly = false;
        Integer vcpus = null;
        Integer memory = null;
        boolean tty = false;
        boolean interactive = false;
        List<String> env = new ArrayList<>();
        String cwd = "/";
        boolean timing = false;
        Duration wait = null;
        int i = 0;
        for (; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--")) {
                i++;
                break;
            }
            if (!a.startsWith("-")) {
                break;
            }
            String name = a;
            String inline = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                name = a.substring(0, eq);
                inline = a.substring(eq + 1);
            }
            boolean takesValue = switch (name) {
                case "--rootfs", "--vcpus", "--memory", "--memory-mib", "-e", "--env", "-w", "--cwd", "--wait" -> true;
                default -> false;
            };
            String v = null;
            if (takesValue) {
                if (inline != null) {
                    v = inline;
                } else if (i + 1 < args.size()) {
                    v = args.get(++i);
                } else {
                    throw new UsageException(a + " needs a value");
                }
            } else if (inline != null) {
                throw new UsageException(name + " takes no value");
            }
            switch (name) {
                case "--rootfs" -> rootfs = Path.of(v).toAbsolutePath().normalize();
                case "--read-only" -> readOnly = true;
                case "--vcpus" -> vcpus = intValue(name, v);
                case "--memory", "--memory-mib" -> memory = intValue(name, v);
                case "-t", "--tty" -> tty = true;
                case "-i", "--interactive" -> interactive = true;
                case "-it", "-ti" -> {
                    tty = true;
                    interactive = true;
                }
                case "-e", "--env" -> {
                    if (!v.contains("=")) {
                        throw new UsageException(name + ": expected K=V, got \"" + v + "\"");
                    }
                    env.add(v);
                }
                case "-w", "--cwd" -> cwd = v;
                case "--timing" -> timing = true;
                case "--wait" -> {
                    try {
                        wait = io.a3s.box.shim.config.Durations.parse(v);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--wait: " + e.getMessage());
                    }
                }
                default -> throw new UsageException("pool run: unknown option " + a);
            }
        }
        List<String> command = List.copyOf(args.subList(Math.min(i, args.size()), args.size()));
        if (command.isEmpty()) {
            throw new UsageException("pool run: no command (a3s-box pool run [OPTIONS] -- CMD [ARGS...])");
        }
        if (rootfs != null && !Files.isDirectory(rootfs)) {
            throw new UsageException("--rootfs " + rootfs + ": not a directory");
        }
        if (!cwd.startsWith("/")) {
            throw new UsageException("--cwd " + cwd + ": must be absolute");
        }
        return new Options(rootfs, readOnly, vcpus, memory, tty, interactive, List.copyOf(env), cwd, timing, wait,
                command);
    }

    private static int intValue(String name, String v) throws UsageException {
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new UsageException(name + ": \"" + v + "\" is not a number");
        }
    }

    private final Options o;
    private final Layout layout;
    private final ShimConfig config;
    private final PrintStream err;
    private final OutputStream stdout;
    private final OutputStream stderr;

    /** A run whose command writes to this process's stdout and stderr, and whose errors go to {@code err}. */
    PoolRun(Options o, Layout layout, ShimConfig config, PrintStream err) {
        this(o, layout, config, err, new FileOutputStream(FileDescriptor.out),
                new FileOutputStream(FileDescriptor.err));
    }

    PoolRun(Options o, Layout layout, ShimConfig config, PrintStream err, OutputStream stdout, OutputStream stderr) {
        this.o = o;
        this.layout = layout;
        this.config = config;
        this.err = err;
        this.stdout = stdout;
        this.stderr = stderr;
    }

    /** The container of one run: its id and its mapped spec, or why there is none. */
    private record Prepared(String cid, GuestContainerSpec spec, String error) {
    }

    /**
     * What one run measured, in milliseconds from the start of {@link #execute}: the lease (waiting in the pool,
     * a boot on a miss, and the attach, overlapped with building the spec), CreateContainer (with the rootfs
     * bind mount), StartProcess (spawn-main), the command's run to its exit and the end of its output, and the
     * release.
     */
    record Result(int status, boolean warm, String vmId, long leaseMs, long attachMs, long createMs, long startMs,
                  long exitMs, long releaseMs) {
        long totalMs() {
            return leaseMs + createMs + startMs + exitMs + releaseMs;
        }

        String describe() {
            return String.format(Locale.ROOT, "%s vm %s: lease %d ms (attach %d ms), create %d ms, start %d ms, "
                            + "run to exit %d ms, release %d ms, total %d ms", warm ? "warm" : "cold", vmId, leaseMs,
                    attachMs, createMs, startMs, exitMs, releaseMs, totalMs());
        }
    }

    /** Runs the command; returns its exit status (or 125/126/127). */
    int run() {
        PoolClient pool = PoolClient.forThisProcess(layout,
                o.leaseWait() != null ? o.leaseWait() : config.pool().leaseWait());
        Thread hook = new Thread(pool::close, "pool-run-release");
        Runtime.getRuntime().addShutdownHook(hook);
        Result r;
        try {
            r = execute(pool);
        } finally {
            pool.close();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down
            }
        }
        if (o.timing() && r.vmId() != null) {
            err.println("a3s-box pool run: " + r.describe());
        }
        return r.status();
    }

    /** One run with {@code pool}: lease, run, release. Errors are reported on {@code err}. */
    Result execute(PoolClient pool) {
        long t0 = System.nanoTime();
        VmConfig key;
        try {
            key = config.vm().toVmConfig();
            if (o.vcpus() != null) {
                key = key.withVcpus(o.vcpus());
            }
            if (o.memoryMib() != null) {
                key = key.withMemoryMiB(o.memoryMib());
            }
        } catch (IllegalArgumentException e) {
            err.println("a3s-box pool run: " + e.getMessage());
            return failed(SETUP_FAILED);
        }
        // The lease (a round trip to the pool and the attach, or a boot) runs while the spec is built.
        VmConfig leaseKey = key;
        CompletableFuture<Lease> leasing = new CompletableFuture<>();
        Thread.ofVirtual().name("pool-run-lease").start(() -> {
            try {
                leasing.complete(pool.lease(leaseKey, "pool run " + ProcessHandle.current().pid()));
            } catch (Throwable e) {
                leasing.completeExceptionally(e);
            }
        });
        Prepared prepared = prepare();
        Lease lease;
        try {
            lease = leasing.join();
        } catch (java.util.concurrent.CompletionException e) {
            Throwable c = e.getCause();
            err.println("a3s-box pool run: " + (c instanceof StatusException ? c.getMessage() : c.toString()));
            return failed(SETUP_FAILED);
        }
        return runIn(pool, lease, prepared, t0, System.nanoTime());
    }

    /** Runs the command in a VM leased already, and releases it. */
    Result runIn(PoolClient pool, Lease lease) {
        long t0 = System.nanoTime();
        return runIn(pool, lease, prepare(), t0, t0);
    }

    private Prepared prepare() {
        String cid = "run-" + HexFormat.of().formatHex(new SecureRandom().generateSeed(4));
        try {
            Path rootfs = o.rootfs() != null ? o.rootfs() : defaultRootfs(layout);
            boolean readOnly = o.rootfs() == null || o.readOnly();
            return new Prepared(cid, SpecMapper.map(cid, rootfs.getParent() == null ? Path.of("/")
                    : rootfs.getParent(), defaultSpec(cid, rootfs, readOnly)), null);
        } catch (SpecException e) {
            return new Prepared(cid, null, e.errors().stream().map(SpecError::toString)
                    .collect(Collectors.joining("; ")));
        } catch (IOException e) {
            return new Prepared(cid, null, e.getMessage());
        }
    }

    private Result runIn(PoolClient pool, Lease lease, Prepared prepared, long t0, long t1) {
        VmInstance vm = lease.vm();
        if (prepared.error() != null) {
            err.println("a3s-box pool run: " + prepared.error());
            pool.release(lease);
            return failed(SETUP_FAILED);
        }
        String cid = prepared.cid();
        GuestContainerSpec spec = prepared.spec();
        List<Path> mounts = new ArrayList<>();
        Terminal terminal = null;
        int status = SETUP_FAILED;
        long t2 = t1;
        long t3 = t1;
        long t4;
        try {
            for (ShareBind share : spec.shares()) {
                mounts.add(vm.bind(Path.of(share.hostPath()), share.guestPath(), share.readonly(),
                        share.propagation()));
            }
            ContainerSpec guest = GuestSpecs.toProto(spec);
            guest = guest.toBuilder().setProcess(guest.getProcess().toBuilder()
                    .setStdin(o.interactive() || o.tty())).build();
            AgentClient agent = vm.agent();
            boolean created = false;
            try {
                agent.createContainer(CreateContainerRequest.newBuilder().setContainerId(cid).setSpec(guest)
                        .build(), CALL);
                created = true;
            } catch (StatusException e) {
                if (!isExecFailure(e)) {
                    throw e;
                }
                err.println("a3s-box pool run: " + e.getMessage()); // the command is missing: not created
                status = execFailureStatus(e);
            }
            t2 = System.nanoTime();
            t3 = t2;
            if (created) {
                CompletableFuture<Void> out = pump(agent, cid, Stream.STDOUT, stdout);
                CompletableFuture<Void> errOut = o.tty() ? CompletableFuture.completedFuture(null)
                        : pump(agent, cid, Stream.STDERR, stderr);
                if (o.tty()) {
                    terminal = Terminal.raw();
                }
                forwardSignals(agent, cid);
                boolean started = false;
                try {
                    agent.startProcess(StartProcessRequest.newBuilder().setContainerId(cid).build(), CALL);
                    started = true;
                } catch (StatusException e) {
                    err.println("a3s-box pool run: " + e.getMessage());
                    status = execFailureStatus(e);
                }
                t3 = System.nanoTime();
                if (started) {
                    if (o.interactive() || o.tty()) {
                        forwardStdin(agent, cid);
                    }
                    status = agent.waitProcess(WaitProcessRequest.newBuilder().setContainerId(cid).build(), FOREVER)
                            .getExitStatus();
                    out.get(30, TimeUnit.SECONDS);
                    errOut.get(30, TimeUnit.SECONDS);
                }
            }
        } catch (Exception e) {
            err.println("a3s-box pool run: " + (e instanceof StatusException ? e.getMessage() : e.toString()));
            status = SETUP_FAILED;
        } finally {
            if (terminal != null) {
                terminal.restore();
            }
            t4 = System.nanoTime();
            for (Path m : mounts.reversed()) {
                try {
                    Linux.umount2(m.toString(), Linux.MNT_DETACH);
                } catch (Linux.ErrnoException e) {
                    // the pool's teardown detaches whatever is left
                }
            }
            pool.release(lease);
        }
        long t5 = System.nanoTime();
        return new Result(status, lease.warm(), vm.id(), ms(t1 - t0),
                vm.bootInfo() == null ? -1 : vm.bootInfo().hostWall().toMillis(), ms(t2 - t1), ms(t3 - t2),
                ms(t4 - t3), ms(t5 - t4));
    }

    private static Result failed(int status) {
        return new Result(status, false, null, 0, 0, 0, 0, 0, 0);
    }

    private static long ms(long nanos) {
        return nanos / 1_000_000;
    }

    /** The OCI config {@code ctr run} would write for this run's command, as the shim receives it. */
    Spec defaultSpec(String cid, Path rootfs, boolean readOnly) throws SpecException {
        List<String> env = new ArrayList<>();
        env.add("HOME=/root");
        if (o.tty()) {
            env.add("TERM=" + System.getenv().getOrDefault("TERM", "xterm"));
        }
        env.addAll(o.env());
        return ociSpec(cid, rootfs, readOnly, o.command(), env, o.cwd(), o.tty(), o.tty() ? Terminal.size() : null);
    }

    /** Character devices containerd's default spec allows ({major, minor}; no minor: all of the major). */
    private static final List<int[]> DEFAULT_DEVICES = List.of(new int[] {1, 3}, new int[] {1, 8}, new int[] {1, 7},
            new int[] {5, 0}, new int[] {1, 5}, new int[] {1, 9}, new int[] {5, 1}, new int[] {136},
            new int[] {5, 2});

    /**
     * The OCI config {@code ctr run} writes (namespaces, capabilities, masked and read-only paths, rlimits,
     * no_new_privs, the device allowlist and CPU shares), for {@code args} in {@code rootfs}.
     *
     * @param env         added after {@code PATH}
     * @param tty         allocate a pty
     * @param consoleSize {rows, columns} of the pty, or null to leave the default
     */
    static Spec ociSpec(String cid, Path rootfs, boolean readOnly, List<String> args, List<String> env, String cwd,
                        boolean tty, int[] consoleSize) throws SpecException {
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        root.put("ociVersion", "1.0.2");
        ObjectNode process = root.putObject("process");
        process.put("terminal", tty);
        if (tty && consoleSize != null) {
            process.putObject("consoleSize").put("height", consoleSize[0]).put("width", consoleSize[1]);
        }
        process.putObject("user").put("uid", 0).put("gid", 0);
        ArrayNode argv = process.putArray("args");
        args.forEach(argv::add);
        ArrayNode envs = process.putArray("env");
        envs.add(DEFAULT_PATH);
        env.forEach(envs::add);
        process.put("cwd", cwd);
        ObjectNode caps = process.putObject("capabilities");
        for (String set : List.of("bounding", "effective", "permitted")) {
            ArrayNode a = caps.putArray(set);
            DEFAULT_CAPS.forEach(a::add);
        }
        process.putArray("rlimits").addObject().put("type", "RLIMIT_NOFILE").put("hard", 1024).put("soft", 1024);
        process.put("noNewPrivileges", true);
        root.putObject("root").put("path", rootfs.toString()).put("readonly", readOnly);
        root.put("hostname", cid);
        ArrayNode mounts = root.putArray("mounts");
        mount(mounts, "/proc", "proc", "proc", "nosuid", "noexec", "nodev");
        mount(mounts, "/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k");
        mount(mounts, "/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                "gid=5");
        mount(mounts, "/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k");
        mount(mounts, "/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev");
        mount(mounts, "/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro");
        mount(mounts, "/run", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k");
        mount(mounts, "/tmp", "tmpfs", "tmpfs", "nosuid", "nodev", "mode=1777");
        ObjectNode linux = root.putObject("linux");
        // containerd's defaults: a device allowlist (a cgroup device program in the guest) and CPU shares. The
        // pool's warm-up runs this spec, so these guest kernel paths are warm when a tenant's container needs them.
        linux.put("cgroupsPath", "/a3s/" + cid);
        ObjectNode resources = linux.putObject("resources");
        ArrayNode devices = resources.putArray("devices");
        devices.addObject().put("allow", false).put("access", "rwm");
        for (int[] d : DEFAULT_DEVICES) {
            ObjectNode rule = devices.addObject().put("allow", true).put("type", "c").put("major", d[0]);
            if (d.length > 1) {
                rule.put("minor", d[1]);
            }
            rule.put("access", "rwm");
        }
        resources.putObject("cpu").put("shares", 1024);
        ArrayNode ns = linux.putArray("namespaces");
        for (String t : List.of("pid", "ipc", "uts", "mount", "network")) {
            ns.addObject().put("type", t);
        }
        ArrayNode masked = linux.putArray("maskedPaths");
        MASKED.forEach(masked::add);
        ArrayNode ro = linux.putArray("readonlyPaths");
        READONLY.forEach(ro::add);
        return OciJson.parseSpec(root.toString().getBytes(StandardCharsets.UTF_8));
    }

    private static void mount(ArrayNode mounts, String dest, String type, String source, String... options) {
        ObjectNode mnt = mounts.addObject().put("destination", dest).put("type", type).put("source", source);
        ArrayNode opts = mnt.putArray("options");
        for (String opt : options) {
            opts.add(opt);
        }
    }

    /** Whether the guest failed to exec the command (missing, not executable). */
    private static boolean isExecFailure(StatusException e) {
        return AgentClient.errorDetail(e).filter(d -> d.getOp().equals("execve")).isPresent();
    }

    /** docker's statuses: 127 for a command that does not exist, 126 for one that cannot be executed. */
    private static int execFailureStatus(StatusException e) {
        return AgentClient.errorDetail(e).filter(d -> d.getErrno() == Linux.ENOENT).isPresent() ? NOT_FOUND
                : CANNOT_EXECUTE;
    }

    /** Copies one output stream of the container's first process to ours until EOF. */
    private static CompletableFuture<Void> pump(AgentClient agent, String cid, Stream stream, OutputStream to) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread.ofVirtual().name("pool-run-" + stream.name().toLowerCase(Locale.ROOT)).start(() -> {
            try {
                while (true) {
                    ReadOutputResponse r = agent.readOutput(ReadOutputRequest.newBuilder().setContainerId(cid)
                            .setStream(stream).setMaxBytes(1 << 16).build(), FOREVER);
                    if (!r.getData().isEmpty()) {
                        r.getData().writeTo(to);
                        to.flush();
                    }
                    if (r.getEof()) {
                        break;
                    }
                }
                done.complete(null);
            } catch (StatusException | IOException e) {
                done.completeExceptionally(e);
            }
        });
        return done;
    }

    /** Our stdin to the container's, on a platform thread (a blocking read of fd 0); EOF closes the container's. */
    private static void forwardStdin(AgentClient agent, String cid) {
        Thread t = Thread.ofPlatform().daemon().name("pool-run-stdin").unstarted(() -> {
            InputStream in = new FileInputStream(FileDescriptor.in);
            byte[] buf = new byte[16384];
            try {
                int n;
                while ((n = in.read(buf)) > 0) {
                    agent.writeStdin(WriteStdinRequest.newBuilder().setContainerId(cid)
                            .setData(ByteString.copyFrom(buf, 0, n)).build(), CALL);
                }
                agent.closeStdin(CloseStdinRequest.newBuilder().setContainerId(cid).build(), CALL);
            } catch (IOException | StatusException e) {
                // the process exited, or the VM went away: nothing to forward to
            }
        });
        t.start();
    }

    /** SIGINT, SIGTERM and SIGHUP to this command go to the container's first process. */
    private static void forwardSignals(AgentClient agent, String cid) {
        for (String[] sig : new String[][] {{"INT", "2"}, {"TERM", "15"}, {"HUP", "1"}}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(sig[0]), s -> {
                    try {
                        agent.signalProcess(SignalProcessRequest.newBuilder().setContainerId(cid)
                                .setSignal(Integer.parseInt(sig[1])).build(), CALL);
                    } catch (StatusException e) {
                        // gone already
                    }
                });
            } catch (IllegalArgumentException | UnsupportedOperationException e) {
                // the JVM keeps its default (exit, and the shutdown hook releases the VM)
            }
        }
    }

    /**
     * The default root filesystem: busybox-static and a link per applet, built once under the state tree
     * ({@code <root>/pool-run/busybox}) and shared read-only by every run (each VM gets its own bind mount of it,
     * and no run can change it).
     */
    static Path defaultRootfs(Layout layout) throws IOException {
        return busyboxRootfs(layout.root().resolve("pool-run").resolve("busybox"));
    }

    /** A busybox root filesystem at {@code dir}, built there (atomically) unless it is there already. */
    static Path busyboxRootfs(Path dir) throws IOException {
        if (Files.isExecutable(dir.resolve("bin/busybox"))) {
            return dir;
        }
        Path busybox = Path.of("/bin/busybox");
        if (!Files.isExecutable(busybox)) {
            throw new IOException("no --rootfs given and " + busybox + " is missing for the default busybox root "
                    + "filesystem (apt-get install busybox-static)");
        }
        Files.createDirectories(dir.getParent());
        Path tmp = Files.createTempDirectory(dir.getParent(), "busybox.");
        try {
            for (String d : List.of("bin", "etc", "tmp", "root", "proc", "sys", "dev", "run")) {
                Files.createDirectories(tmp.resolve(d));
            }
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.copy(busybox, tmp.resolve("bin/busybox"));
            Files.setPosixFilePermissions(tmp.resolve("bin/busybox"), PosixFilePermissions.fromString("rwxr-xr-x"));
            Process p = new ProcessBuilder(busybox.toString(), "--list").redirectErrorStream(true).start();
            String list = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IOException(busybox + " --list failed: " + list.strip());
            }
            for (String applet : list.split("\n")) {
                String a = applet.strip();
                Path link = tmp.resolve("bin").resolve(a);
                if (!a.isEmpty() && !a.contains("/") && !Files.exists(link)) {
                    Files.createSymbolicLink(link, Path.of("busybox"));
                }
            }
            Files.writeString(tmp.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
            Files.writeString(tmp.resolve("etc/group"), "root:x:0:\n");
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
                deleteTree(tmp); // another run built it meanwhile
            }
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            deleteTree(tmp);
            throw new IOException("interrupted while building the busybox root filesystem");
        }
        return dir;
    }

    private static void deleteTree(Path dir) {
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // best effort: a temporary directory under the state tree
        }
    }

    /** The host terminal in raw mode while a pty runs, through stty(1) on /dev/tty. */
    static final class Terminal {
        private final String saved;

        private Terminal(String saved) {
            this.saved = saved;
        }

        static Terminal raw() {
            if (System.console() == null) {
                return null;
            }
            String saved = stty("-g");
            if (saved == null || stty("raw", "-echo") == null) {
                return null;
            }
            return new Terminal(saved.strip());
        }

        void restore() {
            stty(saved);
        }

        /** {rows, columns} of the host terminal, or null. */
        static int[] size() {
            if (System.console() == null) {
                return null;
            }
            String s = stty("size");
            if (s == null) {
                return null;
            }
            String[] f = s.strip().split("\\s+");
            try {
                return new int[] {Integer.parseInt(f[0]), Integer.parseInt(f[1])};
            } catch (RuntimeException e) {
                return null;
            }
        }

        private static String stty(String... args) {
            List<String> cmd = new ArrayList<>();
            cmd.add("stty");
            cmd.addAll(List.of(args));
            try {
                Process p = new ProcessBuilder(cmd).redirectInput(new java.io.File("/dev/tty"))
                        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                return p.waitFor() == 0 ? out : null;
            } catch (IOException e) {
                return null;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
    }
}
