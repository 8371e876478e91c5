package io.a3s.box.shim.vm.qemu;

import io.a3s.box.shim.vm.Accelerator;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the host offers a QEMU guest: whether KVM really works, and the TSC frequency that the guest's kernel
 * should assume instead of calibrating it.
 *
 * <p><b>KVM.</b> {@code /dev/kvm} existing is not enough. On hosts that are themselves VMs under the PVM
 * hypervisor, {@code /dev/kvm} is served by the {@code kvm_pvm} module, the CPU shows neither {@code vmx} nor
 * {@code svm}, and a stock guest kernel hangs right after real-mode setup. So KVM counts as usable only if
 * {@code /dev/kvm} is readable and writable, the CPU flags in {@code /proc/cpuinfo} include {@code vmx} or
 * {@code svm}, and no {@code kvm_pvm} module is loaded ({@code /sys/module/kvm_pvm}, {@code /proc/modules}).
 *
 * <p><b>TSC.</b> Under TCG the guest's TSC is the host's ({@code rdtsc} is emulated by reading the host
 * counter), but the emulated CPU is slow, and calibrating the TSC against the PIT fails about one boot in three
 * on a loaded 2-core host ("tsc: Unable to calibrate against PIT"), after which the boot hangs for ever. Passing
 * {@code tsc_early_khz=<host TSC kHz>} and {@code lpj=<loops per jiffy>} skips calibration. The host's TSC
 * frequency is read, most precise first, from the kernel log line
 * {@code "tsc: Refined TSC clocksource calibration: N MHz"}, then {@code "tsc: Detected N MHz processor"},
 * then {@code /proc/cpuinfo}'s {@code "cpu MHz"}. {@code lpj = tsc_kHz * 1000 / HZ} (the kernel's delay loop
 * uses the TSC, so one jiffy is {@code tsc_Hz / HZ} TSC cycles).
 */
public final class HostProbe {
    private static final Pattern REFINED =
            Pattern.compile("tsc: Refined TSC clocksource calibration: (\\d+)\\.(\\d{1,3})\\d* MHz");
    private static final Pattern DETECTED = Pattern.compile("tsc: Detected (\\d+)\\.(\\d{1,3})\\d* MHz processor");
    private static final Pattern CPUINFO_MHZ = Pattern.compile("(?m)^cpu MHz\\s*:\\s*(\\d+)(?:\\.(\\d{1,3})\\d*)?");

    private final Path root;
    private volatile Long tscKhz;   // cached; the TSC frequency does not change while the host runs

    /** Probes the real host. */
    public HostProbe() {
        this(Path.of("/"));
    }

    /** Probes files under {@code root} instead of {@code /} (tests). */
    HostProbe(Path root) {
        this.root = root;
    }

    /** AUTO becomes KVM or TCG; an explicit choice is kept. */
    public Accelerator resolve(Accelerator requested) {
        if (requested != Accelerator.AUTO) {
            return requested;
        }
        return kvmUnusableReason().isEmpty() ? Accelerator.KVM : Accelerator.TCG;
    }

    /** Why KVM cannot be used here, or empty when it can. */
    public Optional<String> kvmUnusableReason() {
        Path kvm = root.resolve("dev/kvm");
        if (!Files.exists(kvm)) {
            return Optional.of("/dev/kvm does not exist");
        }
        if (!Files.isReadable(kvm) || !Files.isWritable(kvm)) {
            return Optional.of("/dev/kvm is not readable and writable by this user");
        }
        Set<String> flags = cpuFlags();
        if (!flags.contains("vmx") && !flags.contains("svm")) {
            return Optional.of("the CPU has no vmx/svm flag (nested or paravirtualized host)");
        }
        if (pvmLoaded()) {
            return Optional.of("/dev/kvm is provided by kvm_pvm (PVM): stock guest kernels hang under it");
        }
        return Optional.empty();
    }

    private boolean pvmLoaded() {
        if (Files.exists(root.resolve("sys/module/kvm_pvm"))) {
            return true;
        }
        try {
            return Files.readAllLines(root.resolve("proc/modules")).stream().anyMatch(l -> l.startsWith("kvm_pvm "));
        } catch (IOException e) {
            return false;
        }
    }

    Set<String> cpuFlags() {
        try {
            for (String line : Files.readAllLines(root.resolve("proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    int colon = line.indexOf(':');
                    return new HashSet<>(Arrays.asList(line.substring(colon + 1).trim().split("\\s+")));
                }
            }
        } catch (IOException e) {
            // no cpuinfo: no flags
        }
        return Set.of();
    }

    /** The host's TSC frequency in kHz, or 0 when it cannot be found. */
    public long tscKhz() {
        Long cached = tscKhz;
        if (cached == null) {
            cached = detectTscKhz(kernelLog(), readOrEmpty(root.resolve("proc/cpuinfo")));
            tscKhz = cached;
        }
        return cached;
    }

    /** Loops per jiffy for a kernel built with {@code hz} (CONFIG_HZ), or 0 when the TSC rate is unknown. */
    public long lpj(int hz) {
        long khz = tscKhz();
        return khz <= 0 || hz <= 0 ? 0 : khz * 1000L / hz;
    }

    static long detectTscKhz(String kernelLog, String cpuinfo) {
        for (Pattern p : List.of(REFINED, DETECTED)) {
            Matcher m = p.matcher(kernelLog);
            long found = 0;
            while (m.find()) {
                found = khz(m.group(1), m.group(2));   // the last line wins (a later recalibration)
            }
            if (found > 0) {
                return found;
            }
        }
        Matcher m = CPUINFO_MHZ.matcher(cpuinfo);
        return m.find() ? khz(m.group(1), m.group(2)) : 0;
    }

    private static long khz(String mhz, String frac) {
        String f = frac == null ? "000" : (frac + "000").substring(0, 3);
        return Long.parseLong(mhz) * 1000 + Long.parseLong(f);
    }

    private String kernelLog() {
        if (!root.equals(Path.of("/"))) {
            return readOrEmpty(root.resolve("kernel.log"));
        }
        // dmesg reads the kernel ring buffer without blocking (unlike /dev/kmsg, which waits for new records).
        try {
            Process p = new ProcessBuilder("dmesg").redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            byte[] out;
            try (InputStream in = p.getInputStream()) {
                out = in.readAllBytes();
            }
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "";
            }
            return p.exitValue() == 0 ? new String(out, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    private static String readOrEmpty(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
