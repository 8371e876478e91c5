package io.a3s.box.conformance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A private containerd that finds {@code containerd-shim-a3s-box} in the checkout's {@code bin/} (built by
 * scripts/setup), with the shim's state tree in a private directory, and a busybox image imported. Closing
 * it stops containerd and the shim daemon it spawned, and checks that no VM, mount or socket is left.
 */
final class ShimHarness implements AutoCloseable {
    static final String IMAGE = "localhost/a3s/busybox:latest";
    /** The same image with {@code User: app} (uid 1000) in its config: ctr 1.6 has no --user flag. */
    static final String IMAGE_APP_USER = "localhost/a3s/busybox-app:latest";
    static final String RUNTIME = "io.a3s.box";
    static final String NS = "a3s-conformance";

    final Path repo = Path.of(System.getProperty("a3s.repo", "..")).toAbsolutePath().normalize();
    final Path state;
    final PrivateContainerd containerd;

    ShimHarness() throws IOException, InterruptedException {
        Path shim = repo.resolve("bin/containerd-shim-a3s-box");
        if (!Files.isExecutable(shim)) {
            throw new IllegalStateException(shim + " is missing: run scripts/setup");
        }
        Files.createDirectories(Path.of("/run/a3s-test"));
        state = Files.createTempDirectory(Path.of("/run/a3s-test"), "st");
        containerd = PrivateContainerd.start(List.of(repo.resolve("bin")), Map.of("A3S_BOX_STATE", state.toString()));
        importImage(IMAGE, "");
        importImage(IMAGE_APP_USER, "app");
    }

    private void importImage(String name, String user) throws IOException, InterruptedException {
        Path tar = state.resolve("image-" + Math.abs(name.hashCode()) + ".tar");
        Process p = new ProcessBuilder("bash", repo.resolve("scripts/lib/busybox-image.sh").toString(),
                tar.toString(), name, user).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IOException("building the busybox image " + name + " failed");
        }
        PrivateContainerd.Result r = ctr("images", "import", tar.toString());
        if (r.exitCode() != 0) {
            throw new IOException("ctr images import: " + r.stderr());
        }
    }

    /** {@code ctr -n NS args...} */
    PrivateContainerd.Result ctr(String... args) throws IOException, InterruptedException {
        String[] full = new String[args.length + 2];
        full[0] = "-n";
        full[1] = NS;
        System.arraycopy(args, 0, full, 2, args.length);
        return containerd.ctr(full);
    }

    /** {@code ctr run --rm --runtime io.a3s.box [flags] IMAGE id cmd...}: flags end at the image. */
    PrivateContainerd.Result run(List<String> flags, String id, String... cmd) throws IOException, InterruptedException {
        return runImage(IMAGE, flags, id, cmd);
    }

    PrivateContainerd.Result runImage(String image, List<String> flags, String id, String... cmd)
            throws IOException, InterruptedException {
        List<String> args = new java.util.ArrayList<>(List.of("run", "--rm", "--runtime", RUNTIME));
        args.addAll(flags);
        args.add(image);
        args.add(id);
        args.addAll(List.of(cmd));
        return ctr(args.toArray(String[]::new));
    }

    @Override
    public void close() throws Exception {
        try {
            containerd.close();
        } finally {
            // the shim daemon of this containerd outlives it by design: stop it, then check for leftovers
            Path shimDir = state.resolve("shim");
            if (Files.isDirectory(shimDir)) {
                try (var pids = Files.list(shimDir)) {
                    for (Path pid : pids.filter(f -> f.toString().endsWith(".pid")).toList()) {
                        long p = Long.parseLong(Files.readString(pid).trim());
                        ProcessHandle.of(p).ifPresent(h -> {
                            h.destroy();
                            try {
                                h.onExit().get(60, TimeUnit.SECONDS);
                            } catch (Exception e) {
                                h.destroyForcibly();
                            }
                        });
                    }
                }
            }
            PrivateContainerd.unmountUnder(state);
            new ProcessBuilder("rm", "-rf", "--one-file-system", state.toString()).inheritIO().start().waitFor();
        }
    }
}
