package io.a3s.box.spec.guest;

/**
 * Host side: one host path the shim must bind-mount into the share before the agent creates the container.
 *
 * @param hostPath  the absolute host path (a directory, or a file: the shim stats it and creates a matching
 *                  placeholder under the share, because a bind mount needs a target of the same kind)
 * @param guestPath where it appears in the guest, see {@link SharedDir}
 * @param readonly  bind it read-only on the host too, so that a compromised guest kernel cannot write through 9p
 *                  what the container was only allowed to read
 * @param specPath  the config field it comes from ({@code root.path}, {@code mounts[3]})
 */
public record ShareBind(String hostPath, String guestPath, boolean readonly, String specPath) {}
