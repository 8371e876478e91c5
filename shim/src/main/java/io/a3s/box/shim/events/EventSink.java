package io.a3s.box.shim.events;

import com.google.protobuf.Message;

/**
 * Where task events go. One method, so that tests can collect events in a queue instead of a containerd.
 * Implementations never block the caller for long: RPC handlers publish from their own threads.
 */
@FunctionalInterface
public interface EventSink {
    /** Queues a task event (its topic follows from its type, see {@link Topics#of}). */
    void publish(Message event);
}
