package io.a3s.box.spec;

import io.a3s.box.spec.guest.GuestContainerSpec;
import io.a3s.box.spec.guest.SpecMapper;
import io.a3s.box.spec.oci.OciJson;
import io.a3s.box.spec.oci.Spec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The configs a real containerd wrote (scripts/gen-spec-fixtures), as test resources. The bundle they are mapped
 * against is a fixed path, so that host paths in the results are predictable.
 */
public final class Fixtures {
    public static final Path BUNDLE = Path.of("/run/containerd/io.containerd.runtime.v2.task/default/c1");
    public static final String ID = "c1";

    private Fixtures() {}

    public static Path dir() {
        try {
            return Path.of(Fixtures.class.getResource("/fixtures").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    public static byte[] bytes(String name) {
        try {
            return Files.readAllBytes(dir().resolve(name + ".json"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Spec spec(String name) throws SpecException {
        return OciJson.parseSpec(bytes(name));
    }

    public static GuestContainerSpec mapped(String name) throws SpecException {
        return SpecMapper.map(ID, BUNDLE, spec(name));
    }

    /** Every fixture name, without .json. */
    public static List<String> all() {
        try (Stream<Path> files = Files.list(dir())) {
            return files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".json"))
                    .map(n -> n.substring(0, n.length() - 5))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Fixtures that are whole container configs (not exec processes). */
    public static List<String> containerConfigs() {
        return all().stream().filter(n -> !n.startsWith("exec-")).toList();
    }

    /**
     * Container configs that must map: all but {@code oci-spec-default} (containerd's template, with nothing to
     * run) and {@code with-pidns} (joins a host namespace, which is refused).
     */
    public static List<String> runnable() {
        return containerConfigs().stream()
                .filter(n -> !n.equals("oci-spec-default") && !n.equals("with-pidns"))
                .toList();
    }

    /** Fixtures that are exec process JSON. */
    public static List<String> execProcesses() {
        return all().stream().filter(n -> n.startsWith("exec-")).toList();
    }
}
