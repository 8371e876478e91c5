package io.a3s.box.ttrpc.wire;

import java.nio.ByteBuffer;

/**
 * Incremental decoder of ttrpc frames. Feed it bytes in chunks of any size; it calls the {@link Listener}
 * once per complete frame. Not thread-safe: one decoder per connection, fed by its reader.
 *
 * <p>Three outcomes for a header:
 * <ul>
 *   <li>payload &lt;= {@code maxPayload}: buffered, then {@link Listener#onFrame} with the whole payload;</li>
 *   <li>{@code maxPayload} &lt; payload &lt; 16 MiB: the payload is skipped as it arrives (never buffered) and
 *       {@link Listener#onOversized} is called once, so the peer gets RESOURCE_EXHAUSTED on that stream and
 *       the connection stays usable, as in containerd/ttrpc;</li>
 *   <li>a length whose first byte is not 0 (16 MiB or more): the stream is not ttrpc; {@link #feed} throws
 *       {@link CorruptedFrameException} and the decoder must not be fed again.</li>
 * </ul>
 * A message type this implementation does not know is a frame like any other: the listener decides (ttrpc
 * ignores such frames "for future compat").
 */
public final class FrameDecoder {
    /** Lengths from here on cannot come from a ttrpc peer: the protocol keeps the length's first byte 0. */
    public static final long CORRUPT_LENGTH = 1L << 24;

    /** Receives decoded frames; called on the feeding thread. */
    public interface Listener {
        void onFrame(FrameHeader header, byte[] payload);

        /** A frame whose payload exceeded the limit; its payload has been (or is being) discarded. */
        void onOversized(FrameHeader header);
    }

    private final int maxPayload;
    private final ByteBuffer headerBuf = ByteBuffer.allocate(FrameHeader.SIZE);
    private FrameHeader current;
    private byte[] payload;
    private int payloadFilled;
    private long toSkip;
    private boolean corrupted;

    public FrameDecoder() {
        this(FrameHeader.MAX_PAYLOAD);
    }

    public FrameDecoder(int maxPayload) {
        if (maxPayload <= 0 || maxPayload >= CORRUPT_LENGTH) {
            throw new IllegalArgumentException("maxPayload must be in (0, 16 MiB): " + maxPayload);
        }
        this.maxPayload = maxPayload;
    }

    /** Consumes every remaining byte of {@code in}. */
    public void feed(ByteBuffer in, Listener listener) throws CorruptedFrameException {
        if (corrupted) {
            throw new IllegalStateException("decoder was fed a corrupted stream");
        }
        while (in.hasRemaining()) {
            if (toSkip > 0) {
                int n = (int) Math.min(toSkip, in.remaining());
                in.position(in.position() + n);
                toSkip -= n;
                continue;
            }
            if (current == null) {
                copy(in, headerBuf);
                if (headerBuf.hasRemaining()) {
                    return;
                }
                headerBuf.flip();
                FrameHeader header = FrameHeader.readFrom(headerBuf);
                headerBuf.clear();
                startFrame(header, listener);
                continue;
            }
            int n = Math.min(payload.length - payloadFilled, in.remaining());
            in.get(payload, payloadFilled, n);
            payloadFilled += n;
            if (payloadFilled == payload.length) {
                completeFrame(listener);
            }
        }
    }

    /** True when no partial frame is buffered: the peer stopped on a frame boundary. */
    public boolean isAtFrameBoundary() {
        return current == null && toSkip == 0 && headerBuf.position() == 0;
    }

    private void startFrame(FrameHeader header, Listener listener) throws CorruptedFrameException {
        if (header.length() >= CORRUPT_LENGTH) {
            corrupted = true;
            throw new CorruptedFrameException("not a ttrpc frame: " + header);
        }
        if (header.length() > maxPayload) {
            toSkip = header.length();
            listener.onOversized(header);
            return;
        }
        current = header;
        payload = new byte[(int) header.length()];
        payloadFilled = 0;
        if (payload.length == 0) {
            completeFrame(listener);
        }
    }

    private void completeFrame(Listener listener) {
        FrameHeader header = current;
        byte[] p = payload;
        current = null;
        payload = null;
        listener.onFrame(header, p);
    }

    private static void copy(ByteBuffer from, ByteBuffer to) {
        int n = Math.min(from.remaining(), to.remaining());
        ByteBuffer slice = from.slice(from.position(), n);
        to.put(slice);
        from.position(from.position() + n);
    }
}
