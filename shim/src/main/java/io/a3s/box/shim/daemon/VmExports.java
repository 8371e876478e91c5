package io.a3s.box.shim.daemon;

import io.a3s.box.shim.sys.Linux;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.spec.guest.ShareBind;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.Map;

/**
 * The host paths bind-mounted into one VM's exported directories, each exported once. QEMU's 9p names files by
 * path while the guest caches inodes by (device, inode): one source exported at two paths aliases in the guest,
 * and lookups through one fail once the other is unmounted ({@code docs/vm.md}). That happens as soon as two
 * containers of a pod mount the same host file (CRI gives every container of a pod the sandbox's
 * {@code /etc/hosts}, {@code resolv.conf} and {@code /dev/shm}), or one container mounts a directory twice. So a
 * second bind of the same source (with the same read-only flag and propagation) reuses the first export, counted,
 * and the guest-side mount reads from that export's path. Thread-safe.
 */
final class VmExports {
    /** What a bind gave: the guest path to mount from (maybe another container's export) and the key to unbind. */
    record Export(String guestPath, Object key) {}

    private record Entry(String guestPath, Path mountPoint, int users) {}

    private final VmInstance vm;
    private final Map<Object, Entry> entries = new HashMap<>();

    VmExports(VmInstance vm) {
        this.vm = vm;
    }

    /**
     * Exports {@code share.hostPath()} at {@code share.guestPath()}, or returns the export of the same source made
     * earlier.
     *
     * @throws StatusException INVALID_ARGUMENT naming the spec field when the source does not exist
     */
    synchronized Export bind(ShareBind share) throws IOException, StatusException {
        Path source = Path.of(share.hostPath());
        Object key;
        try {
            key = java.util.List.of(Files.readAttributes(source, BasicFileAttributes.class).fileKey(),
                    share.readonly(), share.propagation());
        } catch (NoSuchFileException e) {
            throw missing(share);
        }
        Entry e = entries.get(key);
        if (e != null) {
            entries.put(key, new Entry(e.guestPath(), e.mountPoint(), e.users() + 1));
            return new Export(e.guestPath(), key);
        }
        Path mountPoint;
        try {
            mountPoint = vm.bind(source, share.guestPath(), share.readonly(), share.propagation());
        } catch (NoSuchFileException ex) {
            throw missing(share);
        } catch (Linux.ErrnoException | IllegalArgumentException ex) {
            throw Code.INTERNAL.toException("%s: %s", share.specPath(), ex.getMessage());
        }
        entries.put(key, new Entry(share.guestPath(), mountPoint, 1));
        return new Export(share.guestPath(), key);
    }

    /** Drops one use of an export; the last unmounts it. */
    synchronized void unbind(Export export) {
        Entry e = entries.get(export.key());
        if (e == null) {
            return;
        }
        if (e.users() > 1) {
            entries.put(export.key(), new Entry(e.guestPath(), e.mountPoint(), e.users() - 1));
        } else {
            entries.remove(export.key());
            VmSandbox.detach(e.mountPoint());
        }
    }

    private static StatusException missing(ShareBind share) {
        return Code.INVALID_ARGUMENT.toException("%s: mount source %s does not exist", share.specPath(),
                share.hostPath());
    }
}
