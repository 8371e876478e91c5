package io.a3s.box.shim.daemon;

import io.a3s.box.guest.v1.Capabilities;
import io.a3s.box.guest.v1.CgroupResources;
import io.a3s.box.guest.v1.ContainerSpec;
import io.a3s.box.guest.v1.Device;
import io.a3s.box.guest.v1.DeviceRule;
import io.a3s.box.guest.v1.IdMapping;
import io.a3s.box.guest.v1.IoPriority;
import io.a3s.box.guest.v1.Mount;
import io.a3s.box.guest.v1.NamespaceJoin;
import io.a3s.box.guest.v1.Namespaces;
import io.a3s.box.guest.v1.ProcessSpec;
import io.a3s.box.guest.v1.Rlimit;
import io.a3s.box.guest.v1.Scheduler;
import io.a3s.box.guest.v1.Seccomp;
import io.a3s.box.guest.v1.SeccompArg;
import io.a3s.box.guest.v1.SeccompRule;
import io.a3s.box.guest.v1.TimeOffset;
import io.a3s.box.shim.task.TaskPids;
import io.a3s.box.spec.guest.GuestCapabilities;
import io.a3s.box.spec.guest.GuestCgroup;
import io.a3s.box.spec.guest.GuestContainerSpec;
import io.a3s.box.spec.guest.GuestDevice;
import io.a3s.box.spec.guest.GuestDeviceRule;
import io.a3s.box.spec.guest.GuestIdMapping;
import io.a3s.box.spec.guest.GuestIoPriority;
import io.a3s.box.spec.guest.GuestMount;
import io.a3s.box.spec.guest.GuestNamespace;
import io.a3s.box.spec.guest.GuestNamespaceJoin;
import io.a3s.box.spec.guest.GuestProcessSpec;
import io.a3s.box.spec.guest.GuestRlimit;
import io.a3s.box.spec.guest.GuestScheduler;
import io.a3s.box.spec.guest.GuestSeccomp;
import io.a3s.box.spec.guest.GuestTimeOffset;
import io.a3s.box.spec.guest.MountFlag;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The runtime-spec module's guest spec (pure Java records) as the guest protocol's messages. The mapping
 * decisions were all made there; this is only a change of representation.
 */
public final class GuestSpecs {
    private GuestSpecs() {
    }

    public static ContainerSpec toProto(GuestContainerSpec s) {
        ContainerSpec.Builder b = ContainerSpec.newBuilder()
                .setRootfs(s.root().path())
                .setRootfsReadonly(s.root().readonly())
                .setHostname(nz(s.hostname()))
                .setDomainname(nz(s.domainname()))
                .putAllSysctls(s.sysctls())
                .addAllMaskedPaths(s.maskedPaths())
                .addAllReadonlyPaths(s.readonlyPaths())
                .setNamespaces(namespaces(s.namespaces(), s.joins()))
                .setProcess(process(s.process()))
                .setPersonality(nz(s.personality()))
                .setRootfsPropagation(nz(s.root().propagation()));
        for (GuestMount m : s.mounts()) {
            b.addMounts(mount(m));
        }
        for (GuestIdMapping m : s.uidMappings()) {
            b.addUidMappings(idMapping(m));
        }
        for (GuestIdMapping m : s.gidMappings()) {
            b.addGidMappings(idMapping(m));
        }
        for (GuestTimeOffset t : s.timeOffsets()) {
            b.addTimeOffsets(TimeOffset.newBuilder().setClock(t.clock()).setSecs(t.secs())
                    .setNanosecs((int) t.nanosecs()));
        }
        for (GuestDevice d : s.devices()) {
            b.addDevices(device(d));
        }
        if (s.cgroup() != null) {
            b.setResources(resources(s.cgroup()));
        }
        return b.build();
    }

    public static ProcessSpec process(GuestProcessSpec p) {
        ProcessSpec.Builder b = ProcessSpec.newBuilder()
                .addAllArgs(p.args())
                .addAllEnv(p.env())
                .setCwd(p.cwd() == null || p.cwd().isEmpty() ? "/" : p.cwd())
                .setUid((int) p.uid())
                .setGid((int) p.gid())
                .setTerminal(p.terminal())
                .setNoNewPrivileges(p.noNewPrivileges());
        p.additionalGids().forEach(g -> b.addAdditionalGids(g.intValue()));
        if (p.umask() != null) {
            b.setUmask(p.umask());
        }
        if (p.consoleWidth() != null) {
            b.setConsoleWidth(p.consoleWidth());
        }
        if (p.consoleHeight() != null) {
            b.setConsoleHeight(p.consoleHeight());
        }
        for (GuestRlimit r : p.rlimits()) {
            b.addRlimits(Rlimit.newBuilder().setType(r.type()).setSoft(r.soft()).setHard(r.hard()));
        }
        if (p.capabilities() != null) {
            b.setCapabilities(capabilities(p.capabilities()));
        }
        if (p.oomScoreAdj() != null) {
            b.setOomScoreAdj(p.oomScoreAdj());
        }
        if (p.seccomp() != null) {
            b.setSeccomp(seccomp(p.seccomp()));
        }
        if (p.scheduler() != null) {
            b.setScheduler(scheduler(p.scheduler()));
        }
        if (p.ioPriority() != null) {
            GuestIoPriority io = p.ioPriority();
            b.setIoPriority(IoPriority.newBuilder().setIoClass(io.ioClass()).setPriority(io.priority()));
        }
        return b.build();
    }

    static Scheduler scheduler(GuestScheduler s) {
        return Scheduler.newBuilder().setPolicy(s.policy()).setNice(s.nice()).setPriority(s.priority())
                .addAllFlags(s.flags()).setRuntime(s.runtime()).setDeadline(s.deadline()).setPeriod(s.period())
                .build();
    }

    /** uint32 fields: the long of the record holds the unsigned value, the cast keeps its 32 bits. */
    static IdMapping idMapping(GuestIdMapping m) {
        return IdMapping.newBuilder().setContainerId((int) m.containerId()).setHostId((int) m.hostId())
                .setSize((int) m.size()).build();
    }

    static Device device(GuestDevice d) {
        Device.Builder b = Device.newBuilder().setPath(d.path()).setType(d.type()).setMajor((int) d.major())
                .setMinor((int) d.minor());
        if (d.fileMode() != null) {
            b.setFileMode(d.fileMode().intValue());
        }
        if (d.uid() != null) {
            b.setUid(d.uid().intValue());
        }
        if (d.gid() != null) {
            b.setGid(d.gid().intValue());
        }
        return b.build();
    }

    static DeviceRule deviceRule(GuestDeviceRule r) {
        DeviceRule.Builder b = DeviceRule.newBuilder().setAllow(r.allow()).setType(r.type()).setAccess(nz(r.access()));
        if (r.major() != null) {
            b.setMajor(r.major().intValue());
        }
        if (r.minor() != null) {
            b.setMinor(r.minor().intValue());
        }
        return b.build();
    }

    public static CgroupResources resources(GuestCgroup c) {
        CgroupResources.Builder b = CgroupResources.newBuilder();
        if (c.memoryMax() != null) {
            b.setMemoryMax(c.memoryMax());
        }
        if (c.memorySwapMax() != null) {
            b.setMemorySwapMax(c.memorySwapMax());
        }
        if (c.memoryLow() != null) {
            b.setMemoryLow(c.memoryLow());
        }
        if (c.cpuQuota() != null) {
            b.setCpuQuota(c.cpuQuota());
        }
        if (c.cpuPeriod() != null) {
            b.setCpuPeriod(c.cpuPeriod());
        }
        if (c.cpuBurst() != null) {
            b.setCpuBurst(c.cpuBurst());
        }
        if (c.cpuWeight() != null) {
            b.setCpuWeight(c.cpuWeight());
        }
        if (c.cpuIdle() != null) {
            b.setCpuIdle(c.cpuIdle());
        }
        if (c.pidsMax() != null) {
            b.setPidsMax(c.pidsMax());
        }
        if (c.ioWeight() != null) {
            b.setIoWeight(c.ioWeight());
        }
        if (c.hugetlbMax() != null) {
            b.putAllHugetlbMax(c.hugetlbMax());
        }
        if (c.devices() != null) {
            c.devices().forEach(r -> b.addDevices(deviceRule(r)));
        }
        if (c.unified() != null) {
            b.putAllUnified(c.unified());
        }
        return b.build();
    }

    static Mount mount(GuestMount m) {
        Mount.Builder b = Mount.newBuilder().setType(m.type()).setSource(nz(m.source()))
                .setDestination(m.destination());
        b.addAllOptions(options(m));
        return b.build();
    }

    /** mount(2) flags back to the option words the agent parses ("ro", "nosuid", "rbind", ...). */
    static List<String> options(GuestMount m) {
        List<String> out = new ArrayList<>();
        boolean bind = m.flags().contains(MountFlag.MS_BIND);
        boolean rec = m.flags().contains(MountFlag.MS_REC);
        if (bind) {
            out.add(rec ? "rbind" : "bind");
        }
        for (MountFlag f : m.flags()) {
            String word = switch (f) {
                case MS_RDONLY -> "ro";
                case MS_NOSUID -> "nosuid";
                case MS_NODEV -> "nodev";
                case MS_NOEXEC -> "noexec";
                case MS_SYNCHRONOUS -> "sync";
                case MS_MANDLOCK -> "mand";
                case MS_DIRSYNC -> "dirsync";
                case MS_NOSYMFOLLOW -> "nosymfollow";
                case MS_NOATIME -> "noatime";
                case MS_NODIRATIME -> "nodiratime";
                case MS_RELATIME -> "relatime";
                case MS_STRICTATIME -> "strictatime";
                case MS_LAZYTIME -> "lazytime";
                case MS_BIND, MS_REC, MS_REMOUNT, MS_SILENT -> null;
            };
            if (word != null) {
                out.add(word);
            }
        }
        for (MountFlag f : m.recursiveFlags()) {
            String word = recursiveWord(f, false);
            if (word != null) {
                out.add(word);
            }
        }
        for (MountFlag f : m.recursiveClearFlags()) {
            String word = recursiveWord(f, true);
            if (word != null) {
                out.add(word);
            }
        }
        if (m.propagation() != null && !m.propagation().isEmpty()) {
            out.add(m.propagation());
        }
        if (m.data() != null && !m.data().isEmpty()) {
            for (String d : m.data().split(",")) {
                if (!d.isEmpty()) {
                    out.add(d);
                }
            }
        }
        return out;
    }

    /** The runtime-spec 1.1 option word that sets (or clears) a recursive attribute, as the agent parses it. */
    static String recursiveWord(MountFlag f, boolean clear) {
        return switch (f) {
            case MS_RDONLY -> clear ? "rrw" : "rro";
            case MS_NOSUID -> clear ? "rsuid" : "rnosuid";
            case MS_NODEV -> clear ? "rdev" : "rnodev";
            case MS_NOEXEC -> clear ? "rexec" : "rnoexec";
            case MS_NOATIME -> clear ? "ratime" : "rnoatime";
            case MS_NODIRATIME -> clear ? "rdiratime" : "rnodiratime";
            case MS_RELATIME -> clear ? "rnorelatime" : "rrelatime";
            case MS_STRICTATIME -> clear ? "rnostrictatime" : "rstrictatime";
            case MS_NOSYMFOLLOW -> clear ? "rsymfollow" : "rnosymfollow";
            case MS_SYNCHRONOUS, MS_REMOUNT, MS_MANDLOCK, MS_DIRSYNC, MS_BIND, MS_REC, MS_SILENT, MS_LAZYTIME -> null;
        };
    }

    static Namespaces namespaces(List<GuestNamespace> ns, List<GuestNamespaceJoin> joins) {
        return Namespaces.newBuilder()
                .setMount(ns.contains(GuestNamespace.MOUNT))
                .setPid(ns.contains(GuestNamespace.PID))
                .setUts(ns.contains(GuestNamespace.UTS))
                .setIpc(ns.contains(GuestNamespace.IPC))
                .setCgroup(ns.contains(GuestNamespace.CGROUP))
                .setUser(ns.contains(GuestNamespace.USER))
                .setTime(ns.contains(GuestNamespace.TIME))
                .addAllJoins(joins.stream().map(j -> NamespaceJoin.newBuilder().setType(j.type().ociName())
                        .setPid(TaskPids.toGuest(j.pid())).build()).toList())
                .build();
    }

    /**
     * The spec with guest paths of exported sources replaced ({@code renamed}: from the path the mapping chose to
     * the export the VM already has of the same source).
     */
    static ContainerSpec withSources(ContainerSpec spec, Map<String, String> renamed) {
        if (renamed.isEmpty()) {
            return spec;
        }
        ContainerSpec.Builder b = spec.toBuilder().setRootfs(renamed.getOrDefault(spec.getRootfs(), spec.getRootfs()));
        for (int i = 0; i < b.getMountsCount(); i++) {
            Mount m = b.getMounts(i);
            if (renamed.containsKey(m.getSource())) {
                b.setMounts(i, m.toBuilder().setSource(renamed.get(m.getSource())));
            }
        }
        return b.build();
    }

    static Capabilities capabilities(GuestCapabilities c) {
        return Capabilities.newBuilder().addAllBounding(c.bounding()).addAllEffective(c.effective())
                .addAllInheritable(c.inheritable()).addAllPermitted(c.permitted()).addAllAmbient(c.ambient())
                .build();
    }

    static Seccomp seccomp(GuestSeccomp s) {
        Seccomp.Builder b = Seccomp.newBuilder().setDefaultAction(s.defaultAction())
                .addAllArchitectures(s.architectures()).addAllFlags(s.flags());
        if (s.defaultErrnoRet() != null) {
            b.setDefaultErrnoRet(s.defaultErrnoRet().intValue());
        }
        for (GuestSeccomp.Rule r : s.syscalls()) {
            SeccompRule.Builder rb = SeccompRule.newBuilder().addAllNames(r.names()).setAction(r.action());
            if (r.errnoRet() != null) {
                rb.setErrnoRet(r.errnoRet().intValue());
            }
            for (GuestSeccomp.Arg a : r.args()) {
                rb.addArgs(SeccompArg.newBuilder().setIndex(a.index()).setValue(a.value()).setValueTwo(a.valueTwo())
                        .setOp(a.op()));
            }
            b.addSyscalls(rb);
        }
        return b.build();
    }

    private static String nz(String s) {
        return s == null ? "" : s;
    }
}
