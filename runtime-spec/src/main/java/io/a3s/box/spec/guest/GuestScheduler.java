package io.a3s.box.spec.guest;

import java.util.List;

/**
 * sched_setattr(2) attributes for the process. {@code runtime}, {@code deadline} and {@code period} are
 * nanoseconds for SCHED_DEADLINE, unsigned 64-bit.
 */
public record GuestScheduler(
        String policy, int nice, int priority, List<String> flags, long runtime, long deadline, long period) {
    public GuestScheduler {
        flags = List.copyOf(flags);
    }
}
