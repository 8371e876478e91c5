package io.a3s.box.spec.guest;

import io.a3s.box.spec.SpecException;
import io.a3s.box.spec.SpecPath;
import io.a3s.box.spec.oci.Cpu;
import io.a3s.box.spec.oci.Device;
import io.a3s.box.spec.oci.Hook;
import io.a3s.box.spec.oci.Hooks;
import io.a3s.box.spec.oci.IdMapping;
import io.a3s.box.spec.oci.Linux;
import io.a3s.box.spec.oci.Mount;
import io.a3s.box.spec.oci.Namespace;
import io.a3s.box.spec.oci.Process;
import io.a3s.box.spec.oci.Resources;
import io.a3s.box.spec.oci.Root;
import io.a3s.box.spec.oci.Spec;
import io.a3s.box.spec.validate.CpuSets;
import io.a3s.box.spec.validate.SpecValidator;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedSet;
import java.util.regex.Pattern;

/**
 * Turns a validated OCI spec into the guest's container spec: a pure function of its arguments (no I/O, no
 * clock), so the same config always maps to the same result. {@code docs/oci-mapping.md} lists the disposition
 * of every field; this class is its implementation.
 *
 * <p>It validates first ({@link SpecValidator}) and then maps. Refusals (what a container in a VM cannot have)
 * are reported together with validation errors in one {@link SpecException}; what can be done without is a
 * {@link Warning} in the result. Thread-safe: no state.
 */
public final class SpecMapper {
    /** Added to the memory limit for the guest kernel, the agent and page cache when sizing a VM. */
    public static final long VM_MEMORY_OVERHEAD_MIB = 64;
    /** Annotation that sets the VM's vCPU count, overriding what the CPU quota implies. */
    public static final String ANNOTATION_VCPUS = "io.a3s.box.vcpus";
    /** Annotation that sets the VM's memory in MiB, overriding what the memory limit implies. */
    public static final String ANNOTATION_MEMORY_MIB = "io.a3s.box.memory_mib";
    /** Upper bound of {@link #ANNOTATION_VCPUS} and of every vCPU hint: x86 APIC ids without x2APIC end at 254. */
    public static final int MAX_VCPUS = 255;
    /** Bounds of {@link #ANNOTATION_MEMORY_MIB}: below this the guest kernel does not boot; above, 1 TiB. */
    public static final long MIN_MEMORY_MIB = 64;
    public static final long MAX_MEMORY_MIB = 1024 * 1024;
    /** The hooks a config may have: those that run on the host ({@link #hooks} says why not the others). */
    public static final List<String> HOOKS = List.of("prestart", "createRuntime", "poststart", "poststop");

    private static final long MIB = 1024 * 1024;
    private static final long DEFAULT_CPU_PERIOD_US = 100_000;
    /** {@code /proc/<pid>/ns/<name>}: how CRI names the namespaces of a pod's sandbox to its other containers. */
    private static final Pattern PROC_NS = Pattern.compile("/proc/(\\d{1,9})/ns/([a-z]+)");

    /**
     * Character devices every Linux kernel defines with these numbers, so that a node created in the guest reaches
     * the guest's own device: mem devices, tty, console, ptmx, fuse, tun. Any other host device the config names
     * does not exist in the VM.
     */
    private static final Set<String> GUEST_DEVICES = Set.of(
            "c 1:3", "c 1:5", "c 1:7", "c 1:8", "c 1:9", "c 1:11", "c 5:0", "c 5:1", "c 5:2", "c 10:229",
            "c 10:200");

    private SpecMapper() {}

    /**
     * Every mount option the mapping honours (the runtime-spec features' {@code mountOptions}): mount(8)'s flags and
     * their negations, the recursive attributes ({@code rro}, ...) and the propagation types. Others are passed to
     * the filesystem as its data (a bind mount warns that it takes none); {@code tmpcopyup} is only warned about.
     */
    public static SortedSet<String> mountOptions() {
        return MountMapping.OPTIONS;
    }

    /**
     * Maps a container's config.
     *
     * @param containerId the containerd id; it names the container's directory in the share, so it must be a safe
     *                    path component ({@link SharedDir#containerDir})
     * @param bundle      the bundle directory, against which relative paths ({@code root.path}, bind sources)
     *                    resolve
     * @throws SpecException listing every validation error and refusal
     */
    public static GuestContainerSpec map(String containerId, Path bundle, Spec spec) throws SpecException {
        SharedDir.containerDir(containerId);
        Objects.requireNonNull(bundle, "bundle");
        Report report = new Report();
        report.errors(SpecValidator.validate(spec));
        SpecPath root = SpecPath.ROOT;
        UnknownFields.warn(spec, root, report);

        Linux linux = spec.linux() != null ? spec.linux() : emptyLinux();
        Root rootfs = spec.root();
        List<ShareBind> shares = new ArrayList<>();
        GuestRoot guestRoot = new GuestRoot(SharedDir.rootfs(containerId),
                rootfs != null && Boolean.TRUE.equals(rootfs.readonly()), linux.rootfsPropagation());
        if (rootfs != null && rootfs.path() != null) {
            // Bound read-write even for root.readonly: the agent creates the mount points (/proc, /dev, ...)
            // an image may lack before it remounts the rootfs read-only, as runc does; a read-only bind
            // would make such an image fail with EROFS (ctr run --read-only).
            shares.add(new ShareBind(bundle.resolve(rootfs.path()).normalize().toString(), guestRoot.path(),
                    false, ShareBind.HostPropagation.SLAVE, root.field("root").field("path").toString()));
        }
        List<GuestMount> mounts = new ArrayList<>();
        List<Mount> ociMounts = spec.mounts() != null ? spec.mounts() : List.of();
        for (int i = 0; i < ociMounts.size(); i++) {
            if (ociMounts.get(i) != null) {
                var mapped = MountMapping.map(ociMounts.get(i), i, containerId, bundle,
                        root.field("mounts").index(i), report);
                if (mapped != null) {
                    mounts.add(mapped.mount());
                    if (mapped.share() != null) {
                        shares.add(mapped.share());
                    }
                }
            }
        }
        HostHooks hooks = hooks(spec.hooks(), spec.annotations(), root.field("hooks"), report);

        SpecPath linuxPath = root.field("linux");
        EnumSet<GuestNamespace> namespaces = EnumSet.noneOf(GuestNamespace.class);
        List<GuestNamespaceJoin> joins = new ArrayList<>();
        PodMember pod = PodMember.of(spec.annotations());
        VmNetwork network = namespaces(linux.namespaces(), linuxPath.field("namespaces"), pod, namespaces, joins,
                report);
        if (linux.mountLabel() != null && !linux.mountLabel().isEmpty()) {
            report.warn(linuxPath.field("mountLabel"), "the VM's kernel loads no SELinux policy; ignored");
        }
        if (linux.intelRdt() != null) {
            report.refuse(linuxPath.field("intelRdt"), "Intel RDT is allocated through the host's resctrl"
                    + " filesystem, which the VM cannot see, and a VM's vCPUs share the host's caches with no"
                    + " class of service of their own");
        }
        GuestSeccomp seccomp = linux.seccomp() != null
                ? ProcessMapping.seccomp(linux.seccomp(), linuxPath.field("seccomp"), report)
                : null;
        GuestProcessSpec process = spec.process() != null
                ? ProcessMapping.map(spec.process(), root.field("process"), seccomp, report)
                : null;
        GuestCgroup cgroup = ResourceMapping.map(linux.resources(), linuxPath.field("resources"), report);
        VmSizing vm = vmSizing(linux.resources(), spec.annotations(), root.field("annotations"), report);

        GuestContainerSpec result = new GuestContainerSpec(
                containerId,
                guestRoot,
                mounts,
                shares,
                emptyToNull(spec.hostname()),
                emptyToNull(spec.domainname()),
                linux.sysctl() != null ? linux.sysctl() : Map.of(),
                ProcessMapping.nonNull(linux.maskedPaths()),
                ProcessMapping.nonNull(linux.readonlyPaths()),
                List.copyOf(namespaces),
                joins,
                idMappings(linux.uidMappings()),
                idMappings(linux.gidMappings()),
                timeOffsets(linux),
                devices(linux.devices(), linuxPath.field("devices"), report),
                linux.personality() != null ? linux.personality().domain() : null,
                process,
                cgroup,
                vm,
                network,
                pod,
                emptyToNull(linux.cgroupsPath()),
                hooks,
                report.warnings());
        report.throwIfRefused();
        return result;
    }

    /**
     * Maps a resource update of a running container ({@code UpdateTaskRequest.resources}) to the guest cgroup
     * settings, with the same rules as at create.
     *
     * @throws SpecException every validation error and refusal, with paths relative to the resources JSON
     */
    public static GuestCgroup mapResources(Resources resources) throws SpecException {
        Report report = new Report();
        report.errors(SpecValidator.validateResources(resources));
        GuestCgroup cgroup = ResourceMapping.map(resources, SpecPath.ROOT, report);
        report.throwIfRefused();
        return cgroup;
    }

    /**
     * Maps an exec's process (the JSON of {@code ExecProcessRequest.spec}) for a container mapped earlier. The
     * container's seccomp filter applies to execs too, as with runc: an exec must not escape the filter.
     *
     * @param container the container the exec runs in, or null to check a process on its own (no seccomp)
     * @throws SpecException listing every validation error and refusal, with paths relative to the process JSON
     */
    public static GuestExecSpec mapExec(Process process, GuestContainerSpec container) throws SpecException {
        Report report = new Report();
        report.errors(SpecValidator.validateProcess(process));
        UnknownFields.warn(process, SpecPath.ROOT, report);
        GuestSeccomp seccomp = container != null && container.process() != null ? container.process().seccomp()
                : null;
        GuestProcessSpec mapped = ProcessMapping.map(process, SpecPath.ROOT, seccomp, report);
        report.throwIfRefused();
        return new GuestExecSpec(mapped, report.warnings());
    }

    /**
     * Hooks run on the host (prestart, createRuntime, poststart, poststop) or in the container's namespaces
     * (createContainer, startContainer) at points of runc's lifecycle. The host ones run on the host here too, with a
     * host process in the container's network namespace as the state's pid (docs/oci-mapping.md, "hooks"). The
     * container's namespaces are in the VM, which holds none of the host's hook binaries, and a hook skipped in
     * silence breaks whatever it sets up (GPU access, policy), so those are refused.
     */
    private static HostHooks hooks(Hooks hooks, Map<String, String> annotations, SpecPath path, Report report) {
        if (hooks == null) {
            return HostHooks.NONE;
        }
        refuseInContainer(hooks.createContainer(), path.field("createContainer"), report);
        refuseInContainer(hooks.startContainer(), path.field("startContainer"), report);
        return new HostHooks(nonNull(hooks.prestart()), nonNull(hooks.createRuntime()), nonNull(hooks.poststart()),
                nonNull(hooks.poststop()), annotations != null ? annotations : Map.of());
    }

    private static List<Hook> nonNull(List<Hook> hooks) {
        return hooks != null ? hooks.stream().filter(java.util.Objects::nonNull).toList() : List.of();
    }

    private static void refuseInContainer(List<Hook> hooks, SpecPath path, Report report) {
        if (hooks != null && !hooks.isEmpty()) {
            report.refuse(path, "this hook runs inside the container's namespaces, which are in the VM: the host's"
                    + " hook binaries are not there (prestart, createRuntime, poststart and poststop hooks run on"
                    + " the host)");
        }
    }

    /**
     * Namespaces to create in the guest or to join there, and the VM's network. A path names a namespace of the
     * host, which a process in the VM cannot join, with two exceptions. The network namespace: the network is the
     * VM's, and a path there (how CRI hands over a pod's network) says where the VM's interface goes. And, for a
     * container of a pod ({@link PodMember}), {@code /proc/<pid>/ns/<type>}: the pid is one the shim reported for
     * a container of the pod, a guest pid, so the path names that process's namespace inside the pod's VM. Outside
     * a pod the same path is the host's (every VM has its own pids).
     */
    private static VmNetwork namespaces(List<Namespace> list, SpecPath path, PodMember pod, EnumSet<GuestNamespace> out,
            List<GuestNamespaceJoin> joins, Report report) {
        VmNetwork network = null;
        List<Namespace> given = list != null ? list : List.of();
        for (int i = 0; i < given.size(); i++) {
            Namespace ns = given.get(i);
            if (ns == null || ns.type() == null) {
                continue;
            }
            boolean byPath = ns.path() != null && !ns.path().isEmpty();
            var proc = byPath ? PROC_NS.matcher(ns.path()) : null;
            boolean procPath = proc != null && proc.matches();
            if (ns.type().equals("network")) {
                if (!byPath) {
                    network = new VmNetwork(VmNetwork.Mode.VM, null);
                } else if (procPath && proc.group(2).equals("net") && pod != null && !pod.isSandbox()) {
                    network = new VmNetwork(VmNetwork.Mode.POD_VM, null); // the sandbox's network is the VM's
                } else {
                    network = new VmNetwork(VmNetwork.Mode.POD_NETNS, ns.path());
                }
                continue;
            }
            GuestNamespace guest = switch (ns.type()) {
                case "mount" -> GuestNamespace.MOUNT;
                case "pid" -> GuestNamespace.PID;
                case "uts" -> GuestNamespace.UTS;
                case "ipc" -> GuestNamespace.IPC;
                case "cgroup" -> GuestNamespace.CGROUP;
                case "user" -> GuestNamespace.USER;
                case "time" -> GuestNamespace.TIME;
                default -> null; // an unknown type is a validation error already
            };
            if (guest == null) {
                continue;
            }
            SpecPath at = path.index(i).field("path");
            if (!byPath) {
                out.add(guest);
            } else if (pod == null || !procPath
                    || !proc.group(2).equals(guest == GuestNamespace.MOUNT ? "mnt" : guest.ociName())) {
                report.refuse(at, "joining the existing " + ns.type() + " namespace " + ns.path() + " cannot be"
                        + " honoured: it is a namespace of the host, and the container runs in a VM");
            } else if (!EnumSet.of(GuestNamespace.IPC, GuestNamespace.UTS, GuestNamespace.PID).contains(guest)) {
                report.refuse(at, "joining another container's " + ns.type() + " namespace (" + ns.path()
                        + ") is not supported: only ipc, uts and pid namespaces are shared inside a VM");
            } else {
                joins.add(new GuestNamespaceJoin(guest, Integer.parseInt(proc.group(1)), at.toString()));
            }
        }
        if (network == null) {
            report.warn(path, "no network namespace asks for the host's network, which a VM cannot share; the"
                    + " container uses the VM's network");
            network = new VmNetwork(VmNetwork.Mode.HOST_UNAVAILABLE, null);
        }
        if (!listed(given, "pid")) {
            report.warn(path, "no pid namespace: the container shares the VM's, where the agent is PID 1");
        }
        if (!listed(given, "mount")) {
            // The agent pivots into the rootfs, which needs a mount namespace; the VM's own mounts are the agent's.
            report.warn(path, "no mount namespace: the container gets one inside the VM anyway, as its root is"
                    + " not the VM's");
            out.add(GuestNamespace.MOUNT);
        }
        return network;
    }

    private static boolean listed(List<Namespace> namespaces, String type) {
        return namespaces.stream().anyMatch(n -> n != null && type.equals(n.type()));
    }

    private static List<GuestDevice> devices(List<Device> devices, SpecPath path, Report report) {
        List<GuestDevice> out = new ArrayList<>();
        List<Device> given = devices != null ? devices : List.of();
        for (int i = 0; i < given.size(); i++) {
            Device d = given.get(i);
            if (d == null || d.path() == null || d.type() == null) {
                continue;
            }
            boolean fifo = d.type().equals("p");
            if (fifo || GUEST_DEVICES.contains(d.type() + " " + d.major() + ":" + d.minor())) {
                out.add(new GuestDevice(d.path(), d.type(), fifo || d.major() == null ? 0 : d.major(),
                        fifo || d.minor() == null ? 0 : d.minor(), d.fileMode(), d.uid(), d.gid()));
            } else {
                report.warn(path.index(i), "host device " + d.path() + " (" + d.type() + " " + d.major() + ":"
                        + d.minor() + ") does not exist in the VM; not created");
            }
        }
        return out;
    }

    private static VmSizing vmSizing(Resources r, Map<String, String> annotations, SpecPath path, Report report) {
        Integer vcpus = null;
        Long memoryMib = null;
        String hostCpus = null;
        String hostMems = null;
        Cpu cpu = r != null ? r.cpu() : null;
        if (cpu != null) {
            long period = cpu.period() != null && cpu.period().signum() > 0 && cpu.period().bitLength() < 32
                    ? cpu.period().longValue() : DEFAULT_CPU_PERIOD_US;
            if (cpu.quota() != null && cpu.quota() > 0) {
                vcpus = (int) Math.min(MAX_VCPUS, Math.ceilDiv(cpu.quota(), period));
            }
            if (cpu.cpus() != null && !cpu.cpus().isEmpty()) {
                hostCpus = cpu.cpus();
                if (vcpus == null) {
                    vcpus = cpuCount(cpu.cpus());
                }
            }
            hostMems = emptyToNull(cpu.mems());
        }
        if (r != null && r.memory() != null && r.memory().limit() != null && r.memory().limit() > 0) {
            memoryMib = Math.ceilDiv(r.memory().limit(), MIB) + VM_MEMORY_OVERHEAD_MIB;
        }
        if (annotations != null && PodMember.of(annotations) instanceof PodMember pod && pod.isSandbox()) {
            // A pod's VM serves all its containers: CRI sums their limits into the sandbox's annotations (kubelet
            // 1.23+), which size it better than the pause container's own (tiny) resources. 0 means no limit.
            Long period = annotation(annotations, PodMember.SANDBOX_CPU_PERIOD, 0, Integer.MAX_VALUE, path, report);
            Long quota = annotation(annotations, PodMember.SANDBOX_CPU_QUOTA, -1, Long.MAX_VALUE, path, report);
            Long bytes = annotation(annotations, PodMember.SANDBOX_MEMORY, 0, Long.MAX_VALUE, path, report);
            if (quota != null && quota > 0) {
                long p = period != null && period > 0 ? period : DEFAULT_CPU_PERIOD_US;
                vcpus = (int) Math.min(MAX_VCPUS, Math.ceilDiv(quota, p));
            }
            if (bytes != null && bytes > 0) {
                memoryMib = Math.min(MAX_MEMORY_MIB, Math.ceilDiv(bytes, MIB) + VM_MEMORY_OVERHEAD_MIB);
            }
        }
        if (annotations != null) {
            Long v = annotation(annotations, ANNOTATION_VCPUS, 1, MAX_VCPUS, path, report);
            if (v != null) {
                vcpus = v.intValue();
            }
            Long mem = annotation(annotations, ANNOTATION_MEMORY_MIB, MIN_MEMORY_MIB, MAX_MEMORY_MIB, path, report);
            if (mem != null) {
                memoryMib = mem;
            }
        }
        return new VmSizing(vcpus, memoryMib, hostCpus, hostMems);
    }

    private static Integer cpuCount(String cpus) {
        try {
            return Math.min(MAX_VCPUS, CpuSets.parse(cpus).cardinality());
        } catch (IllegalArgumentException e) {
            return null; // validation has reported the list
        }
    }

    private static Long annotation(Map<String, String> annotations, String key, long min, long max, SpecPath path,
            Report report) {
        String value = annotations.get(key);
        if (value == null) {
            return null;
        }
        try {
            long n = Long.parseLong(value.strip());
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below, with the value
        }
        report.refuse(path.field(key), "expected an integer from " + min + " to " + max + ", got \"" + value + '"');
        return null;
    }

    private static List<GuestIdMapping> idMappings(List<IdMapping> mappings) {
        List<GuestIdMapping> out = new ArrayList<>();
        for (IdMapping m : ProcessMapping.nonNull(mappings)) {
            if (m.containerID() != null && m.hostID() != null && m.size() != null) {
                out.add(new GuestIdMapping(m.containerID(), m.hostID(), m.size()));
            }
        }
        return out;
    }

    private static List<GuestTimeOffset> timeOffsets(Linux linux) {
        List<GuestTimeOffset> out = new ArrayList<>();
        if (linux.timeOffsets() != null) {
            linux.timeOffsets().forEach((clock, o) -> {
                if (o != null) {
                    out.add(new GuestTimeOffset(clock, o.secs() != null ? o.secs() : 0,
                            o.nanosecs() != null ? o.nanosecs() : 0));
                }
            });
        }
        return out;
    }

    private static Linux emptyLinux() {
        return new Linux(null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
                null);
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }
}
