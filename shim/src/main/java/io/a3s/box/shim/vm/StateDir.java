package io.a3s.box.shim.vm;

import io.a3s.box.shim.sys.Mounts;
import io.a3s.box.shim.sys.ProcessRef;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The layout of a VM's state directory, {@code <stateRoot>/vms/<vmId>/}, and the operations on it that do
 * not depend on the backend. The directory is the source of truth for a VM: whoever finds it can tell what
 * runs for it and tear it down, without the Java object that created it.
 *
 * <pre>
 * &lt;stateRoot&gt;/vms/&lt;vmId&gt;/
 *   config.json   what was asked and what was launched (backend, VmConfig, accelerator, argv); written first
 *   qemu.pid      pid of the VMM (written by QEMU itself, -pidfile)
 *   agent.sock    host end of the agent's virtio-serial port (QEMU listens, the host connects)
 *   qmp.sock      QEMU's control socket (quit, stop, cont)
 *   console.log   the guest's serial console (kernel messages, agent log)
 *   share/        exported to the guest over virtio-9p (cached); container root filesystems are bind-mounted here
 *   volumes/      exported to the guest over virtio-9p (uncached); bind-mount sources are bind-mounted here
 *   owner         "&lt;pid&gt; &lt;starttime&gt;" of the process that owns the VM (its lease holder)
 * </pre>
 */
public final class StateDir {
    public static final String VMS = "vms";
    public static final String CONFIG = "config.json";
    public static final String PID = "qemu.pid";
    public static final String AGENT_SOCKET = "agent.sock";
    public static final String QMP_SOCKET = "qmp.sock";
    public static final String CONSOLE = "console.log";
    public static final String SHARE = "share";
    public static final String VOLUMES = "volumes";
    public static final String OWNER = "owner";

    private StateDir() {}

    /** {@code <stateRoot>/vms/<vmId>}. */
    public static Path of(Path stateRoot, String vmId) {
        if (!vmId.matches("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")) {
            throw new IllegalArgumentException("vm id '" + vmId + "' must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
        }
        return stateRoot.resolve(VMS).resolve(vmId);
    }

    /** Every VM state directory under {@code stateRoot}. */
    public static List<Path> list(Path stateRoot) throws IOException {
        Path vms = stateRoot.resolve(VMS);
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(vms)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(vms)) {
            for (Path p : ds) {
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.add(p);
                }
            }
        }
        return out;
    }

    /** Records {@code owner} (its pid and start time, which tells a live owner from a reused pid). */
    public static void writeOwner(Path stateDir, long pid) throws IOException {
        String line = pid + " " + startTime(pid).orElse(0L) + "\n";
        Path tmp = stateDir.resolve(OWNER + ".tmp");
        Files.writeString(tmp, line, StandardCharsets.UTF_8);
        Files.move(tmp, stateDir.resolve(OWNER), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Whether the owner recorded in {@code stateDir} still runs. False when there is no owner file. */
    public static boolean ownerAlive(Path stateDir) {
        try {
            String[] f = Files.readString(stateDir.resolve(OWNER), StandardCharsets.UTF_8).trim().split("\\s+");
            long pid = Long.parseLong(f[0]);
            long start = f.length > 1 ? Long.parseLong(f[1]) : 0;
            if (!ProcessRef.procAlive(pid)) {
                return false;
            }
            return start == 0 || startTime(pid).map(s -> s == start).orElse(false);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Field 22 of {@code /proc/<pid>/stat}: start time in clock ticks since boot. */
    static Optional<Long> startTime(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.UTF_8);
            String[] rest = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Optional.of(Long.parseLong(rest[19]));   // field 22 is the 20th after "pid (comm)"
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /**
     * Lazily unmounts everything under {@code stateDir} (the share and the volumes), then removes
     * {@code stateDir}. Never crosses a mount point or follows a symlink: if anything is still mounted below the
     * directory, nothing under that mount is deleted (a container's root filesystem bind-mounted into the share
     * must never be emptied) and the call fails.
     *
     * @throws IOException naming what could not be unmounted or removed
     */
    public static void unmountAndRemove(Path stateDir) throws IOException {
        Path dir = stateDir.toAbsolutePath().normalize();
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Mounts.detachAllUnder(dir);
        List<Path> left = Mounts.mountsUnder(dir);
        if (!left.isEmpty()) {
            throw new IOException("still mounted under " + dir + ": " + left);
        }
        Object dev = Files.getAttribute(dir, "unix:dev", LinkOption.NOFOLLOW_LINKS);
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
                if (!dev.equals(Files.getAttribute(d, "unix:dev", LinkOption.NOFOLLOW_LINKS))) {
                    throw new IOException("refusing to remove " + d + ": it is on another file system (a mount)");
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(f);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path f, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE;
                }
                throw e;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null && !(e instanceof NoSuchFileException)) {
                    throw e;
                }
                Files.deleteIfExists(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
