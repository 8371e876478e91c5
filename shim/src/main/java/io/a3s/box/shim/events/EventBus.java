package io.a3s.box.shim.events;

import com.google.protobuf.Message;

/**
 * Where a daemon's task events go: one bus per containerd, events of every namespace. Implementations
 * never block the caller for long: RPC handlers publish from their own threads.
 */
@FunctionalInterface
public interface EventBus {
    /** Queues a task event of {@code namespace} (its topic follows from its type, see {@link Topics#of}). */
    void publish(String namespace, Message event);

    /** The sink of one namespace. */
    default EventSink forNamespace(String namespace) {
        return event -> publish(namespace, event);
    }
}
