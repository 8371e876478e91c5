package io.a3s.box.shim.cli;

import io.a3s.box.shim.vm.qemu.HostProbe;
import io.a3s.box.shim.vm.qemu.QemuBackend;
import io.a3s.box.shim.vm.qemu.QemuVersion;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code a3s-box check}: can this host run a3s-box, and if not, why (like {@code kata-runtime check}).
 * Each check prints one line; a failed required check makes the exit status 1.
 */
final class HostCheck {
    record Result(String name, boolean ok, boolean required, String detail) {
    }

    private HostCheck() {
    }

    static int run(PrintStream out, Path guestDir) {
        List<Result> results = new ArrayList<>();
        results.add(check("running as root", true, () -> {
            String uid = Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:")).findFirst().orElse("Uid: ?").split("\\s+")[1];
            return uid.equals("0") ? ok("uid 0") : fail("uid " + uid + ": containerd shims mount filesystems");
        }));
        results.add(check("QEMU", true, () -> Files.isExecutable(QemuBackend.DEFAULT_QEMU)
                ? ok(QemuBackend.DEFAULT_QEMU.toString())
                : fail(QemuBackend.DEFAULT_QEMU + " missing (apt-get install qemu-system-x86)")));
        results.add(check("hardware virtualization (KVM)", false, () -> {
            Optional<String> why = new HostProbe().kvmUnusableReason();
            return why.isEmpty() ? ok("usable: VMs run under KVM")
                    : fail(why.get() + "; VMs run under TCG (software emulation), boots take seconds");
        }));
        results.add(check("guest image", true, () -> Files.isRegularFile(guestDir.resolve("vmlinuz"))
                && Files.isRegularFile(guestDir.resolve("initrd.img"))
                ? ok(guestDir.toString())
                : fail(guestDir + " has no vmlinuz/initrd.img (run scripts/setup or scripts/build-guest-image)")));
        results.add(check("overlay filesystem", false, () -> Files.readString(Path.of("/proc/filesystems"))
                .contains("overlay") ? ok("available (containerd's default snapshotter)")
                : fail("not in /proc/filesystems (modprobe overlay)")));
        results.add(check("QEMU's 9p: FIFOs and sockets", false, () -> {
            QemuVersion v = QemuVersion.of(QemuBackend.DEFAULT_QEMU);
            return v.makesSpecialFilesOn9p()
                    ? ok("QEMU " + v + ": mkfifo and Unix sockets work on the rootfs and volumes")
                    : fail("QEMU " + v + " is older than " + QemuVersion.SPECIAL_FILES_ON_9P + ": mkfifo and"
                    + " bind(2) of a Unix socket on the rootfs or a volume may fail with ENXIO (Debian 12's 7.2"
                    + " does); scripts/setup installs 10.0 from bookworm-backports");
        }));
        results.add(check("containerd", false, () -> Files.isExecutable(Path.of("/usr/bin/containerd"))
                ? ok("/usr/bin/containerd") : fail("not found (apt-get install containerd)")));
        boolean allOk = true;
        for (Result r : results) {
            out.printf("%-4s %-32s %s%n", r.ok ? "ok" : (r.required ? "FAIL" : "warn"), r.name, r.detail);
            allOk &= r.ok || !r.required;
        }
        out.println(allOk ? "this host can run a3s-box" : "this host cannot run a3s-box: see FAIL above");
        return allOk ? 0 : 1;
    }

    private interface Probe {
        Result probe() throws IOException;
    }

    private static Result check(String name, boolean required, Probe probe) {
        try {
            Result r = probe.probe();
            return new Result(name, r.ok, required, r.detail);
        } catch (IOException | RuntimeException e) {
            return new Result(name, false, required, "cannot tell: " + e.getMessage());
        }
    }

    private static Result ok(String detail) {
        return new Result("", true, false, detail);
    }

    private static Result fail(String detail) {
        return new Result("", false, false, detail);
    }
}
