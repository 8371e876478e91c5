package io.a3s.box.shim.vm.qemu;

import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.vm.StateDir;
import io.a3s.box.shim.vm.VmConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The QEMU command line of one microVM. Pure: everything host-dependent comes in as arguments.
 *
 * <p>Device model: the {@code microvm} machine with ACPI (Debian's kernel has
 * {@code CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES} off, so the guest finds its virtio-mmio devices only through
 * ACPI), an RTC and the PIT (the guest's timer calibration fallback), and no 8259 PIC: booted through its PVH
 * entry, the kernel has no real-mode setup code to mask it, and under QEMU 10 a PIT tick that reached the CPU
 * through the unprogrammed PIC (vector 0) was taken for a divide error at the first {@code local_irq_enable},
 * killing about two boots in five ({@code docs/vm.md}). {@code -nodefaults} leaves out every
 * device not named here: one serial port (the console, to a file), one virtio-serial port (the agent channel),
 * virtio-9p exports (the share, for root filesystems, the volumes, and, read-only, the image's on-demand kernel
 * modules when it has them), one virtio-net NIC. No disk, no graphics.
 */
final class QemuCommand {
    /** Name of the agent's virtio-serial port (the guest sees {@code /dev/virtio-ports/a3s.agent}). */
    static final String AGENT_PORT = "a3s.agent";
    /** 9p mount tag of the share. */
    static final String SHARE_TAG = "a3s.share";
    /** 9p mount tag of the volumes export. */
    static final String VOLUMES_TAG = "a3s.volumes";
    /** 9p mount tag of the guest image's on-demand kernel modules (read-only). */
    static final String MODULES_TAG = "a3s.modules";
    /** The directory of on-demand kernel modules next to the guest image's initrd (scripts/build-guest-image). */
    static final String MODULES_DIR = "modules";
    /**
     * TCG translation cache in MiB. QEMU's default (up to 1 GiB) keeps growing with everything the guest ever
     * ran: about 43 MiB after a boot. 32 MiB holds a boot's and a busybox container's code.
     */
    static final int TCG_TB_MIB = 32;
    /** Debian's generic amd64 kernel is built with CONFIG_HZ=250. */
    static final int DEFAULT_KERNEL_HZ = 250;

    private QemuCommand() {}

    /**
     * The base kernel command line.
     * <ul>
     *   <li>{@code console=ttyS0}: kernel and agent messages go to the serial port, i.e. console.log;</li>
     *   <li>{@code quiet}: under TCG every byte on the emulated UART costs time;</li>
     *   <li>{@code panic=-1}: reboot at once on a panic, and with {@code -no-reboot} QEMU then exits, so a
     *       panicked guest is a dead VM the host notices, not a hang;</li>
     *   <li>{@code reboot=t}: reboot by triple fault, which QEMU turns into an exit at once; the default
     *       methods (ACPI reset, keyboard controller) do not exist on microvm and cost seconds of retries;</li>
     *   <li>{@code tsc=reliable no_timer_check lpj=N tsc_early_khz=K}: no TSC/timer calibration (see
     *       {@link HostProbe}), the cure for the one-in-three boot hang under TCG;</li>
     * </ul>
     */
    static List<String> kernelArgs(long tscKhz, long lpj, List<String> extra) {
        List<String> args = new ArrayList<>(List.of("console=ttyS0", "quiet", "panic=-1", "reboot=t",
                "tsc=reliable", "no_timer_check"));
        if (lpj > 0) {
            args.add("lpj=" + lpj);
        }
        if (tscKhz > 0) {
            args.add("tsc_early_khz=" + tscKhz);
        }
        args.addAll(extra);
        return args;
    }

    /** The argv that launches {@code config} with its state in {@code stateDir} (in the foreground). */
    static List<String> argv(Path qemu, String vmId, VmConfig config, Accelerator accel, Path stateDir,
                             List<String> kernelArgs, boolean sandbox) {
        if (accel == Accelerator.AUTO) {
            throw new IllegalArgumentException("accelerator must be resolved before building the command line");
        }
        Path dir = stateDir.toAbsolutePath();
        List<String> a = new ArrayList<>();
        a.add(qemu.toString());
        a.addAll(List.of("-name", "a3s-" + vmId));
        a.addAll(List.of("-M", "microvm,acpi=on,rtc=on,pit=on,pic=off,memory-backend=ram"));
        if (accel == Accelerator.KVM) {
            a.addAll(List.of("-accel", "kvm", "-cpu", "host"));
        } else {
            a.addAll(List.of("-accel", "tcg,tb-size=" + TCG_TB_MIB, "-cpu", "max"));
        }
        // Guest RAM from a memfd: QEMU madvises anonymous guest RAM MADV_HUGEPAGE, so every page the guest
        // touches costs a 2 MiB host page; shmem is not THP-backed (shmem_enabled=never by default).
        a.addAll(List.of("-object", "memory-backend-memfd,id=ram,size=" + config.memoryMiB() + "M"));
        a.addAll(List.of("-m", Integer.toString(config.memoryMiB()), "-smp", Integer.toString(config.vcpus())));
        a.addAll(List.of("-nodefaults", "-no-user-config", "-nographic"));
        a.addAll(List.of("-kernel", config.kernel().toAbsolutePath().toString()));
        a.addAll(List.of("-initrd", config.initrd().toAbsolutePath().toString()));
        a.addAll(List.of("-append", String.join(" ", kernelArgs)));
        a.addAll(List.of("-device", "virtio-serial-device"));
        a.addAll(List.of("-chardev", "socket,id=agent,path=" + opt(dir.resolve(StateDir.AGENT_SOCKET))
                + ",server=on,wait=off"));
        a.addAll(List.of("-device", "virtserialport,chardev=agent,name=" + AGENT_PORT));
        a.addAll(List.of("-fsdev", "local,id=share,path=" + opt(dir.resolve(StateDir.SHARE))
                + ",security_model=none,multidevs=remap"));
        a.addAll(List.of("-device", "virtio-9p-device,fsdev=share,mount_tag=" + SHARE_TAG));
        a.addAll(List.of("-fsdev", "local,id=volumes,path=" + opt(dir.resolve(StateDir.VOLUMES))
                + ",security_model=none,multidevs=remap"));
        a.addAll(List.of("-device", "virtio-9p-device,fsdev=volumes,mount_tag=" + VOLUMES_TAG));
        // The kernel modules the guest loads on demand (its /sbin/modprobe is the agent), read where the image
        // keeps them: one copy in the host's page cache for every VM. An image without them has no export.
        Path modules = config.initrd().toAbsolutePath().resolveSibling(MODULES_DIR);
        if (Files.isDirectory(modules)) {
            a.addAll(List.of("-fsdev", "local,id=modules,path=" + opt(modules) + ",security_model=none,readonly=on"));
            a.addAll(List.of("-device", "virtio-9p-device,fsdev=modules,mount_tag=" + MODULES_TAG));
        }
        // The VM's NIC, on a hub with nothing else yet: a pool VM boots before anyone knows its network. A pod's
        // network joins the hub later (QemuInstance.attachTap); microvm has no hotplug for the NIC itself.
        a.addAll(List.of("-netdev", "hubport,id=a3s-nic-port,hubid=" + NET_HUB));
        a.addAll(List.of("-device", "virtio-net-device,netdev=a3s-nic-port,mac=" + mac(vmId)));
        a.addAll(List.of("-serial", "file:" + dir.resolve(StateDir.CONSOLE)));
        a.addAll(List.of("-qmp", "unix:" + opt(dir.resolve(StateDir.QMP_SOCKET)) + ",server=on,wait=off"));
        a.addAll(List.of("-pidfile", dir.resolve(StateDir.PID).toString()));
        if (sandbox) {
            // QEMU's seccomp filter: no obsolete syscalls, no setuid/setgid, no fork/exec, no scheduler or
            // resource-limit changes, once the VM is set up.
            a.addAll(List.of("-sandbox",
                    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"));
        }
        a.add("-no-reboot");
        return a;
    }

    /** The id of the hub that connects the VM's NIC to its network. */
    static final int NET_HUB = 0;

    /** A locally administered unicast MAC derived from the VM id; the guest takes its pod's MAC when it has one. */
    static String mac(String vmId) {
        int h = vmId.hashCode();
        return String.format("02:a3:%02x:%02x:%02x:%02x", (h >>> 24) & 0xff, (h >>> 16) & 0xff, (h >>> 8) & 0xff,
                h & 0xff);
    }

    /** QEMU option values double a comma to keep it literal. */
    static String opt(Path p) {
        return p.toString().replace(",", ",,");
    }

    /** CONFIG_HZ of the kernel, from {@code manifest.txt} beside it (written by build-guest-image). */
    static int kernelHz(Path kernel) {
        Path manifest = kernel.toAbsolutePath().resolveSibling("manifest.txt");
        try {
            for (String line : Files.readAllLines(manifest)) {
                if (line.startsWith("kernel_hz=")) {
                    return Integer.parseInt(line.substring("kernel_hz=".length()).trim());
                }
            }
        } catch (IOException | NumberFormatException e) {
            // no manifest: assume Debian's
        }
        return DEFAULT_KERNEL_HZ;
    }
}
