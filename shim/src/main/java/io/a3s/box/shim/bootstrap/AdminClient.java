package io.a3s.box.shim.bootstrap;

import io.a3s.box.shim.admin.v1.CleanupTaskRequest;
import io.a3s.box.shim.admin.v1.CleanupTaskResponse;
import io.a3s.box.shim.admin.v1.PingRequest;
import io.a3s.box.shim.admin.v1.PingResponse;
import io.a3s.box.shim.task.TaskService;
import io.a3s.box.ttrpc.StatusException;
import io.a3s.box.ttrpc.TtrpcClient;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * The short-lived actions' view of a shim daemon: its private {@code a3s.shim.v1.Admin} service on the
 * daemon's socket. Every call has a deadline: a hung daemon must not hang containerd.
 */
final class AdminClient {
    static final String SERVICE = "a3s.shim.v1.Admin";
    static final Duration PING_TIMEOUT = Duration.ofSeconds(2);
    /** The daemon answers within its bound; containerd kills `delete` at 5 s. */
    static final Duration CLEANUP_TIMEOUT = Duration.ofMillis(TaskService.CLEANUP_BOUND_MILLIS + 500);

    private AdminClient() {
    }

    /**
     * Pings the daemon on {@code socket}: empty if nothing listens there (no socket, connection refused),
     * if the peer does not answer Ping in time, or if it is not the daemon of these containerd addresses.
     */
    static Optional<PingResponse> ping(Path socket, String containerdAddress, String ttrpcAddress, Duration timeout) {
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            return Optional.empty();
        }
        try (TtrpcClient c = TtrpcClient.connect(socket)) {
            PingResponse r = c.call(SERVICE, "Ping", PingRequest.getDefaultInstance(), PingResponse.parser(), timeout);
            // A daemon that says who it serves must serve these addresses (the socket name is their hash).
            if (!r.getContainerdAddress().isEmpty() && !r.getContainerdAddress().equals(containerdAddress)) {
                return Optional.empty();
            }
            if (!r.getTtrpcAddress().isEmpty() && !r.getTtrpcAddress().equals(ttrpcAddress)) {
                return Optional.empty();
            }
            return Optional.of(r);
        } catch (IOException | StatusException e) {
            return Optional.empty();
        }
    }

    /** Asks the daemon on {@code socket} to forget a task, releasing everything it holds. */
    static CleanupTaskResponse cleanupTask(Path socket, String namespace, String id, String bundle)
            throws IOException, StatusException {
        try (TtrpcClient c = TtrpcClient.connect(socket)) {
            return c.call(SERVICE, "CleanupTask", CleanupTaskRequest.newBuilder().setNamespace(namespace).setId(id)
                    .setBundle(bundle).build(), CleanupTaskResponse.parser(), CLEANUP_TIMEOUT);
        }
    }
}
