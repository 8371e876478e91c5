package io.a3s.box.shim.daemon;

import io.a3s.box.containerd.types.Mount;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Mounts the snapshot containerd hands over in CreateTaskRequest.rootfs at {@code <bundle>/rootfs}, as
 * containerd's runc shim does (overlay from the overlayfs snapshotter, bind from the native one).
 */
final class RootfsMounts {
    /** Option words that are mount(2) flags; everything else goes to the filesystem as data. */
    private static final Map<String, Long> FLAGS = Map.ofEntries(
            Map.entry("ro", Linux.MS_RDONLY), Map.entry("nosuid", 2L), Map.entry("nodev", 4L),
            Map.entry("noexec", 8L), Map.entry("sync", 16L), Map.entry("dirsync", 128L),
            Map.entry("noatime", 1024L), Map.entry("nodiratime", 2048L), Map.entry("relatime", 1L << 21),
            Map.entry("strictatime", 1L << 24), Map.entry("bind", Linux.MS_BIND),
            Map.entry("rbind", Linux.MS_BIND | Linux.MS_REC));
    private static final List<String> CLEARING = List.of("rw", "suid", "dev", "exec", "async", "atime",
            "diratime");

    private RootfsMounts() {
    }

    /**
     * Mounts each of {@code mounts} on {@code target} in order (containerd sends one; several stack).
     *
     * @return false when there was nothing to mount (the bundle's rootfs was prepared by the caller)
     */
    static boolean mount(List<Mount> mounts, Path target) throws StatusException {
        List<Path> done = new ArrayList<>();
        try {
            for (Mount m : mounts) {
                long flags = 0;
                List<String> data = new ArrayList<>();
                for (String o : m.getOptionsList()) {
                    Long f = FLAGS.get(o);
                    if (f != null) {
                        flags |= f;
                    } else if (!CLEARING.contains(o)) {
                        data.add(o);
                    }
                }
                String type = m.getType();
                if (type.equals("bind") || type.equals("rbind")) {
                    flags |= Linux.MS_BIND | (type.equals("rbind") ? Linux.MS_REC : 0);
                }
                if ((flags & Linux.MS_BIND) != 0) {
                    Linux.bindMount(m.getSource(), target.toString(), (flags & Linux.MS_RDONLY) != 0);
                } else {
                    Linux.mount(m.getSource(), target.toString(), type, flags, String.join(",", data));
                }
                done.add(target);
            }
            return !mounts.isEmpty();
        } catch (Linux.ErrnoException e) {
            done.forEach(VmSandbox::detach);
            throw Code.INTERNAL.toException("mount rootfs at %s: %s", target, e.getMessage());
        }
    }
}
