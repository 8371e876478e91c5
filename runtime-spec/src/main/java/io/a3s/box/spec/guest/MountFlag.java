package io.a3s.box.spec.guest;

/**
 * mount(2) flags the guest may apply, with the kernel's values, named as in {@code <sys/mount.h>} so that the
 * agent's table reads the same. Propagation is carried separately (see {@link GuestMount#propagation()}).
 */
public enum MountFlag {
    MS_RDONLY(1),
    MS_NOSUID(2),
    MS_NODEV(4),
    MS_NOEXEC(8),
    MS_SYNCHRONOUS(16),
    MS_REMOUNT(32),
    MS_MANDLOCK(64),
    MS_DIRSYNC(128),
    MS_NOSYMFOLLOW(256),
    MS_NOATIME(1024),
    MS_NODIRATIME(2048),
    MS_BIND(4096),
    MS_REC(16384),
    MS_SILENT(32768),
    MS_RELATIME(1 << 21),
    MS_STRICTATIME(1 << 24),
    MS_LAZYTIME(1 << 25);

    private final long value;

    MountFlag(long value) {
        this.value = value;
    }

    /** The kernel's value of the flag. */
    public long value() {
        return value;
    }
}
