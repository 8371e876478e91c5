package io.a3s.box.ttrpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import io.a3s.box.ttrpc.internal.WireStatus;
import io.a3s.box.ttrpc.wire.CorruptedFrameException;
import io.a3s.box.ttrpc.wire.FrameDecoder;
import io.a3s.box.ttrpc.wire.FrameHeader;
import io.a3s.box.ttrpc.wire.FrameWriter;
import io.a3s.box.ttrpc.wire.HeaderScanner;
import io.a3s.box.ttrpc.wire.MessageType;
import io.a3s.box.ttrpc.wire.proto.KeyValue;
import io.a3s.box.ttrpc.wire.proto.Request;
import io.a3s.box.ttrpc.wire.proto.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A ttrpc client on one connection. Thread-safe: any number of calls may be in flight at once; they are
 * matched to responses by stream id (odd, increasing from 1, as containerd/ttrpc's client does), and
 * responses may arrive in any order.
 *
 * <p>Every call may carry a deadline, sent to the server as {@code timeout_nano}; when it passes the call
 * fails locally with DEADLINE_EXCEEDED and a late response is dropped. When the connection drops, every
 * pending call fails at once with UNAVAILABLE and {@link #closeFuture()} completes.
 */
public final class TtrpcClient implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TtrpcClient.class);
    private static final long MAX_STREAM_ID = 0xFFFF_FFFFL;

    /** One daemon thread for every client's deadlines; cancelled timers are removed at once. */
    private static final ScheduledExecutorService DEADLINES = newDeadlineScheduler();
    private static final SecureRandom RANDOM = new SecureRandom();

    private final SocketChannel channel;
    private final FrameWriter writer;
    private final Metadata defaultMetadata;
    private final String name;
    private final AtomicLong nextStreamId = new AtomicLong(1);
    private final ReentrantLock sendLock = new ReentrantLock();
    private final Map<Integer, CompletableFuture<byte[]>> pending = new ConcurrentHashMap<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private volatile Status closeStatus = Code.UNAVAILABLE.withDescription("ttrpc: connection closed");
    /** Stream ids of handshake attempts; while {@link #scanning}, only their responses end the scan. */
    private final Set<Integer> handshakeIds = ConcurrentHashMap.newKeySet();
    /** True until the first response to a handshake attempt was found in the byte stream. */
    private volatile boolean scanning;

    private TtrpcClient(SocketChannel channel, Metadata defaultMetadata, String name, boolean scanning) {
        this.channel = channel;
        this.writer = new FrameWriter(channel);
        this.defaultMetadata = defaultMetadata;
        this.name = name;
        this.scanning = scanning;
        Thread.ofVirtual().name("ttrpc-client-reader").start(this::readLoop);
    }

    /** Connects to a ttrpc server on a Unix socket. */
    public static TtrpcClient connect(Path socket) throws IOException {
        return connect(socket, Metadata.empty());
    }

    /** Connects, sending {@code defaultMetadata} with every call (before each call's own metadata). */
    public static TtrpcClient connect(Path socket, Metadata defaultMetadata) throws IOException {
        return new TtrpcClient(open(socket), defaultMetadata, socket.toString(), false);
    }

    /**
     * Connects to a peer whose channel may still hold bytes of an earlier session (a VM's serial port, where
     * a previous host's answers can arrive after we connect). Everything read is discarded until the answer
     * to a {@link #handshake} call; no other call may be made before that handshake succeeds.
     */
    public static TtrpcClient connectForHandshake(Path socket, Metadata defaultMetadata) throws IOException {
        return new TtrpcClient(open(socket), defaultMetadata, socket.toString(), true);
    }

    private static SocketChannel open(Path socket) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            ch.close();
            throw new IOException("connect to ttrpc socket " + socket + ": " + e.getMessage(), e);
        }
        return ch;
    }

    /** A client over an already connected channel, which it then owns. */
    public static TtrpcClient over(SocketChannel connected, Metadata defaultMetadata) {
        return new TtrpcClient(connected, defaultMetadata, String.valueOf(connected), false);
    }

    /**
     * Opens a session on a client made by {@link #connectForHandshake}: sends {@code request} on a fresh
     * random odd stream id, again with a new id every {@code resendEvery} (a peer that is still starting
     * answers the queued copies once it is up), until one is answered or {@code deadline} passes. Bytes
     * before that answer are discarded; later calls use stream ids above every id tried.
     *
     * @throws StatusException DEADLINE_EXCEEDED without an answer in time, UNAVAILABLE if the connection
     *                         drops, or the peer's error
     */
    public <Q extends MessageLite, R extends MessageLite> R handshake(String service, String method, Q request,
                                                                       Parser<R> parser, Duration resendEvery,
                                                                       Instant deadline) throws StatusException {
        if (!scanning) {
            throw new IllegalStateException("handshake needs a client from connectForHandshake, before any call");
        }
        byte[] frame = encodeRequest(service, method, request.toByteArray(), null, Metadata.empty());
        CompletableFuture<byte[]> answered = new CompletableFuture<>();
        long highest = 0;
        try {
            while (!answered.isDone()) {
                long left = Duration.between(Instant.now(), deadline).toNanos();
                if (left <= 0) {
                    throw Code.DEADLINE_EXCEEDED.toException("%s/%s: no answer to the handshake from %s in time",
                            service, method, name);
                }
                int id = 1 + 2 * RANDOM.nextInt(1 << 29); // odd, below 2^30
                highest = Math.max(highest, id);
                CompletableFuture<byte[]> attempt = new CompletableFuture<>();
                attempt.whenComplete((r, t) -> {
                    if (t == null) {
                        answered.complete(r);
                    } else if (!(t instanceof StatusException se && se.code() == Code.DEADLINE_EXCEEDED)) {
                        answered.completeExceptionally(t);
                    }
                });
                handshakeIds.add(id);
                pending.put(id, attempt);
                if (closed.get() && pending.remove(id, attempt)) {
                    attempt.completeExceptionally(closeStatus.asException());
                }
                sendLock.lock();
                try {
                    writer.write(id, MessageType.REQUEST, (byte) 0, frame);
                } catch (IOException e) {
                    fail(Code.UNAVAILABLE.withDescription("ttrpc: write to " + name + " failed: " + e.getMessage()));
                } finally {
                    sendLock.unlock();
                }
                try {
                    answered.get(Math.min(left, resendEvery.toNanos()), TimeUnit.NANOSECONDS);
                } catch (java.util.concurrent.TimeoutException e) {
                    // resend with a new id
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw Code.CANCELLED.toException("interrupted during the handshake with %s", name);
                } catch (ExecutionException e) {
                    throw new StatusException(Status.fromThrowable(e.getCause()));
                }
            }
            nextStreamId.set(highest + 2);
            return parser.parseFrom(answered.join());
        } catch (InvalidProtocolBufferException e) {
            throw Code.INTERNAL.toException("%s/%s: cannot decode the handshake answer: %s", service, method,
                    e.getMessage());
        } finally {
            // the attempts that were not answered never will be (the peer forgot them)
            for (Integer id : handshakeIds) {
                CompletableFuture<byte[]> f = pending.remove(id);
                if (f != null) {
                    f.cancel(false);
                }
            }
        }
    }

    /** Blocking unary call. */
    public <Q extends MessageLite, R extends MessageLite> R call(String service, String method, Q request,
                                                                  Parser<R> parser, Duration timeout)
            throws StatusException {
        return call(service, method, request, parser, timeout, Metadata.empty());
    }

    /** Blocking unary call with metadata. An interrupt fails the call with CANCELLED. */
    public <Q extends MessageLite, R extends MessageLite> R call(String service, String method, Q request,
                                                                  Parser<R> parser, Duration timeout,
                                                                  Metadata metadata) throws StatusException {
        return await(callAsync(service, method, request, parser, timeout, metadata));
    }

    /** Unary call; the future fails with a {@link StatusException}. */
    public <Q extends MessageLite, R extends MessageLite> CompletableFuture<R> callAsync(
            String service, String method, Q request, Parser<R> parser, Duration timeout, Metadata metadata) {
        return callRaw(service, method, request.toByteArray(), timeout, metadata).thenApply(bytes -> {
            try {
                return parser.parseFrom(bytes);
            } catch (InvalidProtocolBufferException e) {
                throw new java.util.concurrent.CompletionException(Code.INTERNAL.toException(
                        "%s/%s: cannot decode response: %s", service, method, e.getMessage()));
            }
        });
    }

    /**
     * Unary call with an encoded payload; completes with the encoded response.
     *
     * @param timeout null or zero for no deadline
     */
    public CompletableFuture<byte[]> callRaw(String service, String method, byte[] payload, Duration timeout,
                                             Metadata metadata) {
        CompletableFuture<byte[]> future = new CompletableFuture<>();
        if (closed.get()) {
            future.completeExceptionally(closeStatus.asException());
            return future;
        }
        boolean hasDeadline = timeout != null && !timeout.isZero() && !timeout.isNegative();
        byte[] frame = encodeRequest(service, method, payload, hasDeadline ? timeout : null, metadata);
        if (frame.length > FrameHeader.MAX_PAYLOAD) {
            future.completeExceptionally(Code.RESOURCE_EXHAUSTED.toException(
                    "%s/%s: request of %d bytes exceeds maximum message size of %d", service, method,
                    frame.length, FrameHeader.MAX_PAYLOAD));
            return future;
        }
        // Stream ids must reach the server in increasing order (a ttrpc 1.2 server refuses any other), so
        // an id is taken and its frame written under one lock, as containerd/ttrpc's client does.
        sendLock.lock();
        try {
            long id = nextStreamId.getAndAdd(2);
            if (id > MAX_STREAM_ID) {
                future.completeExceptionally(Code.UNAVAILABLE.toException("ttrpc: stream ids exhausted on %s", name));
                return future;
            }
            int streamId = (int) id;
            pending.put(streamId, future);
            // However the call ends (answer, deadline, cancel by the caller), it stops being pending.
            future.whenComplete((r, t) -> pending.remove(streamId, future));
            if (hasDeadline) {
                ScheduledFuture<?> timer = DEADLINES.schedule(() -> {
                    if (pending.remove(streamId, future)) {
                        future.completeExceptionally(Code.DEADLINE_EXCEEDED.toException(
                                "%s/%s: no answer within %s", service, method, timeout));
                    }
                }, saturatedNanos(timeout), TimeUnit.NANOSECONDS);
                future.whenComplete((r, t) -> timer.cancel(false));
            }
            // A close racing with put() must not leave this call pending for ever.
            if (closed.get() && pending.remove(streamId, future)) {
                future.completeExceptionally(closeStatus.asException());
                return future;
            }
            writer.write(streamId, MessageType.REQUEST, (byte) 0, frame);
        } catch (IOException e) {
            fail(Code.UNAVAILABLE.withDescription("ttrpc: write to " + name + " failed: " + e.getMessage()));
        } finally {
            sendLock.unlock();
        }
        return future;
    }

    /** Completes when the connection is gone; every call pending then has failed with UNAVAILABLE. */
    public CompletableFuture<Void> closeFuture() {
        return closeFuture;
    }

    public boolean isClosed() {
        return closed.get();
    }

    /** Number of calls waiting for an answer. */
    public int pendingCalls() {
        return pending.size();
    }

    /** Closes the connection; pending calls fail with UNAVAILABLE. Idempotent. */
    @Override
    public void close() {
        fail(Code.UNAVAILABLE.withDescription("ttrpc: client closed"));
    }

    private void fail(Status status) {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        closeStatus = status;
        try {
            channel.close();
        } catch (IOException ignored) {
            // already failing
        }
        for (Integer id : List.copyOf(pending.keySet())) {
            CompletableFuture<byte[]> f = pending.remove(id);
            if (f != null) {
                f.completeExceptionally(status.asException());
            }
        }
        closeFuture.complete(null);
    }

    private void readLoop() {
        FrameDecoder decoder = new FrameDecoder();
        FrameDecoder.Listener listener = new FrameDecoder.Listener() {
            @Override
            public void onFrame(FrameHeader header, byte[] payload) {
                if (header.type() == MessageType.RESPONSE) {
                    onResponse(header.streamId(), payload);
                } else {
                    log.debug("ttrpc client: ignoring {}", header);
                }
            }

            @Override
            public void onOversized(FrameHeader header) {
                CompletableFuture<byte[]> f = pending.remove(header.streamId());
                if (f != null) {
                    f.completeExceptionally(Code.RESOURCE_EXHAUSTED.toException(
                            "response of %d bytes exceeds maximum message size of %d", header.length(),
                            FrameHeader.MAX_PAYLOAD));
                }
            }
        };
        ByteBuffer readBuf = ByteBuffer.allocate(64 * 1024);
        ByteBuffer buf = readBuf;
        HeaderScanner scanner = new HeaderScanner();
        Status end = Code.UNAVAILABLE.withDescription("ttrpc: connection to " + name + " closed");
        try {
            while (!closed.get()) {
                buf.clear();
                if (channel.read(buf) < 0) {
                    break;
                }
                buf.flip();
                if (scanning) {
                    ByteBuffer from = scanner.scan(buf, handshakeIds::contains);
                    if (from == null) {
                        continue;
                    }
                    scanning = false;
                    buf = from;
                }
                decoder.feed(buf, listener);
                buf = readBuf;
            }
        } catch (CorruptedFrameException e) {
            end = Code.UNAVAILABLE.withDescription("ttrpc: corrupted stream from " + name + ": " + e.getMessage());
        } catch (IOException e) {
            end = Code.UNAVAILABLE.withDescription("ttrpc: connection to " + name + " lost: " + e.getMessage());
        } finally {
            fail(end);
        }
    }

    private void onResponse(int streamId, byte[] payload) {
        CompletableFuture<byte[]> f = pending.remove(streamId);
        if (f == null) {
            return; // the call gave up (deadline) before the answer came
        }
        Response response;
        try {
            response = Response.parseFrom(payload);
        } catch (InvalidProtocolBufferException e) {
            f.completeExceptionally(Code.INTERNAL.toException("ttrpc: cannot decode response: %s", e.getMessage()));
            return;
        }
        Status status = WireStatus.fromWire(response.hasStatus() ? response.getStatus() : null);
        if (status.isOk()) {
            f.complete(response.getPayload().toByteArray());
        } else {
            f.completeExceptionally(status.asException());
        }
    }

    private byte[] encodeRequest(String service, String method, byte[] payload, Duration timeout,
                                 Metadata metadata) {
        Request.Builder req = Request.newBuilder().setService(service).setMethod(method)
                .setPayload(ByteString.copyFrom(payload));
        if (timeout != null) {
            req.setTimeoutNano(saturatedNanos(timeout));
        }
        addMetadata(req, defaultMetadata);
        addMetadata(req, metadata);
        return req.build().toByteArray();
    }

    private static void addMetadata(Request.Builder req, Metadata md) {
        md.asMap().forEach((k, values) -> values.forEach(v ->
                req.addMetadata(KeyValue.newBuilder().setKey(k).setValue(v))));
    }

    private static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** Waits for a call's future, turning every failure into the call's {@link StatusException}. */
    public static <T> T await(CompletableFuture<T> future) throws StatusException {
        try {
            return future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            future.cancel(false);
            throw Code.CANCELLED.toException("interrupted while waiting for the answer");
        } catch (ExecutionException e) {
            throw new StatusException(Status.fromThrowable(e.getCause()));
        } catch (CancellationException e) {
            throw Code.CANCELLED.toException("call cancelled");
        }
    }

    private static ScheduledExecutorService newDeadlineScheduler() {
        ScheduledThreadPoolExecutor s = new ScheduledThreadPoolExecutor(1,
                Thread.ofPlatform().name("ttrpc-deadlines").daemon(true).factory());
        s.setRemoveOnCancelPolicy(true);
        return Executors.unconfigurableScheduledExecutorService(s);
    }
}
