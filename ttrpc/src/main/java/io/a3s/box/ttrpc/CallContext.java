package io.a3s.box.ttrpc;

import java.time.Duration;
import java.util.Optional;

/**
 * What a server handler knows about the call it serves.
 *
 * @param service       full service name, e.g. {@code containerd.task.v2.Task}
 * @param method        bare method name, e.g. {@code Create}
 * @param metadata      the request's metadata
 * @param deadlineNanos {@link System#nanoTime()} at which the client gives up, or 0 when it set no timeout
 * @param peer          the connected peer's credentials, when the platform reports them
 * @param connection    lets a long call notice that its client went away
 */
public record CallContext(String service, String method, Metadata metadata, long deadlineNanos,
                          Optional<PeerCredentials> peer, ConnectionState connection) {

    /** Whether the connection of the call is still open. */
    public interface ConnectionState {
        boolean isOpen();
    }

    /** Time left until the client's deadline; empty when it set none. Never negative. */
    public Optional<Duration> remaining() {
        if (deadlineNanos == 0) {
            return Optional.empty();
        }
        return Optional.of(Duration.ofNanos(Math.max(0, deadlineNanos - System.nanoTime())));
    }

    /** True once the client's deadline has passed or its connection closed: the answer would be dropped. */
    public boolean isCancelled() {
        return !connection.isOpen() || (deadlineNanos != 0 && System.nanoTime() - deadlineNanos >= 0);
    }
}
