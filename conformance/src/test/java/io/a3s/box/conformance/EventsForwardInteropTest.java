package io.a3s.box.conformance;

import com.google.protobuf.Timestamp;
import io.a3s.box.containerd.events.TaskExit;
import io.a3s.box.shim.events.EventPublisher;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ttrpc-java against a real peer: our client forwards a {@code containerd.events.TaskExit} envelope to a
 * private containerd's ttrpc socket, exactly as a shim publishes, and the event must come out of containerd
 * ({@code ctr events}) decoded. That only happens if the framing, the Request envelope, the namespace
 * metadata, the Envelope fields and the prefix-less Any type URL are all byte-compatible with containerd.
 */
@Timeout(120)
class EventsForwardInteropTest {
    static PrivateContainerd containerd;

    @BeforeAll
    static void start() throws Exception {
        containerd = PrivateContainerd.start(List.of());
    }

    @AfterAll
    static void stop() throws Exception {
        if (containerd != null) {
            containerd.close();
        }
    }

    @Test
    void taskExitForwardedOverTtrpcComesOutOfContainerd() throws Exception {
        PrivateContainerd.Events events = containerd.events();
        try (EventPublisher publisher = new EventPublisher(containerd.ttrpcSocket()).start()) {
            publisher.publish("a3s-interop", TaskExit.newBuilder().setContainerId("interop-0").setId("interop-0")
                    .setPid(4242).setExitStatus(7).setExitedAt(Timestamp.newBuilder().setSeconds(1_700_000_000))
                    .build());
            String found = events.await(Duration.ofSeconds(30), "/tasks/exit");
            assertNotNull(found, "no /tasks/exit event came out of containerd; its log:\n" + containerd.log());
            System.out.println("ctr events: " + found);
            // containerd decoded the Any (so the type URL resolved) and kept our namespace and fields
            assertTrue(found.contains("a3s-interop"), found);
            assertTrue(found.contains("interop-"), found);
            assertTrue(found.contains("4242"), found);
            assertTrue(found.contains("\"exit_status\":7") || found.contains("\"exitStatus\":7")
                    || found.contains("exit_status:7"), found);
        } finally {
            events.close();
        }
    }

    @Test
    void anEnvelopeContainerdRefusesIsDroppedAtOnceNotRetried() throws Exception {
        // An empty namespace fails containerd's envelope validation with INVALID_ARGUMENT: the publisher
        // must report it and move on, not retry it five times nor hang.
        EventPublisher bad = new EventPublisher(containerd.ttrpcSocket()).start();
        long t0 = System.nanoTime();
        bad.publish("", TaskExit.newBuilder().setContainerId("x").setId("x").build());
        bad.shutdown();
        assertTrue(bad.awaitTermination(Duration.ofSeconds(10)));
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(2), "no retry back-off for a refusal");
    }
}
