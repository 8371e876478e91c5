package io.a3s.box.spec.guest;

/** An offset of a clock ({@code boottime} or {@code monotonic}) in the container's time namespace. */
public record GuestTimeOffset(String clock, long secs, long nanosecs) {}
