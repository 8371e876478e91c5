package io.a3s.box.spec.guest;

/**
 * A namespace the container joins instead of creating: that of another container's process in the same VM. This
 * is how the containers of a Kubernetes pod share its sandbox's namespaces: CRI names them
 * {@code /proc/<sandbox pid>/ns/<type>}, and the sandbox's pid is the guest pid the shim reported, so the path
 * means the same process inside the VM. Only for a container of a pod ({@link PodMember}): pids are per VM.
 *
 * @param type     {@link GuestNamespace#IPC}, {@link GuestNamespace#UTS} or {@link GuestNamespace#PID}
 * @param pid      the guest pid whose namespace is joined
 * @param specPath the config field it comes from ({@code linux.namespaces[1].path})
 */
public record GuestNamespaceJoin(GuestNamespace type, int pid, String specPath) {}
