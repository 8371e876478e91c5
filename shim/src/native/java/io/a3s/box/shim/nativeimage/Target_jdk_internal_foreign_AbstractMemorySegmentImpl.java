package io.a3s.box.shim.nativeimage;

import com.oracle.svm.core.annotate.Substitute;
import com.oracle.svm.core.annotate.TargetClass;
import jdk.internal.foreign.AbstractMemorySegmentImpl;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@link MemorySegment}'s accessors in the daemons' native image. The JDK implements them with layout var
 * handles, which SubstrateVM supports only with its FFM module (not among the jars Maven serves); here they read
 * and write through {@link SegmentAccess} instead, with the same bounds, alignment, liveness and byte-order
 * rules.
 */
@TargetClass(className = "jdk.internal.foreign.AbstractMemorySegmentImpl")
final class Target_jdk_internal_foreign_AbstractMemorySegmentImpl {
    @Substitute
    public byte get(ValueLayout.OfByte layout, long offset) {
        return SegmentAccess.getByte((AbstractMemorySegmentImpl) (Object) this, layout, offset);
    }

    @Substitute
    public void set(ValueLayout.OfByte layout, long offset, byte value) {
        SegmentAccess.setByte((AbstractMemorySegmentImpl) (Object) this, layout, offset, value);
    }

    @Substitute
    public byte getAtIndex(ValueLayout.OfByte layout, long index) {
        return SegmentAccess.getByte((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index));
    }

    @Substitute
    public void setAtIndex(ValueLayout.OfByte layout, long index, byte value) {
        SegmentAccess.setByte((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index), value);
    }

    @Substitute
    public boolean get(ValueLayout.OfBoolean layout, long offset) {
        return SegmentAccess.getBoolean((AbstractMemorySegmentImpl) (Object) this, layout, offset);
    }

    @Substitute
    public void set(ValueLayout.OfBoolean layout, long offset, boolean value) {
        SegmentAccess.setBoolean((AbstractMemorySegmentImpl) (Object) this, layout, offset, value);
    }

    @Substitute
    public boolean getAtIndex(ValueLayout.OfBoolean layout, long index) {
        return SegmentAccess.getBoolean((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index));
    }

    @Substitute
    public void setAtIndex(ValueLayout.OfBoolean layout, long index, boolean value) {
        SegmentAccess.setBoolean((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index), value);
    }

    @Substitute
    public char get(ValueLayout.OfChar layout, long offset) {
        return SegmentAccess.getChar((AbstractMemorySegmentImpl) (Object) this, layout, offset);
    }

    @Substitute
    public void set(ValueLayout.OfChar layout, long offset, char value) {
        SegmentAccess.setChar((AbstractMemorySegmentImpl) (Object) this, layout, offset, value);
    }

    @Substitute
    public char getAtIndex(ValueLayout.OfChar layout, long index) {
        return SegmentAccess.getChar((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index));
    }

    @Substitute
    public void setAtIndex(ValueLayout.OfChar layout, long index, char value) {
        SegmentAccess.setChar((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index), value);
    }

    @Substitute
    public short get(ValueLayout.OfShort layout, long offset) {
        return SegmentAccess.getShort((AbstractMemorySegmentImpl) (Object) this, layout, offset);
    }

    @Substitute
    public void set(ValueLayout.OfShort layout, long offset, short value) {
        SegmentAccess.setShort((AbstractMemorySegmentImpl) (Object) this, layout, offset, value);
    }

    @Substitute
    public short getAtIndex(ValueLayout.OfShort layout, long index) {
        return SegmentAccess.getShort((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index));
    }

    @Substitute
    public void setAtIndex(ValueLayout.OfShort layout, long index, short value) {
        SegmentAccess.setShort((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index), value);
    }

    @Substitute
    public int get(ValueLayout.OfInt layout, long offset) {
        return SegmentAccess.getInt((AbstractMemorySegmentImpl) (Object) this, layout, offset);
    }

    @Substitute
    public void set(ValueLayout.OfInt layout, long offset, int value) {
        SegmentAccess.setInt((AbstractMemorySegmentImpl) (Object) this, layout, offset, value);
    }

    @Substitute
    public int getAtIndex(ValueLayout.OfInt layout, long index) {
        return SegmentAccess.getInt((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index));
    }

    @Substitute
    public void setAtIndex(ValueLayout.OfInt layout, long index, int value) {
        SegmentAccess.setInt((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index), value);
    }

    @Substitute
    public float get(ValueLayout.OfFloat layout, long offset) {
        return SegmentAccess.getFloat((AbstractMemorySegmentImpl) (Object) this, layout, offset);
    }

    @Substitute
    public void set(ValueLayout.OfFloat layout, long offset, float value) {
        SegmentAccess.setFloat((AbstractMemorySegmentImpl) (Object) this, layout, offset, value);
    }

    @Substitute
    public float getAtIndex(ValueLayout.OfFloat layout, long index) {
        return SegmentAccess.getFloat((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index));
    }

    @Substitute
    public void setAtIndex(ValueLayout.OfFloat layout, long index, float value) {
        SegmentAccess.setFloat((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index), value);
    }

    @Substitute
    public long get(ValueLayout.OfLong layout, long offset) {
        return SegmentAccess.getLong((AbstractMemorySegmentImpl) (Object) this, layout, offset);
    }

    @Substitute
    public void set(ValueLayout.OfLong layout, long offset, long value) {
        SegmentAccess.setLong((AbstractMemorySegmentImpl) (Object) this, layout, offset, value);
    }

    @Substitute
    public long getAtIndex(ValueLayout.OfLong layout, long index) {
        return SegmentAccess.getLong((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index));
    }

    @Substitute
    public void setAtIndex(ValueLayout.OfLong layout, long index, long value) {
        SegmentAccess.setLong((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index), value);
    }

    @Substitute
    public double get(ValueLayout.OfDouble layout, long offset) {
        return SegmentAccess.getDouble((AbstractMemorySegmentImpl) (Object) this, layout, offset);
    }

    @Substitute
    public void set(ValueLayout.OfDouble layout, long offset, double value) {
        SegmentAccess.setDouble((AbstractMemorySegmentImpl) (Object) this, layout, offset, value);
    }

    @Substitute
    public double getAtIndex(ValueLayout.OfDouble layout, long index) {
        return SegmentAccess.getDouble((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index));
    }

    @Substitute
    public void setAtIndex(ValueLayout.OfDouble layout, long index, double value) {
        SegmentAccess.setDouble((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index), value);
    }

    @Substitute
    public MemorySegment get(AddressLayout layout, long offset) {
        return SegmentAccess.getAddress((AbstractMemorySegmentImpl) (Object) this, layout, offset);
    }

    @Substitute
    public void set(AddressLayout layout, long offset, MemorySegment value) {
        SegmentAccess.setAddress((AbstractMemorySegmentImpl) (Object) this, layout, offset, value);
    }

    @Substitute
    public MemorySegment getAtIndex(AddressLayout layout, long index) {
        return SegmentAccess.getAddress((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index));
    }

    @Substitute
    public void setAtIndex(AddressLayout layout, long index, MemorySegment value) {
        SegmentAccess.setAddress((AbstractMemorySegmentImpl) (Object) this, layout, SegmentAccess.indexOffset(layout, index), value);
    }
}
