package io.a3s.box.shim.vm.qemu;

import io.a3s.box.guest.v1.ContainerRequest;
import io.a3s.box.guest.v1.ContainerSpec;
import io.a3s.box.guest.v1.CreateContainerRequest;
import io.a3s.box.guest.v1.Mount;
import io.a3s.box.guest.v1.Namespaces;
import io.a3s.box.guest.v1.ProcessSpec;
import io.a3s.box.guest.v1.ReadOutputRequest;
import io.a3s.box.guest.v1.ReadOutputResponse;
import io.a3s.box.guest.v1.Stream;
import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.ttrpc.StatusException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

/** Busybox containers in a booted VM, laid out as the shim lays them out: rootfs bind-mounted under the share. */
final class GuestContainers {
    static final Duration CALL = Duration.ofSeconds(30);
    static final Path BUSYBOX = Path.of("/bin/busybox");

    private GuestContainers() {}

    /** A busybox root filesystem in {@code dir} (busybox-static and a symlink per applet). */
    static Path busyboxRootfs(Path dir) throws IOException, InterruptedException {
        for (String d : List.of("bin", "etc", "tmp", "root", "proc", "sys", "dev")) {
            Files.createDirectories(dir.resolve(d));
        }
        Files.copy(BUSYBOX, dir.resolve("bin/busybox"));
        Files.setPosixFilePermissions(dir.resolve("bin/busybox"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Process p = new ProcessBuilder(BUSYBOX.toString(), "--list").start();
        for (String applet : new String(p.getInputStream().readAllBytes()).split("\n")) {
            Path link = dir.resolve("bin").resolve(applet.strip());
            if (!applet.isBlank() && !Files.exists(link)) {
                Files.createSymbolicLink(link, Path.of("busybox"));
            }
        }
        p.waitFor();
        Files.writeString(dir.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        Files.writeString(dir.resolve("etc/group"), "root:x:0:\n");
        return dir;
    }

    /** Bind-mounts {@code rootfs} at {@code <share>/<cid>/rootfs} and returns its guest path. */
    static String exportRootfs(VmInstance vm, String cid, Path rootfs) throws IOException {
        Path target = vm.shareDir().resolve(cid).resolve("rootfs");
        Files.createDirectories(target);
        Linux.bindMount(rootfs.toString(), target.toString(), false);
        return vm.guestPath(target);
    }

    static ProcessSpec.Builder process(String... args) {
        return ProcessSpec.newBuilder().addAllArgs(List.of(args)).addEnv("PATH=/bin").addEnv("HOME=/root")
                .setCwd("/");
    }

    static ContainerSpec spec(String guestRootfs, ProcessSpec process) {
        return ContainerSpec.newBuilder()
                .setRootfs(guestRootfs)
                .addMounts(mount("proc", "proc", "/proc", "nosuid", "noexec", "nodev"))
                .addMounts(mount("tmpfs", "tmpfs", "/dev", "nosuid", "strictatime", "mode=755", "size=65536k"))
                .addMounts(mount("devpts", "devpts", "/dev/pts", "nosuid", "noexec", "newinstance", "ptmxmode=0666",
                        "mode=0620"))
                .addMounts(mount("tmpfs", "tmpfs", "/tmp", "nosuid", "nodev", "mode=1777"))
                .setHostname("box")
                .setNamespaces(Namespaces.newBuilder().setMount(true).setPid(true).setUts(true).setIpc(true))
                .setProcess(process)
                .build();
    }

    static Mount mount(String type, String source, String dest, String... options) {
        return Mount.newBuilder().setType(type).setSource(source).setDestination(dest)
                .addAllOptions(List.of(options)).build();
    }

    /**
     * CreateContainer with a fresh busybox rootfs under {@code rootfsParent}; returns the parked process's guest
     * pid. Every container gets its own copy: QEMU's 9p names files by path but the guest caches them by inode
     * (cache=loose), so one source bind-mounted twice into a share aliases, and once one of the two is unmounted
     * on the host, lookups through the other fail (see docs/vm.md).
     */
    static int create(VmInstance vm, String cid, Path rootfsParent, ProcessSpec process) throws Exception {
        Path rootfs = busyboxRootfs(rootfsParent.resolve(cid));
        String guestRootfs = exportRootfs(vm, cid, rootfs);
        return vm.agent().createContainer(CreateContainerRequest.newBuilder().setContainerId(cid)
                .setSpec(spec(guestRootfs, process)).build(), CALL).getPid();
    }

    /** DestroyContainer and unmount its rootfs. */
    static void destroy(VmInstance vm, String cid) throws Exception {
        try {
            vm.agent().destroyContainer(ContainerRequest.newBuilder().setContainerId(cid).build(), CALL);
        } finally {
            Path target = vm.shareDir().resolve(cid).resolve("rootfs");
            try {
                Linux.umount2(target.toString(), Linux.MNT_DETACH);
            } catch (Linux.ErrnoException ignored) {
                // not mounted
            }
        }
    }

    /** Reads a stream until EOF into {@code out}; returns the number of bytes. */
    static long drain(AgentClient agent, String cid, String eid, Stream stream, OutputStream out)
            throws StatusException, IOException {
        long total = 0;
        while (true) {
            ReadOutputResponse r = agent.readOutput(ReadOutputRequest.newBuilder().setContainerId(cid)
                    .setExecId(eid).setStream(stream).setMaxBytes(1 << 20).build(), Duration.ofMinutes(5));
            r.getData().writeTo(out);
            total += r.getData().size();
            if (r.getEof()) {
                return total;
            }
        }
    }

    static String drain(AgentClient agent, String cid, String eid, Stream stream) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        drain(agent, cid, eid, stream, b);
        return b.toString();
    }
}
