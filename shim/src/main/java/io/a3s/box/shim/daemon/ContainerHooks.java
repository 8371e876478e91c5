package io.a3s.box.shim.daemon;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.a3s.box.spec.guest.HostHooks;
import io.a3s.box.spec.oci.Hook;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * The OCI hooks of one container that run on the host (docs/oci-mapping.md, "hooks"). runc gives a hook the
 * container's host pid, and hooks look the container up through it: nerdctl's sets up the container's network with
 * CNI in {@code /proc/<pid>/ns/net}. A container in a VM has no host pid, and the VM's QEMU lives in the host's
 * namespace (it booted in the pool, before the container existed), so here the pid is that of a <em>holder</em>: a
 * host process that sits in the network namespace the config asks for (a new one, or the one it names) for as long
 * as the container lives. What a hook builds in that namespace is then wired into the VM as a pod's network is.
 * The holder ends when its stdin closes, so a SIGKILLed daemon leaves none behind.
 */
final class ContainerHooks implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ContainerHooks.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** A hook with no timeout of its own gets this one: a hung hook must not hang Create (or Delete) for ever. */
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration HOLDER_READY = Duration.ofSeconds(10);
    private static final Duration HOLDER_EXIT = Duration.ofSeconds(2);
    private static final int OUTPUT_KEPT = 2048;
    private static final String READY = "ready";

    /** A container with no host hooks: nothing runs, no holder. */
    static final ContainerHooks NONE = new ContainerHooks("", Path.of("/"), HostHooks.NONE, null);

    private final String id;
    private final Path bundle;
    private final HostHooks hooks;
    private final Process holder;
    private final AtomicBoolean closed = new AtomicBoolean();

    private ContainerHooks(String id, Path bundle, HostHooks hooks, Process holder) {
        this.id = id;
        this.bundle = bundle;
        this.hooks = hooks;
        this.holder = holder;
    }

    /** Where the holder sits: a new network namespace, one the config names, or the host's own. */
    sealed interface Netns {
        record Fresh() implements Netns {}

        record Join(String path) implements Netns {}

        record Host() implements Netns {}
    }

    /**
     * Starts the holder for a container with host hooks; returns {@link #NONE} for one without.
     *
     * @throws StatusException the holder did not start (its error, or no answer within 10 s)
     */
    static ContainerHooks prepare(String id, Path bundle, HostHooks hooks, Netns netns) throws StatusException {
        if (hooks.isEmpty()) {
            return NONE;
        }
        List<String> cmd = new ArrayList<>();
        switch (netns) {
            case Netns.Fresh f -> cmd.addAll(List.of("unshare", "--net", "--"));
            case Netns.Join j -> cmd.addAll(List.of("nsenter", "--net=" + j.path(), "--"));
            case Netns.Host h -> { }
        }
        // "ready" is printed once the namespace is entered (the shell runs after unshare or nsenter did their work)
        cmd.addAll(List.of("sh", "-c", "echo " + READY + "; read _"));
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw Code.FAILED_PRECONDITION.toException("hooks of %s: cannot start the network namespace holder %s:"
                    + " %s", id, cmd, e.getMessage());
        }
        CompletableFuture<String> first = onVirtualThread(() -> firstLine(p.getInputStream()));
        String line;
        try {
            line = first.get(HOLDER_READY.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            line = null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            line = null;
        }
        if (!READY.equals(line)) {
            p.destroyForcibly();
            throw Code.FAILED_PRECONDITION.toException("hooks of %s: the network namespace holder %s did not start: %s",
                    id, cmd, line == null ? "no answer within " + HOLDER_READY.toSeconds() + " s" : line);
        }
        log.debug("task {}: hook holder {} in {}", id, p.pid(), netns);
        return new ContainerHooks(id, bundle, hooks, p);
    }

    /** The pid the hooks get in their state. */
    long pid() {
        return holder != null ? holder.pid() : 0;
    }

    /** The holder's network namespace, where a hook may have built the container's network. */
    String netnsPath() {
        return "/proc/" + pid() + "/ns/net";
    }

    /** prestart then createRuntime hooks, in order; the first failure fails the Create. */
    void runCreate() throws StatusException {
        for (int i = 0; i < hooks.prestart().size(); i++) {
            run("prestart", i, hooks.prestart().get(i), "creating");
        }
        for (int i = 0; i < hooks.createRuntime().size(); i++) {
            run("createRuntime", i, hooks.createRuntime().get(i), "creating");
        }
    }

    /** poststart hooks, once the process runs; a failure is logged, as the runtime spec says. */
    void runPoststart() {
        runAll("poststart", hooks.poststart(), "running");
    }

    /** poststop hooks (failures are logged), then the holder goes. Idempotent. */
    @Override
    public void close() {
        if (holder == null || !closed.compareAndSet(false, true)) {
            return;
        }
        runAll("poststop", hooks.poststop(), "stopped");
        try {
            holder.getOutputStream().close(); // its `read` returns, the shell exits
            if (!holder.waitFor(HOLDER_EXIT.toMillis(), TimeUnit.MILLISECONDS)) {
                holder.destroyForcibly();
            }
        } catch (IOException e) {
            holder.destroyForcibly();
        } catch (InterruptedException e) {
            holder.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private void runAll(String stage, List<Hook> list, String status) {
        for (int i = 0; i < list.size(); i++) {
            try {
                run(stage, i, list.get(i), status);
            } catch (StatusException e) {
                log.warn("task {}: {}", id, e.status().description());
            }
        }
    }

    /**
     * Runs one hook as runc does: its {@code path} with {@code args} (args[0] is argv[0]: Java cannot set that apart
     * from the path, so it is the path), exactly its {@code env}, the bundle as working directory, and the state
     * JSON on stdin.
     */
    private void run(String stage, int index, Hook hook, String status) throws StatusException {
        String where = "hooks." + stage + "[" + index + "] (" + hook.path() + ")";
        List<String> cmd = new ArrayList<>();
        cmd.add(hook.path());
        if (hook.args().size() > 1) {
            cmd.addAll(hook.args().subList(1, hook.args().size()));
        }
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(bundle.toFile()).redirectErrorStream(true);
        pb.environment().clear();
        for (String e : hook.env()) {
            int eq = e.indexOf('=');
            if (eq > 0) {
                pb.environment().put(e.substring(0, eq), e.substring(eq + 1));
            }
        }
        Duration limit = hook.timeout() != null && hook.timeout() > 0 ? Duration.ofSeconds(hook.timeout())
                : DEFAULT_TIMEOUT;
        long t0 = System.nanoTime();
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw Code.FAILED_PRECONDITION.toException("task %s: %s: cannot run: %s", id, where, e.getMessage());
        }
        CompletableFuture<String> output = onVirtualThread(() -> tail(p.getInputStream()));
        try (OutputStream in = p.getOutputStream()) {
            in.write(state(status));
        } catch (IOException e) {
            // a hook that does not read its state exits without it: only its exit status counts
        }
        try {
            if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw Code.DEADLINE_EXCEEDED.toException("task %s: %s did not finish within %d s; killed", id, where,
                        limit.toSeconds());
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw Code.CANCELLED.toException("task %s: %s: interrupted", id, where);
        }
        String out = "";
        try {
            out = output.get(1, TimeUnit.SECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // a child of the hook holds its output open; what was read so far will do
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (p.exitValue() != 0) {
            throw Code.FAILED_PRECONDITION.toException("task %s: %s exited with status %d%s", id, where,
                    p.exitValue(), out.isBlank() ? "" : ": " + out.strip());
        }
        log.info("task {}: {} ran in {} ms", id, where, (System.nanoTime() - t0) / 1_000_000);
    }

    /** The runtime spec's state of the container, as a hook reads it on its stdin. */
    byte[] state(String status) {
        ObjectNode s = JSON.createObjectNode();
        s.put("ociVersion", "1.2.0");
        s.put("id", id);
        s.put("status", status);
        s.put("pid", pid());
        s.put("bundle", bundle.toString());
        ObjectNode annotations = s.putObject("annotations");
        hooks.annotations().forEach(annotations::put);
        try {
            return JSON.writeValueAsBytes(s);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Blocking reads of a child's pipe, each on a thread of its own, so that the caller can bound its wait. */
    private static <T> CompletableFuture<T> onVirtualThread(Supplier<T> read) {
        CompletableFuture<T> f = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> f.complete(read.get()));
        return f;
    }

    private static String firstLine(InputStream in) {
        try {
            return new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)).readLine();
        } catch (IOException e) {
            return null;
        }
    }

    /** The last bytes of a hook's output, for the error that names it. */
    private static String tail(InputStream in) {
        ByteArrayOutputStream kept = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        try (in) {
            for (int n; (n = in.read(buf)) > 0; ) {
                kept.write(buf, 0, n);
                if (kept.size() > 4 * OUTPUT_KEPT) {
                    byte[] all = kept.toByteArray();
                    kept.reset();
                    kept.write(all, all.length - OUTPUT_KEPT, OUTPUT_KEPT);
                }
            }
        } catch (IOException e) {
            // the hook is gone: keep what came
        }
        byte[] all = kept.toByteArray();
        int from = Math.max(0, all.length - OUTPUT_KEPT);
        return new String(all, from, all.length - from, StandardCharsets.UTF_8);
    }
}
