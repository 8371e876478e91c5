package io.a3s.box.spec.guest;

import java.util.List;

/**
 * One mount the agent performs in the container's mount namespace, in order, after the rootfs.
 *
 * @param type           the filesystem type ({@code bind} for bind mounts, else proc, sysfs, devpts, tmpfs, mqueue
 *                       or cgroup2)
 * @param source         for a bind mount the guest path under {@link SharedDir}; otherwise as in the config
 * @param destination    absolute path inside the container
 * @param flags          mount(2) flags; for a bind mount with {@link MountFlag#MS_RDONLY} (or nosuid, ...) the agent
 *                       must remount, as the kernel ignores them on the bind itself
 * @param recursiveFlags flags to set on the whole subtree with mount_setattr(2) ({@code rro}, {@code rnosuid}, ...);
 *                       at most one of the atime modes ({@link MountFlag#MS_NOATIME}, {@link MountFlag#MS_RELATIME},
 *                       {@link MountFlag#MS_STRICTATIME})
 * @param data           filesystem options ({@code size=64m,mode=1777}), comma-separated; empty when none
 * @param propagation    {@code private}, {@code rslave}, ... or null to keep the default
 * @param recursiveClearFlags flags to clear on the whole subtree ({@code rrw}, {@code rsuid}, ...); never one of
 *                       {@code recursiveFlags}
 */
public record GuestMount(
        String type,
        String source,
        String destination,
        List<MountFlag> flags,
        List<MountFlag> recursiveFlags,
        String data,
        String propagation,
        List<MountFlag> recursiveClearFlags) {
    public GuestMount {
        flags = List.copyOf(flags);
        recursiveFlags = List.copyOf(recursiveFlags);
        recursiveClearFlags = List.copyOf(recursiveClearFlags);
    }

    /** A mount that clears no recursive attribute. */
    public GuestMount(String type, String source, String destination, List<MountFlag> flags,
            List<MountFlag> recursiveFlags, String data, String propagation) {
        this(type, source, destination, flags, recursiveFlags, data, propagation, List.of());
    }
}
