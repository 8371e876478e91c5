package io.a3s.box.spec.guest;

import com.fasterxml.jackson.annotation.JsonValue;

/**
 * Namespaces the agent creates for the container inside the VM. There is no network member: the container uses
 * the VM's network, which is its own (see {@link VmNetwork}).
 */
public enum GuestNamespace {
    MOUNT, PID, UTS, IPC, CGROUP, USER, TIME;

    /** The runtime-spec name, which is also the unshare(1) name. */
    @JsonValue
    public String ociName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
