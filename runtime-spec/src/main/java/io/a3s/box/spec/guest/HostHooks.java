package io.a3s.box.spec.guest;

import io.a3s.box.spec.oci.Hook;

import java.util.List;
import java.util.Map;

/**
 * Host side: the OCI hooks that run on the host, in the runtime's namespaces, as runc runs them (docs/oci-mapping.md,
 * "hooks"). The ones runc runs inside the container's namespaces ({@code createContainer}, {@code startContainer})
 * are refused: those namespaces are in the VM, which holds none of the host's hook binaries.
 *
 * @param prestart      run with {@link #createRuntime}, before it (deprecated in the spec, still written by Docker)
 * @param createRuntime run once the container is created, before Create returns; a failure fails the Create
 * @param poststart     run once the process is started; a failure is a warning
 * @param poststop      run once the container is gone; a failure is a warning
 * @param annotations   the config's, for the state every hook reads on its stdin
 */
public record HostHooks(List<Hook> prestart, List<Hook> createRuntime, List<Hook> poststart, List<Hook> poststop,
                        Map<String, String> annotations) {
    public static final HostHooks NONE = new HostHooks(List.of(), List.of(), List.of(), List.of(), Map.of());

    public HostHooks {
        prestart = List.copyOf(prestart);
        createRuntime = List.copyOf(createRuntime);
        poststart = List.copyOf(poststart);
        poststop = List.copyOf(poststop);
        annotations = Sorted.map(annotations);
    }

    public boolean isEmpty() {
        return prestart.isEmpty() && createRuntime.isEmpty() && poststart.isEmpty() && poststop.isEmpty();
    }
}
