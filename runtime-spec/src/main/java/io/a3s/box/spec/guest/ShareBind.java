package io.a3s.box.spec.guest;

/**
 * Host side: one host path the shim must bind-mount into the share before the agent creates the container.
 *
 * @param hostPath    the absolute host path (a directory, or a file: the shim stats it and creates a matching
 *                    placeholder under the share, because a bind mount needs a target of the same kind)
 * @param guestPath   where it appears in the guest, see {@link SharedDir}
 * @param readonly    bind it read-only on the host too, so that a compromised guest kernel cannot write through 9p
 *                    what the container was only allowed to read
 * @param propagation which mount events made on the host under {@code hostPath} reach the guest
 * @param specPath    the config field it comes from ({@code root.path}, {@code mounts[3]})
 */
public record ShareBind(String hostPath, String guestPath, boolean readonly, HostPropagation propagation,
        String specPath) {

    /**
     * Which host mount events under a share's source reach the guest. The guest reads the share through 9p,
     * i.e. through the host's bind of the source, live: a mount the host makes under the source later is seen
     * in the VM exactly when it propagates to that bind. Nothing the guest mounts ever reaches the host.
     */
    public enum HostPropagation {
        /** None: the bind is private ({@code private}, {@code rprivate}, {@code unbindable}, ...). */
        PRIVATE,
        /** The source's, one way ({@code slave}, {@code rslave}; and runc's default, whose root is rslave). */
        SLAVE,
        /** The source's peer group ({@code shared}, {@code rshared}): host to guest only, all a VM can do. */
        SHARED;

        /** The host side of a mount's OCI propagation option ({@code rprivate}, ...; null for none). */
        public static HostPropagation of(String ociPropagation) {
            if (ociPropagation == null) {
                return SLAVE;
            }
            return switch (ociPropagation) {
                case "private", "rprivate", "unbindable", "runbindable" -> PRIVATE;
                case "shared", "rshared" -> SHARED;
                default -> SLAVE;
            };
        }
    }
}
