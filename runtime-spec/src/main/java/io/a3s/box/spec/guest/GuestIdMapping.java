package io.a3s.box.spec.guest;

/** A uid_map or gid_map line for the container's user namespace; all unsigned 32-bit. */
public record GuestIdMapping(long containerId, long hostId, long size) {}
