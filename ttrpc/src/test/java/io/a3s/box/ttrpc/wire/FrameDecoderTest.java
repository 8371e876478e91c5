package io.a3s.box.ttrpc.wire;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FrameDecoderTest {

    /** What the decoder reported, in order: a frame (with payload) or an oversized header. */
    record Event(FrameHeader header, byte[] payload, boolean oversized) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Event e && e.header.equals(header) && e.oversized == oversized
                    && Arrays.equals(e.payload, payload);
        }

        @Override
        public int hashCode() {
            return header.hashCode();
        }

        @Override
        public String toString() {
            return (oversized ? "oversized " : "frame ") + header;
        }
    }

    static final class Recorder implements FrameDecoder.Listener {
        final List<Event> events = new ArrayList<>();

        @Override
        public void onFrame(FrameHeader header, byte[] payload) {
            events.add(new Event(header, payload, false));
        }

        @Override
        public void onOversized(FrameHeader header) {
            events.add(new Event(header, null, true));
        }
    }

    static byte[] frame(long declaredLength, int stream, byte type, byte flags, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(FrameHeader.SIZE + payload.length);
        b.putInt((int) declaredLength).putInt(stream).put(type).put(flags).put(payload);
        return b.array();
    }

    static byte[] frame(int stream, byte type, byte[] payload) {
        return frame(payload.length, stream, type, (byte) 0, payload);
    }

    @Test
    void headerLayoutIsBigEndianAndTenBytes() {
        ByteBuffer b = ByteBuffer.allocate(FrameHeader.SIZE);
        new FrameHeader(0x01020304L, 0x0A0B0C0D, MessageType.RESPONSE, (byte) 0x05).writeTo(b);
        assertArrayEquals(new byte[]{1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D, 2, 5}, b.array());
        assertEquals(4 * 1024 * 1024, FrameHeader.MAX_PAYLOAD);
    }

    @Test
    void decodesFramesSplitAtEveryPossibleByte() throws Exception {
        byte[] a = frame(1, MessageType.REQUEST, "hello".getBytes());
        byte[] b = frame(3, MessageType.REQUEST, new byte[0]);
        byte[] c = frame(5, MessageType.RESPONSE, new byte[300]);
        byte[] all = concat(a, b, c);
        for (int split = 0; split <= all.length; split++) {
            Recorder r = new Recorder();
            FrameDecoder d = new FrameDecoder();
            d.feed(ByteBuffer.wrap(all, 0, split), r);
            d.feed(ByteBuffer.wrap(all, split, all.length - split), r);
            assertEquals(3, r.events.size(), "split at " + split);
            assertArrayEquals("hello".getBytes(), r.events.get(0).payload());
            assertEquals(0, r.events.get(1).payload().length);
            assertEquals(5, r.events.get(2).header().streamId());
            assertTrue(d.isAtFrameBoundary());
        }
    }

    @Test
    void decodesOneByteAtATime() throws Exception {
        byte[] all = concat(frame(1, MessageType.REQUEST, "x".repeat(1000).getBytes()),
                frame(3, MessageType.REQUEST, "y".getBytes()));
        Recorder r = new Recorder();
        FrameDecoder d = new FrameDecoder();
        for (byte value : all) {
            d.feed(ByteBuffer.wrap(new byte[]{value}), r);
        }
        assertEquals(2, r.events.size());
        assertEquals(1000, r.events.get(0).payload().length);
    }

    @Test
    void emptyPayloadIsAFrame() throws Exception {
        Recorder r = new Recorder();
        new FrameDecoder().feed(ByteBuffer.wrap(frame(7, MessageType.REQUEST, new byte[0])), r);
        assertEquals(1, r.events.size());
        assertEquals(0, r.events.getFirst().payload().length);
    }

    @Test
    void oversizedPayloadIsSkippedAndDecodingRecovers() throws Exception {
        int big = FrameHeader.MAX_PAYLOAD + 1;
        byte[] all = concat(frame(big, 9, MessageType.REQUEST, (byte) 0, new byte[big]),
                frame(11, MessageType.REQUEST, "after".getBytes()));
        Recorder r = new Recorder();
        FrameDecoder d = new FrameDecoder();
        // fragmented, so the skip spans several feeds
        for (int off = 0; off < all.length; off += 100_000) {
            d.feed(ByteBuffer.wrap(all, off, Math.min(100_000, all.length - off)), r);
        }
        assertEquals(2, r.events.size());
        assertTrue(r.events.get(0).oversized());
        assertEquals(9, r.events.get(0).header().streamId());
        assertArrayEquals("after".getBytes(), r.events.get(1).payload());
    }

    @Test
    void lengthWithNonZeroFirstByteIsCorrupt() {
        FrameDecoder d = new FrameDecoder();
        byte[] garbage = frame(0xFFFF_FFFFL, 1, MessageType.REQUEST, (byte) 0, new byte[0]);
        assertThrows(CorruptedFrameException.class, () -> d.feed(ByteBuffer.wrap(garbage), new Recorder()));
        assertThrows(IllegalStateException.class, () -> d.feed(ByteBuffer.allocate(1), new Recorder()));
    }

    @Test
    void aFrameOfAnUnknownTypeIsDeliveredAndTheNextOneToo() throws Exception {
        // ttrpc ignores message types it does not know "for future compat": the decoder must not call it garbage
        Recorder r = new Recorder();
        FrameDecoder d = new FrameDecoder();
        d.feed(ByteBuffer.wrap(frame(1, (byte) 0x7f, "zz".getBytes())), r);
        d.feed(ByteBuffer.wrap(frame(3, MessageType.REQUEST, "ok".getBytes())), r);
        assertEquals(2, r.events.size());
        assertEquals((byte) 0x7f, r.events.get(0).header().type());
        assertEquals(MessageType.REQUEST, r.events.get(1).header().type());
    }

    @Test
    void httpRequestIsCorrupt() {
        byte[] http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes();
        assertThrows(CorruptedFrameException.class,
                () -> new FrameDecoder().feed(ByteBuffer.wrap(http), new Recorder()));
    }

    /**
     * Property: for any sequence of valid and oversized frames, cut into chunks anywhere, the decoder reports
     * exactly the frames that were encoded, in order; and a stream of random bytes either decodes to frames,
     * stops mid-frame, or is rejected as corrupt - it never throws anything else nor buffers past its limit.
     */
    @Test
    void propertyAnyChunkingDecodesTheSameFrames() throws Exception {
        Random rnd = new Random(0xA3B0);
        int max = 4096; // a small limit keeps the property fast while exercising the skip path
        for (int iter = 0; iter < 2_000; iter++) {
            List<Event> expected = new ArrayList<>();
            ByteArrayOutputStream wire = new ByteArrayOutputStream();
            int frames = 1 + rnd.nextInt(8);
            for (int i = 0; i < frames; i++) {
                int len = rnd.nextInt(10) == 0 ? max + 1 + rnd.nextInt(3 * max) : rnd.nextInt(max + 1);
                byte[] payload = new byte[len];
                rnd.nextBytes(payload);
                byte type = (byte) (1 + rnd.nextInt(3));
                byte flags = (byte) rnd.nextInt(8);
                int stream = rnd.nextInt();
                FrameHeader h = new FrameHeader(len, stream, type, flags);
                expected.add(len > max ? new Event(h, null, true) : new Event(h, payload, false));
                wire.writeBytes(frame(len, stream, type, flags, payload));
            }
            byte[] bytes = wire.toByteArray();
            Recorder r = new Recorder();
            FrameDecoder d = new FrameDecoder(max);
            int off = 0;
            while (off < bytes.length) {
                int n = Math.min(bytes.length - off, 1 + rnd.nextInt(rnd.nextBoolean() ? 16 : 9000));
                d.feed(ByteBuffer.wrap(bytes, off, n), r);
                off += n;
            }
            assertEquals(expected, r.events, "iteration " + iter);
            assertTrue(d.isAtFrameBoundary());
        }
    }

    @Test
    void propertyRandomBytesNeverCrashTheDecoder() {
        Random rnd = new Random(42);
        for (int iter = 0; iter < 5_000; iter++) {
            byte[] bytes = new byte[rnd.nextInt(200)];
            rnd.nextBytes(bytes);
            if (rnd.nextBoolean() && bytes.length >= 4) {
                bytes[0] = 0; // plausible lengths too, not only corrupt ones
                bytes[1] = 0;
            }
            FrameDecoder d = new FrameDecoder(1024);
            Recorder r = new Recorder();
            try {
                d.feed(ByteBuffer.wrap(bytes), r);
            } catch (CorruptedFrameException expected) {
                // the only failure allowed
            }
            for (Event e : r.events) {
                assertTrue(e.oversized() || e.payload().length <= 1024);
            }
        }
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
