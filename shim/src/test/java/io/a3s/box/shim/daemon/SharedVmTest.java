package io.a3s.box.shim.daemon;

import static io.a3s.box.spec.guest.ShareBind.HostPropagation.SLAVE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.shim.pool.Lease;
import io.a3s.box.shim.pool.VmProvider;
import io.a3s.box.shim.vm.BootInfo;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.shim.vm.VmExit;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.spec.guest.ShareBind;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A VM shared by the containers of a pod: its exports made once per source, and given back with the last one. */
class SharedVmTest {
    @TempDir
    Path dir;
    private final List<Lease> released = new ArrayList<>();
    private final VmProvider provider = new VmProvider() {
        @Override
        public Lease lease(VmConfig key, String holder) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void release(Lease lease) {
            released.add(lease);
        }
    };
    private final List<Path> mountPoints = new ArrayList<>();

    @AfterEach
    void unmount() {
        mountPoints.forEach(VmSandbox::detach);
    }

    private SharedVm vm(String podId) throws Exception {
        Path share = Files.createDirectories(dir.resolve("vm/share"));
        Files.createDirectories(dir.resolve("vm/volumes"));
        return new SharedVm(new Lease(new ShareOnlyVm(share), "test", Instant.now(), true), provider, podId);
    }

    private static boolean mounted(Path p) throws Exception {
        return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
                .anyMatch(l -> l.split(" ")[4].equals(p.toString()));
    }

    @Test
    void theSameSourceIsExportedOnceAndUnmountedWithItsLastUser() throws Exception {
        SharedVm vm = vm("pod");
        Path hosts = Files.writeString(dir.resolve("hosts"), "127.0.0.1 localhost\n");
        var a = vm.exports().bind(new ShareBind(hosts.toString(), "/run/a3s/volumes/a/0", false, SLAVE, "mounts[0]"));
        var b = vm.exports().bind(new ShareBind(hosts.toString(), "/run/a3s/volumes/b/0", false, SLAVE, "mounts[0]"));
        Path first = dir.resolve("vm/volumes/a/0");
        mountPoints.add(first);
        assertEquals("/run/a3s/volumes/a/0", a.guestPath());
        assertEquals("/run/a3s/volumes/a/0", b.guestPath(), "the second container reads the first export");
        assertTrue(mounted(first));
        assertFalse(Files.exists(dir.resolve("vm/volumes/b/0")), "no second export of the same file");

        // read-only is part of the export: the same source read-only is a second export
        var ro = vm.exports().bind(new ShareBind(hosts.toString(), "/run/a3s/volumes/b/1", true, SLAVE, "mounts[1]"));
        mountPoints.add(dir.resolve("vm/volumes/b/1"));
        assertEquals("/run/a3s/volumes/b/1", ro.guestPath());

        vm.exports().unbind(a);
        assertTrue(mounted(first), "still used by the second container");
        vm.exports().unbind(b);
        assertFalse(mounted(first));
        vm.exports().unbind(ro);
        assertFalse(mounted(dir.resolve("vm/volumes/b/1")));
    }

    @Test
    void aMissingSourceNamesTheField() throws Exception {
        StatusException e = assertThrows(StatusException.class, () -> vm(null).exports().bind(
                new ShareBind(dir.resolve("nope").toString(), "/run/a3s/volumes/a/0", false, SLAVE, "mounts[3]")));
        assertEquals(Code.INVALID_ARGUMENT, e.code());
        assertEquals("mounts[3]: mount source " + dir.resolve("nope") + " does not exist",
                e.status().description());
    }

    @Test
    void thePodsVmGoesBackWithItsLastContainerNotWithItsSandbox() throws Exception {
        Pods pods = new Pods();
        SharedVm vm = vm("sb");
        pods.register(vm);
        assertEquals(Code.ALREADY_EXISTS, assertThrows(StatusException.class, () -> pods.register(vm)).code());
        vm.addInit(7, "sb");
        SharedVm joined = pods.join("sb", "c1");
        assertEquals("sb", joined.containerOf(7));
        assertNull(joined.containerOf(1), "the agent is no container");

        pods.forget(vm); // the sandbox is deleted first
        vm.leave();
        assertEquals(List.of(), released, "c1 still runs in it");
        StatusException late = assertThrows(StatusException.class, () -> pods.join("sb", "c2"));
        assertEquals(Code.FAILED_PRECONDITION, late.code());
        assertEquals("container c2 belongs to pod sandbox sb, which has no vm in this shim: create the sandbox"
                + " container first", late.status().description());
        joined.leave();
        assertEquals(List.of(vm.lease()), released);
        assertFalse(vm.join(), "a VM given back takes no one");
    }

    /** Only what exports need: the share and volumes directories. */
    private record ShareOnlyVm(Path shareDir) implements VmInstance {
        @Override public String id() { return "vm-test"; }
        @Override public VmConfig config() { throw new UnsupportedOperationException(); }
        @Override public Path stateDir() { return shareDir.getParent(); }
        @Override public BootInfo start(Duration deadline) { throw new UnsupportedOperationException(); }
        @Override public BootInfo bootInfo() { return null; }
        @Override public AgentClient agent() { throw new UnsupportedOperationException(); }
        @Override public long pid() { return -1; }
        @Override public boolean isRunning() { return true; }
        @Override public CompletableFuture<VmExit> onExit() { return new CompletableFuture<>(); }
        @Override public void pause() { }
        @Override public void resume() { }
        @Override public void detach() { }
        @Override public boolean isDetached() { return false; }
        @Override public void kill() { }
        @Override public void shutdown() { }
        @Override public void close() { }
    }
}
