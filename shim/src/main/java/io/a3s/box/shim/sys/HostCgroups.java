package io.a3s.box.shim.sys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The host's cgroups, as containerd's clients name them: a path below the root of each hierarchy. */
public final class HostCgroups {
    private HostCgroups() {}

    /**
     * Moves process {@code pid} (all its threads) into the cgroup {@code path} of every hierarchy that has it,
     * as runc's shim joins its {@code shim_cgroup}: on cgroup v1 each controller's hierarchy, on v2 the unified
     * one. Returns the {@code cgroup.procs} files written.
     *
     * @throws IOException naming the cgroup when no hierarchy has it, or the file that refused the pid
     */
    public static List<Path> join(long pid, String path) throws IOException {
        return join(pid, path, Mounts.cgroupHierarchies());
    }

    static List<Path> join(long pid, String path, List<Path> hierarchies) throws IOException {
        // resolved against "/" and normalized, ".." cannot climb above a hierarchy's root
        Path relative = Path.of("/").relativize(Path.of("/").resolve(path).normalize());
        if (relative.toString().isEmpty()) {
            throw new IOException("cgroup " + path + ": not a cgroup below the hierarchies' roots");
        }
        List<Path> written = new ArrayList<>();
        for (Path h : hierarchies) {
            Path procs = h.resolve(relative).resolve("cgroup.procs");
            if (!Files.exists(procs)) {
                continue;
            }
            try {
                Files.writeString(procs, Long.toString(pid));
            } catch (IOException e) {
                throw new IOException("cannot move pid " + pid + " into " + procs + ": " + e.getMessage(), e);
            }
            written.add(procs);
        }
        if (written.isEmpty()) {
            throw new IOException("cgroup " + path + " does not exist in any of the host's cgroup hierarchies "
                    + hierarchies);
        }
        return written;
    }
}
