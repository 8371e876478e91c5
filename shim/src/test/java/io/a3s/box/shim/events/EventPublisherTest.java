package io.a3s.box.shim.events;

import com.google.protobuf.Empty;
import io.a3s.box.containerd.events.TaskExit;
import io.a3s.box.containerd.events.TaskStart;
import io.a3s.box.containerd.events.ttrpc.ForwardRequest;
import io.a3s.box.ttrpc.ServiceDefinition;
import io.a3s.box.ttrpc.TtrpcServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class EventPublisherTest {
    @TempDir
    Path dir;

    final BlockingQueue<ForwardRequest> received = new LinkedBlockingQueue<>();
    final BlockingQueue<String> namespaces = new LinkedBlockingQueue<>();

    TtrpcServer fakeContainerd(Path socket) throws Exception {
        return TtrpcServer.builder().socket(socket).addService(ServiceDefinition.builder(EventPublisher.SERVICE)
                .unary("Forward", ForwardRequest.parser(), (req, ctx) -> {
                    received.add(req);
                    namespaces.add(ctx.metadata().get(EventPublisher.NAMESPACE_KEY));
                    return Empty.getDefaultInstance();
                }).build()).build().start();
    }

    @Test
    void forwardsEnvelopesInOrderWithPrefixLessTypeUrls() throws Exception {
        Path sock = dir.resolve("c.sock.ttrpc");
        try (TtrpcServer server = fakeContainerd(sock);
             EventPublisher pub = new EventPublisher(sock).start()) {
            pub.publish("default", TaskStart.newBuilder().setContainerId("c1").setPid(42).build());
            pub.publish("default", TaskExit.newBuilder().setContainerId("c1").setId("c1").setPid(42).setExitStatus(7).build());
            ForwardRequest first = received.poll(10, TimeUnit.SECONDS);
            ForwardRequest second = received.poll(10, TimeUnit.SECONDS);
            assertNotNull(first);
            assertNotNull(second);
            assertEquals("/tasks/start", first.getEnvelope().getTopic());
            assertEquals("containerd.events.TaskStart", first.getEnvelope().getEvent().getTypeUrl());
            assertEquals("/tasks/exit", second.getEnvelope().getTopic());
            assertEquals("containerd.events.TaskExit", second.getEnvelope().getEvent().getTypeUrl());
            assertEquals(7, TaskExit.parseFrom(second.getEnvelope().getEvent().getValue()).getExitStatus());
            assertEquals("default", second.getEnvelope().getNamespace());
            assertTrue(second.getEnvelope().getTimestamp().getSeconds() > 0, "timestamp must be non-zero");
            assertEquals("default", namespaces.take());
        }
    }

    @Test
    void retriesAndReconnectsWhileContainerdRestarts() throws Exception {
        Path sock = dir.resolve("restart.sock");
        try (EventPublisher pub = new EventPublisher(sock).start()) {
            // nobody listens yet: the first attempts fail, then containerd "comes back"
            pub.publish("default", TaskStart.newBuilder().setContainerId("late").setPid(1).build());
            Thread.sleep(EventPublisher.BACKOFF_STEP.toMillis() + 100);
            try (TtrpcServer server = fakeContainerd(sock)) {
                ForwardRequest r = received.poll(10, TimeUnit.SECONDS);
                assertNotNull(r, "event delivered after reconnect");
                assertEquals("late", TaskStart.parseFrom(r.getEnvelope().getEvent().getValue()).getContainerId());
            }
        }
    }

    @Test
    void shutdownPublishesWhatIsQueued() throws Exception {
        Path sock = dir.resolve("drain.sock");
        try (TtrpcServer server = fakeContainerd(sock)) {
            EventPublisher pub = new EventPublisher(sock).start();
            for (int i = 0; i < 20; i++) {
                pub.publish("default", TaskStart.newBuilder().setContainerId("c" + i).setPid(i).build());
            }
            pub.shutdown();
            assertTrue(pub.awaitTermination(Duration.ofSeconds(20)));
            assertEquals(20, received.size());
        }
    }

    @Test
    void anysUnpackWithOrWithoutPrefix() throws Exception {
        var any = Anys.pack(TaskExit.newBuilder().setPid(3).build());
        assertEquals(3, Anys.unpack(any, "containerd.events.TaskExit", TaskExit.parser()).getPid());
        var prefixed = any.toBuilder().setTypeUrl("type.googleapis.com/containerd.events.TaskExit").build();
        assertEquals(3, Anys.unpack(prefixed, "containerd.events.TaskExit", TaskExit.parser()).getPid());
        var e = org.junit.jupiter.api.Assertions.assertThrows(io.a3s.box.ttrpc.StatusException.class,
                () -> Anys.unpack(any, "containerd.events.TaskStart", TaskStart.parser()));
        assertEquals(io.a3s.box.ttrpc.Code.INVALID_ARGUMENT, e.code());
    }
}
