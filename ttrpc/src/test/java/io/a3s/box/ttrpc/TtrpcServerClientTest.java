package io.a3s.box.ttrpc;

import com.google.protobuf.Empty;
import com.google.protobuf.Int64Value;
import com.google.protobuf.StringValue;
import io.a3s.box.ttrpc.wire.FrameHeader;
import io.a3s.box.ttrpc.wire.MessageType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class TtrpcServerClientTest {
    static final String SVC = "test.v1.Echo";

    @TempDir
    Path dir;
    Path socket;
    TtrpcServer server;
    final CountDownLatch release = new CountDownLatch(1);
    final AtomicReference<CallContext> lastContext = new AtomicReference<>();
    final ConcurrentLinkedQueue<Long> completionOrder = new ConcurrentLinkedQueue<>();

    @BeforeEach
    void startServer() throws Exception {
        socket = dir.resolve("ttrpc.sock");
        server = TtrpcServer.builder().socket(socket).requireSameUser(true).addService(echoService()).build().start();
    }

    @AfterEach
    void stopServer() {
        server.close();
    }

    ServiceDefinition echoService() {
        return ServiceDefinition.builder(SVC)
                .unary("Echo", StringValue.parser(), (req, ctx) -> {
                    lastContext.set(ctx);
                    return req;
                })
                .unary("Empty", Empty.parser(), (req, ctx) -> Empty.getDefaultInstance())
                .unary("Block", Empty.parser(), (req, ctx) -> {
                    release.await();
                    return Empty.getDefaultInstance();
                })
                // sleeps for the given number of ms, then reports completion: calls finish out of order
                .unary("Sleep", Int64Value.parser(), (req, ctx) -> {
                    Thread.sleep(req.getValue());
                    completionOrder.add(req.getValue());
                    return req;
                })
                .unary("Fail", StringValue.parser(), (req, ctx) -> {
                    throw Code.valueOf(req.getValue()).toException("asked to fail with %s", req.getValue());
                })
                .unary("Crash", Empty.parser(), (req, ctx) -> {
                    throw new IllegalStateException("handler bug");
                })
                .unary("Big", Int64Value.parser(), (req, ctx) ->
                        StringValue.of("x".repeat((int) req.getValue())))
                .build();
    }

    TtrpcClient client() throws Exception {
        return TtrpcClient.connect(socket);
    }

    @Test
    void unaryRoundTrip() throws Exception {
        try (TtrpcClient c = client()) {
            StringValue r = c.call(SVC, "Echo", StringValue.of("hi"), StringValue.parser(), Duration.ofSeconds(5));
            assertEquals("hi", r.getValue());
        }
    }

    @Test
    void emptyRequestAndResponse() throws Exception {
        try (TtrpcClient c = client()) {
            assertEquals(Empty.getDefaultInstance(),
                    c.call(SVC, "Empty", Empty.getDefaultInstance(), Empty.parser(), Duration.ofSeconds(5)));
        }
    }

    @Test
    void metadataAndDeadlineReachTheHandler() throws Exception {
        try (TtrpcClient c = TtrpcClient.connect(socket, Metadata.of("containerd-namespace-ttrpc", "default"))) {
            c.call(SVC, "Echo", StringValue.of("x"), StringValue.parser(), Duration.ofSeconds(30),
                    Metadata.of("X-Trace", "abc").with("x-trace", "def"));
            CallContext ctx = lastContext.get();
            assertEquals("default", ctx.metadata().get("containerd-namespace-ttrpc"));
            assertEquals(List.of("abc", "def"), ctx.metadata().getAll("x-trace"));
            Duration left = ctx.remaining().orElseThrow();
            assertTrue(left.compareTo(Duration.ofSeconds(25)) > 0 && left.compareTo(Duration.ofSeconds(30)) <= 0,
                    "remaining " + left);
            assertEquals(SVC, ctx.service());
            assertEquals("Echo", ctx.method());
            assertTrue(ctx.peer().isPresent());
        }
    }

    @Test
    void noTimeoutMeansNoDeadline() throws Exception {
        try (TtrpcClient c = client()) {
            c.call(SVC, "Echo", StringValue.of("x"), StringValue.parser(), null);
            assertTrue(lastContext.get().remaining().isEmpty());
        }
    }

    @Test
    void connectionCountFollowsClientsComingAndGoing() throws Exception {
        // the shim daemon does not exit idle while containerd holds a connection (it connects before its Create)
        assertEquals(0, server.connectionCount());
        TtrpcClient c = client();
        c.call(SVC, "Empty", Empty.getDefaultInstance(), Empty.parser(), Duration.ofSeconds(5));
        assertEquals(1, server.connectionCount());
        c.close();
        long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (server.connectionCount() != 0 && System.nanoTime() < until) {
            Thread.sleep(10);
        }
        assertEquals(0, server.connectionCount());
    }

    @Test
    void aNegativeTimeoutIsADeadlineAlreadyPassed() throws Exception {
        // Go's client sends time.Until(deadline), which is negative once the deadline passed; ttrpc then hands
        // the handler an expired context (timeout != 0), where "no deadline" would let a Wait block for ever
        try (RawConnection raw = new RawConnection(socket)) {
            raw.sendRequest(1, (byte) 0, io.a3s.box.ttrpc.wire.proto.Request.newBuilder().setService(SVC).setMethod("Echo")
                    .setPayload(StringValue.of("late").toByteString()).setTimeoutNano(-5_000_000).build());
            raw.readResponse();
            assertEquals(Duration.ZERO, lastContext.get().remaining().orElseThrow());
            assertTrue(lastContext.get().isCancelled());
        }
    }

    @Test
    void aUnaryMethodRunsWhateverTheFlagsAndAnUnknownFrameTypeIsIgnored() throws Exception {
        // as ttrpc's serviceSet.handle (flags are not looked at for a unary method) and its server loop, which
        // ignores message types it does not know "for future compat"
        try (RawConnection raw = new RawConnection(socket)) {
            raw.sendFrame(2, 1, (byte) 0x7f, (byte) 0, "zz".getBytes());
            raw.sendRequest(3, MessageType.FLAG_REMOTE_OPEN, io.a3s.box.ttrpc.wire.proto.Request.newBuilder().setService(SVC)
                    .setMethod("Echo").setPayload(StringValue.of("flagged").toByteString()).build());
            RawConnection.Answer a = raw.readResponse();
            assertEquals(3, a.stream());
            assertEquals(Code.OK, a.code());
            assertEquals("flagged", StringValue.parseFrom(a.response().getPayload()).getValue());
        }
    }

    @Test
    void unknownServiceAndMethodAreUnimplemented() throws Exception {
        try (TtrpcClient c = client()) {
            StatusException s = assertThrows(StatusException.class, () ->
                    c.call("no.such.Service", "X", Empty.getDefaultInstance(), Empty.parser(), Duration.ofSeconds(5)));
            assertEquals(Code.UNIMPLEMENTED, s.code());
            assertEquals("service no.such.Service", s.status().description());
            StatusException m = assertThrows(StatusException.class, () ->
                    c.call(SVC, "Nope", Empty.getDefaultInstance(), Empty.parser(), Duration.ofSeconds(5)));
            assertEquals(Code.UNIMPLEMENTED, m.code());
            assertEquals("method Nope", m.status().description());
        }
    }

    @Test
    void everyStatusCodeCrossesTheWireUnchanged() throws Exception {
        try (TtrpcClient c = client()) {
            for (Code code : Code.values()) {
                if (code == Code.OK) {
                    continue;
                }
                StatusException e = assertThrows(StatusException.class, () ->
                        c.call(SVC, "Fail", StringValue.of(code.name()), StringValue.parser(), Duration.ofSeconds(5)));
                assertEquals(code, e.code());
                assertEquals("asked to fail with " + code.name(), e.status().description());
            }
        }
    }

    @Test
    void handlerBugIsUnknownAndServerGoesOn() throws Exception {
        try (TtrpcClient c = client()) {
            StatusException e = assertThrows(StatusException.class, () ->
                    c.call(SVC, "Crash", Empty.getDefaultInstance(), Empty.parser(), Duration.ofSeconds(5)));
            assertEquals(Code.UNKNOWN, e.code());
            assertEquals("handler bug", e.status().description());
            assertEquals("ok", c.call(SVC, "Echo", StringValue.of("ok"), StringValue.parser(), Duration.ofSeconds(5))
                    .getValue());
        }
    }

    @Test
    void thousandConcurrentCallsOnOneConnectionCompleteOutOfOrder() throws Exception {
        try (TtrpcClient c = client()) {
            List<CompletableFuture<Int64Value>> calls = new ArrayList<>();
            // later calls sleep less, so they answer first
            for (int i = 0; i < 1000; i++) {
                long ms = 1000 - i;
                calls.add(c.callAsync(SVC, "Sleep", Int64Value.of(ms), Int64Value.parser(), Duration.ofSeconds(30),
                        Metadata.empty()));
            }
            for (int i = 0; i < 1000; i++) {
                assertEquals(1000 - i, calls.get(i).get(30, TimeUnit.SECONDS).getValue());
            }
            List<Long> order = new ArrayList<>(completionOrder);
            assertEquals(1000, order.size());
            List<Long> sorted = new ArrayList<>(order);
            Collections.sort(sorted);
            assertNotEquals(order, reversed(sorted), "sanity");
            // the shortest sleeps (issued last) completed before the longest (issued first)
            assertTrue(order.indexOf(1L) < order.indexOf(1000L));
        }
    }

    @Test
    void callersOnManyThreadsSendStreamIdsInOrder() throws Exception {
        // Our server, like ttrpc 1.2's, refuses a stream id that does not increase: a client that took ids
        // before its write lock would interleave them and fail here.
        try (TtrpcClient c = client()) {
            List<Thread> threads = new ArrayList<>();
            ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
            for (int t = 0; t < 32; t++) {
                threads.add(Thread.ofVirtual().start(() -> {
                    for (int i = 0; i < 200; i++) {
                        try {
                            c.call(SVC, "Echo", StringValue.of("m"), StringValue.parser(), Duration.ofSeconds(10));
                        } catch (StatusException e) {
                            errors.add(e);
                        }
                    }
                }));
            }
            for (Thread t : threads) {
                t.join();
            }
            assertTrue(errors.isEmpty(), () -> "failed calls: " + errors.peek());
        }
    }

    @Test
    void aBlockedCallNeverDelaysAnother() throws Exception {
        try (TtrpcClient c = client()) {
            CompletableFuture<Empty> blocked = c.callAsync(SVC, "Block", Empty.getDefaultInstance(), Empty.parser(),
                    null, Metadata.empty());
            for (int i = 0; i < 50; i++) {
                c.call(SVC, "Echo", StringValue.of("i" + i), StringValue.parser(), Duration.ofSeconds(5));
            }
            assertFalse(blocked.isDone());
            release.countDown();
            blocked.get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void deadlineExpiresLocallyAndLateAnswerIsDropped() throws Exception {
        try (TtrpcClient c = client()) {
            long t0 = System.nanoTime();
            StatusException e = assertThrows(StatusException.class, () ->
                    c.call(SVC, "Sleep", Int64Value.of(1500), Int64Value.parser(), Duration.ofMillis(200)));
            assertEquals(Code.DEADLINE_EXCEEDED, e.code());
            assertTrue(System.nanoTime() - t0 < TimeUnit.MILLISECONDS.toNanos(1400));
            assertEquals(0, c.pendingCalls());
            Thread.sleep(1600); // the server's late answer arrives and must be ignored
            assertEquals("still", c.call(SVC, "Echo", StringValue.of("still"), StringValue.parser(),
                    Duration.ofSeconds(5)).getValue());
        }
    }

    @Test
    void droppedConnectionFailsEveryPendingCallAtOnce() throws Exception {
        TtrpcClient c = client();
        List<CompletableFuture<Empty>> calls = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            calls.add(c.callAsync(SVC, "Block", Empty.getDefaultInstance(), Empty.parser(), null, Metadata.empty()));
        }
        while (c.pendingCalls() < 10) {
            Thread.sleep(5);
        }
        long t0 = System.nanoTime();
        server.shutdownNow(); // the server end goes away
        c.closeFuture().get(5, TimeUnit.SECONDS);
        for (CompletableFuture<Empty> f : calls) {
            StatusException e = assertThrows(StatusException.class, () -> TtrpcClient.await(f));
            assertEquals(Code.UNAVAILABLE, e.code());
        }
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(2));
        StatusException after = assertThrows(StatusException.class, () ->
                c.call(SVC, "Echo", StringValue.of("x"), StringValue.parser(), Duration.ofSeconds(1)));
        assertEquals(Code.UNAVAILABLE, after.code());
    }

    @Test
    void oversizedFrameIsAnsweredAndConnectionKeepsWorking() throws Exception {
        try (RawConnection raw = new RawConnection(socket)) {
            int big = FrameHeader.MAX_PAYLOAD + 10;
            raw.sendFrame(big, 1, MessageType.REQUEST, (byte) 0, new byte[big]);
            RawConnection.Answer a = raw.readResponse();
            assertEquals(1, a.stream());
            assertEquals(Code.RESOURCE_EXHAUSTED, a.code());
            raw.sendRequest(3, SVC, "Echo", StringValue.of("after").toByteArray());
            RawConnection.Answer b = raw.readResponse();
            assertEquals(3, b.stream());
            assertEquals(Code.OK, b.code());
            assertEquals("after", StringValue.parseFrom(b.response().getPayload()).getValue());
        }
    }

    @Test
    void clientRefusesToSendAnOversizedRequest() throws Exception {
        try (TtrpcClient c = client()) {
            StatusException e = assertThrows(StatusException.class, () -> c.call(SVC, "Echo",
                    StringValue.of("y".repeat(FrameHeader.MAX_PAYLOAD)), StringValue.parser(), Duration.ofSeconds(5)));
            assertEquals(Code.RESOURCE_EXHAUSTED, e.code());
            assertFalse(c.isClosed());
        }
    }

    @Test
    void oversizedResponseBecomesResourceExhausted() throws Exception {
        try (TtrpcClient c = client()) {
            StatusException e = assertThrows(StatusException.class, () -> c.call(SVC, "Big",
                    Int64Value.of(FrameHeader.MAX_PAYLOAD + 1), StringValue.parser(), Duration.ofSeconds(10)));
            assertEquals(Code.RESOURCE_EXHAUSTED, e.code());
            assertEquals(100, c.call(SVC, "Big", Int64Value.of(100), StringValue.parser(), Duration.ofSeconds(5))
                    .getValue().length());
        }
    }

    @Test
    void garbageClosesOnlyThatConnection() throws Exception {
        try (TtrpcClient good = client(); RawConnection bad = new RawConnection(socket)) {
            bad.sendBytes("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes());
            assertTrue(bad.closedByPeer());
            assertEquals("fine", good.call(SVC, "Echo", StringValue.of("fine"), StringValue.parser(),
                    Duration.ofSeconds(5)).getValue());
            try (TtrpcClient fresh = client()) {
                assertEquals("new", fresh.call(SVC, "Echo", StringValue.of("new"), StringValue.parser(),
                        Duration.ofSeconds(5)).getValue());
            }
        }
    }

    @Test
    void undecodableRequestIsInvalidArgument() throws Exception {
        try (RawConnection raw = new RawConnection(socket)) {
            byte[] junk = {(byte) 0xff, (byte) 0xff, (byte) 0xff};
            raw.sendFrame(junk.length, 1, MessageType.REQUEST, (byte) 0, junk);
            assertEquals(Code.INVALID_ARGUMENT, raw.readResponse().code());
            // an undecodable request *payload* for a known method
            raw.sendRequest(3, SVC, "Echo", junk);
            assertEquals(Code.INVALID_ARGUMENT, raw.readResponse().code());
            raw.sendRequest(5, SVC, "Echo", StringValue.of("ok").toByteArray());
            assertEquals(Code.OK, raw.readResponse().code());
        }
    }

    @Test
    void streamIdsMustBeOddAndIncreasing() throws Exception {
        try (RawConnection raw = new RawConnection(socket)) {
            raw.sendRequest(2, SVC, "Echo", StringValue.of("even").toByteArray());
            assertEquals(Code.INVALID_ARGUMENT, raw.readResponse().code());
            raw.sendRequest(5, SVC, "Echo", StringValue.of("a").toByteArray());
            assertEquals(Code.OK, raw.readResponse().code());
            raw.sendRequest(3, SVC, "Echo", StringValue.of("reused").toByteArray());
            assertEquals(Code.INVALID_ARGUMENT, raw.readResponse().code());
        }
    }

    @Test
    void shutdownLetsInFlightCallsFinishAndRefusesNewOnes() throws Exception {
        TtrpcClient c = client();
        CompletableFuture<Empty> inFlight = c.callAsync(SVC, "Block", Empty.getDefaultInstance(), Empty.parser(),
                null, Metadata.empty());
        while (c.pendingCalls() < 1) {
            Thread.sleep(5);
        }
        Thread.sleep(100); // let the server dispatch it
        server.shutdown();
        assertTrue(server.isShutdown());
        assertFalse(Files.exists(socket), "socket file removed");
        StatusException refused = assertThrows(StatusException.class, () ->
                c.call(SVC, "Echo", StringValue.of("late"), StringValue.parser(), Duration.ofSeconds(5)));
        assertEquals(Code.UNAVAILABLE, refused.code());
        assertFalse(server.awaitTermination(Duration.ofMillis(200)), "still serving the in-flight call");
        release.countDown();
        inFlight.get(5, TimeUnit.SECONDS);
        assertTrue(server.awaitTermination(Duration.ofSeconds(5)));
        assertTrue(server.isTerminated());
        c.closeFuture().get(5, TimeUnit.SECONDS);
    }

    @Test
    void shutdownNowClosesEverythingAndIsIdempotent() throws Exception {
        TtrpcClient c = client();
        CompletableFuture<Empty> inFlight = c.callAsync(SVC, "Block", Empty.getDefaultInstance(), Empty.parser(),
                null, Metadata.empty());
        while (c.pendingCalls() < 1) {
            Thread.sleep(5);
        }
        server.shutdownNow().shutdownNow().shutdown();
        assertTrue(server.awaitTermination(Duration.ofSeconds(5)));
        assertEquals(Code.UNAVAILABLE, assertThrows(StatusException.class, () -> TtrpcClient.await(inFlight)).code());
        server.close();
    }

    @Test
    void manyConnectionsAreServed() throws Exception {
        List<TtrpcClient> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 50; i++) {
                clients.add(client());
            }
            for (int i = 0; i < clients.size(); i++) {
                assertEquals("c" + i, clients.get(i).call(SVC, "Echo", StringValue.of("c" + i), StringValue.parser(),
                        Duration.ofSeconds(5)).getValue());
            }
        } finally {
            clients.forEach(TtrpcClient::close);
        }
    }

    @Test
    void bindingATakenPathFailsClearly() {
        TtrpcServer second = TtrpcServer.builder().socket(socket).addService(echoService()).build();
        var e = assertThrows(java.io.IOException.class, second::start);
        assertTrue(e.getMessage().contains(socket.toString()), e.getMessage());
    }

    private static <T> List<T> reversed(List<T> l) {
        List<T> r = new ArrayList<>(l);
        Collections.reverse(r);
        return r;
    }
}
