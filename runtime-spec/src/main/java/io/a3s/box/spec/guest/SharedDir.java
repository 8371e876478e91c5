package io.a3s.box.spec.guest;

import java.util.regex.Pattern;

/**
 * Where host files appear inside the VM. The host exports two directories to the guest over virtio-9p; the shim
 * bind-mounts each container's rootfs into the first and its bind-mount sources into the second (a bind mount
 * made under an exported directory after boot is visible in the guest, so a pooled VM needs no new device per
 * container):
 *
 * <pre>
 *   /run/a3s/share/                       9p, cache=loose: only the guest writes a rootfs while it runs
 *     &lt;containerId&gt;/rootfs               the container's root filesystem
 *   /run/a3s/volumes/                     9p, cache=mmap: the host may write a volume while the container
 *                                           runs, and the guest must see that (no page or attribute cache)
 *     &lt;containerId&gt;/&lt;i&gt;                  the source of mounts[i] (a directory, or a file for a file
 *                                           bind mount)
 * </pre>
 *
 * <p>{@code i} is the index in the OCI {@code mounts} array, so a path names the config entry it came from.
 */
public final class SharedDir {
    /** Mount point of the 9p share in the guest (root filesystems). */
    public static final String GUEST_ROOT = "/run/a3s/share";
    /** Mount point of the 9p volumes export in the guest (bind-mount sources). */
    public static final String VOLUMES_ROOT = "/run/a3s/volumes";
    /** Name of a container's rootfs under its share directory. */
    public static final String ROOTFS = "rootfs";

    /**
     * Container ids as containerd accepts them (letters, digits, {@code _ . -}, starting with a letter or digit, at
     * most 76 characters): they become one path component here, so nothing else may pass.
     */
    private static final Pattern CONTAINER_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,75}");

    private SharedDir() {}

    /** The guest path of the container's share directory; refuses ids that are not a single safe component. */
    public static String containerDir(String containerId) {
        return GUEST_ROOT + "/" + checked(containerId);
    }

    /** The guest path of the container's rootfs. */
    public static String rootfs(String containerId) {
        return containerDir(containerId) + "/" + ROOTFS;
    }

    /** The guest path of the source of {@code mounts[index]}. */
    public static String mountSource(String containerId, int index) {
        if (index < 0) {
            throw new IllegalArgumentException("mount index " + index + " is negative");
        }
        return VOLUMES_ROOT + "/" + checked(containerId) + "/" + index;
    }

    private static String checked(String containerId) {
        if (containerId == null || !CONTAINER_ID.matcher(containerId).matches()) {
            throw new IllegalArgumentException("container id " + (containerId == null ? "null" : '"' + containerId
                    + '"') + " is not 1-76 letters, digits, '_', '.' or '-' starting with a letter or digit");
        }
        return containerId;
    }
}
