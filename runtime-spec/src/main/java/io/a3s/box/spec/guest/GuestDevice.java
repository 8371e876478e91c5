package io.a3s.box.spec.guest;

/**
 * A device node the agent creates in the container's /dev (mknod). Only devices the guest kernel provides are
 * listed: a host device the VM does not have cannot be reached through a node.
 *
 * @param type     {@code c}, {@code b}, {@code u} or {@code p}
 * @param fileMode permission bits, or null for 0666
 * @param uid      owner, or null for 0
 * @param gid      group, or null for 0
 */
public record GuestDevice(String path, String type, long major, long minor, Long fileMode, Long uid, Long gid) {}
