package io.a3s.box.ttrpc.internal;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.a3s.box.ttrpc.CallContext;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.Metadata;
import io.a3s.box.ttrpc.PeerCredentials;
import io.a3s.box.ttrpc.ServiceDefinition;
import io.a3s.box.ttrpc.Status;
import io.a3s.box.ttrpc.wire.CorruptedFrameException;
import io.a3s.box.ttrpc.wire.FrameDecoder;
import io.a3s.box.ttrpc.wire.FrameHeader;
import io.a3s.box.ttrpc.wire.FrameWriter;
import io.a3s.box.ttrpc.wire.MessageType;
import io.a3s.box.ttrpc.wire.proto.KeyValue;
import io.a3s.box.ttrpc.wire.proto.Request;
import io.a3s.box.ttrpc.wire.proto.Response;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/** One accepted connection of a {@code TtrpcServer}: its reader, its calls in flight, its writer lock. */
public final class ServerConnection implements CallContext.ConnectionState {
    private static final Logger log = LoggerFactory.getLogger(ServerConnection.class);
    private static final int READ_BUFFER = 64 * 1024;

    private final SocketChannel channel;
    private final Map<String, ServiceDefinition> services;
    private final ExecutorService handlers;
    private final Consumer<ServerConnection> onClosed;
    private final FrameWriter writer;
    private final Optional<PeerCredentials> peer;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final ReentrantLock lock = new ReentrantLock();
    // guarded by lock
    private int inFlight;
    // guarded by lock
    private boolean draining;
    // only touched by the reader thread
    private long lastStreamId;

    public ServerConnection(SocketChannel channel, Map<String, ServiceDefinition> services, ExecutorService handlers,
                            boolean requireSameUser, Consumer<ServerConnection> onClosed) throws IOException {
        this.channel = channel;
        this.services = services;
        this.handlers = handlers;
        this.onClosed = onClosed;
        this.writer = new FrameWriter(channel);
        this.peer = peerOf(channel);
        if (requireSameUser) {
            checkSameUser(peer);
        }
    }

    public void start() {
        Thread.ofVirtual().name("ttrpc-conn-reader").start(this::readLoop);
    }

    @Override
    public boolean isOpen() {
        return !closed.get();
    }

    private void readLoop() {
        FrameDecoder decoder = new FrameDecoder();
        FrameDecoder.Listener listener = new FrameDecoder.Listener() {
            @Override
            public void onFrame(FrameHeader header, byte[] payload) {
                switch (header.type()) {
                    case MessageType.REQUEST -> onRequest(header, payload);
                    // A unary server has no use for these; ttrpc 1.1 ignores types it does not serve.
                    default -> log.debug("ttrpc: ignoring {}", header);
                }
            }

            @Override
            public void onOversized(FrameHeader header) {
                respond(header.streamId(), Code.RESOURCE_EXHAUSTED.withDescription(
                        "message length " + header.length() + " exceeds maximum message size of "
                                + FrameHeader.MAX_PAYLOAD), null);
            }
        };
        ByteBuffer buf = ByteBuffer.allocate(READ_BUFFER);
        try {
            while (true) {
                buf.clear();
                int n = channel.read(buf);
                if (n < 0) {
                    if (!decoder.isAtFrameBoundary()) {
                        log.warn("ttrpc: peer closed the connection in the middle of a frame");
                    }
                    break;
                }
                buf.flip();
                decoder.feed(buf, listener);
            }
        } catch (CorruptedFrameException e) {
            log.warn("ttrpc: closing connection from {}: {}", peer.map(Object::toString).orElse("peer"),
                    e.getMessage());
        } catch (AsynchronousCloseException e) {
            // closed by us
        } catch (IOException e) {
            log.debug("ttrpc: connection read failed: {}", e.toString());
        } finally {
            close();
        }
    }

    private void onRequest(FrameHeader header, byte[] payload) {
        long stream = header.unsignedStreamId();
        if (stream % 2 == 0) {
            respond(header.streamId(), Code.INVALID_ARGUMENT.withDescription(
                    "StreamID must be odd for client initiated streams"), null);
            return;
        }
        if (stream <= lastStreamId) {
            respond(header.streamId(), Code.INVALID_ARGUMENT.withDescription(
                    "StreamID cannot be re-used and must increment"), null);
            return;
        }
        lastStreamId = stream;
        Request request;
        try {
            request = Request.parseFrom(payload);
        } catch (InvalidProtocolBufferException e) {
            respond(header.streamId(), Code.INVALID_ARGUMENT.withDescription(
                    "unmarshal request error: " + e.getMessage()), null);
            return;
        }
        // As ttrpc's serviceSet.handle: a unary method runs whatever the frame's flags say (this server has no
        // streaming methods, so a stream open names an unknown method or a unary one)
        ServiceDefinition service = services.get(request.getService());
        if (service == null) {
            respond(header.streamId(), Code.UNIMPLEMENTED.withDescription("service " + request.getService()), null);
            return;
        }
        ServiceDefinition.RawMethod method = service.methods().get(request.getMethod());
        if (method == null) {
            respond(header.streamId(), Code.UNIMPLEMENTED.withDescription("method " + request.getMethod()), null);
            return;
        }
        lock.lock();
        try {
            if (draining) {
                respond(header.streamId(), Code.UNAVAILABLE.withDescription("ttrpc: server shutting down"), null);
                return;
            }
            inFlight++;
        } finally {
            lock.unlock();
        }
        long deadline = 0;
        // negative too, as ttrpc's != 0: Go's client sends time.Until(deadline), below 0 once it has passed
        if (request.getTimeoutNano() != 0) {
            deadline = System.nanoTime() + request.getTimeoutNano();
            if (deadline == 0) {
                deadline = 1; // 0 means "no deadline"
            }
        }
        CallContext ctx = new CallContext(request.getService(), request.getMethod(), metadataOf(request), deadline,
                peer, this);
        try {
            handlers.execute(() -> invoke(header.streamId(), method, request.getPayload(), ctx));
        } catch (RejectedExecutionException e) {
            respond(header.streamId(), Code.UNAVAILABLE.withDescription("ttrpc: server shutting down"), null);
            callDone();
        }
    }

    private void invoke(int streamId, ServiceDefinition.RawMethod method, ByteString payload, CallContext ctx) {
        try {
            byte[] response = method.invoke(payload.toByteArray(), ctx);
            respond(streamId, Status.OK, response);
        } catch (Throwable t) {
            Status status = Status.fromThrowable(t);
            // A handler interrupted by shutdownNow or orphaned by its client is not a bug worth a warning.
            if (status.code() == Code.UNKNOWN && !(t instanceof io.a3s.box.ttrpc.StatusException) && !closed.get()) {
                log.warn("ttrpc: {}/{} failed", ctx.service(), ctx.method(), t);
            }
            respond(streamId, status, null);
        } finally {
            callDone();
        }
    }

    private void callDone() {
        boolean closeNow;
        lock.lock();
        try {
            inFlight--;
            closeNow = draining && inFlight == 0;
        } finally {
            lock.unlock();
        }
        if (closeNow) {
            close();
        }
    }

    private void respond(int streamId, Status status, byte[] payload) {
        if (closed.get()) {
            return;
        }
        Response.Builder b = Response.newBuilder();
        if (!status.isOk()) {
            b.setStatus(WireStatus.toWire(status));
        } else if (payload != null) {
            b.setPayload(ByteString.copyFrom(payload));
        }
        byte[] bytes = b.build().toByteArray();
        if (bytes.length > FrameHeader.MAX_PAYLOAD) {
            bytes = Response.newBuilder().setStatus(WireStatus.toWire(Code.RESOURCE_EXHAUSTED.withDescription(
                    "response of " + bytes.length + " bytes exceeds maximum message size of "
                            + FrameHeader.MAX_PAYLOAD))).build().toByteArray();
        }
        try {
            writer.write(streamId, MessageType.RESPONSE, (byte) 0, bytes);
        } catch (IOException e) {
            log.debug("ttrpc: cannot write response: {}", e.toString());
            close();
        }
    }

    /** Refuse new calls; close once the calls in flight have answered. */
    public void drainAndClose() {
        boolean closeNow;
        lock.lock();
        try {
            draining = true;
            closeNow = inFlight == 0;
        } finally {
            lock.unlock();
        }
        if (closeNow) {
            close();
        }
    }

    /** Idempotent. */
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing
            }
            onClosed.accept(this);
        }
    }

    private static Metadata metadataOf(Request request) {
        Metadata md = Metadata.empty();
        for (KeyValue kv : request.getMetadataList()) {
            md = md.with(kv.getKey(), kv.getValue());
        }
        return md;
    }

    private static Optional<PeerCredentials> peerOf(SocketChannel channel) {
        try {
            UnixDomainPrincipal p = channel.getOption(ExtendedSocketOptions.SO_PEERCRED);
            return Optional.of(new PeerCredentials(p.user().getName(), p.group().getName()));
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.empty();
        }
    }

    private static void checkSameUser(Optional<PeerCredentials> peer) throws IOException {
        PosixFileAttributes self = Files.readAttributes(Path.of("/proc/self"), PosixFileAttributes.class);
        PeerCredentials p = peer.orElseThrow(() -> new IOException("peer credentials unavailable"));
        if (!p.user().equals(self.owner().getName()) || !p.group().equals(self.group().getName())) {
            throw new IOException("peer " + p.user() + ":" + p.group() + " is not "
                    + self.owner().getName() + ":" + self.group().getName());
        }
    }
}
