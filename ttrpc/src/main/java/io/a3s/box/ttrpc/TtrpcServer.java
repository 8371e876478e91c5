package io.a3s.box.ttrpc;

import io.a3s.box.ttrpc.internal.ServerConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A ttrpc server on a Unix socket.
 *
 * <p>Threading: one virtual thread accepts, one virtual thread per connection reads and decodes frames,
 * and every call runs on its own thread from the handler executor (virtual threads by default). So a call
 * that blocks for hours ({@code Wait}) never delays another call, on its connection or any other. Responses
 * on one connection are serialized by one writer lock. Transport threads never run handler code.
 *
 * <p>Lifecycle, as grpc-java's {@code Server}: {@link #start}, {@link #shutdown} (stop accepting, refuse
 * new calls with UNAVAILABLE, let in-flight calls finish, then close each connection), {@link #shutdownNow}
 * (also close connections and interrupt handlers at once), {@link #awaitTermination}, {@link #close}.
 *
 * <p>Bad input never takes the server down: a corrupted byte stream closes that connection only (and is
 * logged), an oversized frame is answered with RESOURCE_EXHAUSTED on its stream and the connection goes on.
 */
public final class TtrpcServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TtrpcServer.class);
    private static final long ACCEPT_BACKOFF_MIN = 5;
    private static final long ACCEPT_BACKOFF_MAX = 1000;

    private final Path socketPath;
    private final Map<String, ServiceDefinition> services;
    private final boolean requireSameUser;
    private final ExecutorService handlers;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition terminated = lock.newCondition();

    // guarded by lock
    private ServerSocketChannel listener;
    // guarded by lock
    private final Set<ServerConnection> connections = new HashSet<>();
    // guarded by lock
    private boolean started;
    // guarded by lock
    private boolean shutdown;
    // guarded by lock; true once the accept loop has exited (or never ran)
    private boolean acceptorDone;
    // guarded by lock
    private boolean handlersClosed;

    private TtrpcServer(Builder b) {
        this.socketPath = b.socketPath;
        this.services = Map.copyOf(b.services);
        this.requireSameUser = b.requireSameUser;
        this.handlers = b.handlers != null ? b.handlers
                : Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("ttrpc-call-", 0).factory());
        this.listener = b.listener;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Binds the socket (unless a bound listener was given) and starts accepting.
     *
     * @throws IOException if the path is taken: stale socket files are the caller's decision, not ours
     */
    public TtrpcServer start() throws IOException {
        lock.lock();
        try {
            if (started) {
                throw new IllegalStateException("already started");
            }
            if (shutdown) {
                throw new IllegalStateException("shut down");
            }
            if (listener == null) {
                ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                try {
                    ch.bind(UnixDomainSocketAddress.of(socketPath), 256);
                } catch (IOException e) {
                    ch.close();
                    throw new IOException("bind ttrpc socket " + socketPath + ": " + e.getMessage(), e);
                }
                listener = ch;
            }
            started = true;
            ServerSocketChannel ch = listener;
            Thread.ofVirtual().name("ttrpc-accept").start(() -> acceptLoop(ch));
        } finally {
            lock.unlock();
        }
        return this;
    }

    /** The socket this server listens on (null if it was given a listener bound elsewhere). */
    public Path socketPath() {
        return socketPath;
    }

    /** Names of the registered services. */
    public Set<String> serviceNames() {
        return services.keySet();
    }

    private void acceptLoop(ServerSocketChannel ch) {
        long backoffMillis = 0;
        try {
            while (true) {
                SocketChannel conn;
                try {
                    conn = ch.accept();
                } catch (ClosedChannelException e) {
                    throw e;
                } catch (IOException e) {
                    // EMFILE, ENFILE, ENOBUFS: the process or the host is short of something for a while. Leaving
                    // the loop would keep the socket and the process, and never accept again; ttrpc's Serve, like
                    // Go's http server, backs off from 5 ms, doubling up to 1 s, and goes on.
                    backoffMillis = Math.min(backoffMillis == 0 ? ACCEPT_BACKOFF_MIN : backoffMillis * 2,
                            ACCEPT_BACKOFF_MAX);
                    log.warn("ttrpc accept on {} failed: {}; retrying in {} ms", socketPath, e.toString(),
                            backoffMillis);
                    Thread.sleep(backoffMillis);
                    continue;
                }
                backoffMillis = 0;
                onAccepted(conn);
            }
        } catch (ClosedChannelException e) {
            // shutdown closed the listener
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.lock();
            try {
                acceptorDone = true;
                signalIfTerminated();
            } finally {
                lock.unlock();
            }
        }
    }

    private void onAccepted(SocketChannel channel) {
        ServerConnection conn;
        try {
            conn = new ServerConnection(channel, services, handlers, requireSameUser, this::onConnectionClosed);
        } catch (IOException e) {
            log.warn("ttrpc: refused connection: {}", e.getMessage());
            closeQuietly(channel);
            return;
        }
        lock.lock();
        try {
            if (shutdown) {
                closeQuietly(channel);
                return;
            }
            connections.add(conn);
        } finally {
            lock.unlock();
        }
        conn.start();
    }

    private void onConnectionClosed(ServerConnection conn) {
        lock.lock();
        try {
            connections.remove(conn);
            signalIfTerminated();
        } finally {
            lock.unlock();
        }
    }

    /** Orderly shutdown: no new connections or calls; in-flight calls finish. Idempotent. */
    public TtrpcServer shutdown() {
        List<ServerConnection> snapshot;
        lock.lock();
        try {
            if (shutdown) {
                return this;
            }
            shutdown = true;
            if (!started) {
                acceptorDone = true;
            }
            closeListener();
            snapshot = List.copyOf(connections);
            signalIfTerminated();
        } finally {
            lock.unlock();
        }
        for (ServerConnection c : snapshot) {
            c.drainAndClose();
        }
        return this;
    }

    /** Forceful shutdown: closes every connection and interrupts running handlers. Idempotent. */
    public TtrpcServer shutdownNow() {
        shutdown();
        List<ServerConnection> snapshot;
        lock.lock();
        try {
            snapshot = List.copyOf(connections);
        } finally {
            lock.unlock();
        }
        for (ServerConnection c : snapshot) {
            c.close();
        }
        handlers.shutdownNow();
        return this;
    }

    /** Connections open now (accepted and not yet closed). */
    public int connectionCount() {
        lock.lock();
        try {
            return connections.size();
        } finally {
            lock.unlock();
        }
    }

    public boolean isShutdown() {
        lock.lock();
        try {
            return shutdown;
        } finally {
            lock.unlock();
        }
    }

    public boolean isTerminated() {
        lock.lock();
        try {
            return isTerminatedLocked();
        } finally {
            lock.unlock();
        }
    }

    /** Waits until shut down and every connection is closed. Returns false on timeout. */
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        long nanos = timeout.toNanos();
        lock.lock();
        try {
            while (!isTerminatedLocked()) {
                if (nanos <= 0) {
                    return false;
                }
                nanos = terminated.awaitNanos(nanos);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** {@link #shutdownNow()} and wait briefly for termination. Idempotent. */
    @Override
    public void close() {
        shutdownNow();
        try {
            awaitTermination(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private boolean isTerminatedLocked() {
        return shutdown && acceptorDone && connections.isEmpty();
    }

    // called with lock held
    private void signalIfTerminated() {
        if (isTerminatedLocked()) {
            if (!handlersClosed) {
                handlersClosed = true;
                handlers.shutdown();
            }
            terminated.signalAll();
        }
    }

    // called with lock held
    private void closeListener() {
        if (listener != null) {
            closeQuietly(listener);
            if (socketPath != null) {
                try {
                    Files.deleteIfExists(socketPath);
                } catch (IOException e) {
                    log.warn("ttrpc: cannot remove socket {}: {}", socketPath, e.toString());
                }
            }
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // nothing more to do for a channel we are discarding
        }
    }

    /** Waits for the handler executor's threads, for tests that count threads. */
    boolean awaitHandlers(Duration timeout) throws InterruptedException {
        return handlers.awaitTermination(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    public static final class Builder {
        private Path socketPath;
        private ServerSocketChannel listener;
        private final Map<String, ServiceDefinition> services = new LinkedHashMap<>();
        private boolean requireSameUser;
        private ExecutorService handlers;

        private Builder() {
        }

        /** Listen on a new Unix socket at this path. */
        public Builder socket(Path path) {
            this.socketPath = Objects.requireNonNull(path);
            return this;
        }

        /** Serve an already bound Unix listener (its path is then the caller's to remove). */
        public Builder listener(ServerSocketChannel bound) {
            this.listener = Objects.requireNonNull(bound);
            return this;
        }

        /** Registers a service under its full name. */
        public Builder addService(ServiceDefinition service) {
            if (services.putIfAbsent(service.name(), service) != null) {
                throw new IllegalArgumentException("service " + service.name() + " registered twice");
            }
            return this;
        }

        /** Refuse peers whose uid or gid differ from ours ({@code SO_PEERCRED}), as containerd's shims do. */
        public Builder requireSameUser(boolean require) {
            this.requireSameUser = require;
            return this;
        }

        /** The executor that runs handlers; by default a new virtual thread per call. */
        public Builder handlerExecutor(ExecutorService executor) {
            this.handlers = Objects.requireNonNull(executor);
            return this;
        }

        public TtrpcServer build() {
            if ((socketPath == null) == (listener == null)) {
                throw new IllegalStateException("exactly one of socket(path) or listener(channel) is required");
            }
            return new TtrpcServer(this);
        }
    }
}
