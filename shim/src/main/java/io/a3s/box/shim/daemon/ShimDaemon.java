package io.a3s.box.shim.daemon;

import io.a3s.box.shim.config.ConfigException;
import io.a3s.box.shim.config.ShimConfig;
import io.a3s.box.shim.events.EventPublisher;
import io.a3s.box.shim.pool.PoolClient;
import io.a3s.box.shim.task.TaskService;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.ttrpc.ServiceDefinition;
import io.a3s.box.ttrpc.TtrpcServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The long-running shim daemon of one containerd: serves containerd's task service (v2 and v3) and the
 * private Admin service on one socket, publishes events to that containerd, and gets VMs from the host's pool
 * daemon ({@link PoolClient}: started on demand, shared by every shim daemon of the host). It stays up between
 * containers (so that `start` finds it and no JVM starts per container) and exits on its own after
 * {@link #IDLE_EXIT} without tasks, or on SIGTERM.
 *
 * <p>Stop order (the same for SIGTERM and idle exit): stop accepting and let calls in flight finish
 * (bounded), then the pool client (releasing the VMs still leased: the pool destroys them), then the event
 * publisher (publishing what is queued), then the pid file. The JVM does not exit before that is done: the
 * shutdown hook runs it.
 */
public final class ShimDaemon {
    private static final Logger log = LoggerFactory.getLogger(ShimDaemon.class);
    public static final Duration IDLE_EXIT = Duration.ofMinutes(10);
    private static final Duration IDLE_CHECK = Duration.ofSeconds(15);
    /** After announcing an idle exit (pid file gone), how long a late task can still cancel it. */
    private static final Duration IDLE_GRACE = Duration.ofSeconds(2);
    private static final Duration DRAIN = Duration.ofSeconds(30);

    private final DaemonConfig config;
    private final TtrpcServer server;
    private final PoolClient pool;
    private final EventPublisher events;
    private final TaskService tasks;
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final CountDownLatch stopped = new CountDownLatch(1);

    private ShimDaemon(DaemonConfig config, TtrpcServer server, PoolClient pool, EventPublisher events,
                       TaskService tasks) {
        this.config = config;
        this.server = server;
        this.pool = pool;
        this.events = events;
        this.tasks = tasks;
    }

    /** Serves until stopped; returns the process exit code. */
    public static int serve(DaemonConfig config) throws Exception {
        Path socket = config.socket();
        Files.createDirectories(socket.getParent());
        Files.createDirectories(config.layout().vms());
        if (Files.exists(socket)) {
            if (answers(socket)) {
                log.info("a daemon already serves {}; exiting", socket);
                return 0;
            }
            Files.deleteIfExists(socket); // stale: its daemon died
        }
        ShimConfig settings;
        try {
            settings = ShimConfig.loadGlobal();
        } catch (ConfigException e) {
            log.error("configuration: {}", e.getMessage());
            return 1;
        }
        VmConfig vm = settings.vm().toVmConfig();
        // the host's pool daemon, on this daemon's state tree, started on demand with this JVM's command line
        PoolClient pool = PoolClient.forThisProcess(config.layout(), settings.pool().leaseWait());
        EventPublisher events = new EventPublisher(EventPublisher.parseAddress(config.ttrpcAddress())).start();
        OciSpecConverter specs = new OciSpecConverter(InheritedRlimits.ofThisProcess());
        TaskService tasks = new TaskService(
                new VmTaskFactory(config.layout(), pool, settings, specs, events, Clock.systemUTC()), specs, events);
        ServiceDefinition v2 = tasks.definition(TaskService.V2);
        TtrpcServer server = TtrpcServer.builder().socket(socket).requireSameUser(true)
                .addService(v2)
                .addService(v2.renamed(TaskService.V3))
                .addService(new AdminService(config, tasks).definition())
                .build().start();
        ShimDaemon daemon = new ShimDaemon(config, server, pool, events, tasks);
        Files.writeString(config.pidFile(), Long.toString(ProcessHandle.current().pid()));
        log.info("a3s-box shim daemon {} serving {} for containerd {} (events to {}); VMs {} vCPU {} MiB from {}, "
                        + "leased from the pool daemon on {}", ProcessHandle.current().pid(), socket,
                config.containerdAddress(), config.ttrpcAddress(), vm.vcpus(), vm.memoryMiB(), vm.kernel().getParent(),
                config.layout().poolSocket());
        Runtime.getRuntime().addShutdownHook(new Thread(daemon::stop, "shim-daemon-stop"));
        Thread.ofVirtual().name("idle-exit").start(daemon::exitWhenIdle);
        while (!server.awaitTermination(Duration.ofHours(1))) {
            // serving
        }
        daemon.stop();
        return 0;
    }

    /** The stop sequence. Idempotent; every caller returns once it is complete. */
    private void stop() {
        if (!stopping.compareAndSet(false, true)) {
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return;
        }
        try {
            server.shutdown();
            if (!server.awaitTermination(DRAIN)) {
                log.warn("calls still in flight after {}: closing connections", DRAIN);
                server.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            server.shutdownNow();
        }
        pool.close();
        events.close();
        try {
            Files.deleteIfExists(config.pidFile());
        } catch (IOException e) {
            log.warn("cannot remove {}: {}", config.pidFile(), e.toString());
        }
        log.info("a3s-box shim daemon stopped");
        stopped.countDown();
    }

    /**
     * A task, or a connection: containerd connects as soon as a `start` named this daemon, before its Create, and
     * keeps the connection while it has a task here (a Ping's lasts a moment).
     */
    private boolean busy() {
        return tasks.taskCount() > 0 || server.connectionCount() > 0;
    }

    /**
     * Exits after {@link #IDLE_EXIT} without tasks or connections, without racing a `start` that is handing this
     * daemon to containerd: under the start lock, the pid file goes first (the launcher's fast path then spawns a new
     * daemon instead of naming this one), a short grace lets a task that was already on its way cancel the
     * exit, and the socket goes before the lock is released.
     */
    private void exitWhenIdle() {
        Instant idleSince = Instant.now();
        Path lockPath = Path.of(config.socket() + ".lock");
        while (!server.isShutdown()) {
            try {
                Thread.sleep(IDLE_CHECK);
                if (busy()) {
                    idleSince = Instant.now();
                    continue;
                }
                if (Duration.between(idleSince, Instant.now()).compareTo(IDLE_EXIT) <= 0) {
                    continue;
                }
                try (FileChannel ch = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                     FileLock ignored = ch.lock()) {
                    Files.deleteIfExists(config.pidFile());
                    Thread.sleep(IDLE_GRACE);
                    if (busy()) {
                        Files.writeString(config.pidFile(), Long.toString(ProcessHandle.current().pid()));
                        idleSince = Instant.now();
                        continue;
                    }
                    log.info("no task for {}: exiting", IDLE_EXIT);
                    server.shutdown(); // removes the socket
                }
                return;
            } catch (InterruptedException e) {
                return;
            } catch (IOException e) {
                log.warn("idle exit: {}", e.toString());
            }
        }
    }

    private static boolean answers(Path socket) {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
