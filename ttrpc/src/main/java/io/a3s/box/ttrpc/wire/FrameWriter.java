package io.a3s.box.ttrpc.wire;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes whole frames to a channel, one at a time: the connection's single writer lock. Calls on one
 * connection run concurrently, so without it two responses could interleave their bytes.
 * A {@link ReentrantLock}, not {@code synchronized}, so a virtual thread blocked in a write parks cleanly.
 */
public final class FrameWriter {
    private final GatheringByteChannel channel;
    private final ReentrantLock lock = new ReentrantLock();

    public FrameWriter(GatheringByteChannel channel) {
        this.channel = channel;
    }

    /**
     * Writes one frame.
     *
     * @throws IllegalArgumentException if the payload exceeds {@link FrameHeader#MAX_PAYLOAD}: callers check
     *                                  first, because a peer would answer RESOURCE_EXHAUSTED at best
     */
    public void write(int streamId, byte type, byte flags, byte[] payload) throws IOException {
        if (payload.length > FrameHeader.MAX_PAYLOAD) {
            throw new IllegalArgumentException("payload of " + payload.length + " bytes exceeds "
                    + FrameHeader.MAX_PAYLOAD);
        }
        ByteBuffer header = ByteBuffer.allocate(FrameHeader.SIZE);
        new FrameHeader(payload.length, streamId, type, flags).writeTo(header);
        header.flip();
        ByteBuffer[] buffers = {header, ByteBuffer.wrap(payload)};
        lock.lock();
        try {
            while (header.hasRemaining() || buffers[1].hasRemaining()) {
                channel.write(buffers);
            }
        } finally {
            lock.unlock();
        }
    }
}
