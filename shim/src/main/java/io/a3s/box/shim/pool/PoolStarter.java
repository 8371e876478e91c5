package io.a3s.box.shim.pool;

import io.a3s.box.shim.Layout;
import io.a3s.box.shim.bootstrap.Detached;
import io.a3s.box.shim.bootstrap.JvmCommand;
import io.a3s.box.shim.pool.v1.StatusRequest;
import io.a3s.box.shim.pool.v1.StatusResponse;
import io.a3s.box.ttrpc.StatusException;
import io.a3s.box.ttrpc.TtrpcClient;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Finds the pool daemon of a state tree, or starts it: what makes {@code ctr run} work with no prior set-up.
 * Concurrent clients serialize on {@code <root>/pool.sock.lock}, so they start one daemon; the second finds the
 * first one's daemon once it has the lock. The daemon is {@link Detached detached} (own session, output appended
 * to {@link Layout#poolLog()}) and runs the same JVM as its starter ({@link JvmCommand}) with the main class
 * {@value #MAIN} and {@code pool start --foreground}.
 */
public final class PoolStarter {
    static final String MAIN = "io.a3s.box.shim.cli.A3sBox";
    /** Main classes whose JVM command line a pool daemon can reuse. */
    static final List<String> KNOWN_MAINS = List.of("io.a3s.box.shim.ShimMain", MAIN);
    static final Duration PING_TIMEOUT = Duration.ofSeconds(5);
    static final Duration LOCK_TIMEOUT = Duration.ofSeconds(90);
    /** JVM start, state-tree reconcile (killing a QEMU may take seconds), bind. */
    static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
    /** How many times one connect starts a daemon that exits 0 without answering, before it gives up. */
    static final int MAX_STARTS = 5;

    private final Layout layout;
    private final Supplier<List<String>> command;
    private final Map<String, String> env;
    private final Duration readyTimeout;

    /**
     * @param command the daemon's full command line (computed when first needed)
     * @param env     added to the daemon's environment ({@code A3S_BOX_STATE} is always set to the tree's root)
     */
    public PoolStarter(Layout layout, Supplier<List<String>> command, Map<String, String> env) {
        this(layout, command, env, READY_TIMEOUT);
    }

    PoolStarter(Layout layout, Supplier<List<String>> command, Map<String, String> env, Duration readyTimeout) {
        this.layout = layout;
        this.command = command;
        this.readyTimeout = readyTimeout;
        Map<String, String> e = new HashMap<>(env);
        e.put(Layout.ROOT_ENV, layout.root().toString());
        this.env = Map.copyOf(e);
    }

    /** A starter that runs the pool daemon with this process's JVM command line. */
    public static PoolStarter sameJvm(Layout layout) {
        return new PoolStarter(layout,
                () -> JvmCommand.currentAny(KNOWN_MAINS).forDaemon().with(MAIN, List.of("pool", "start", "--foreground")),
                Map.of());
    }

    /**
     * A connection to the live pool daemon; starts the daemon first if none answers. The fast path only connects
     * (a socket whose daemon died refuses the connection at once); a daemon this call started has answered a
     * Status call.
     */
    public TtrpcClient connect() throws IOException, InterruptedException {
        Optional<TtrpcClient> live = tryConnect(layout.poolSocket(), false);
        if (live.isPresent()) {
            return live.get();
        }
        Files.createDirectories(layout.root());
        Path lockPath = Path.of(layout.poolSocket() + ".lock");
        try (FileChannel ch = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = Detached.lock(ch, lockPath, LOCK_TIMEOUT)) {
            live = tryConnect(layout.poolSocket(), true);
            if (live.isPresent()) {
                return live.get(); // another client started it while we waited for the lock
            }
            return awaitReady(spawn());
        }
    }

    private Process spawn() throws IOException {
        try {
            return Detached.spawn(command.get(), layout.poolLog(), env);
        } catch (IOException | RuntimeException e) {
            throw new IOException("cannot start the pool daemon: " + e.getMessage(), e);
        }
    }

    /** Whether no process holds the tree's pool lock (the one a serving or stopping daemon holds). */
    private boolean poolLockFree() throws IOException {
        try (FileChannel ch = FileChannel.open(layout.poolLockFile(), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            FileLock l = ch.tryLock();
            if (l == null) {
                return false;
            }
            l.release();
            return true;
        } catch (OverlappingFileLockException e) {
            return false; // this very process runs the daemon
        }
    }

    private TtrpcClient awaitReady(Process p) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + readyTimeout.toNanos();
        int starts = 1;
        while (true) {
            Optional<TtrpcClient> c = tryConnect(layout.poolSocket(), true);
            if (c.isPresent()) {
                return c.get();
            }
            if (!p.isAlive() && p.exitValue() != 0) {
                throw new IOException("the pool daemon exited with status " + p.exitValue() + " before it answered"
                        + Detached.logHint(layout.poolLog()));
            }
            if (!p.isAlive() && poolLockFree()) {
                // Status 0 without an answer: another daemon held the tree's lock without serving, i.e. it was
                // stopping. It has let go of the lock now: start ours again (a few times, not in a loop).
                if (starts >= MAX_STARTS) {
                    throw new IOException("the pool daemon exited without answering, " + starts + " times"
                            + Detached.logHint(layout.poolLog()));
                }
                p = spawn();
                starts++;
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new IOException("the pool daemon did not answer on " + layout.poolSocket() + " within "
                        + readyTimeout.toSeconds() + " s" + Detached.logHint(layout.poolLog()));
            }
            Thread.sleep(10);
        }
    }

    /** A connection to a pool daemon (that answers Status, if {@code ping}), or empty. */
    static Optional<TtrpcClient> tryConnect(Path socket, boolean ping) {
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            return Optional.empty();
        }
        TtrpcClient c = null;
        try {
            c = TtrpcClient.connect(socket);
            if (ping) {
                c.call(PoolService.NAME, "Status", StatusRequest.getDefaultInstance(), StatusResponse.parser(),
                        PING_TIMEOUT);
            }
            return Optional.of(c);
        } catch (IOException | StatusException e) {
            if (c != null) {
                c.close();
            }
            return Optional.empty();
        }
    }
}
