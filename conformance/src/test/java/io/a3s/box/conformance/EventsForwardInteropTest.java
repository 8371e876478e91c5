package io.a3s.box.conformance;

import com.google.protobuf.Timestamp;
import io.a3s.box.containerd.events.TaskExit;
import io.a3s.box.shim.events.EventPublisher;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
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
        Process events = containerd.startCtr("events");
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(events.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    lines.add(l);
                }
            } catch (java.io.IOException ignored) {
                // ctr killed at the end of the test
            }
        });
        try (EventPublisher publisher = new EventPublisher(containerd.ttrpcSocket()).start()) {
            // ctr events subscribes asynchronously: publish until the subscription sees one
            String found = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            int sent = 0;
            while (found == null && System.nanoTime() < deadline) {
                publisher.publish("a3s-interop", TaskExit.newBuilder().setContainerId("interop-" + sent).setId("interop-" + sent)
                        .setPid(4242).setExitStatus(7)
                        .setExitedAt(Timestamp.newBuilder().setSeconds(1_700_000_000)).build());
                sent++;
                String line = lines.poll(1, TimeUnit.SECONDS);
                while (line != null && found == null) {
                    if (line.contains("/tasks/exit")) {
                        found = line;
                    }
                    line = lines.poll(100, TimeUnit.MILLISECONDS);
                }
            }
            assertNotNull(found, "no /tasks/exit event came out of containerd; its log:\n" + containerd.log());
            System.out.println("ctr events: " + found);
            // containerd decoded the Any (so the type URL resolved) and kept our namespace and fields
            assertTrue(found.contains("a3s-interop"), found);
            assertTrue(found.contains("interop-"), found);
            assertTrue(found.contains("4242"), found);
            assertTrue(found.contains("\"exit_status\":7") || found.contains("\"exitStatus\":7")
                    || found.contains("exit_status:7"), found);
        } finally {
            events.destroy();
            events.waitFor(5, TimeUnit.SECONDS);
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
