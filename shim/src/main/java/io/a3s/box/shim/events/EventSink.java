package io.a3s.box.shim.events;

import com.google.protobuf.Message;

/**
 * Where the events of one task go (its namespace is bound). One method, so that tests can collect events
 * in a queue instead of a containerd.
 */
@FunctionalInterface
public interface EventSink {
    /** Queues a task event (its topic follows from its type, see {@link Topics#of}). */
    void publish(Message event);
}
