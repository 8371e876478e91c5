package io.a3s.box.ttrpc;

import com.google.protobuf.StringValue;
import io.a3s.box.ttrpc.wire.FrameDecoder;
import io.a3s.box.ttrpc.wire.FrameHeader;
import io.a3s.box.ttrpc.wire.MessageType;
import io.a3s.box.ttrpc.wire.proto.Request;
import io.a3s.box.ttrpc.wire.proto.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The session handshake over a channel holding stale bytes (a VM serial port after another host's
 * session): the client discards everything before the answer to one of its handshake attempts.
 */
@Timeout(30)
class HandshakeTest {
    @TempDir
    Path dir;

    /** A peer that first writes leftovers of an old session, ignores the first handshake attempt, answers the second. */
    final class StalePeer implements AutoCloseable {
        final ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        final List<Integer> requestIds = new CopyOnWriteArrayList<>();
        final Thread thread;

        StalePeer(Path sock, int ignoreFirst) throws Exception {
            server.bind(UnixDomainSocketAddress.of(sock));
            thread = Thread.ofVirtual().start(() -> {
                try (SocketChannel ch = server.accept()) {
                    // leftovers: half a frame, then a whole response for stream 1 an old client used
                    ch.write(ByteBuffer.wrap(new byte[]{0, 0, 0, 50, 0, 0, 0, 7, 2, 0, 1, 2, 3}));
                    ch.write(frame(1, Response.newBuilder().setPayload(
                            StringValue.of("stale").toByteString()).build().toByteArray()));
                    FrameDecoder d = new FrameDecoder();
                    ByteBuffer buf = ByteBuffer.allocate(4096);
                    int[] seen = {0};
                    while (ch.read(buf.clear()) > 0) {
                        d.feed(buf.flip(), new FrameDecoder.Listener() {
                            @Override
                            public void onFrame(FrameHeader h, byte[] payload) {
                                requestIds.add(h.streamId());
                                if (seen[0]++ < ignoreFirst) {
                                    return; // "still booting"
                                }
                                try {
                                    String method = Request.parseFrom(payload).getMethod();
                                    ch.write(frame(h.streamId(), Response.newBuilder().setPayload(
                                            StringValue.of(method + "@" + h.streamId()).toByteString()).build()
                                            .toByteArray()));
                                } catch (Exception e) {
                                    throw new RuntimeException(e);
                                }
                            }

                            @Override
                            public void onOversized(FrameHeader h) {
                            }
                        });
                    }
                } catch (Exception ignored) {
                    // test over
                }
            });
        }

        @Override
        public void close() throws Exception {
            server.close();
        }
    }

    static ByteBuffer frame(int stream, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(FrameHeader.SIZE + payload.length);
        b.putInt(payload.length).putInt(stream).put(MessageType.RESPONSE).put((byte) 0).put(payload);
        return b.flip();
    }

    @Test
    void staleBytesAreSkippedAndLaterCallsUseHigherIds() throws Exception {
        Path sock = dir.resolve("serial.sock");
        try (StalePeer peer = new StalePeer(sock, 1);
             TtrpcClient c = TtrpcClient.connectForHandshake(sock, Metadata.empty())) {
            StringValue hello = c.handshake("svc", "Hello", StringValue.of("hi"), StringValue.parser(),
                    Duration.ofMillis(100), Instant.now().plusSeconds(10));
            assertTrue(hello.getValue().startsWith("Hello@"), hello.getValue());
            assertTrue(peer.requestIds.size() >= 2, "resent after the first attempt was ignored");
            int answered = Integer.parseInt(hello.getValue().substring("Hello@".length()));
            List<Integer> tried = new ArrayList<>(peer.requestIds);
            assertTrue(tried.stream().allMatch(id -> id % 2 == 1 && id < (1 << 30)), tried.toString());
            StringValue next = c.call("svc", "Next", StringValue.of("x"), StringValue.parser(), Duration.ofSeconds(5));
            int nextId = Integer.parseInt(next.getValue().substring("Next@".length()));
            assertTrue(nextId > tried.stream().mapToInt(Integer::intValue).max().orElseThrow(),
                    "ids after the handshake exceed every attempt: " + nextId + " vs " + tried);
            assertEquals(1, nextId % 2);
            assertTrue(tried.contains(answered));
        }
    }

    @Test
    void noAnswerIsDeadlineExceeded() throws Exception {
        Path sock = dir.resolve("silent.sock");
        try (StalePeer peer = new StalePeer(sock, Integer.MAX_VALUE);
             TtrpcClient c = TtrpcClient.connectForHandshake(sock, Metadata.empty())) {
            StatusException e = assertThrows(StatusException.class, () -> c.handshake("svc", "Hello",
                    StringValue.of("hi"), StringValue.parser(), Duration.ofMillis(50), Instant.now().plusMillis(400)));
            assertEquals(Code.DEADLINE_EXCEEDED, e.code());
            assertEquals(0, c.pendingCalls(), "abandoned attempts are not left pending");
        }
    }
}
