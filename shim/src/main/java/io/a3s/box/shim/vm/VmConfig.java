package io.a3s.box.shim.vm;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Everything fixed when a VM boots. Two VMs with equal configs are interchangeable, which is what the warm
 * pool keys on. Immutable; the compact constructor rejects bad values with a message naming the field and
 * the allowed range.
 *
 * @param kernel          the guest kernel (bzImage, e.g. {@code build/guest/current/vmlinuz})
 * @param initrd          the initramfs whose {@code /init} is the guest agent
 * @param vcpus           1..{@value #MAX_VCPUS}
 * @param memoryMiB       {@value #MIN_MEMORY_MIB}..{@value #MAX_MEMORY_MIB}
 * @param accelerator     {@link Accelerator#AUTO} lets the backend probe the host
 * @param extraKernelArgs appended to the backend's kernel command line (later arguments win)
 * @param bootDeadline    how long one boot attempt may take until the agent answers Hello
 */
public record VmConfig(Path kernel, Path initrd, int vcpus, int memoryMiB, Accelerator accelerator,
                       List<String> extraKernelArgs, Duration bootDeadline) {
    public static final int MAX_VCPUS = 64;
    public static final int MIN_MEMORY_MIB = 64;
    public static final int MAX_MEMORY_MIB = 1 << 20;
    public static final int DEFAULT_VCPUS = 1;
    public static final int DEFAULT_MEMORY_MIB = 256;
    /** Generous for TCG, where a boot takes about 8 s on a quiet 2-core host and much more on a loaded one. */
    public static final Duration DEFAULT_BOOT_DEADLINE = Duration.ofSeconds(45);

    public VmConfig {
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(initrd, "initrd");
        Objects.requireNonNull(accelerator, "accelerator");
        Objects.requireNonNull(bootDeadline, "bootDeadline");
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new IllegalArgumentException("vcpus: " + vcpus + " is out of range 1.." + MAX_VCPUS);
        }
        if (memoryMiB < MIN_MEMORY_MIB || memoryMiB > MAX_MEMORY_MIB) {
            throw new IllegalArgumentException("memory_mib: " + memoryMiB + " is out of range "
                    + MIN_MEMORY_MIB + ".." + MAX_MEMORY_MIB);
        }
        if (bootDeadline.isNegative() || bootDeadline.isZero()) {
            throw new IllegalArgumentException("boot_deadline: must be positive, got " + bootDeadline);
        }
        extraKernelArgs = List.copyOf(extraKernelArgs == null ? List.of() : extraKernelArgs);
        for (String arg : extraKernelArgs) {
            if (arg.isBlank() || arg.chars().anyMatch(c -> c == '\n' || c == 0)) {
                throw new IllegalArgumentException("extra_kernel_args: invalid argument '" + arg + "'");
            }
        }
    }

    /** Defaults (1 vCPU, 256 MiB, AUTO, no extra args) for a kernel and initrd. */
    public static VmConfig of(Path kernel, Path initrd) {
        return new VmConfig(kernel, initrd, DEFAULT_VCPUS, DEFAULT_MEMORY_MIB, Accelerator.AUTO, List.of(),
                DEFAULT_BOOT_DEADLINE);
    }

    /** Defaults for an image directory as written by {@code scripts/build-guest-image}: {@link #kernelOf}. */
    public static VmConfig ofImage(Path imageDir) {
        return of(kernelOf(imageDir), imageDir.resolve("initrd.img"));
    }

    /**
     * The kernel of an image directory: its uncompressed {@code vmlinux} when there is one (booted through its PVH
     * entry: no real-mode setup, no decompression, about twice as fast under TCG), else {@code vmlinuz}.
     */
    public static Path kernelOf(Path imageDir) {
        Path vmlinux = imageDir.resolve("vmlinux");
        return java.nio.file.Files.isReadable(vmlinux) ? vmlinux : imageDir.resolve("vmlinuz");
    }

    public VmConfig withVcpus(int n) {
        return new VmConfig(kernel, initrd, n, memoryMiB, accelerator, extraKernelArgs, bootDeadline);
    }

    public VmConfig withMemoryMiB(int mib) {
        return new VmConfig(kernel, initrd, vcpus, mib, accelerator, extraKernelArgs, bootDeadline);
    }

    public VmConfig withAccelerator(Accelerator a) {
        return new VmConfig(kernel, initrd, vcpus, memoryMiB, a, extraKernelArgs, bootDeadline);
    }

    public VmConfig withExtraKernelArgs(List<String> args) {
        return new VmConfig(kernel, initrd, vcpus, memoryMiB, accelerator, args, bootDeadline);
    }

    public VmConfig withBootDeadline(Duration d) {
        return new VmConfig(kernel, initrd, vcpus, memoryMiB, accelerator, extraKernelArgs, d);
    }
}
