package io.a3s.box.shim.task;

import com.google.protobuf.Timestamp;

import java.time.Instant;

/**
 * How a process ended: its status (0..255, or 128+n when killed by signal n) and when, on the host clock
 * (the guest's clock may be skewed; containerd compares exit times with its own).
 */
public record ExitStatus(int status, Instant exitedAt) {
    /** A process whose VM died: as if SIGKILLed (128 + 9). */
    public static final int VM_DIED = 137;

    public Timestamp timestamp() {
        return Timestamps.of(exitedAt);
    }
}
