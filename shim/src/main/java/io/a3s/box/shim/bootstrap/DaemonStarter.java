package io.a3s.box.shim.bootstrap;

import io.a3s.box.shim.Layout;
import io.a3s.box.shim.admin.v1.PingResponse;
import io.a3s.box.shim.sys.ProcessRef;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Finds the shim daemon of one containerd, or starts it. Two {@code start}s racing (containerd starts
 * containers in parallel) never spawn two daemons: the check and the spawn happen under an exclusive lock on
 * {@code <socket>.lock}, and the second one finds the first one's daemon when it gets the lock.
 *
 * <p>The daemon is detached from everything of the {@code start} process that containerd watches: own
 * session ({@code setsid}), stdin on {@code /dev/null}, stdout and stderr appended to its log file
 * {@code <root>/shim/<key>.log} (never {@code start}'s own: they are containerd's CombinedOutput pipe, which
 * containerd reads until every holder has closed it), cwd {@code /}.
 */
final class DaemonStarter {
    static final Duration LOCK_TIMEOUT = Duration.ofSeconds(30);
    static final Duration READY_TIMEOUT = Duration.ofSeconds(30);
    private static final long POLL_MILLIS = 5;

    private final Layout layout;
    private final String containerdAddress;
    private final String ttrpcAddress;
    private final boolean debug;
    private final JvmCommand jvm;
    private final String mainClass;

    DaemonStarter(Layout layout, String containerdAddress, String ttrpcAddress, boolean debug, JvmCommand jvm,
                  String mainClass) {
        this.layout = layout;
        this.containerdAddress = containerdAddress;
        this.ttrpcAddress = ttrpcAddress;
        this.debug = debug;
        this.jvm = jvm;
        this.mainClass = mainClass;
    }

    Path socket() {
        return layout.shimSocket(containerdAddress, ttrpcAddress);
    }

    /** The live daemon's Ping answer; spawns the daemon first if none answers. */
    PingResponse ensureRunning() throws IOException, InterruptedException {
        Path socket = socket();
        Optional<PingResponse> live = ping();
        if (live.isPresent()) {
            return live.get();
        }
        Path dir = layout.shimDir();
        Files.createDirectories(dir);
        try {
            // Only root (containerd) may talk to the daemons; the directory's mode says so up front.
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        } catch (IOException | UnsupportedOperationException e) {
            // not fatal: the sockets are checked by peer credentials too
        }
        Path lockPath = Path.of(socket + ".lock");
        try (FileChannel ch = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = Detached.lock(ch, lockPath, LOCK_TIMEOUT)) {
            live = ping();
            if (live.isPresent()) {
                return live.get(); // another start spawned it while we waited for the lock
            }
            // Nothing answers: whatever socket or pid file is there belongs to a dead daemon.
            Files.deleteIfExists(socket);
            Files.deleteIfExists(layout.shimPidFile(containerdAddress, ttrpcAddress));
            Process p = spawn();
            adjustOomScore(p.pid());
            return awaitReady(p);
        }
    }

    /**
     * containerd's rule for its shims ({@code AdjustOOMScore}): the daemon's {@code oom_score_adj} is the one of
     * {@code start}'s parent (containerd) plus one, at most 1000, so that under memory pressure the kernel kills a
     * shim before containerd. Best effort: a failure is no reason to refuse a container.
     */
    static void adjustOomScore(long daemonPid) {
        ProcessHandle.current().parent().ifPresent(containerd -> ProcessRef.oomScoreAdj(containerd.pid())
                .ifPresent(score -> {
                    try {
                        Files.writeString(ProcessRef.oomScoreAdjFile(daemonPid),
                                Integer.toString(Math.min(score + 1, 1000)));
                    } catch (IOException e) {
                        // the daemon keeps the score it inherited
                    }
                }));
    }

    private Optional<PingResponse> ping() {
        return AdminClient.ping(socket(), containerdAddress, ttrpcAddress, AdminClient.PING_TIMEOUT);
    }

    /** The daemon's command line: this JVM's, with the {@code serve} action. */
    List<String> command() {
        List<String> args = new ArrayList<>(List.of("-address", containerdAddress, "-ttrpc-address", ttrpcAddress));
        if (debug) {
            args.add("-debug");
        }
        args.add("serve");
        List<String> cmd = new ArrayList<>();
        cmd.add(Detached.setsid());
        cmd.addAll(jvm.forDaemon().with(mainClass, args));
        return cmd;
    }

    private Process spawn() throws IOException {
        // stdout and stderr: appended to the daemon's log file (its logger writes to stderr), never a pipe;
        // the daemon resolves the same state tree
        List<String> cmd = command();
        try {
            return Detached.spawn(cmd.subList(1, cmd.size()), layout.shimLog(containerdAddress, ttrpcAddress),
                    Map.of(Layout.ROOT_ENV, layout.root().toString()));
        } catch (IOException e) {
            throw new IOException("cannot run the shim daemon: " + e.getMessage(), e);
        }
    }

    private PingResponse awaitReady(Process p) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        Path socket = socket();
        while (true) {
            if (Files.exists(socket)) {
                Optional<PingResponse> r = ping();
                if (r.isPresent()) {
                    return r.get();
                }
            }
            if (!p.isAlive()) {
                throw new IOException("the shim daemon exited with status " + p.exitValue()
                        + " before it answered" + logHint());
            }
            if (System.nanoTime() - deadline >= 0) {
                p.destroyForcibly();
                throw new IOException("the shim daemon did not answer on " + socket + " within "
                        + READY_TIMEOUT.toSeconds() + " s" + logHint());
            }
            Thread.sleep(POLL_MILLIS);
        }
    }

    private String logHint() {
        return Detached.logHint(layout.shimLog(containerdAddress, ttrpcAddress));
    }
}
