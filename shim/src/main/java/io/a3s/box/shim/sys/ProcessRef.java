package io.a3s.box.shim.sys;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A reference to a process that is not (or no longer) a child of this JVM, such as a daemonized QEMU:
 * {@link ProcessHandle#onExit()} only works for children, so this uses a <b>pidfd</b>
 * ({@code pidfd_open(2)}), which is immune to pid reuse. Exits are detected by one shared platform thread
 * that {@code poll(2)}s every watched pidfd, so {@link #onExit()} completes within milliseconds of the death.
 * On kernels without pidfds (before 5.3) it falls back to checking {@code /proc/<pid>} every 100 ms.
 *
 * <p>Thread-safe. {@link #close()} releases the pidfd; {@link #onExit()} then never completes unless it already
 * has.
 */
public final class ProcessRef implements AutoCloseable {
    private static final Duration PROC_POLL = Duration.ofMillis(100);

    private final long pid;
    private final CompletableFuture<Void> exit = new CompletableFuture<>();
    private final Object lock = new Object();
    private int pidfd;              // guarded by lock; -1 when closed or without pidfd support
    private boolean closed;         // guarded by lock
    private boolean registered;     // guarded by lock: the poller owns the fd while true

    private ProcessRef(long pid, int pidfd) {
        this.pid = pid;
        this.pidfd = pidfd;
    }

    /**
     * Opens a reference to {@code pid}.
     *
     * @throws Linux.ErrnoException ESRCH if no such process exists
     */
    public static ProcessRef open(long pid) throws Linux.ErrnoException {
        if (pid <= 0) {
            throw new Linux.ErrnoException("pidfd_open " + pid, Linux.ESRCH, "invalid pid");
        }
        int fd;
        try {
            fd = Linux.pidfdOpen(pid);
        } catch (Linux.ErrnoException e) {
            if (e.errno() != Linux.ENOSYS) {
                throw e;
            }
            if (!procAlive(pid)) {
                throw new Linux.ErrnoException("open /proc/" + pid, Linux.ESRCH, "No such process");
            }
            ProcessRef ref = new ProcessRef(pid, -1);
            Thread.ofVirtual().name("a3s-procwatch-" + pid).start(ref::pollProc);
            return ref;
        }
        ProcessRef ref = new ProcessRef(pid, fd);
        Poller.INSTANCE.register(ref);
        return ref;
    }

    public long pid() {
        return pid;
    }

    /** Completes when the process has exited (also when it is a zombie nobody has reaped yet). */
    public CompletableFuture<Void> onExit() {
        return exit;
    }

    /** Whether the process still runs. */
    public boolean isAlive() {
        if (exit.isDone()) {
            return false;
        }
        synchronized (lock) {
            if (pidfd >= 0) {
                try {
                    return !Linux.poll(new int[] {pidfd}, 0)[0];
                } catch (Linux.ErrnoException e) {
                    return procAlive(pid);
                }
            }
        }
        return procAlive(pid);
    }

    /** Sends {@code signal}; a process that already exited is not an error. */
    public void signal(int signal) throws Linux.ErrnoException {
        synchronized (lock) {
            if (closed) {
                throw new Linux.ErrnoException("signal " + pid, Linux.EINVAL, "process reference closed");
            }
            try {
                if (pidfd >= 0) {
                    Linux.pidfdSendSignal(pidfd, signal);
                } else if (procAlive(pid)) {
                    Linux.kill(pid, signal);
                }
            } catch (Linux.ErrnoException e) {
                if (e.errno() != Linux.ESRCH) {
                    throw e;
                }
            }
        }
    }

    /** Waits until the process has exited; returns false on timeout. */
    public boolean awaitExit(Duration timeout) throws InterruptedException {
        try {
            exit.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (java.util.concurrent.ExecutionException e) {
            return true;
        }
    }

    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            if (!registered) {
                Linux.close(pidfd);
                pidfd = -1;
                return;
            }
        }
        Poller.INSTANCE.wake();
    }

    /**
     * Whether {@code /proc/<pid>} exists and is not a zombie. Zombies count as dead: a daemonized QEMU is
     * reaped by init, which may take a moment.
     */
    public static boolean procAlive(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.UTF_8);
            int close = stat.lastIndexOf(')');
            char state = close > 0 && close + 2 < stat.length() ? stat.charAt(close + 2) : '?';
            return state != 'Z' && state != 'X';
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    /** The {@code oom_score_adj} of {@code pid}; empty when it cannot be read. */
    public static OptionalInt oomScoreAdj(long pid) {
        try {
            return OptionalInt.of(Integer.parseInt(Files.readString(oomScoreAdjFile(pid)).strip()));
        } catch (IOException | NumberFormatException e) {
            return OptionalInt.empty();
        }
    }

    /** {@code /proc/PID/oom_score_adj}. */
    public static Path oomScoreAdjFile(long pid) {
        return Path.of("/proc", Long.toString(pid), "oom_score_adj");
    }

    /** The NUL-separated command line of {@code pid}, as a list; empty when it cannot be read. */
    public static List<String> cmdline(long pid) {
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
            List<String> args = new ArrayList<>();
            int start = 0;
            for (int i = 0; i < raw.length; i++) {
                if (raw[i] == 0) {
                    args.add(new String(raw, start, i - start, StandardCharsets.UTF_8));
                    start = i + 1;
                }
            }
            if (start < raw.length) {
                args.add(new String(raw, start, raw.length - start, StandardCharsets.UTF_8));
            }
            return args;
        } catch (IOException e) {
            return List.of();
        }
    }

    private void pollProc() {
        try {
            while (procAlive(pid)) {
                synchronized (lock) {
                    if (closed) {
                        return;
                    }
                }
                Thread.sleep(PROC_POLL);
            }
            exit.complete(null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * One platform thread polls every registered pidfd plus an eventfd used to wake it when the set changes.
     * A platform thread because {@code poll} is a native downcall that would pin a virtual thread's carrier.
     */
    private static final class Poller {
        static final Poller INSTANCE = new Poller();

        private final Object lock = new Object();
        private final List<ProcessRef> refs = new ArrayList<>();   // guarded by lock
        private final int wakeFd;

        private Poller() {
            try {
                wakeFd = Linux.eventfd();
            } catch (Linux.ErrnoException e) {
                throw new IllegalStateException("cannot watch processes: " + e.getMessage(), e);
            }
            Thread t = Thread.ofPlatform().daemon().name("a3s-pidfd-poller").unstarted(this::run);
            t.start();
        }

        void register(ProcessRef ref) {
            synchronized (ref.lock) {
                ref.registered = true;
            }
            synchronized (lock) {
                refs.add(ref);
            }
            wake();
        }

        void wake() {
            Linux.eventfdSignal(wakeFd);
        }

        private void run() {
            while (true) {
                ProcessRef[] snapshot;
                synchronized (lock) {
                    snapshot = refs.toArray(ProcessRef[]::new);
                }
                int[] fds = new int[snapshot.length + 1];
                fds[0] = wakeFd;
                for (int i = 0; i < snapshot.length; i++) {
                    // The fd stays valid during poll: only this thread closes a registered ref's fd.
                    fds[i + 1] = snapshot[i].pidfd;
                }
                boolean[] ready;
                try {
                    ready = Linux.poll(fds, -1);
                } catch (Linux.ErrnoException e) {
                    ready = new boolean[fds.length];
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException ie) {
                        return;
                    }
                }
                if (ready[0]) {
                    Linux.eventfdDrain(wakeFd);
                }
                List<ProcessRef> exited = new ArrayList<>();
                for (int i = 0; i < snapshot.length; i++) {
                    ProcessRef ref = snapshot[i];
                    boolean remove = false;
                    synchronized (ref.lock) {
                        if (ref.closed) {
                            Linux.close(ref.pidfd);
                            ref.pidfd = -1;
                            ref.registered = false;
                            remove = true;
                        } else if (ready[i + 1]) {
                            ref.registered = false;   // the fd stays open for signal()/isAlive() until close()
                            remove = true;
                            exited.add(ref);
                        }
                    }
                    if (remove) {
                        synchronized (lock) {
                            refs.remove(ref);
                        }
                    }
                }
                for (ProcessRef ref : exited) {
                    // Never run dependent stages on this thread: one slow callback would delay every exit.
                    Thread.ofVirtual().name("a3s-exit-" + ref.pid).start(() -> ref.exit.complete(null));
                }
            }
        }
    }
}
