package io.a3s.box.shim.bootstrap;

import io.a3s.box.shim.Layout;
import io.a3s.box.shim.daemon.TaskRecord;
import io.a3s.box.shim.vm.StateDir;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A SIGKILLed daemon leaves the idle VMs of its warm pool behind, which no task file names: the first
 * {@code delete} that finds the daemon dead tears them down, and nothing a live process owns or a task
 * file names.
 */
class OrphanVmTest {
    @TempDir
    Path root;

    private Path vm(String id, Long ownerPid) throws Exception {
        Path dir = Files.createDirectories(StateDir.of(root, id));
        if (ownerPid != null) {
            StateDir.writeOwner(dir, ownerPid);
        }
        return dir;
    }

    @Test
    void deleteWithoutADaemonTearsDownOnlyTheVmsOfADeadOwnerThatNoTaskNames() throws Exception {
        Process dead = new ProcessBuilder("true").start();
        dead.waitFor();
        Path idle = vm("idle", dead.pid());
        vm("live", ProcessHandle.current().pid());
        vm("booting", null);
        Path leased = vm("leased", dead.pid());
        Layout layout = new Layout(root);
        Path taskFile = layout.taskFile("ns", "c1");
        Files.createDirectories(taskFile.getParent());
        new TaskRecord("ns", "c1", "/nonexistent/bundle", false, "leased", leased.toString()).write(taskFile);

        List<Path> reaped = new ArrayList<>();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        DeleteAction.reapOrphanVms(layout, reaped::add, new PrintStream(err, true));

        assertEquals(List.of(idle), reaped, err.toString());
    }
}
