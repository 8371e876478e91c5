package io.a3s.box.spec.guest;

import java.util.Map;

/**
 * Host side: the Kubernetes pod a container belongs to, from the annotations containerd's CRI plugin sets. All
 * containers of a pod run in the VM of its sandbox container.
 *
 * @param sandboxId the pod's sandbox container id ({@value #SANDBOX_ID})
 * @param isSandbox whether this container is that sandbox ({@value #CONTAINER_TYPE} {@code = sandbox}), which
 *                  leases the pod's VM; otherwise it joins it
 */
public record PodMember(String sandboxId, boolean isSandbox) {
    public static final String CONTAINER_TYPE = "io.kubernetes.cri.container-type";
    public static final String SANDBOX_ID = "io.kubernetes.cri.sandbox-id";
    /** The pod's CPU period, quota (microseconds) and memory limit (bytes), on the sandbox; 0: none. */
    public static final String SANDBOX_CPU_PERIOD = "io.kubernetes.cri.sandbox-cpu-period";
    public static final String SANDBOX_CPU_QUOTA = "io.kubernetes.cri.sandbox-cpu-quota";
    public static final String SANDBOX_MEMORY = "io.kubernetes.cri.sandbox-memory";

    /** The membership the annotations declare, or null for a container outside any pod. */
    static PodMember of(Map<String, String> annotations) {
        if (annotations == null) {
            return null;
        }
        String type = annotations.get(CONTAINER_TYPE);
        String sandbox = annotations.get(SANDBOX_ID);
        if (type == null || sandbox == null || sandbox.isEmpty()) {
            return null;
        }
        return new PodMember(sandbox, type.equals("sandbox"));
    }
}
