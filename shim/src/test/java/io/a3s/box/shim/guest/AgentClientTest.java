package io.a3s.box.shim.guest;

import io.a3s.box.guest.v1.HelloRequest;
import io.a3s.box.guest.v1.HelloResponse;
import io.a3s.box.guest.v1.WaitProcessRequest;
import io.a3s.box.guest.v1.WaitProcessResponse;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.ServiceDefinition;
import io.a3s.box.ttrpc.StatusException;
import io.a3s.box.ttrpc.TtrpcServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link AgentClient} against an in-process fake agent (a real ttrpc server on a Unix socket): how pending
 * calls end when the VM dies or the connection drops, deadlines, and the boot-time Hello loop.
 */
class AgentClientTest {
    @TempDir
    Path dir;

    private TtrpcServer server;
    private volatile int answerHelloFrom = 1;        // the n-th Hello is the first answered
    private final AtomicInteger hellos = new AtomicInteger();
    private final CountDownLatch neverAnswered = new CountDownLatch(1);

    @BeforeEach
    void startFakeAgent() throws Exception {
        ServiceDefinition agent = ServiceDefinition.builder(AgentClient.SERVICE)
                .unary("Hello", HelloRequest.parser(), (HelloRequest r, io.a3s.box.ttrpc.CallContext c) -> {
                    if (hellos.incrementAndGet() < answerHelloFrom) {
                        neverAnswered.await();       // as if still queued in the port
                    }
                    return HelloResponse.newBuilder().setProtocolVersion(AgentClient.PROTOCOL_VERSION)
                            .setAgentVersion("fake").setBootTimeNs(1_000_000).build();
                })
                .unary("WaitProcess", WaitProcessRequest.parser(), (WaitProcessRequest r, io.a3s.box.ttrpc.CallContext c) -> {
                    neverAnswered.await();
                    return WaitProcessResponse.getDefaultInstance();
                })
                .build();
        server = TtrpcServer.builder().socket(dir.resolve("agent.sock")).addService(agent).build().start();
    }

    @AfterEach
    void stop() {
        neverAnswered.countDown();
        server.shutdownNow();
    }

    private AgentClient connect(CompletableFuture<?> vmExit) throws Exception {
        AgentClient c = AgentClient.connect("vm1", dir.resolve("agent.sock"), vmExit);
        c.handshake(Instant.now().plusSeconds(10));
        return c;
    }

    private static WaitProcessRequest waitReq() {
        return WaitProcessRequest.newBuilder().setContainerId("c").build();
    }

    @Test
    void aVmExitFailsEveryPendingCallAtOnceWithUnavailable() throws Exception {
        CompletableFuture<Void> vmExit = new CompletableFuture<>();
        try (AgentClient client = connect(vmExit)) {
            CompletableFuture<WaitProcessResponse> a = client.waitProcessAsync(waitReq(), Duration.ofMinutes(5));
            CompletableFuture<WaitProcessResponse> b = client.waitProcessAsync(waitReq(), Duration.ofMinutes(5));
            Thread.sleep(100);
            assertEquals(2, client.pendingCalls());

            vmExit.complete(null);

            for (CompletableFuture<WaitProcessResponse> f : java.util.List.of(a, b)) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(1, TimeUnit.SECONDS));
                StatusException se = assertInstanceOf(StatusException.class, e.getCause());
                assertEquals(Code.UNAVAILABLE, se.code());
                assertEquals("vm vm1 exited", se.status().description());
            }
            assertEquals(0, client.pendingCalls());
            assertFalse(client.isAvailable());
            StatusException later = assertThrows(StatusException.class,
                    () -> client.waitProcess(waitReq(), Duration.ofSeconds(1)));
            assertEquals("vm vm1 exited", later.status().description());
        }
    }

    @Test
    void aDroppedConnectionFailsPendingCallsNamingTheAgent() throws Exception {
        try (AgentClient client = connect(new CompletableFuture<>())) {
            CompletableFuture<WaitProcessResponse> a = client.waitProcessAsync(waitReq(), Duration.ofMinutes(5));
            Thread.sleep(100);
            long t0 = System.nanoTime();
            server.shutdownNow();
            ExecutionException e = assertThrows(ExecutionException.class, () -> a.get(2, TimeUnit.SECONDS));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            StatusException se = assertInstanceOf(StatusException.class, e.getCause());
            assertEquals(Code.UNAVAILABLE, se.code());
            assertEquals("vm vm1: connection to the agent lost", se.status().description());
            assertTrue(ms < 2000, "failed after " + ms + " ms");
        }
    }

    @Test
    void everyCallHasADeadline() throws Exception {
        try (AgentClient client = connect(null)) {
            StatusException none = assertThrows(StatusException.class, () -> client.waitProcess(waitReq(), null));
            assertEquals(Code.INVALID_ARGUMENT, none.code());
            StatusException late = assertThrows(StatusException.class,
                    () -> client.waitProcess(waitReq(), Duration.ofMillis(200)));
            assertEquals(Code.DEADLINE_EXCEEDED, late.code());
            assertTrue(client.isAvailable(), "a deadline does not break the connection");
        }
    }

    // Resending Hello with fresh random stream ids is exercised against the real agent (every VM boot in
    // QemuVmLifecycleTest sends several): this fake is a standard ttrpc server, which, like Go's, refuses a
    // stream id lower than one it has seen.

    @Test
    void theHandshakeGivesUpAtTheDeadlineOrWhenTheVmDies() throws Exception {
        answerHelloFrom = Integer.MAX_VALUE;
        try (AgentClient client = AgentClient.connect("vm1", dir.resolve("agent.sock"), null)) {
            StatusException late = assertThrows(StatusException.class,
                    () -> client.handshake(Instant.now().plusMillis(200)));
            assertEquals(Code.DEADLINE_EXCEEDED, late.code());
        }
        CompletableFuture<Void> vmExit = new CompletableFuture<>();
        try (AgentClient client = AgentClient.connect("vm1", dir.resolve("agent.sock"), vmExit)) {
            CompletableFuture.delayedExecutor(100, TimeUnit.MILLISECONDS).execute(() -> vmExit.complete(null));
            StatusException dead = assertThrows(StatusException.class,
                    () -> client.handshake(Instant.now().plusSeconds(20)));
            assertEquals(Code.UNAVAILABLE, dead.code());
            assertEquals("vm vm1 exited", dead.status().description());
        }
    }

    @Test
    void noCallBeforeTheHandshake() throws Exception {
        try (AgentClient client = AgentClient.connect("vm1", dir.resolve("agent.sock"), null)) {
            StatusException e = assertThrows(StatusException.class,
                    () -> client.waitProcess(waitReq(), Duration.ofSeconds(1)));
            assertEquals(Code.FAILED_PRECONDITION, e.code());
        }
    }
}
