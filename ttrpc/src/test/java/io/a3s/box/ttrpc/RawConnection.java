package io.a3s.box.ttrpc;

import io.a3s.box.ttrpc.wire.FrameHeader;
import io.a3s.box.ttrpc.wire.MessageType;
import io.a3s.box.ttrpc.wire.proto.Request;
import io.a3s.box.ttrpc.wire.proto.Response;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/** A hand-driven connection for tests that send what a well-behaved client never would. */
final class RawConnection implements AutoCloseable {
    final SocketChannel ch;

    RawConnection(Path socket) throws IOException {
        ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
    }

    void sendBytes(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    void sendFrame(long declaredLength, int stream, byte type, byte flags, byte[] payload) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(FrameHeader.SIZE + payload.length);
        b.putInt((int) declaredLength).putInt(stream).put(type).put(flags).put(payload);
        sendBytes(b.array());
    }

    void sendRequest(int stream, String service, String method, byte[] payload) throws IOException {
        sendRequest(stream, (byte) 0, Request.newBuilder().setService(service).setMethod(method)
                .setPayload(com.google.protobuf.ByteString.copyFrom(payload)).build());
    }

    void sendRequest(int stream, byte flags, Request request) throws IOException {
        byte[] req = request.toByteArray();
        sendFrame(req.length, stream, MessageType.REQUEST, flags, req);
    }

    /** Reads one response frame. */
    record Answer(int stream, Response response) {
        Code code() {
            return Code.fromValue(response.getStatus().getCode());
        }
    }

    Answer readResponse() throws IOException {
        ByteBuffer h = readExactly(FrameHeader.SIZE);
        FrameHeader header = FrameHeader.readFrom(h);
        ByteBuffer p = readExactly((int) header.length());
        if (header.type() != MessageType.RESPONSE) {
            throw new IOException("expected a response, got " + header);
        }
        return new Answer(header.streamId(), Response.parseFrom(p));
    }

    /** True when the server closed the connection (read returns EOF). */
    boolean closedByPeer() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(1);
        try {
            return ch.read(b) < 0;
        } catch (IOException e) {
            return true; // reset
        }
    }

    private ByteBuffer readExactly(int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new IOException("EOF after " + b.position() + " of " + n + " bytes");
            }
        }
        return b.flip();
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
