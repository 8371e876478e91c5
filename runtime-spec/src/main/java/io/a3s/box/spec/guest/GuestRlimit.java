package io.a3s.box.spec.guest;

/**
 * One setrlimit(2) call. Values are unsigned 64-bit, as the kernel's {@code rlim_t} and a protobuf uint64:
 * {@code RLIM_INFINITY} (2^64-1) reads as -1 in Java and in this record's JSON.
 *
 * @param type the resource, as {@code RLIMIT_NOFILE}
 */
public record GuestRlimit(String type, long soft, long hard) {}
