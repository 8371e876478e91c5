package io.a3s.box.spec.guest;

/**
 * The container's root filesystem in the guest.
 *
 * @param path        guest path, {@link SharedDir#rootfs}
 * @param readonly    remount it read-only before the process runs
 * @param propagation the propagation of the container's root mount ({@code linux.rootfsPropagation}), or null
 */
public record GuestRoot(String path, boolean readonly, String propagation) {}
