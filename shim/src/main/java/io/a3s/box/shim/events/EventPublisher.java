package io.a3s.box.shim.events;

import com.google.protobuf.Empty;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import io.a3s.box.containerd.events.ttrpc.Envelope;
import io.a3s.box.containerd.events.ttrpc.ForwardRequest;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.Metadata;
import io.a3s.box.ttrpc.StatusException;
import io.a3s.box.ttrpc.TtrpcClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Publishes task events to containerd with ttrpc {@code containerd.services.events.ttrpc.v1.Events/Forward}
 * on {@code $TTRPC_ADDRESS}, as containerd's own shims do.
 *
 * <p>Events go through a bounded queue to one publisher (virtual) thread, in order. Each event is tried up
 * to {@link #MAX_ATTEMPTS} times with a linear back-off and a fresh connection after a failure, because
 * containerd may be restarting while the shim keeps running. {@link #publish} blocks only while the queue
 * is full (up to {@link #ENQUEUE_TIMEOUT}), which is back-pressure, never a hang.
 *
 * <p>Lifecycle: {@link #start}, {@link #shutdown} (publish what is queued, then stop), {@link #shutdownNow},
 * {@link #awaitTermination}, {@link #close}.
 */
public final class EventPublisher implements EventBus, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EventPublisher.class);

    public static final String SERVICE = "containerd.services.events.ttrpc.v1.Events";
    /** containerd's metadata key for the namespace of a ttrpc call. */
    public static final String NAMESPACE_KEY = "containerd-namespace-ttrpc";
    public static final int QUEUE_CAPACITY = 128;
    public static final int MAX_ATTEMPTS = 5;
    public static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);
    public static final Duration ENQUEUE_TIMEOUT = Duration.ofSeconds(30);
    static final Duration BACKOFF_STEP = Duration.ofMillis(200);

    private record Queued(String namespace, String topic, Message event, Instant timestamp) {
    }

    private static final Queued POISON = new Queued("", "", Empty.getDefaultInstance(), Instant.EPOCH);

    private final Path address;
    private final Clock clock;
    private final BlockingQueue<Queued> queue = new ArrayBlockingQueue<>(QUEUE_CAPACITY);
    private final CountDownLatch terminated = new CountDownLatch(1);
    private volatile boolean shutdown;
    private volatile Thread worker;
    private TtrpcClient client; // only touched by the worker

    public EventPublisher(Path ttrpcAddress) {
        this(ttrpcAddress, Clock.systemUTC());
    }

    EventPublisher(Path ttrpcAddress, Clock clock) {
        this.address = Objects.requireNonNull(ttrpcAddress);
        this.clock = clock;
    }

    /** {@code $TTRPC_ADDRESS} is a plain path; a {@code unix://} prefix is tolerated. */
    public static Path parseAddress(String ttrpcAddress) {
        String a = ttrpcAddress.startsWith("unix://") ? ttrpcAddress.substring("unix://".length()) : ttrpcAddress;
        return Path.of(a);
    }

    public EventPublisher start() {
        worker = Thread.ofVirtual().name("event-publisher").start(this::run);
        return this;
    }

    @Override
    public void publish(String namespace, Message event) {
        publish(namespace, Topics.of(event), event);
    }

    /** Queues an event under an explicit topic, stamped now. */
    public void publish(String namespace, String topic, Message event) {
        if (shutdown) {
            log.warn("event {} dropped: publisher shut down", topic);
            return;
        }
        Queued q = new Queued(namespace, topic, event, clock.instant());
        try {
            if (!queue.offer(q, ENQUEUE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                log.error("event {} dropped: queue full for {} (containerd unreachable at {}?)", topic,
                        ENQUEUE_TIMEOUT, address);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            log.error("event {} dropped: interrupted while queueing", topic);
        }
    }

    private void run() {
        try {
            while (true) {
                Queued q = queue.take();
                if (q == POISON) {
                    return;
                }
                forward(q);
            }
        } catch (InterruptedException e) {
            // shutdownNow
        } finally {
            if (client != null) {
                client.close();
            }
            terminated.countDown();
        }
    }

    private void forward(Queued q) throws InterruptedException {
        ForwardRequest request = ForwardRequest.newBuilder().setEnvelope(Envelope.newBuilder()
                .setTimestamp(Timestamp.newBuilder().setSeconds(q.timestamp.getEpochSecond())
                        .setNanos(q.timestamp.getNano()))
                .setNamespace(q.namespace)
                .setTopic(q.topic)
                .setEvent(Anys.pack(q.event))).build();
        for (int attempt = 1; ; attempt++) {
            try {
                connection().call(SERVICE, "Forward", request, Empty.parser(), CALL_TIMEOUT,
                        Metadata.of(NAMESPACE_KEY, q.namespace));
                return;
            } catch (StatusException | IOException e) {
                if (e instanceof StatusException se && se.code() == Code.CANCELLED && Thread.interrupted()) {
                    throw new InterruptedException();
                }
                if (e instanceof StatusException se && !isTransient(se.code())) {
                    // containerd looked at the event and refused it: sending it again cannot help
                    log.error("event {} refused by containerd: {}", q.topic, e.getMessage());
                    return;
                }
                dropConnection();
                if (attempt >= MAX_ATTEMPTS) {
                    log.error("event {} lost after {} attempts: {}", q.topic, attempt, e.getMessage());
                    return;
                }
                log.warn("event {} not published (attempt {}/{}): {}", q.topic, attempt, MAX_ATTEMPTS,
                        e.getMessage());
                Thread.sleep(BACKOFF_STEP.multipliedBy(attempt));
            }
        }
    }

    private static boolean isTransient(Code code) {
        return code == Code.UNAVAILABLE || code == Code.DEADLINE_EXCEEDED || code == Code.CANCELLED
                || code == Code.UNKNOWN || code == Code.RESOURCE_EXHAUSTED;
    }

    private TtrpcClient connection() throws IOException {
        if (client == null || client.isClosed()) {
            client = TtrpcClient.connect(address, Metadata.empty());
        }
        return client;
    }

    private void dropConnection() {
        if (client != null) {
            client.close();
            client = null;
        }
    }

    /** Publishes what is queued, then stops. Idempotent. */
    public void shutdown() {
        if (shutdown) {
            return;
        }
        shutdown = true;
        if (worker == null) {
            terminated.countDown();
            return;
        }
        try {
            queue.put(POISON);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            shutdownNow();
        }
    }

    /** Stops at once; queued events are lost. Idempotent. */
    public void shutdownNow() {
        shutdown = true;
        Thread w = worker;
        if (w != null) {
            w.interrupt();
        } else {
            terminated.countDown();
        }
    }

    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        return terminated.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    public boolean isTerminated() {
        return terminated.getCount() == 0;
    }

    /** Orderly shutdown, waiting up to one call timeout per attempt budget, then forceful. */
    @Override
    public void close() {
        shutdown();
        try {
            if (!awaitTermination(CALL_TIMEOUT.multipliedBy(2))) {
                shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            shutdownNow();
        }
    }
}
