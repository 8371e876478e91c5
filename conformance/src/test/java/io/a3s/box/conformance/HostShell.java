package io.a3s.box.conformance;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Host-side set-up the network tests script in sh (ip netns, veth, routes), each call with a deadline. */
final class HostShell {
    /** Longer than any script here takes, including the ones that retry for a minute. */
    private static final long LIMIT_SECONDS = 120;

    private HostShell() {}

    /** Runs {@code script} with {@code sh -ec}; returns its output, trimmed; throws with the output if it fails. */
    static String sh(String script) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("sh", "-ec", script).redirectErrorStream(true).start();
        CompletableFuture<String> output = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try (var in = p.getInputStream()) {
                output.complete(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                output.completeExceptionally(e);
            }
        });
        if (!p.waitFor(LIMIT_SECONDS, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new IOException(script + ": still running after " + LIMIT_SECONDS + " s; killed");
        }
        String out;
        try {
            // a background child of the script may hold the output open: what came so far will do
            out = output.get(5, TimeUnit.SECONDS);
        } catch (TimeoutException | ExecutionException e) {
            out = "(output not read: " + e + ")";
        }
        if (p.exitValue() != 0) {
            throw new IOException(script + ": exit status " + p.exitValue() + ": " + out);
        }
        return out.trim();
    }
}
