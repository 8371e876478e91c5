package io.a3s.box.spec.guest;

/** ioprio_set(2) for the process: {@code IOPRIO_CLASS_RT}, {@code _BE} or {@code _IDLE}, and a level 0-7. */
public record GuestIoPriority(String ioClass, int priority) {}
