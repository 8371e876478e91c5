package io.a3s.box.shim.daemon;

import io.a3s.box.shim.pool.PoolPolicy;
import io.a3s.box.shim.vm.Accelerator;
import io.a3s.box.shim.vm.VmConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The VM and pool the daemon uses when no configuration says otherwise. The guest image is looked up
 * next to the installation: {@code $A3S_BOX_HOME} (or the {@code a3s.home} property the launchers set) holds
 * either a checkout ({@code build/guest/current/}) or an install ({@code share/a3s-box/guest/}).
 */
public final class DaemonDefaults {
    static final int VCPUS = 1;
    static final int MEMORY_MIB = 256;
    static final int POOL_SIZE = 2;
    static final int MAX_VMS = 16;
    /** A TCG boot keeps a core busy for seconds: boot one at a time on small hosts. */
    static final int MAX_CONCURRENT_BOOTS = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);

    private DaemonDefaults() {
    }

    public static Path guestDir() {
        String home = System.getProperty("a3s.home", System.getenv().getOrDefault("A3S_BOX_HOME", "/usr/local"));
        Path checkout = Path.of(home, "build", "guest", "current");
        if (Files.isDirectory(checkout)) {
            return checkout;
        }
        return Path.of(home, "share", "a3s-box", "guest");
    }

    static VmConfig vmConfig() {
        Path dir = guestDir();
        return new VmConfig(dir.resolve("vmlinuz"), dir.resolve("initrd.img"), VCPUS, MEMORY_MIB, Accelerator.AUTO,
                List.of(), VmConfig.DEFAULT_BOOT_DEADLINE);
    }

    static PoolPolicy poolPolicy(VmConfig vm) {
        return new PoolPolicy(Map.of(vm, POOL_SIZE), MAX_VMS, MAX_CONCURRENT_BOOTS, Duration.ofMinutes(30),
                Duration.ofMinutes(2));
    }
}
