package io.a3s.box.spec.bench;

import io.a3s.box.spec.SpecException;
import io.a3s.box.spec.guest.GuestContainerSpec;
import io.a3s.box.spec.guest.SpecMapper;
import io.a3s.box.spec.oci.OciJson;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What a Create costs in this module: bytes of {@code config.json} in, guest container spec out (parse, shape
 * check, bind, validate, map). Run through scripts/bench-spec.
 *
 * <ul>
 *   <li>{@code typical}: the kitchen-sink fixture, a real containerd config with env, cwd, tty, a bind mount,
 *       memory and CPU limits, read-only rootfs, an added capability and containerd's default seccomp profile
 *       (the profile is most of its 8.2 KiB);
 *   <li>{@code minimal}: what plain {@code ctr run IMAGE ID} writes.
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class SpecBenchmark {
    private static final Path BUNDLE = Path.of("/run/containerd/io.containerd.runtime.v2.task/default/bench");

    private byte[] typical;
    private byte[] minimal;

    @Setup
    public void load() {
        typical = fixture("kitchen-sink");
        minimal = fixture("default");
    }

    @Benchmark
    public GuestContainerSpec typical() throws SpecException {
        return SpecMapper.map("bench", BUNDLE, OciJson.parseSpec(typical));
    }

    @Benchmark
    public GuestContainerSpec minimal() throws SpecException {
        return SpecMapper.map("bench", BUNDLE, OciJson.parseSpec(minimal));
    }

    private static byte[] fixture(String name) {
        try (InputStream in = SpecBenchmark.class.getResourceAsStream("/fixtures/" + name + ".json")) {
            if (in == null) {
                throw new IllegalStateException("fixture " + name + " is not on the class path");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
