package io.a3s.box.shim.vm.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.shim.sys.ProcessRef;
import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.Layout;
import io.a3s.box.shim.vm.StateDir;
import io.a3s.box.shim.vm.VmBackend;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.shim.vm.VmException;
import io.a3s.box.shim.vm.VmInstance;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Runs microVMs with {@code qemu-system-x86_64 -M microvm}.
 *
 * <p><b>Launch.</b> QEMU is started through {@code setsid(1)}: it becomes a child of this JVM (so its exit
 * status is known and it is reaped) but leads its own session and process group, so a signal to the JVM's
 * group (Ctrl-C, a supervisor stopping the shim) does not reach it and it outlives the JVM. Its stdin is
 * {@code /dev/null} and its stdout/stderr go to {@code <state>/qemu.log}, never to a pipe that would break
 * when the JVM dies. {@code -daemonize} is not used: it needs {@code setsid(2)} and {@code fork(2)} after
 * QEMU's seccomp filter is installed, which {@code -sandbox elevateprivileges=deny,spawn=deny} forbids.
 *
 * <p><b>Ownership.</b> A VM is identified by its state directory; QEMU's command line names its pidfile
 * {@code <state>/qemu.pid}, which is how {@link #reconcile} makes sure a pid read from that file still is this
 * VM's QEMU and not a reused pid.
 *
 * <p>Thread-safe.
 */
public final class QemuBackend implements VmBackend {
    private static final Logger log = LoggerFactory.getLogger(QemuBackend.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public static final Path DEFAULT_QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    static final String QEMU_LOG = "qemu.log";
    private static final Path SETSID = Path.of("/usr/bin/setsid");
    private static final Path NICE = Path.of("/usr/bin/nice");
    /** QEMU's seccomp sandbox; off only for debugging (A3S_QEMU_SANDBOX=off). */
    private static final boolean SANDBOX = !"off".equals(System.getenv("A3S_QEMU_SANDBOX"));

    private final Path qemu;
    private final HostProbe probe;

    public QemuBackend() {
        this(DEFAULT_QEMU, new HostProbe());
    }

    public QemuBackend(Path qemu, HostProbe probe) {
        this.qemu = qemu;
        this.probe = probe;
    }

    @Override
    public String name() {
        return "qemu";
    }

    public HostProbe probe() {
        return probe;
    }

    @Override
    public VmInstance newInstance(VmConfig config, Path stateDir) throws VmException {
        Path dir = stateDir.toAbsolutePath().normalize();
        String id = dir.getFileName().toString();
        if (!Files.isExecutable(qemu)) {
            throw new VmException(VmException.Kind.CONFIG, "vm " + id + ": qemu binary " + qemu
                    + " is missing (apt-get install qemu-system-x86)");
        }
        for (Path p : List.of(config.kernel(), config.initrd())) {
            if (!Files.isReadable(p)) {
                throw new VmException(VmException.Kind.CONFIG, "vm " + id + ": " + p
                        + " is not readable (build the guest image: scripts/build-guest-image)");
            }
        }
        int sockLen = dir.resolve(StateDir.AGENT_SOCKET).toString().getBytes().length;
        if (sockLen > Layout.MAX_SOCKET_PATH) {
            throw new VmException(VmException.Kind.CONFIG, "vm " + id + ": state directory " + dir
                    + " is too long: socket paths must be at most " + Layout.MAX_SOCKET_PATH + " bytes");
        }
        Accelerator accel = probe.resolve(config.accelerator());
        if (accel == Accelerator.KVM && config.accelerator() == Accelerator.KVM) {
            Optional<String> why = probe.kvmUnusableReason();
            if (why.isPresent() && !Files.exists(Path.of("/dev/kvm"))) {
                throw new VmException(VmException.Kind.CONFIG, "vm " + id + ": accelerator kvm: " + why.get());
            }
            why.ifPresent(w -> log.warn("vm {}: accelerator kvm forced although {}", id, w));
        }
        try {
            if (Files.exists(dir)) {
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                    if (ds.iterator().hasNext()) {
                        throw new VmException(VmException.Kind.CONFIG, "vm " + id + ": state directory " + dir
                                + " is not empty (another VM, or one to reconcile)");
                    }
                }
            }
            Files.createDirectories(dir.resolve(StateDir.SHARE));
            Files.createDirectories(dir.resolve(StateDir.VOLUMES));
            // Only root (QEMU, the shim) has business with the sockets and the share.
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
            writeConfig(dir, id, config, accel);
            StateDir.writeOwner(dir, ProcessHandle.current().pid());
        } catch (IOException e) {
            throw new VmException(VmException.Kind.LAUNCH, "vm " + id + ": cannot create state directory " + dir
                    + ": " + e.getMessage(), e);
        }
        return new QemuInstance(this, id, config, dir, accel);
    }

    /** The full argv for one launch, host-dependent parts (TSC, lpj) filled in. */
    List<String> argv(String id, VmConfig config, Accelerator accel, Path stateDir) {
        int hz = QemuCommand.kernelHz(config.kernel());
        List<String> kargs = QemuCommand.kernelArgs(probe.tscKhz(), probe.lpj(hz), config.extraKernelArgs());
        return QemuCommand.argv(qemu, id, config, accel, stateDir, kargs, SANDBOX);
    }

    /** Starts QEMU in its own session, output to qemu.log. */
    Process spawn(List<String> argv, Path stateDir) throws IOException {
        return spawn(argv, stateDir, 0);
    }

    /** {@link #spawn(List, Path)} at niceness {@code nice} (through nice(1), so every QEMU thread has it). */
    Process spawn(List<String> argv, Path stateDir, int nice) throws IOException {
        List<String> cmd = new ArrayList<>();
        if (nice != 0 && Files.isExecutable(NICE)) {
            cmd.addAll(List.of(NICE.toString(), "-n", Integer.toString(nice)));
        }
        if (Files.isExecutable(SETSID)) {
            cmd.add(SETSID.toString());
        }
        cmd.addAll(argv);
        File logFile = stateDir.resolve(QEMU_LOG).toFile();
        return new ProcessBuilder(cmd)
                .directory(stateDir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile))
                .redirectError(ProcessBuilder.Redirect.appendTo(logFile))
                .start();
    }

    private void writeConfig(Path dir, String id, VmConfig config, Accelerator accel) throws IOException {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("id", id);
        c.put("backend", name());
        c.put("created", Instant.now().toString());
        c.put("creator_pid", ProcessHandle.current().pid());
        Map<String, Object> vm = new LinkedHashMap<>();
        vm.put("kernel", config.kernel().toAbsolutePath().toString());
        vm.put("initrd", config.initrd().toAbsolutePath().toString());
        vm.put("vcpus", config.vcpus());
        vm.put("memory_mib", config.memoryMiB());
        vm.put("accelerator", config.accelerator().name().toLowerCase());
        vm.put("extra_kernel_args", config.extraKernelArgs());
        vm.put("boot_deadline_ms", config.bootDeadline().toMillis());
        c.put("config", vm);
        c.put("accelerator", accel.name().toLowerCase());
        c.put("argv", argv(id, config, accel, dir));
        Path tmp = dir.resolve(StateDir.CONFIG + ".tmp");
        JSON.writeValue(tmp.toFile(), c);
        Files.move(tmp, dir.resolve(StateDir.CONFIG), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    @Override
    public void reconcile(Path stateDir) throws VmException {
        reconcileDir(stateDir);
    }

    @Override
    public VmInstance attach(Path stateDir, Duration deadline) throws VmException {
        QemuInstance vm = open(stateDir);
        try {
            vm.attachSession(deadline);
        } catch (VmException e) {
            vm.abandon(); // not ours to tear down: whoever owns the directory decides
            throw e;
        }
        return vm;
    }

    @Override
    public VmInstance adopt(Path stateDir) throws VmException {
        return open(stateDir);
    }

    /**
     * An instance for the VM that runs for {@code stateDir}, detached: its config read back from
     * {@code config.json}, its QEMU found through {@code qemu.pid} and checked to name that pidfile (again after
     * its pidfd is open, so that a reused pid is never taken for it).
     */
    private QemuInstance open(Path stateDir) throws VmException {
        Path dir = stateDir.toAbsolutePath().normalize();
        String id = dir.getFileName().toString();
        VmConfig config;
        Accelerator accel;
        try {
            JsonNode c = JSON.readTree(Files.readAllBytes(dir.resolve(StateDir.CONFIG)));
            if (!name().equals(c.path("backend").asText())) {
                throw new VmException(VmException.Kind.CONFIG, "vm " + id + ": " + dir + " is not a "
                        + name() + " vm (backend \"" + c.path("backend").asText() + "\")");
            }
            config = configOf(c.path("config"));
            accel = Accelerator.valueOf(c.path("accelerator").asText("tcg").toUpperCase(java.util.Locale.ROOT));
        } catch (NoSuchFileException e) {
            throw new VmException(VmException.Kind.EXITED, "vm " + id + ": no state directory at " + dir, e);
        } catch (IOException | IllegalArgumentException e) {
            throw new VmException(VmException.Kind.CONFIG, "vm " + id + ": cannot read " + StateDir.CONFIG + ": "
                    + e.getMessage(), e);
        }
        List<Long> pids = qemuPids(dir);
        if (pids.isEmpty()) {
            throw new VmException(VmException.Kind.EXITED, "vm " + id + ": no qemu runs for " + dir);
        }
        long pid = pids.getFirst();
        ProcessRef ref;
        try {
            ref = ProcessRef.open(pid);
        } catch (Linux.ErrnoException e) {
            throw new VmException(VmException.Kind.EXITED, "vm " + id + ": qemu pid " + pid + " is gone", e);
        }
        if (!ownedBy(pid, dir) || !ref.isAlive()) {
            ref.close();
            throw new VmException(VmException.Kind.EXITED, "vm " + id + ": qemu pid " + pid + " is gone");
        }
        QemuInstance vm = new QemuInstance(this, id, config, dir, accel);
        vm.adoptRunning(ref);
        return vm;
    }

    /** The {@code config} object of {@code config.json} back as a {@link VmConfig}. */
    static VmConfig configOf(JsonNode vm) {
        List<String> extra = new ArrayList<>();
        vm.path("extra_kernel_args").forEach(a -> extra.add(a.asText()));
        return new VmConfig(Path.of(vm.path("kernel").asText()), Path.of(vm.path("initrd").asText()),
                vm.path("vcpus").asInt(), vm.path("memory_mib").asInt(),
                Accelerator.valueOf(vm.path("accelerator").asText("auto").toUpperCase(java.util.Locale.ROOT)),
                extra, Duration.ofMillis(vm.path("boot_deadline_ms")
                        .asLong(VmConfig.DEFAULT_BOOT_DEADLINE.toMillis())));
    }

    /**
     * Kills every QEMU that names a pidfile under {@code <stateRoot>/vms/} whose directory no longer exists: a VM
     * nobody can find any more (its directory was removed while it ran). Checked again through the pidfd before
     * the signal. Returns the pids killed.
     */
    public static List<Long> killStrays(Path stateRoot) {
        Path vms = stateRoot.resolve(StateDir.VMS).toAbsolutePath().normalize();
        List<Long> killed = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path p : ds) {
                long pid;
                try {
                    pid = Long.parseLong(p.getFileName().toString());
                } catch (NumberFormatException e) {
                    continue;
                }
                Path dir = strayDir(ProcessRef.cmdline(pid), vms);
                if (dir == null || Files.isDirectory(dir)) {
                    continue;
                }
                try (ProcessRef ref = ProcessRef.open(pid)) {
                    if (!ownedBy(pid, dir)) {
                        continue;
                    }
                    log.info("vm {}: killing stray qemu pid {} (its state directory is gone)", dir.getFileName(), pid);
                    ref.signal(Linux.SIGKILL);
                    ref.awaitExit(QemuInstance.KILL_WAIT);
                    killed.add(pid);
                } catch (Linux.ErrnoException e) {
                    // gone already
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return killed;
                }
            }
        } catch (IOException e) {
            log.warn("cannot scan /proc for stray qemu processes: {}", e.getMessage());
        }
        return killed;
    }

    /** The state directory a QEMU command line names through its -pidfile, if that is directly under vms. */
    private static Path strayDir(List<String> args, Path vms) {
        if (args.isEmpty() || !args.getFirst().contains("qemu")) {
            return null;
        }
        for (int i = 0; i + 1 < args.size(); i++) {
            if (args.get(i).equals("-pidfile")) {
                Path pidfile = Path.of(args.get(i + 1)).toAbsolutePath().normalize();
                Path dir = pidfile.getParent();
                if (pidfile.getFileName().toString().equals(StateDir.PID) && dir != null
                        && vms.equals(dir.getParent())) {
                    return dir;
                }
            }
        }
        return null;
    }

    /**
     * Tears down whatever {@code stateDir} names, whoever started it (see {@link VmBackend#reconcile}). The QEMU
     * to kill is the one whose pid is in {@code qemu.pid} <em>and</em> whose {@code /proc/<pid>/cmdline} names
     * that pidfile; if the pidfile is missing or stale, {@code /proc} is scanned for a QEMU naming it.
     */
    public static void reconcileDir(Path stateDir) throws VmException {
        Path dir = stateDir.toAbsolutePath().normalize();
        String id = dir.getFileName().toString();
        List<String> problems = new ArrayList<>();
        for (long pid : qemuPids(dir)) {
            try (ProcessRef ref = ProcessRef.open(pid)) {
                // Checked again on the pidfd's process: the pid cannot be reused while we hold it.
                if (!ownedBy(pid, dir)) {
                    continue;
                }
                log.info("vm {}: reconcile: killing qemu pid {}", id, pid);
                ref.signal(Linux.SIGKILL);
                if (!ref.awaitExit(QemuInstance.KILL_WAIT)) {
                    problems.add("qemu pid " + pid + " still runs after SIGKILL");
                }
            } catch (Linux.ErrnoException e) {
                if (e.errno() != Linux.ESRCH) {
                    problems.add("kill qemu pid " + pid + ": " + e.getMessage());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new VmException(VmException.Kind.INTERRUPTED, "vm " + id + ": reconcile interrupted");
            }
        }
        try {
            StateDir.unmountAndRemove(dir);
        } catch (IOException e) {
            problems.add(e.getMessage());
        }
        if (!problems.isEmpty()) {
            throw new VmException(VmException.Kind.TEARDOWN, "vm " + id + ": reconcile: " + String.join("; ", problems));
        }
    }

    /**
     * Reconciles every VM under {@code stateRoot} whose owner is dead (or unrecorded). VMs whose owner still
     * runs are left alone. Returns the ids reconciled.
     */
    public static List<String> reconcileOrphans(Path stateRoot) throws VmException {
        List<String> done = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        List<Path> dirs;
        try {
            dirs = StateDir.list(stateRoot);
        } catch (IOException e) {
            throw new VmException(VmException.Kind.TEARDOWN, "reconcile " + stateRoot + ": " + e.getMessage(), e);
        }
        for (Path d : dirs) {
            if (StateDir.ownerAlive(d)) {
                continue;
            }
            try {
                reconcileDir(d);
                done.add(d.getFileName().toString());
            } catch (VmException e) {
                failed.add(e.getMessage());
            }
        }
        if (!failed.isEmpty()) {
            throw new VmException(VmException.Kind.TEARDOWN, String.join("; ", failed));
        }
        return done;
    }

    /** Pids of QEMUs that belong to {@code dir}: from its pidfile, else by scanning /proc. */
    static List<Long> qemuPids(Path dir) {
        List<Long> pids = new ArrayList<>();
        try {
            long pid = Long.parseLong(Files.readString(dir.resolve(StateDir.PID)).trim());
            if (ownedBy(pid, dir)) {
                pids.add(pid);
                return pids;
            }
        } catch (IOException | NumberFormatException e) {
            // no or bad pidfile: scan
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path p : ds) {
                long pid = Long.parseLong(p.getFileName().toString());
                if (pid != ProcessHandle.current().pid() && ownedBy(pid, dir)) {
                    pids.add(pid);
                }
            }
        } catch (IOException | NumberFormatException e) {
            // no /proc: nothing to find
        }
        return pids;
    }

    /** Whether {@code pid} runs a QEMU whose {@code -pidfile} is {@code <dir>/qemu.pid}. */
    static boolean ownedBy(long pid, Path dir) {
        List<String> args = ProcessRef.cmdline(pid);
        String pidfile = dir.resolve(StateDir.PID).toString();
        for (int i = 0; i + 1 < args.size(); i++) {
            if (args.get(i).equals("-pidfile") && args.get(i + 1).equals(pidfile)) {
                return args.getFirst().contains("qemu");
            }
        }
        return false;
    }
}
