package io.a3s.box.shim.nativeimage;

import jdk.internal.foreign.AbstractMemorySegmentImpl;
import jdk.internal.misc.Unsafe;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Reads and writes of a memory segment's values for {@link Target_jdk_internal_foreign_AbstractMemorySegmentImpl}:
 * the checks a layout var handle makes (the segment's arena alive and owned by this thread, bounds, read-only,
 * alignment), then the access through {@link Unsafe} at the segment's base and offset (a native segment has no
 * base: its offset is its address), swapping bytes for a layout whose order is not the platform's.
 */
final class SegmentAccess {
    private static final Unsafe UNSAFE = Unsafe.getUnsafe();
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private SegmentAccess() {
    }

    static long indexOffset(MemoryLayout layout, long index) {
        return Math.multiplyExact(index, layout.byteSize());
    }

    private static long at(AbstractMemorySegmentImpl s, MemoryLayout layout, long offset, boolean readOnly) {
        s.sessionImpl().checkValidState();
        s.checkEnclosingLayout(offset, layout, readOnly);
        return s.unsafeGetOffset() + offset;
    }

    private static boolean swap(ValueLayout layout) {
        return layout.order() != NATIVE;
    }

    static byte getByte(AbstractMemorySegmentImpl s, ValueLayout.OfByte l, long o) {
        return UNSAFE.getByte(s.unsafeGetBase(), at(s, l, o, true));
    }

    static void setByte(AbstractMemorySegmentImpl s, ValueLayout.OfByte l, long o, byte v) {
        UNSAFE.putByte(s.unsafeGetBase(), at(s, l, o, false), v);
    }

    static boolean getBoolean(AbstractMemorySegmentImpl s, ValueLayout.OfBoolean l, long o) {
        return UNSAFE.getByte(s.unsafeGetBase(), at(s, l, o, true)) != 0;
    }

    static void setBoolean(AbstractMemorySegmentImpl s, ValueLayout.OfBoolean l, long o, boolean v) {
        UNSAFE.putByte(s.unsafeGetBase(), at(s, l, o, false), (byte) (v ? 1 : 0));
    }

    static char getChar(AbstractMemorySegmentImpl s, ValueLayout.OfChar l, long o) {
        char v = UNSAFE.getCharUnaligned(s.unsafeGetBase(), at(s, l, o, true));
        return swap(l) ? Character.reverseBytes(v) : v;
    }

    static void setChar(AbstractMemorySegmentImpl s, ValueLayout.OfChar l, long o, char v) {
        UNSAFE.putCharUnaligned(s.unsafeGetBase(), at(s, l, o, false), swap(l) ? Character.reverseBytes(v) : v);
    }

    static short getShort(AbstractMemorySegmentImpl s, ValueLayout.OfShort l, long o) {
        short v = UNSAFE.getShortUnaligned(s.unsafeGetBase(), at(s, l, o, true));
        return swap(l) ? Short.reverseBytes(v) : v;
    }

    static void setShort(AbstractMemorySegmentImpl s, ValueLayout.OfShort l, long o, short v) {
        UNSAFE.putShortUnaligned(s.unsafeGetBase(), at(s, l, o, false), swap(l) ? Short.reverseBytes(v) : v);
    }

    static int getInt(AbstractMemorySegmentImpl s, ValueLayout.OfInt l, long o) {
        int v = UNSAFE.getIntUnaligned(s.unsafeGetBase(), at(s, l, o, true));
        return swap(l) ? Integer.reverseBytes(v) : v;
    }

    static void setInt(AbstractMemorySegmentImpl s, ValueLayout.OfInt l, long o, int v) {
        UNSAFE.putIntUnaligned(s.unsafeGetBase(), at(s, l, o, false), swap(l) ? Integer.reverseBytes(v) : v);
    }

    static float getFloat(AbstractMemorySegmentImpl s, ValueLayout.OfFloat l, long o) {
        int v = UNSAFE.getIntUnaligned(s.unsafeGetBase(), at(s, l, o, true));
        return Float.intBitsToFloat(swap(l) ? Integer.reverseBytes(v) : v);
    }

    static void setFloat(AbstractMemorySegmentImpl s, ValueLayout.OfFloat l, long o, float v) {
        int bits = Float.floatToRawIntBits(v);
        UNSAFE.putIntUnaligned(s.unsafeGetBase(), at(s, l, o, false), swap(l) ? Integer.reverseBytes(bits) : bits);
    }

    static long getLong(AbstractMemorySegmentImpl s, ValueLayout.OfLong l, long o) {
        long v = UNSAFE.getLongUnaligned(s.unsafeGetBase(), at(s, l, o, true));
        return swap(l) ? Long.reverseBytes(v) : v;
    }

    static void setLong(AbstractMemorySegmentImpl s, ValueLayout.OfLong l, long o, long v) {
        UNSAFE.putLongUnaligned(s.unsafeGetBase(), at(s, l, o, false), swap(l) ? Long.reverseBytes(v) : v);
    }

    static double getDouble(AbstractMemorySegmentImpl s, ValueLayout.OfDouble l, long o) {
        long v = UNSAFE.getLongUnaligned(s.unsafeGetBase(), at(s, l, o, true));
        return Double.longBitsToDouble(swap(l) ? Long.reverseBytes(v) : v);
    }

    static void setDouble(AbstractMemorySegmentImpl s, ValueLayout.OfDouble l, long o, double v) {
        long bits = Double.doubleToRawLongBits(v);
        UNSAFE.putLongUnaligned(s.unsafeGetBase(), at(s, l, o, false), swap(l) ? Long.reverseBytes(bits) : bits);
    }

    /** A pointer read back as a segment: zero-length, or as long as the layout's target layout. */
    static MemorySegment getAddress(AbstractMemorySegmentImpl s, AddressLayout l, long o) {
        long raw = UNSAFE.getLongUnaligned(s.unsafeGetBase(), at(s, l, o, true));
        MemorySegment p = MemorySegment.ofAddress(swap(l) ? Long.reverseBytes(raw) : raw);
        return l.targetLayout().map(t -> p.reinterpret(t.byteSize())).orElse(p);
    }

    static void setAddress(AbstractMemorySegmentImpl s, AddressLayout l, long o, MemorySegment v) {
        Objects.requireNonNull(v);
        if (!v.isNative()) {
            throw new IllegalArgumentException("heap segment not allowed: " + v);
        }
        long raw = v.address();
        UNSAFE.putLongUnaligned(s.unsafeGetBase(), at(s, l, o, false), swap(l) ? Long.reverseBytes(raw) : raw);
    }
}
