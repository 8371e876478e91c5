package io.a3s.box.shim.vm.qemu;

import io.a3s.box.guest.v1.ReadOutputRequest;
import io.a3s.box.guest.v1.ReadOutputResponse;
import io.a3s.box.guest.v1.StartProcessRequest;
import io.a3s.box.guest.v1.Stream;
import io.a3s.box.guest.v1.WaitProcessRequest;
import io.a3s.box.shim.vm.BootInfo;
import io.a3s.box.shim.vm.StateDir;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.shim.vm.VmInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The microVM benchmark behind {@code scripts/bench-vm}: not a test. Prints one figure per line,
 * {@code name value unit}.
 *
 * <ul>
 *   <li>{@code vm_boot_to_idle_ms}: launch of QEMU to the agent's Hello answer, host clock (median of N boots,
 *       one at a time), with min/max; {@code vm_boot_guest_ms}: the guest's own kernel-to-agent time.</li>
 *   <li>{@code vm_create_to_first_byte_ms}: on an IDLE VM, from bind-mounting a container's rootfs into the
 *       share, through CreateContainer and StartProcess, to the first byte of its stdout on the host (median
 *       of M containers).</li>
 *   <li>{@code vm_spawn_main_ms}: the StartProcess call alone (parked process released, execve done).</li>
 *   <li>{@code vm_idle_pss_mib}: proportional set size of an idle VM's QEMU ({@code /proc/<pid>/smaps_rollup}).</li>
 * </ul>
 *
 * Usage: {@code VmBench IMAGE_DIR [BOOTS] [CONTAINERS]}.
 */
public final class VmBench {
    private static final Duration CALL = Duration.ofSeconds(60);

    private VmBench() {}

    public static void main(String[] args) throws Exception {
        Path image = Path.of(args.length > 0 ? args[0] : "build/guest/current");
        int boots = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int containers = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        Path root = Files.createTempDirectory(Path.of("/tmp"), "a3s-bench");
        QemuBackend backend = new QemuBackend();
        VmConfig config = VmConfig.ofImage(image);
        List<Double> wall = new ArrayList<>();
        List<Double> guest = new ArrayList<>();
        VmInstance keep = null;
        int attempts = 0;
        try {
            for (int i = 0; i < boots; i++) {
                VmInstance vm = backend.newInstance(config, StateDir.of(root, "boot" + i));
                BootInfo info = vm.start();
                wall.add(info.hostWall().toNanos() / 1e6);
                guest.add(info.guestBoot().toNanos() / 1e6);
                attempts += info.attempts();
                if (i == boots - 1) {
                    keep = vm;
                } else {
                    vm.shutdown();
                }
            }
            System.out.printf("vm_boot_to_idle_ms %.0f ms (median of %d; min %.0f, max %.0f; %d attempts)%n",
                    median(wall), boots, Collections.min(wall), Collections.max(wall), attempts);
            System.out.printf("vm_boot_guest_ms %.0f ms (median, guest CLOCK_BOOTTIME at agent ready)%n", median(guest));

            // Let the idle VM settle before measuring memory: the guest frees its initramfs after boot.
            Thread.sleep(2000);
            System.out.printf("vm_idle_pss_mib %.1f MiB (qemu, %d MiB guest RAM, 1 vCPU)%n",
                    pssKiB(keep.pid()) / 1024.0, config.memoryMiB());

            Path rootfsParent = Files.createDirectories(root.resolve("rootfs"));
            List<Double> firstByte = new ArrayList<>();
            List<Double> spawn = new ArrayList<>();
            for (int i = 0; i < containers; i++) {
                String cid = "b" + i;
                Path rootfs = GuestContainers.busyboxRootfs(rootfsParent.resolve(cid));
                long t0 = System.nanoTime();
                String guestRootfs = GuestContainers.exportRootfs(keep, cid, rootfs);
                keep.agent().createContainer(io.a3s.box.guest.v1.CreateContainerRequest.newBuilder()
                        .setContainerId(cid).setSpec(GuestContainers.spec(guestRootfs,
                                GuestContainers.process("echo", "hello").build())).build(), CALL);
                CompletableFuture<ReadOutputResponse> out = keep.agent().readOutputAsync(ReadOutputRequest
                        .newBuilder().setContainerId(cid).setStream(Stream.STDOUT).setMaxBytes(65536).build(), CALL);
                long s0 = System.nanoTime();
                keep.agent().startProcess(StartProcessRequest.newBuilder().setContainerId(cid).build(), CALL);
                long s1 = System.nanoTime();
                out.get(60, TimeUnit.SECONDS);
                long t1 = System.nanoTime();
                keep.agent().waitProcess(WaitProcessRequest.newBuilder().setContainerId(cid).build(), CALL);
                GuestContainers.destroy(keep, cid);
                firstByte.add((t1 - t0) / 1e6);
                spawn.add((s1 - s0) / 1e6);
            }
            System.out.printf("vm_create_to_first_byte_ms %.1f ms (median of %d; min %.1f, max %.1f)%n",
                    median(firstByte), containers, Collections.min(firstByte), Collections.max(firstByte));
            System.out.printf("vm_spawn_main_ms %.1f ms (median of %d; min %.1f, max %.1f)%n",
                    median(spawn), containers, Collections.min(spawn), Collections.max(spawn));
        } finally {
            if (keep != null) {
                keep.close();
            }
            for (Path d : StateDir.list(root)) {
                QemuBackend.reconcileDir(d);
            }
            VmTestSupport.removeStateRoot(root);
        }
        System.exit(0);
    }

    private static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    private static long pssKiB(long pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps_rollup"))) {
            if (line.startsWith("Pss:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no Pss in /proc/" + pid + "/smaps_rollup");
    }
}
