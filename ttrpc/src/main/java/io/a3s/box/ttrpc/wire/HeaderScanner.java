package io.a3s.box.ttrpc.wire;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.function.IntPredicate;

/**
 * Finds where a ttrpc stream can be picked up again after stale or partial bytes: the first offset at which
 * a plausible Response header for an expected stream id begins (type 0x02, flags 0, a length whose first
 * byte is 0 and that is at most {@link FrameHeader#MAX_PAYLOAD}). A byte-wise scan, because stale bytes may
 * start anywhere inside a frame.
 *
 * <p>Used on channels that a previous session may have left bytes in, such as a VM's serial port (see the
 * guest protocol's session handshake). Not thread-safe.
 */
public final class HeaderScanner {
    private byte[] carry = new byte[0];

    /**
     * Consumes {@code in}. Returns null while no header was found (keeping at most 9 bytes, a header that
     * may straddle the next read), or the bytes from the header on, ready for a {@link FrameDecoder}.
     */
    public ByteBuffer scan(ByteBuffer in, IntPredicate expectedStream) {
        byte[] data = new byte[carry.length + in.remaining()];
        System.arraycopy(carry, 0, data, 0, carry.length);
        in.get(data, carry.length, in.remaining());
        for (int i = 0; i + FrameHeader.SIZE <= data.length; i++) {
            if (isHeader(data, i, expectedStream)) {
                carry = new byte[0];
                return ByteBuffer.wrap(data, i, data.length - i);
            }
        }
        carry = Arrays.copyOfRange(data, Math.max(0, data.length - (FrameHeader.SIZE - 1)), data.length);
        return null;
    }

    private static boolean isHeader(byte[] b, int i, IntPredicate expectedStream) {
        long length = ((b[i] & 0xffL) << 24) | ((b[i + 1] & 0xffL) << 16) | ((b[i + 2] & 0xffL) << 8) | (b[i + 3] & 0xffL);
        int stream = ((b[i + 4] & 0xff) << 24) | ((b[i + 5] & 0xff) << 16) | ((b[i + 6] & 0xff) << 8) | (b[i + 7] & 0xff);
        return length <= FrameHeader.MAX_PAYLOAD && b[i + 8] == MessageType.RESPONSE && b[i + 9] == 0
                && expectedStream.test(stream);
    }
}
