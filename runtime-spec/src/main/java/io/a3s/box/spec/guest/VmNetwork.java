package io.a3s.box.spec.guest;

/**
 * Host side: which network the VM, and so the container, is attached to. A container never gets a network
 * namespace of its own inside the VM: it would hold nothing but a loopback device.
 *
 * @param mode        see {@link Mode}
 * @param netnsPath   for {@link Mode#POD_NETNS}, the host network namespace the VM's interface must be placed in
 */
public record VmNetwork(Mode mode, String netnsPath) {
    public enum Mode {
        /** The config asks for a new network namespace: the VM's own network is exactly that. */
        VM,
        /**
         * The config joins an existing network namespace (CRI hands a pod's network this way): the VM's network
         * device is wired into that namespace (a later issue).
         */
        POD_NETNS,
        /**
         * The config joins the network namespace of its pod's sandbox ({@code /proc/<pid>/ns/net}): the pod's VM,
         * whose network the sandbox has.
         */
        POD_VM,
        /**
         * The config shares the host's network ({@code --net-host}), which a VM cannot do: the container gets the
         * VM's network instead, with a warning.
         */
        HOST_UNAVAILABLE
    }
}
