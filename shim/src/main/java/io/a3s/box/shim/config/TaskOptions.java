package io.a3s.box.shim.config;

import com.google.protobuf.Any;
import io.a3s.box.containerd.runc.Options;
import io.a3s.box.containerd.runc.linux.CreateOptions;
import io.a3s.box.shim.events.Anys;
import io.a3s.box.ttrpc.StatusException;

import java.util.Optional;

/**
 * What containerd's runtime options ask of one task. They come in {@code CreateTaskRequest.options}: the
 * task's options if the client gave some, else the container's runtime options.
 * <ul>
 *   <li>none: the daemon's configuration;</li>
 *   <li>{@code runtimeoptions.v1.Options} ({@code ctr run --runtime-config-path}, CRI's
 *       {@code runtimes.NAME.options}): its {@code [vm]} overlays the daemon's configuration
 *       ({@link ShimConfig#withRuntimeOptions});</li>
 *   <li>runc's options ({@code containerd.runc.v1.Options}, or the v1 shim's
 *       {@code containerd.linux.runc.CreateOptions}), which containerd's Go client sends whatever the runtime
 *       (its {@code WithShimCgroup}): {@code shim_cgroup} is honoured; the rest (runc's binary and root, criu's
 *       paths, pivot_root, keyrings, io uid) is about runc's own process and has no meaning for a VM;</li>
 *   <li>any other type: INVALID_ARGUMENT.</li>
 * </ul>
 *
 * @param config     the task's configuration (only its {@code [vm]} differs from the daemon's)
 * @param shimCgroup the host cgroup the task's VM joins, as runc's shim joins it itself
 */
public record TaskOptions(ShimConfig config, Optional<String> shimCgroup) {
    public static final String RUNC_OPTIONS_TYPE = "containerd.runc.v1.Options";
    public static final String RUNC_V1_CREATE_OPTIONS_TYPE = "containerd.linux.runc.CreateOptions";

    /** A task's options over the daemon's configuration {@code global}. */
    public static TaskOptions of(Any options, ShimConfig global) throws StatusException {
        if (options != null && Anys.is(options, RUNC_OPTIONS_TYPE)) {
            Options o = Anys.unpack(options, RUNC_OPTIONS_TYPE, Options.parser());
            return new TaskOptions(global, nonEmpty(o.getShimCgroup()));
        }
        if (options != null && Anys.is(options, RUNC_V1_CREATE_OPTIONS_TYPE)) {
            CreateOptions o = Anys.unpack(options, RUNC_V1_CREATE_OPTIONS_TYPE, CreateOptions.parser());
            return new TaskOptions(global, nonEmpty(o.getShimCgroup()));
        }
        return new TaskOptions(global.withRuntimeOptions(options), Optional.empty());
    }

    private static Optional<String> nonEmpty(String s) {
        return s.isEmpty() ? Optional.empty() : Optional.of(s);
    }
}
