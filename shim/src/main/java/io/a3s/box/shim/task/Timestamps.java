package io.a3s.box.shim.task;

import com.google.protobuf.Timestamp;

import java.time.Instant;

/** {@code google.protobuf.Timestamp} conversions, and containerd's encoding of "not exited". */
public final class Timestamps {
    /**
     * Go's zero time (0001-01-01T00:00:00Z), which containerd's own shims send for a process that has not
     * exited: containerd 1.6 decodes a missing timestamp as this value and 2.x as the Unix epoch, so sending
     * it explicitly gives the same answer everywhere.
     */
    public static final Timestamp GO_ZERO_TIME = Timestamp.newBuilder().setSeconds(-62135596800L).build();

    private Timestamps() {
    }

    public static Timestamp of(Instant instant) {
        return Timestamp.newBuilder().setSeconds(instant.getEpochSecond()).setNanos(instant.getNano()).build();
    }
}
