package io.a3s.box.shim.daemon;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * What a live task holds on the host, written to {@code Layout.taskFile(namespace, id)} as soon as Create
 * mounted anything and removed once Delete released everything. It is how the shim binary's {@code delete}
 * cleans up after a daemon that died (SIGKILL, OOM) without leaking a mount or a VM.
 *
 * @param bundle        the task's bundle directory
 * @param rootfsMounted whether the daemon mounted {@code <bundle>/rootfs} (and so must unmount it)
 * @param vmId          the leased VM, empty until leased
 * @param vmStateDir    that VM's state directory, empty until leased
 */
public record TaskRecord(String namespace, String id, String bundle, boolean rootfsMounted, String vmId,
                         String vmStateDir) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public TaskRecord withVm(String newVmId, String newVmStateDir) {
        return new TaskRecord(namespace, id, bundle, rootfsMounted, newVmId, newVmStateDir);
    }

    /** Writes atomically (temp file + rename), so a reader never sees half a record. */
    public void write(Path file) throws IOException {
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), this);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    public static TaskRecord read(Path file) throws IOException {
        return JSON.readValue(file.toFile(), TaskRecord.class);
    }
}
