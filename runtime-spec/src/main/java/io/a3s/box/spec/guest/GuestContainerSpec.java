package io.a3s.box.spec.guest;

import java.util.List;
import java.util.Map;

/**
 * The result of mapping a {@code config.json}: what the agent needs to create the container, plus what the host
 * side needs to prepare for it. The host-side fields ({@link #shares}, {@link #vm}, {@link #network},
 * {@link #hostCgroupsPath}, {@link #hooks}, {@link #warnings}) are for the shim and are not sent to the agent.
 *
 * @param containerId     the containerd container id
 * @param root            the rootfs, under the share
 * @param mounts          mounts in config order (the order matters: later ones may cover earlier ones)
 * @param shares          host side: host paths to bind-mount into the share first, rootfs first
 * @param hostname        or null to keep the VM's
 * @param domainname      or null
 * @param sysctls         written under /proc/sys in the container's namespaces; a sysctl that is not namespaced
 *                        changes the whole VM, which belongs to this container or its pod alone
 * @param maskedPaths     paths to hide (a read-only empty tmpfs over a directory, /dev/null over a file)
 * @param readonlyPaths   paths to remount read-only
 * @param namespaces      namespaces to create inside the VM; mount is always among them
 * @param joins           namespaces of another container of the pod to join instead (at most one per type, and
 *                        none of a type in {@code namespaces})
 * @param uidMappings     for a user namespace
 * @param gidMappings     for a user namespace
 * @param timeOffsets     for a time namespace
 * @param devices         device nodes to create in the container's /dev, besides the default ones the agent
 *                        always creates (null, zero, full, random, urandom, tty, ptmx)
 * @param personality     {@code LINUX32} or {@code LINUX}, or null
 * @param process         the container's first process
 * @param cgroup          the container cgroup's limits inside the VM
 * @param vm              host side: sizing hints for the VM
 * @param network         host side: how the VM is networked
 * @param pod             host side: the Kubernetes pod whose VM the container runs in, or null for a VM of its own
 * @param hostCgroupsPath host side: {@code linux.cgroupsPath}, the host cgroup the VM's processes may be placed in
 * @param hooks           host side: the OCI hooks the shim runs on the host
 * @param warnings        host side: fields not honoured as written, to be logged
 */
public record GuestContainerSpec(
        String containerId,
        GuestRoot root,
        List<GuestMount> mounts,
        List<ShareBind> shares,
        String hostname,
        String domainname,
        Map<String, String> sysctls,
        List<String> maskedPaths,
        List<String> readonlyPaths,
        List<GuestNamespace> namespaces,
        List<GuestNamespaceJoin> joins,
        List<GuestIdMapping> uidMappings,
        List<GuestIdMapping> gidMappings,
        List<GuestTimeOffset> timeOffsets,
        List<GuestDevice> devices,
        String personality,
        GuestProcessSpec process,
        GuestCgroup cgroup,
        VmSizing vm,
        VmNetwork network,
        PodMember pod,
        String hostCgroupsPath,
        HostHooks hooks,
        List<Warning> warnings) {
    public GuestContainerSpec {
        mounts = List.copyOf(mounts);
        shares = List.copyOf(shares);
        sysctls = Sorted.map(sysctls);
        maskedPaths = List.copyOf(maskedPaths);
        readonlyPaths = List.copyOf(readonlyPaths);
        namespaces = List.copyOf(namespaces);
        joins = List.copyOf(joins);
        uidMappings = List.copyOf(uidMappings);
        gidMappings = List.copyOf(gidMappings);
        timeOffsets = List.copyOf(timeOffsets);
        devices = List.copyOf(devices);
        warnings = List.copyOf(warnings);
    }
}
