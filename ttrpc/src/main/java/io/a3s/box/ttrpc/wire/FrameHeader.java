package io.a3s.box.ttrpc.wire;

import java.nio.ByteBuffer;

/**
 * The 10-byte header in front of every ttrpc frame. All integers are big-endian.
 *
 * <pre>
 *  0               4               8       9      10
 *  +---------------+---------------+-------+-------+----------------------+
 *  | length uint32 | stream uint32 | type  | flags | payload (length B)   |
 *  +---------------+---------------+-------+-------+----------------------+
 * </pre>
 *
 * {@code length} counts the payload only. Its first byte is always 0 in a valid frame, because no payload may
 * exceed {@link #MAX_PAYLOAD} (4 MiB): this decoder relies on that to tell an oversized frame (answered with
 * RESOURCE_EXHAUSTED, the connection keeps working) from a corrupted stream (closed).
 *
 * @param length   payload length in bytes, 0 to 2^32-1
 * @param streamId odd for client-initiated streams
 * @param type     see {@link MessageType}
 * @param flags    type-specific
 */
public record FrameHeader(long length, int streamId, byte type, byte flags) {
    /** Size of the header on the wire. */
    public static final int SIZE = 10;
    /** Largest payload a peer may send: containerd/ttrpc's {@code messageLengthMax}, 4 MiB. */
    public static final int MAX_PAYLOAD = 4 << 20;

    public FrameHeader {
        if (length < 0 || length > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("length out of uint32 range: " + length);
        }
    }

    /** Stream id as the unsigned number it is on the wire. */
    public long unsignedStreamId() {
        return Integer.toUnsignedLong(streamId);
    }

    public void writeTo(ByteBuffer out) {
        out.putInt((int) length).putInt(streamId).put(type).put(flags);
    }

    public static FrameHeader readFrom(ByteBuffer in) {
        long length = Integer.toUnsignedLong(in.getInt());
        int stream = in.getInt();
        byte type = in.get();
        byte flags = in.get();
        return new FrameHeader(length, stream, type, flags);
    }

    @Override
    public String toString() {
        return "FrameHeader[length=" + length + ", stream=" + unsignedStreamId() + ", type="
                + MessageType.name(type) + ", flags=0x" + Integer.toHexString(flags & 0xff) + "]";
    }
}
