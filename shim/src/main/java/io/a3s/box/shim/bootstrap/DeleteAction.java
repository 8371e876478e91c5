package io.a3s.box.shim.bootstrap;

import com.google.protobuf.Timestamp;
import io.a3s.box.containerd.task.DeleteResponse;
import io.a3s.box.shim.Layout;
import io.a3s.box.shim.admin.v1.CleanupTaskResponse;
import io.a3s.box.shim.config.ConfigException;
import io.a3s.box.shim.daemon.TaskRecord;
import io.a3s.box.shim.sys.Mounts;
import io.a3s.box.shim.vm.StateDir;
import io.a3s.box.ttrpc.StatusException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

/**
 * {@code delete}: release whatever the task still holds, and answer containerd with a {@code DeleteResponse}.
 *
 * <p>Contract with containerd: stdout is exactly one serialized {@code containerd.task.v2.DeleteResponse}
 * (pid, exit status 137 = 128 + SIGKILL unless the daemon knows the real one, exited_at = now); warnings on
 * stderr (containerd logs them); exit 0, whatever was or was not left to clean up: a non-zero exit would
 * keep containerd from removing the bundle. Idempotent.
 *
 * <p>Cleanup: if the daemon answers, it does the work ({@code Admin/CleanupTask}), since it holds the task.
 * If it is dead, this process cleans up from the task file the daemon kept: unmounts the rootfs, tears down
 * the VM from its state directory, removes the task file. Either way {@code <bundle>/rootfs} is unmounted if
 * something is still mounted there.
 */
public final class DeleteAction {
    static final int KILLED = 128 + 9;

    private DeleteAction() {
    }

    static int run(ShimArgs args, Invocation inv, VmReaper reaper) {
        PrintStream err = inv.stderr();
        String namespace;
        String id;
        try {
            namespace = Invocation.identifier("namespace", args.namespace());
            id = Invocation.identifier("id", args.id());
        } catch (UsageException e) {
            err.println("containerd-shim-a3s-box delete: " + e.getMessage());
            return 1;
        }
        Path bundle = args.bundle().isEmpty() ? inv.cwd() : inv.cwd().resolve(args.bundle());
        Instant now = Instant.now();
        DeleteResponse.Builder resp = DeleteResponse.newBuilder().setExitStatus(KILLED)
                .setExitedAt(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()));

        Layout layout;
        try {
            layout = inv.layout();
        } catch (ConfigException e) {
            warn(err, "config: " + e.getMessage() + "; using the default state directory");
            layout = inv.layout((Path) null);
        }
        String ttrpcAddress = inv.getenv(Invocation.TTRPC_ADDRESS_ENV);

        boolean daemonAlive = !args.address().isEmpty() && AdminClient.ping(
                layout.shimSocket(args.address(), ttrpcAddress), args.address(), ttrpcAddress,
                AdminClient.PING_TIMEOUT).isPresent();
        if (daemonAlive) {
            try {
                CleanupTaskResponse r = AdminClient.cleanupTask(layout.shimSocket(args.address(), ttrpcAddress),
                        namespace, id, bundle.toString());
                if (r.getFound()) {
                    resp.setPid(r.getPid());
                    if (r.hasExitedAt()) {
                        resp.setExitStatus(r.getExitStatus()).setExitedAt(r.getExitedAt());
                    }
                }
            } catch (IOException | StatusException e) {
                warn(err, "the shim daemon could not clean up task " + namespace + "/" + id + ": " + e.getMessage());
            }
        } else {
            localCleanup(layout, namespace, id, bundle, reaper, resp, err);
            reapOrphanVms(layout, reaper, err);
        }
        unmountRootfs(bundle, err);

        try {
            resp.build().writeTo(inv.stdout());
            inv.stdout().flush();
        } catch (IOException e) {
            warn(err, "cannot write the answer: " + e.getMessage());
        }
        return 0;
    }

    /**
     * Releases what a task's record says it holds (its VM, its rootfs mount) and removes the record, when
     * no daemon has the task: after the daemon died, or for a task whose create failed half-way.
     * Idempotent; failures are reported on {@code err} and leave the record for the next attempt.
     */
    public static void cleanupFromRecord(Layout layout, String namespace, String id, Path bundle, PrintStream err) {
        localCleanup(layout, namespace, id, bundle, VmReaper.qemu(), DeleteResponse.newBuilder(), err);
    }

    /** The daemon is gone: release what its task file says the task holds. */
    private static void localCleanup(Layout layout, String namespace, String id, Path bundle, VmReaper reaper,
                                     DeleteResponse.Builder resp, PrintStream err) {
        Path file = layout.taskFile(namespace, id);
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        TaskRecord task;
        try {
            task = TaskRecord.read(file);
        } catch (IOException | RuntimeException e) {
            warn(err, "unreadable task file " + file + ": " + e.getMessage() + "; removing it");
            deleteQuietly(file, err);
            return;
        }
        boolean clean = true;
        if (task.rootfsMounted() && task.bundle() != null && !task.bundle().isEmpty()
                && !Path.of(task.bundle()).equals(bundle)) {
            // the recorded bundle is where the daemon mounted; -bundle is unmounted by the caller anyway
            clean &= unmountRootfs(Path.of(task.bundle()), err);
        }
        if (task.vmStateDir() != null && !task.vmStateDir().isEmpty()) {
            Path vm = Path.of(task.vmStateDir()).toAbsolutePath().normalize();
            // Only ever a VM directory of this state tree: reconcile removes what it is given.
            if (!vm.getParent().equals(layout.vms().toAbsolutePath().normalize())) {
                warn(err, "task file " + file + " names VM directory " + vm + " outside " + layout.vms()
                        + "; not touching it");
            } else {
                try {
                    reaper.reconcile(vm);
                } catch (Exception e) {
                    clean = false;
                    warn(err, "cannot tear down VM " + vm + ": " + e.getMessage());
                }
            }
        }
        if (clean) {
            deleteQuietly(file, err);
        } else {
            warn(err, "keeping " + file + " for the next cleanup");
        }
    }

    /**
     * The daemon is gone: tears down the VMs it owned that no task file names (its warm pool's idle VMs,
     * which only that daemon knew; each task's VM goes with that task's delete). A VM directory without an
     * owner file is being set up by a live process and is left alone, as is every VM whose owner runs.
     */
    static void reapOrphanVms(Layout layout, VmReaper reaper, PrintStream err) {
        List<Path> vms;
        try {
            vms = StateDir.list(layout.root());
        } catch (IOException e) {
            warn(err, "cannot list " + layout.vms() + ": " + e.getMessage());
            return;
        }
        for (Path vm : vms) {
            if (!Files.exists(vm.resolve(StateDir.OWNER), LinkOption.NOFOLLOW_LINKS) || StateDir.ownerAlive(vm)
                    || namedByATaskFile(layout, vm)) {
                continue;
            }
            try {
                reaper.reconcile(vm);
            } catch (Exception e) {
                warn(err, "cannot tear down orphaned VM " + vm + ": " + e.getMessage());
            }
        }
    }

    private static boolean namedByATaskFile(Layout layout, Path vm) {
        Path tasks = layout.root().resolve("tasks");
        if (!Files.isDirectory(tasks)) {
            return false;
        }
        try (var files = Files.walk(tasks, 2)) {
            return files.filter(f -> f.toString().endsWith(".json")).anyMatch(f -> {
                try {
                    TaskRecord t = TaskRecord.read(f);
                    return t.vmStateDir() != null && !t.vmStateDir().isEmpty()
                            && Path.of(t.vmStateDir()).toAbsolutePath().normalize().equals(vm.toAbsolutePath().normalize());
                } catch (IOException | RuntimeException e) {
                    return false;
                }
            });
        } catch (IOException | RuntimeException e) {
            return true; // unsure: leave it
        }
    }

    /** Lazily unmounts everything at or below {@code <bundle>/rootfs}. Returns false if something stays. */
    static boolean unmountRootfs(Path bundle, PrintStream err) {
        Path rootfs = bundle.resolve("rootfs");
        try {
            List<Path> mounted = Mounts.mountsUnder(rootfs);
            if (mounted.isEmpty()) {
                return true;
            }
            Mounts.detachAllUnder(rootfs);
            return true;
        } catch (IOException | RuntimeException e) {
            warn(err, "cannot unmount " + rootfs + ": " + e.getMessage());
            return false;
        }
    }

    private static void deleteQuietly(Path file, PrintStream err) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            warn(err, "cannot remove " + file + ": " + e.getMessage());
        }
    }

    private static void warn(PrintStream err, String message) {
        err.println("containerd-shim-a3s-box delete: warning: " + StartAction.oneLine(message));
    }
}
