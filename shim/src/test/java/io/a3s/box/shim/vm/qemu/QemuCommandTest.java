package io.a3s.box.shim.vm.qemu;

import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.vm.VmConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The QEMU command line and the host probe, without running QEMU. */
class QemuCommandTest {
    private static String after(List<String> argv, String flag) {
        return argv.get(argv.indexOf(flag) + 1);
    }

    @Test
    void tcgCommandLineFollowsTheVerifiedRecipe() {
        VmConfig c = VmConfig.of(Path.of("/img/vmlinux"), Path.of("/img/initrd.img")).withVcpus(2).withMemoryMiB(512);
        List<String> kargs = QemuCommand.kernelArgs(2445386, 9781544, List.of("foo=1"));
        List<String> argv = QemuCommand.argv(Path.of("/usr/bin/qemu-system-x86_64"), "v1", c, Accelerator.TCG,
                Path.of("/run/a3s/vms/v1"), kargs, true);
        assertEquals("microvm,acpi=on,rtc=on,pit=on,pic=off,memory-backend=ram", after(argv, "-M"));
        assertEquals("tcg,tb-size=" + QemuCommand.TCG_TB_MIB, after(argv, "-accel"));
        assertEquals("max", after(argv, "-cpu"));
        assertEquals("512", after(argv, "-m"));
        assertEquals("memory-backend-memfd,id=ram,size=512M", after(argv, "-object"));
        assertEquals("2", after(argv, "-smp"));
        assertEquals("console=ttyS0 quiet panic=-1 reboot=t tsc=reliable no_timer_check lpj=9781544 "
                + "tsc_early_khz=2445386 foo=1", after(argv, "-append"));
        assertEquals("socket,id=agent,path=/run/a3s/vms/v1/agent.sock,server=on,wait=off", after(argv, "-chardev"));
        assertTrue(argv.contains("virtserialport,chardev=agent,name=a3s.agent"));
        assertEquals("local,id=share,path=/run/a3s/vms/v1/share,security_model=none,multidevs=remap",
                after(argv, "-fsdev"));
        assertTrue(argv.contains("virtio-9p-device,fsdev=share,mount_tag=a3s.share"));
        assertEquals("file:/run/a3s/vms/v1/console.log", after(argv, "-serial"));
        assertEquals("unix:/run/a3s/vms/v1/qmp.sock,server=on,wait=off", after(argv, "-qmp"));
        assertEquals("/run/a3s/vms/v1/qemu.pid", after(argv, "-pidfile"));
        assertTrue(after(argv, "-sandbox").startsWith("on,"));
        for (String f : List.of("-nodefaults", "-no-user-config", "-nographic", "-no-reboot")) {
            assertTrue(argv.contains(f), f);
        }
        assertFalse(argv.contains("-daemonize"), "-daemonize needs setsid/fork, which the sandbox denies");
    }

    @Test
    void kvmUsesTheHostCpuAndCommasInPathsAreDoubled() {
        VmConfig c = VmConfig.of(Path.of("/k"), Path.of("/i"));
        List<String> argv = QemuCommand.argv(Path.of("/q"), "v", c, Accelerator.KVM, Path.of("/s,x/v"),
                List.of("console=ttyS0"), false);
        assertEquals("kvm", after(argv, "-accel"));
        assertEquals("host", after(argv, "-cpu"));
        assertEquals("socket,id=agent,path=/s,,x/v/agent.sock,server=on,wait=off", after(argv, "-chardev"));
        assertFalse(argv.contains("-sandbox"));
    }

    @Test
    void theImagesOnDemandModulesAreExportedReadOnlyWhenItHasThem(@TempDir Path img) throws Exception {
        VmConfig c = VmConfig.of(img.resolve("vmlinux"), img.resolve("initrd.img"));
        List<String> without = QemuCommand.argv(Path.of("/q"), "v", c, Accelerator.TCG, Path.of("/s/v"),
                List.of(), false);
        assertFalse(String.join(" ", without).contains(QemuCommand.MODULES_TAG), "no modules directory, no export");
        Files.createDirectory(img.resolve(QemuCommand.MODULES_DIR));
        List<String> with = QemuCommand.argv(Path.of("/q"), "v", c, Accelerator.TCG, Path.of("/s/v"),
                List.of(), false);
        assertTrue(with.contains("local,id=modules,path=" + img.resolve("modules")
                + ",security_model=none,readonly=on"), with.toString());
        assertTrue(with.contains("virtio-9p-device,fsdev=modules,mount_tag=a3s.modules"), with.toString());
    }

    @Test
    void unknownTscLeavesCalibrationToTheKernel() {
        assertEquals(List.of("console=ttyS0", "quiet", "panic=-1", "reboot=t", "tsc=reliable", "no_timer_check"),
                QemuCommand.kernelArgs(0, 0, List.of()));
    }

    @Test
    void kernelHzComesFromTheImageManifest(@TempDir Path dir) throws Exception {
        assertEquals(250, QemuCommand.kernelHz(dir.resolve("vmlinux")));
        Files.writeString(dir.resolve("manifest.txt"), "format=a3s-guest-image/1\nkernel_hz=1000\n");
        assertEquals(1000, QemuCommand.kernelHz(dir.resolve("vmlinux")));
    }

    @Test
    void tscFrequencyPrefersTheRefinedCalibration() {
        String log = "[0.0] tsc: Detected 2445.404 MHz processor\n[1.2] tsc: Refined TSC clocksource calibration: 2445.386 MHz\n";
        assertEquals(2445386, HostProbe.detectTscKhz(log, ""));
        assertEquals(2445404, HostProbe.detectTscKhz("tsc: Detected 2445.404 MHz processor", ""));
        assertEquals(2445404, HostProbe.detectTscKhz("", "processor : 0\ncpu MHz\t\t: 2445.404\n"));
        assertEquals(3000000, HostProbe.detectTscKhz("", "cpu MHz\t\t: 3000\n"));
        assertEquals(0, HostProbe.detectTscKhz("", ""));
    }

    @Test
    void kvmCountsOnlyWhereItReallyWorks(@TempDir Path root) throws Exception {
        HostProbe probe = new HostProbe(root);
        assertEquals(Accelerator.TCG, probe.resolve(Accelerator.AUTO));
        assertEquals("/dev/kvm does not exist", probe.kvmUnusableReason().orElseThrow());

        Files.createDirectories(root.resolve("dev"));
        Files.writeString(root.resolve("dev/kvm"), "");
        Files.createDirectories(root.resolve("proc"));
        Files.writeString(root.resolve("proc/cpuinfo"), "flags\t\t: fpu tsc constant_tsc hypervisor\n");
        assertTrue(probe.kvmUnusableReason().orElseThrow().contains("no vmx/svm"));

        Files.writeString(root.resolve("proc/cpuinfo"), "flags\t\t: fpu vmx tsc\n");
        Files.createDirectories(root.resolve("sys/module/kvm_pvm"));
        assertTrue(probe.kvmUnusableReason().orElseThrow().contains("kvm_pvm"));
        assertEquals(Accelerator.TCG, probe.resolve(Accelerator.AUTO));

        Files.delete(root.resolve("sys/module/kvm_pvm"));
        assertTrue(probe.kvmUnusableReason().isEmpty());
        assertEquals(Accelerator.KVM, probe.resolve(Accelerator.AUTO));
        assertEquals(Accelerator.TCG, probe.resolve(Accelerator.TCG), "an explicit choice is kept");
    }

    @Test
    void thisHostIsProbedConsistently() {
        HostProbe probe = new HostProbe();
        long khz = probe.tscKhz();
        assertTrue(khz == 0 || khz > 100_000, "plausible TSC kHz: " + khz);
        if (khz > 0) {
            assertEquals(khz * 1000 / 250, probe.lpj(250));
        }
    }
}
