package io.a3s.box.shim.vm.qemu;

import io.a3s.box.guest.v1.HelloResponse;
import io.a3s.box.guest.v1.SetClockRequest;
import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.shim.sys.ProcessRef;
import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.vm.BootInfo;
import io.a3s.box.shim.vm.StateDir;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.shim.vm.VmException;
import io.a3s.box.shim.vm.VmExit;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A microVM run by QEMU. See {@link VmInstance} for the contract and {@link QemuBackend} for how QEMU is
 * launched.
 *
 * <p>Teardown order ({@link #shutdown}): (1) mark the VM as going, so that a concurrent {@code start} gives up;
 * (2) close the agent client, failing pending calls with UNAVAILABLE "vm &lt;id&gt; is shutting down";
 * (3) QMP {@code quit}, wait up to {@link #QUIT_GRACE}; (4) SIGKILL through the pidfd, wait up to
 * {@link #KILL_WAIT}; (5) lazily unmount everything under {@code share/}, deepest first; (6) remove the state
 * directory. The VMM goes before the mounts so that nothing in the guest holds files open through 9p while
 * the host unmounts, and the mounts go before the directory so that removing it can never delete a container's
 * files.
 */
final class QemuInstance implements VmInstance {
    private static final Logger log = LoggerFactory.getLogger(QemuInstance.class);

    /** How long QEMU may take to quit cleanly before it is killed. */
    static final Duration QUIT_GRACE = Duration.ofSeconds(2);
    /** How long a SIGKILLed QEMU may take to disappear. */
    static final Duration KILL_WAIT = Duration.ofSeconds(5);
    /** How long QEMU may take to create its sockets after launch (TCG set-up is fast: tens of ms). */
    static final Duration LAUNCH_WAIT = Duration.ofSeconds(10);
    /** Boot attempts: a hung boot is retried once. */
    static final int BOOT_ATTEMPTS = 2;
    /**
     * Hello resend period when attaching to a running VM: the agent answers in milliseconds, and a first Hello
     * lost to the handover race (the guest sees it before the previous host's disconnect) should cost little.
     */
    static final Duration ATTACH_HELLO_INTERVAL = Duration.ofMillis(20);
    /** A SetClock is answered at once; this only bounds the call when the guest is wedged. */
    private static final Duration SET_CLOCK_TIMEOUT = Duration.ofSeconds(5);

    private enum State { NEW, STARTING, RUNNING, FAILED, SHUT_DOWN }

    private final QemuBackend backend;
    private final String id;
    private final VmConfig config;
    private final Path stateDir;
    private final Accelerator accelerator;
    private final CompletableFuture<VmExit> exit = new CompletableFuture<>();

    private final Object lock = new Object();
    private State state = State.NEW;            // guarded by lock
    private boolean shutdownRequested;          // guarded by lock
    private ProcessRef process;                 // guarded by lock; the current attempt's QEMU
    private Process child;                      // guarded by lock; the same, as a child of this JVM
    private AgentClient agent;                  // guarded by lock
    private BootInfo bootInfo;                  // guarded by lock
    private boolean detached;                   // guarded by lock: handed over, no agent connection
    private int nice;                           // guarded by lock

    QemuInstance(QemuBackend backend, String id, VmConfig config, Path stateDir, Accelerator accelerator) {
        this.backend = backend;
        this.id = id;
        this.config = config;
        this.stateDir = stateDir;
        this.accelerator = accelerator;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public VmConfig config() {
        return config;
    }

    @Override
    public Path stateDir() {
        return stateDir;
    }

    @Override
    public Path shareDir() {
        return stateDir.resolve(StateDir.SHARE);
    }

    @Override
    public BootInfo bootInfo() {
        synchronized (lock) {
            return bootInfo;
        }
    }

    @Override
    public AgentClient agent() {
        synchronized (lock) {
            if (detached) {
                throw new IllegalStateException("vm " + id + " was handed over (detached): attach to it instead");
            }
            if (state != State.RUNNING && agent == null) {
                throw new IllegalStateException("vm " + id + " is not started (" + state + ")");
            }
            return agent;
        }
    }

    @Override
    public long pid() {
        synchronized (lock) {
            return process == null ? -1 : process.pid();
        }
    }

    @Override
    public boolean isRunning() {
        ProcessRef p;
        synchronized (lock) {
            if (state != State.RUNNING) {
                return false;
            }
            p = process;
        }
        return p != null && p.isAlive();
    }

    @Override
    public CompletableFuture<VmExit> onExit() {
        return exit;
    }

    @Override
    public BootInfo start(Duration deadline) throws VmException {
        synchronized (lock) {
            if (state != State.NEW) {
                throw new VmException(VmException.Kind.CONFIG, "vm " + id + ": start called twice (state " + state + ")");
            }
            if (shutdownRequested) {
                throw new VmException(VmException.Kind.EXITED, "vm " + id + ": shut down before start");
            }
            state = State.STARTING;
        }
        try {
            BootInfo info = boot(deadline);
            synchronized (lock) {
                if (shutdownRequested) {
                    throw new VmException(VmException.Kind.EXITED, "vm " + id + ": shut down while booting");
                }
                bootInfo = info;
                state = State.RUNNING;
            }
            return info;
        } catch (VmException e) {
            synchronized (lock) {
                if (state == State.STARTING) {
                    state = State.FAILED;
                }
            }
            killCurrent();
            exit.complete(new VmExit(Instant.now(), false, "boot failed: " + e.getMessage()));
            throw e;
        }
    }

    private BootInfo boot(Duration deadline) throws VmException {
        for (int attempt = 1; ; attempt++) {
            if (attempt > 1) {
                keepConsole(attempt - 1);
            }
            try {
                return bootOnce(deadline, attempt);
            } catch (VmException e) {
                if (e.kind() != VmException.Kind.BOOT_TIMEOUT) {
                    throw e;
                }
                killCurrent();
                if (attempt >= BOOT_ATTEMPTS) {
                    throw new VmException(VmException.Kind.BOOT_TIMEOUT, "vm " + id + ": no hello from the agent "
                            + "within " + deadline + " (" + attempt + " attempts); " + diagnostics(), e);
                }
                log.warn("vm {}: boot attempt {} timed out after {}, retrying", id, attempt, deadline);
            }
        }
    }

    private BootInfo bootOnce(Duration deadline, int attempt) throws VmException {
        Instant t0 = Instant.now();
        Instant until = t0.plus(deadline);
        ProcessRef ref = launch(until);
        AgentClient client = connectAgent(ref, until);
        try {
            HelloResponse hello = client.handshake(until);
            setGuestClock(client);
            Duration wall = Duration.between(t0, Instant.now());
            log.info("vm {}: booted ({}) in {} ms host, {} ms guest, attempt {}", id, accelerator,
                    wall.toMillis(), hello.getBootTimeNs() / 1_000_000, attempt);
            watchExit(ref);
            return new BootInfo(wall, Duration.ofNanos(hello.getBootTimeNs()), attempt, accelerator,
                    hello.getKernelRelease(), hello.getAgentVersion(), hello.getProtocolVersion());
        } catch (StatusException e) {
            if (shutdownRequested()) {
                throw new VmException(VmException.Kind.EXITED, "vm " + id + ": shut down while booting");
            }
            if (!ref.isAlive() || e.code() == Code.UNAVAILABLE) {
                awaitQuietly(ref, Duration.ofMillis(500));
                throw new VmException(VmException.Kind.EXITED, "vm " + id + ": qemu exited while booting"
                        + exitStatus() + "; " + diagnostics(), e);
            }
            if (e.code() != Code.DEADLINE_EXCEEDED) {
                throw new VmException(VmException.Kind.AGENT, "vm " + id + ": hello failed: " + e.status(), e);
            }
            throw new VmException(VmException.Kind.BOOT_TIMEOUT, "vm " + id + ": no hello within " + deadline, e);
        }
    }

    /**
     * Steps the guest's clock to the host's, after every handshake: the kernel read the RTC in whole seconds at
     * boot (up to a second behind), and a pooled VM may have idled for hours before its lease. Not awaited: the
     * agent serves calls in order, so the clock is set before the holder's next call (CreateContainer) runs,
     * and the lease pays no round trip. A failure only costs precision, so it is logged, not thrown.
     */
    private void setGuestClock(AgentClient client) {
        Instant now = Instant.now();
        long hostNs = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        client.setClockAsync(SetClockRequest.newBuilder().setRealtimeNs(hostNs).build(), SET_CLOCK_TIMEOUT)
                .whenComplete((r, e) -> {
                    if (e != null && (shutdownRequested() || isDetached())) {
                        // closed or handed over right after its boot (a pool shrinking, an IDLE VM the pool
                        // hung up on, a test): its next host sets the clock again when it attaches
                        log.debug("vm {}: the guest's clock was not set, the vm is {}", id,
                                shutdownRequested() ? "shutting down" : "handed over");
                    } else if (e != null) {
                        log.warn("vm {}: the guest's clock was not set: {}", id, e.getMessage());
                    } else if (log.isDebugEnabled()) {
                        log.debug("vm {}: guest clock set; it was {} ms {}", id,
                                Math.abs(r.getPreviousRealtimeNs() - hostNs) / 1_000_000,
                                r.getPreviousRealtimeNs() < hostNs ? "behind" : "ahead");
                    }
                });
    }

    /** Launches QEMU for one attempt and waits until its pidfile and sockets exist. */
    private ProcessRef launch(Instant until) throws VmException {
        for (String f : List.of(StateDir.PID, StateDir.AGENT_SOCKET, StateDir.QMP_SOCKET, StateDir.CONSOLE,
                QemuBackend.QEMU_LOG)) {
            try {
                Files.deleteIfExists(stateDir.resolve(f));
            } catch (IOException e) {
                throw new VmException(VmException.Kind.LAUNCH, "vm " + id + ": cannot clear " + f + ": "
                        + e.getMessage(), e);
            }
        }
        List<String> argv = backend.argv(id, config, accelerator, stateDir);
        Process p;
        synchronized (lock) {
            if (shutdownRequested) {
                throw new VmException(VmException.Kind.EXITED, "vm " + id + ": shut down while booting");
            }
            try {
                p = backend.spawn(argv, stateDir, nice);
            } catch (IOException e) {
                throw new VmException(VmException.Kind.LAUNCH, "vm " + id + ": cannot launch qemu: "
                        + e.getMessage(), e);
            }
            child = p;
        }
        ProcessRef ref;
        try {
            ref = ProcessRef.open(p.pid());
        } catch (Linux.ErrnoException e) {
            throw new VmException(VmException.Kind.LAUNCH, "vm " + id + ": qemu exited at once"
                    + exitStatus() + ": " + qemuLog(), e);
        }
        synchronized (lock) {
            process = ref;
        }
        Instant launchUntil = Instant.now().plus(LAUNCH_WAIT);
        if (launchUntil.isAfter(until)) {
            launchUntil = until;
        }
        while (!(Files.exists(stateDir.resolve(StateDir.AGENT_SOCKET))
                && Files.exists(stateDir.resolve(StateDir.QMP_SOCKET))
                && Files.exists(stateDir.resolve(StateDir.PID)))) {
            if (!ref.isAlive()) {
                awaitQuietly(ref, Duration.ofMillis(500));
                throw new VmException(VmException.Kind.LAUNCH, "vm " + id + ": qemu exited during set-up"
                        + exitStatus() + ": " + qemuLog());
            }
            if (Instant.now().isAfter(until)) {
                throw new VmException(VmException.Kind.BOOT_TIMEOUT, "vm " + id + ": qemu created no sockets "
                        + "before the boot deadline");
            }
            if (Instant.now().isAfter(launchUntil)) {
                throw new VmException(VmException.Kind.LAUNCH, "vm " + id + ": qemu created no sockets within "
                        + LAUNCH_WAIT + ": " + qemuLog());
            }
            sleep(Duration.ofMillis(10));
        }
        return ref;
    }

    private AgentClient connectAgent(ProcessRef ref, Instant until) throws VmException {
        Path sock = stateDir.resolve(StateDir.AGENT_SOCKET);
        IOException last = null;
        while (Instant.now().isBefore(until) && ref.isAlive()) {
            try {
                AgentClient c = AgentClient.connect(id, sock, ref.onExit());
                synchronized (lock) {
                    if (agent != null) {
                        agent.close();
                    }
                    agent = c;
                }
                return c;
            } catch (IOException e) {
                last = e;     // the socket appears a moment after QEMU starts
                sleep(Duration.ofMillis(20));
            }
        }
        throw new VmException(ref.isAlive() ? VmException.Kind.BOOT_TIMEOUT : VmException.Kind.EXITED,
                "vm " + id + ": cannot connect to the agent socket " + sock + ": "
                        + (last == null ? "qemu exited" : last.getMessage()) + "; " + diagnostics(), last);
    }

    /** From now on the VM's death is the instance's exit. */
    private void watchExit(ProcessRef ref) {
        ref.onExit().whenComplete((r, t) -> {
            boolean requested;
            boolean handedOver;
            synchronized (lock) {
                requested = shutdownRequested;
                handedOver = detached;
            }
            if (!requested && !handedOver) {
                log.warn("vm {}: qemu pid {} exited unexpectedly{}", id, ref.pid(), exitStatus());
            } else if (!requested) {
                log.info("vm {}: qemu pid {} exited (the vm was handed over)", id, ref.pid());
            }
            exit.complete(new VmExit(Instant.now(), requested, "qemu pid " + ref.pid() + " exited" + exitStatus()));
            if (handedOver) {
                ref.close(); // nobody else will: the instance no longer owns the VM's teardown by default
            }
        });
    }

    /**
     * Makes this (new) instance stand for a VM that already runs, VMM {@code ref}: RUNNING and detached, watching
     * the VMM. For {@link QemuBackend#adopt} and {@link QemuBackend#attach}.
     */
    void adoptRunning(ProcessRef ref) {
        synchronized (lock) {
            if (state != State.NEW) {
                throw new IllegalStateException("vm " + id + ": already " + state);
            }
            process = ref;
            state = State.RUNNING;
            detached = true;
        }
        watchExit(ref);
    }

    /**
     * Connects to the agent of an adopted VM and opens a session (the Hello handshake): the instance is then
     * attached, as if it had booted the VM itself.
     */
    BootInfo attachSession(Duration deadline) throws VmException {
        Instant t0 = Instant.now();
        Instant until = t0.plus(deadline);
        ProcessRef ref;
        synchronized (lock) {
            if (state != State.RUNNING || shutdownRequested) {
                throw new VmException(VmException.Kind.EXITED, "vm " + id + ": attach: not running (" + state + ")");
            }
            ref = process;
        }
        AgentClient client = connectAgent(ref, until);
        HelloResponse hello;
        try {
            hello = client.handshake(until, ATTACH_HELLO_INTERVAL);
        } catch (StatusException e) {
            client.close("vm " + id + ": attach failed");
            synchronized (lock) {
                if (agent == client) {
                    agent = null;
                }
            }
            boolean dead = !ref.isAlive();
            throw new VmException(dead ? VmException.Kind.EXITED : VmException.Kind.AGENT, "vm " + id
                    + ": attach: " + (dead ? "qemu exited" : "no session with the agent: " + e.getMessage()), e);
        }
        setGuestClock(client);
        BootInfo info = new BootInfo(Duration.between(t0, Instant.now()), Duration.ofNanos(hello.getBootTimeNs()), 0,
                accelerator, hello.getKernelRelease(), hello.getAgentVersion(), hello.getProtocolVersion());
        synchronized (lock) {
            bootInfo = info;
            detached = false;
        }
        log.debug("vm {}: attached in {} ms", id, info.hostWall().toMillis());
        return info;
    }

    @Override
    public void setNice(int n) {
        ProcessRef p;
        synchronized (lock) {
            nice = n;
            p = process;
        }
        if (p == null || !p.isAlive()) {
            return; // applied at the launch
        }
        // every thread: Linux keeps the niceness per thread, and new threads inherit their creator's
        try (java.nio.file.DirectoryStream<Path> tasks = Files.newDirectoryStream(
                Path.of("/proc", Long.toString(p.pid()), "task"))) {
            for (Path t : tasks) {
                try {
                    Linux.setThreadNice(Long.parseLong(t.getFileName().toString()), n);
                } catch (Linux.ErrnoException | NumberFormatException e) {
                    // the thread exited meanwhile
                }
            }
        } catch (IOException e) {
            log.debug("vm {}: renice to {}: {}", id, n, e.getMessage());
        }
    }

    /** Drops this instance's handle on the VMM without touching the VM (an attach that failed). */
    void abandon() {
        ProcessRef p;
        synchronized (lock) {
            detached = true;
            p = process;
        }
        if (p != null) {
            p.close();
        }
    }

    @Override
    public void detach() {
        AgentClient a;
        ProcessRef p;
        synchronized (lock) {
            if (detached || state == State.SHUT_DOWN) {
                return;
            }
            detached = true;
            a = agent;
            agent = null;
            p = process;
        }
        if (a != null) {
            a.close("vm " + id + " was handed over");
        }
        if (p != null && exit.isDone()) {
            p.close();
        }
    }

    @Override
    public boolean isDetached() {
        synchronized (lock) {
            return detached;
        }
    }

    private boolean shutdownRequested() {
        synchronized (lock) {
            return shutdownRequested;
        }
    }

    @Override
    public void pause() throws VmException {
        qmp("stop");
    }

    @Override
    public void resume() throws VmException {
        qmp("cont");
    }

    /**
     * Hands QEMU the tap and joins it to the hub the VM's NIC sits on ({@link QemuCommand}): from then on QEMU moves
     * the frames between the guest's eth0 and the tap itself.
     */
    @Override
    public void attachTap(int tapFd) throws VmException {
        synchronized (lock) {
            if (state != State.RUNNING) {
                throw new VmException(VmException.Kind.CONFIG, "vm " + id + ": attach a tap: not running (" + state
                        + ")");
            }
        }
        try {
            Qmp.executeWithFd(stateDir.resolve(StateDir.QMP_SOCKET), "a3s-tap", tapFd, List.of(
                    "{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"tap\",\"id\":\"a3s-tap\","
                            + "\"fd\":\"a3s-tap\"}}",
                    "{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"hubport\",\"id\":\"a3s-tap-port\","
                            + "\"hubid\":" + QemuCommand.NET_HUB + ",\"netdev\":\"a3s-tap\"}}"),
                    Duration.ofSeconds(5));
        } catch (IOException e) {
            throw new VmException(exit.isDone() ? VmException.Kind.EXITED : VmException.Kind.LAUNCH,
                    "vm " + id + ": attach a tap: " + e.getMessage(), e);
        }
    }

    private void qmp(String command) throws VmException {
        synchronized (lock) {
            if (state != State.RUNNING) {
                throw new VmException(VmException.Kind.CONFIG, "vm " + id + ": " + command + ": not running ("
                        + state + ")");
            }
        }
        try {
            Qmp.execute(stateDir.resolve(StateDir.QMP_SOCKET), command, Duration.ofSeconds(5));
        } catch (IOException e) {
            throw new VmException(exit.isDone() ? VmException.Kind.EXITED : VmException.Kind.LAUNCH,
                    "vm " + id + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void shutdown() throws VmException {
        synchronized (lock) {
            if (state == State.SHUT_DOWN) {
                return;
            }
            shutdownRequested = true;
        }
        AgentClient a;
        synchronized (lock) {
            a = agent;
        }
        if (a != null) {
            a.close("vm " + id + " is shutting down");
        }
        List<String> problems = new ArrayList<>();
        ProcessRef p;
        synchronized (lock) {
            p = process;
        }
        if (p != null && p.isAlive()) {
            try {
                Qmp.execute(stateDir.resolve(StateDir.QMP_SOCKET), "quit", QUIT_GRACE);
            } catch (IOException e) {
                log.debug("vm {}: qmp quit: {}", id, e.getMessage());
            }
            if (!awaitQuietly(p, QUIT_GRACE)) {
                log.info("vm {}: qemu did not quit within {}, killing it", id, QUIT_GRACE);
            }
        }
        if (!killCurrent()) {
            problems.add("qemu pid " + p.pid() + " still runs after SIGKILL");
        }
        try {
            StateDir.unmountAndRemove(stateDir);
        } catch (IOException e) {
            problems.add(e.getMessage());
        }
        synchronized (lock) {
            state = State.SHUT_DOWN;
            if (process != null) {
                process.close();
            }
        }
        exit.complete(new VmExit(Instant.now(), true, "shut down"));
        if (!problems.isEmpty()) {
            throw new VmException(VmException.Kind.TEARDOWN, "vm " + id + ": teardown: " + String.join("; ", problems));
        }
    }

    @Override
    public void close() {
        try {
            shutdown();
        } catch (VmException e) {
            log.warn("{}", e.getMessage());
        }
    }

    /** SIGKILLs the current attempt's QEMU and waits for it; true when it is gone (or never ran). */
    @Override
    public void kill() {
        ProcessRef p;
        synchronized (lock) {
            p = process;
        }
        if (p != null && p.isAlive()) {
            log.warn("vm {}: killing qemu pid {}", id, p.pid());
            try {
                p.signal(Linux.SIGKILL);
            } catch (Linux.ErrnoException e) {
                log.warn("vm {}: kill qemu pid {}: {}", id, p.pid(), e.getMessage());
            }
        }
    }

    private boolean killCurrent() {
        ProcessRef p;
        AgentClient a;
        synchronized (lock) {
            p = process;
            a = agent;
        }
        if (a != null && !shutdownRequested() && state() != State.RUNNING) {
            a.close("vm " + id + ": boot attempt abandoned");
        }
        if (p == null) {
            return true;
        }
        if (p.isAlive()) {
            try {
                p.signal(Linux.SIGKILL);
            } catch (Linux.ErrnoException e) {
                log.warn("vm {}: kill qemu pid {}: {}", id, p.pid(), e.getMessage());
            }
        }
        return awaitQuietly(p, KILL_WAIT);
    }

    private State state() {
        synchronized (lock) {
            return state;
        }
    }

    private static boolean awaitQuietly(ProcessRef p, Duration d) {
        try {
            return p.awaitExit(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !p.isAlive();
        }
    }

    private String exitStatus() {
        Process c;
        synchronized (lock) {
            c = child;
        }
        if (c == null || c.isAlive()) {
            return "";
        }
        int v = c.exitValue();
        return v > 128 ? " (killed by signal " + (v - 128) + ")" : " (status " + v + ")";
    }

    private void keepConsole(int attempt) {
        try {
            Files.move(stateDir.resolve(StateDir.CONSOLE), stateDir.resolve("console." + attempt + ".log"),
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            // nothing to keep
        }
    }

    private String qemuLog() {
        String s = tail(stateDir.resolve(QemuBackend.QEMU_LOG), 10);
        return s.isEmpty() ? "(qemu.log is empty)" : s;
    }

    /** The last lines of qemu.log and console.log, for error messages. */
    private String diagnostics() {
        String q = tail(stateDir.resolve(QemuBackend.QEMU_LOG), 5);
        String c = tail(stateDir.resolve(StateDir.CONSOLE), 8);
        return (q.isEmpty() ? "" : "qemu: " + q + "; ") + "console: " + (c.isEmpty() ? "(empty)" : c);
    }

    static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file, StandardCharsets.ISO_8859_1);
            List<String> last = all.subList(Math.max(0, all.size() - lines), all.size());
            return String.join(" | ", last.stream().map(String::strip).filter(s -> !s.isEmpty()).toList());
        } catch (NoSuchFileException e) {
            return "";
        } catch (IOException e) {
            return "(" + file.getFileName() + ": " + e.getMessage() + ")";
        }
    }

    private static void sleep(Duration d) throws VmException {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmException(VmException.Kind.INTERRUPTED, "interrupted");
        }
    }

    @Override
    public String toString() {
        return "QemuInstance[" + id + ", " + state() + ", pid " + pid() + "]";
    }
}
