package io.a3s.box.shim.pool;

import io.a3s.box.shim.pool.v1.VmKey;
import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/** Pool keys ({@link VmConfig}) on the wire ({@link VmKey}) and in text. */
final class PoolKeys {
    private PoolKeys() {
    }

    static VmKey toProto(VmConfig c) {
        return VmKey.newBuilder()
                .setKernel(c.kernel().toAbsolutePath().normalize().toString())
                .setInitrd(c.initrd().toAbsolutePath().normalize().toString())
                .setVcpus(c.vcpus())
                .setMemoryMib(c.memoryMiB())
                .setAccelerator(c.accelerator().name().toLowerCase(Locale.ROOT))
                .addAllExtraKernelArgs(c.extraKernelArgs())
                .setBootDeadlineMs(c.bootDeadline().toMillis())
                .build();
    }

    /**
     * The key a client sent, checked as a configuration is.
     *
     * @throws StatusException INVALID_ARGUMENT naming the bad field
     */
    static VmConfig fromProto(VmKey k) throws StatusException {
        try {
            if (!k.getKernel().startsWith("/") || !k.getInitrd().startsWith("/")) {
                throw new IllegalArgumentException("kernel and initrd must be absolute paths");
            }
            Accelerator a = switch (k.getAccelerator()) {
                case "", "auto" -> Accelerator.AUTO;
                case "kvm" -> Accelerator.KVM;
                case "tcg" -> Accelerator.TCG;
                default -> throw new IllegalArgumentException("accelerator: \"" + k.getAccelerator()
                        + "\" is not one of \"auto\", \"kvm\", \"tcg\"");
            };
            Duration deadline = k.getBootDeadlineMs() == 0 ? VmConfig.DEFAULT_BOOT_DEADLINE
                    : Duration.ofMillis(k.getBootDeadlineMs());
            return new VmConfig(Path.of(k.getKernel()).normalize(), Path.of(k.getInitrd()).normalize(), k.getVcpus(),
                    k.getMemoryMib(), a, k.getExtraKernelArgsList(), deadline);
        } catch (IllegalArgumentException e) {
            throw Code.INVALID_ARGUMENT.toException("pool key: %s", e.getMessage());
        }
    }

    /** The key as a client normalizes it before sending, so that equal keys compare equal in the pool. */
    static VmConfig normalize(VmConfig c) {
        return new VmConfig(c.kernel().toAbsolutePath().normalize(), c.initrd().toAbsolutePath().normalize(),
                c.vcpus(), c.memoryMiB(), c.accelerator(), c.extraKernelArgs(), c.bootDeadline());
    }

    /** {@code "1 vCPU 256 MiB tcg"}. */
    static String describe(VmKey k, String accelerator) {
        return k.getVcpus() + " vCPU" + (k.getVcpus() == 1 ? "" : "s") + " " + k.getMemoryMib() + " MiB "
                + (accelerator == null || accelerator.isEmpty() ? k.getAccelerator() : accelerator);
    }
}
