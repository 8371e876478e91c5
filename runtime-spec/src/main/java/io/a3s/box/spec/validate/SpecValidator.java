package io.a3s.box.spec.validate;

import io.a3s.box.spec.Limits;
import io.a3s.box.spec.SpecError;
import io.a3s.box.spec.SpecPath;
import io.a3s.box.spec.oci.BlockIo;
import io.a3s.box.spec.oci.ConsoleSize;
import io.a3s.box.spec.oci.Cpu;
import io.a3s.box.spec.oci.Device;
import io.a3s.box.spec.oci.DeviceRule;
import io.a3s.box.spec.oci.Hook;
import io.a3s.box.spec.oci.Hooks;
import io.a3s.box.spec.oci.HugepageLimit;
import io.a3s.box.spec.oci.IdMapping;
import io.a3s.box.spec.oci.InterfacePriority;
import io.a3s.box.spec.oci.IoPriority;
import io.a3s.box.spec.oci.Linux;
import io.a3s.box.spec.oci.Memory;
import io.a3s.box.spec.oci.Mount;
import io.a3s.box.spec.oci.Namespace;
import io.a3s.box.spec.oci.Personality;
import io.a3s.box.spec.oci.Process;
import io.a3s.box.spec.oci.Resources;
import io.a3s.box.spec.oci.Rlimit;
import io.a3s.box.spec.oci.Root;
import io.a3s.box.spec.oci.Scheduler;
import io.a3s.box.spec.oci.Seccomp;
import io.a3s.box.spec.oci.SeccompArg;
import io.a3s.box.spec.oci.Spec;
import io.a3s.box.spec.oci.Syscall;
import io.a3s.box.spec.oci.ThrottleDevice;
import io.a3s.box.spec.oci.TimeOffset;
import io.a3s.box.spec.oci.User;
import io.a3s.box.spec.oci.WeightDevice;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import java.util.regex.Pattern;

/**
 * Checks a parsed spec against the runtime-spec's rules (the MUSTs of config.md and config-linux.md) and the
 * kernel's ranges, and returns every violation, in document order. It says nothing about what a VM can or cannot
 * honour: that is the mapping's business ({@code io.a3s.box.spec.guest.SpecMapper}), which runs this first.
 *
 * <p>Fields are all optional in the model, so every rule here copes with {@code null}. Not thread-safe; each call
 * to {@link #validate} or {@link #validateProcess} uses a fresh instance.
 */
public final class SpecValidator {
    private static final long UINT32_MAX = 0xFFFF_FFFFL;
    private static final BigInteger UINT64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
    private static final Pattern SEMVER =
            Pattern.compile("(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?");
    private static final Pattern CPU_LIST = Pattern.compile("\\d+(-\\d+)?(,\\d+(-\\d+)?)*");
    private static final Pattern HUGEPAGE_SIZE = Pattern.compile("[1-9]\\d*[KMG]B");
    private static final Pattern DEVICE_ACCESS = Pattern.compile("[rwm]{1,3}");
    /** Linux HOST_NAME_MAX; the NIS domain name has the same bound. */
    private static final int HOST_NAME_MAX = 64;

    private final List<SpecError> errors = new ArrayList<>();

    private SpecValidator() {}

    /** Every rule violation in {@code spec}; empty when it is valid. */
    public static List<SpecError> validate(Spec spec) {
        SpecValidator v = new SpecValidator();
        v.spec(spec);
        return List.copyOf(v.errors);
    }

    /**
     * Every rule violation in an exec's process (the JSON of {@code ExecProcessRequest.spec}); paths are relative
     * to that document, so {@code args[0]} rather than {@code process.args[0]}.
     */
    public static List<SpecError> validateProcess(Process process) {
        SpecValidator v = new SpecValidator();
        v.process(process, SpecPath.ROOT);
        return List.copyOf(v.errors);
    }

    /**
     * Every rule violation in a resource update (the JSON of {@code UpdateTaskRequest.resources}); paths are
     * relative to that document.
     */
    public static List<SpecError> validateResources(Resources resources) {
        SpecValidator v = new SpecValidator();
        v.resources(resources, SpecPath.ROOT);
        return List.copyOf(v.errors);
    }

    // ---- the document ------------------------------------------------------------------------------------

    private void spec(Spec spec) {
        SpecPath root = SpecPath.ROOT;
        ociVersion(spec.ociVersion(), root.field("ociVersion"));
        if (required(spec.process(), root.field("process"))) {
            process(spec.process(), root.field("process"));
        }
        if (required(spec.root(), root.field("root"))) {
            root(spec.root(), root.field("root"));
        }
        Set<String> namespaces = namespaceTypes(spec.linux());
        hostName(spec.hostname(), root.field("hostname"), namespaces);
        hostName(spec.domainname(), root.field("domainname"), namespaces);
        each(spec.mounts(), root.field("mounts"), this::mount);
        if (spec.hooks() != null) {
            hooks(spec.hooks(), root.field("hooks"));
        }
        if (spec.annotations() != null) {
            spec.annotations().keySet().forEach(k -> {
                if (k.isEmpty()) {
                    error(root.field("annotations"), "an annotation key must not be empty");
                }
            });
        }
        if (spec.linux() != null) {
            linux(spec.linux(), root.field("linux"), namespaces);
        }
    }

    private void ociVersion(String version, SpecPath path) {
        if (!required(version, path)) {
            return;
        }
        var m = SEMVER.matcher(version);
        if (!m.matches()) {
            error(path, quote(version) + " is not a SemVer 2.0.0 version");
        } else if (!m.group(1).equals("1")) {
            error(path, quote(version) + " is not supported: this runtime implements runtime-spec 1.x");
        }
    }

    private void root(Root root, SpecPath path) {
        if (required(root.path(), path.field("path")) && root.path().isEmpty()) {
            error(path.field("path"), "must not be empty");
        }
    }

    private void hostName(String name, SpecPath path, Set<String> namespaces) {
        if (name == null || name.isEmpty()) {
            return;
        }
        if (name.length() > HOST_NAME_MAX) {
            error(path, "is " + name.length() + " characters long, more than the kernel's " + HOST_NAME_MAX);
        }
        if (!namespaces.contains("uts")) {
            error(path, "setting it needs a new uts namespace, and linux.namespaces has none");
        }
    }

    // ---- process ------------------------------------------------------------------------------------------

    private void process(Process p, SpecPath path) {
        SpecPath args = path.field("args");
        if (p.args() == null || p.args().isEmpty()) {
            error(args, "at least one argument (the program to run) is required");
        } else {
            if (p.args().getFirst() != null && p.args().getFirst().isEmpty()) {
                error(args.index(0), "the program to run must not be empty");
            }
            each(p.args(), args, (a, at) -> execString(a, at));
        }
        each(p.env(), path.field("env"), (e, at) -> {
            if (execString(e, at)) {
                int eq = e.indexOf('=');
                if (eq < 0) {
                    error(at, quote(shorten(e)) + " is not of the form KEY=VALUE");
                } else if (eq == 0) {
                    error(at, quote(shorten(e)) + " has an empty variable name");
                }
            }
        });
        if (required(p.cwd(), path.field("cwd"))) {
            absolute(p.cwd(), path.field("cwd"));
        }
        if (p.consoleSize() != null) {
            consoleSize(p.consoleSize(), path.field("consoleSize"));
        }
        if (required(p.user(), path.field("user"))) {
            user(p.user(), path.field("user"));
        }
        rlimits(p.rlimits(), path.field("rlimits"));
        range(p.oomScoreAdj(), -1000, 1000, path.field("oomScoreAdj"));
        if (p.scheduler() != null) {
            scheduler(p.scheduler(), path.field("scheduler"));
        }
        if (p.ioPriority() != null) {
            ioPriority(p.ioPriority(), path.field("ioPriority"));
        }
    }

    /** An argument or environment entry: it must survive execve(2). */
    private boolean execString(String s, SpecPath path) {
        if (s.indexOf('\0') >= 0) {
            error(path, "contains a NUL byte, which execve cannot pass");
            return false;
        }
        // Byte length, not char length: the kernel counts UTF-8 bytes. Cheap check first.
        if (s.length() * 3L > Limits.MAX_ARG_BYTES
                && s.getBytes(StandardCharsets.UTF_8).length > Limits.MAX_ARG_BYTES) {
            error(path, "is longer than the " + Limits.MAX_ARG_BYTES + " bytes execve accepts for one string");
            return false;
        }
        return true;
    }

    private void consoleSize(ConsoleSize size, SpecPath path) {
        // struct winsize holds unsigned shorts.
        if (required(size.height(), path.field("height"))) {
            range(size.height(), 0, 0xFFFF, path.field("height"));
        }
        if (required(size.width(), path.field("width"))) {
            range(size.width(), 0, 0xFFFF, path.field("width"));
        }
    }

    private void user(User u, SpecPath path) {
        if (required(u.uid(), path.field("uid"))) {
            uint32(u.uid(), path.field("uid"));
        }
        if (required(u.gid(), path.field("gid"))) {
            uint32(u.gid(), path.field("gid"));
        }
        range(u.umask(), 0, 0777, path.field("umask"));
        each(u.additionalGids(), path.field("additionalGids"), this::uint32);
    }

    private void rlimits(List<Rlimit> rlimits, SpecPath path) {
        Set<String> seen = new HashSet<>();
        each(rlimits, path, (r, at) -> {
            if (required(r.type(), at.field("type"))
                    && known(r.type(), LinuxNames.RLIMITS, at.field("type"), "rlimit type")
                    && !seen.add(r.type())) {
                error(at.field("type"), r.type() + " is set more than once");
            }
            boolean hard = required(r.hard(), at.field("hard")) && uint64(r.hard(), at.field("hard"));
            boolean soft = required(r.soft(), at.field("soft")) && uint64(r.soft(), at.field("soft"));
            if (hard && soft && r.soft().compareTo(r.hard()) > 0) {
                error(at, "soft " + r.soft() + " exceeds hard " + r.hard());
            }
        });
    }

    private void scheduler(Scheduler s, SpecPath path) {
        if (required(s.policy(), path.field("policy"))) {
            known(s.policy(), LinuxNames.SCHED_POLICIES, path.field("policy"), "scheduling policy");
        }
        range(s.nice(), -20, 19, path.field("nice"));
        range(s.priority(), 0, 99, path.field("priority"));
        each(s.flags(), path.field("flags"), (f, at) -> known(f, LinuxNames.SCHED_FLAGS, at, "scheduler flag"));
        uint64(s.runtime(), path.field("runtime"));
        uint64(s.deadline(), path.field("deadline"));
        uint64(s.period(), path.field("period"));
    }

    private void ioPriority(IoPriority io, SpecPath path) {
        if (required(io.ioClass(), path.field("class"))) {
            known(io.ioClass(), LinuxNames.IOPRIO_CLASSES, path.field("class"), "I/O priority class");
        }
        if (required(io.priority(), path.field("priority"))) {
            range(io.priority(), 0, 7, path.field("priority"));
        }
    }

    // ---- mounts and hooks ----------------------------------------------------------------------------------

    private void mount(Mount m, SpecPath path) {
        if (required(m.destination(), path.field("destination"))) {
            absolute(m.destination(), path.field("destination"));
        }
        each(m.uidMappings(), path.field("uidMappings"), this::idMapping);
        each(m.gidMappings(), path.field("gidMappings"), this::idMapping);
    }

    private void hooks(Hooks h, SpecPath path) {
        each(h.prestart(), path.field("prestart"), this::hook);
        each(h.createRuntime(), path.field("createRuntime"), this::hook);
        each(h.createContainer(), path.field("createContainer"), this::hook);
        each(h.startContainer(), path.field("startContainer"), this::hook);
        each(h.poststart(), path.field("poststart"), this::hook);
        each(h.poststop(), path.field("poststop"), this::hook);
    }

    private void hook(Hook h, SpecPath path) {
        if (required(h.path(), path.field("path"))) {
            absolute(h.path(), path.field("path"));
        }
        if (h.timeout() != null && h.timeout() <= 0) {
            error(path.field("timeout"), "must be greater than zero, got " + h.timeout());
        }
    }

    // ---- linux ----------------------------------------------------------------------------------------------

    private static Set<String> namespaceTypes(Linux linux) {
        Set<String> types = new HashSet<>();
        if (linux != null && linux.namespaces() != null) {
            for (Namespace n : linux.namespaces()) {
                if (n != null && n.type() != null) {
                    types.add(n.type());
                }
            }
        }
        return types;
    }

    private void linux(Linux l, SpecPath path, Set<String> namespaces) {
        Set<String> seen = new HashSet<>();
        each(l.namespaces(), path.field("namespaces"), (n, at) -> {
            if (required(n.type(), at.field("type"))
                    && known(n.type(), LinuxNames.NAMESPACES, at.field("type"), "namespace type")
                    && !seen.add(n.type())) {
                error(at.field("type"), "the " + n.type() + " namespace is listed more than once");
            }
            if (n.path() != null) {
                absolute(n.path(), at.field("path"));
            }
        });
        idMappings(l.uidMappings(), path.field("uidMappings"), namespaces, "uid");
        idMappings(l.gidMappings(), path.field("gidMappings"), namespaces, "gid");
        each(l.devices(), path.field("devices"), this::device);
        if (l.resources() != null) {
            resources(l.resources(), path.field("resources"));
        }
        if (l.sysctl() != null) {
            l.sysctl().keySet().forEach(k -> sysctlKey(k, path.field("sysctl").field(k)));
        }
        if (l.seccomp() != null) {
            seccomp(l.seccomp(), path.field("seccomp"));
        }
        if (l.rootfsPropagation() != null) {
            known(l.rootfsPropagation(), LinuxNames.PROPAGATIONS, path.field("rootfsPropagation"), "propagation");
        }
        each(l.maskedPaths(), path.field("maskedPaths"), this::absolute);
        each(l.readonlyPaths(), path.field("readonlyPaths"), this::absolute);
        if (l.personality() != null) {
            personality(l.personality(), path.field("personality"));
        }
        if (l.timeOffsets() != null) {
            timeOffsets(l.timeOffsets(), path.field("timeOffsets"), namespaces);
        }
    }

    private void idMappings(List<IdMapping> mappings, SpecPath path, Set<String> namespaces, String kind) {
        each(mappings, path, this::idMapping);
        if (mappings != null && !mappings.isEmpty() && !namespaces.contains("user")) {
            error(path, kind + " mappings need a user namespace, and linux.namespaces has none");
        }
    }

    private void idMapping(IdMapping m, SpecPath path) {
        boolean c = required(m.containerID(), path.field("containerID")) && uint32(m.containerID(),
                path.field("containerID"));
        boolean h = required(m.hostID(), path.field("hostID")) && uint32(m.hostID(), path.field("hostID"));
        if (required(m.size(), path.field("size")) && uint32(m.size(), path.field("size"))) {
            if (m.size() == 0) {
                error(path.field("size"), "must be at least 1");
            } else if (c && m.containerID() + m.size() - 1 > UINT32_MAX
                    || h && m.hostID() + m.size() - 1 > UINT32_MAX) {
                error(path, "the range runs past id " + UINT32_MAX);
            }
        }
    }

    private void device(Device d, SpecPath path) {
        if (required(d.path(), path.field("path"))) {
            absolute(d.path(), path.field("path"));
        }
        if (required(d.type(), path.field("type"))
                && known(d.type(), LinuxNames.DEVICE_TYPES, path.field("type"), "device type")
                && !d.type().equals("p")) {
            required(d.major(), path.field("major"));
            required(d.minor(), path.field("minor"));
        }
        range(d.major(), 0, UINT32_MAX, path.field("major"));
        range(d.minor(), 0, UINT32_MAX, path.field("minor"));
        range(d.fileMode(), 0, 07777, path.field("fileMode"));
        uint32(d.uid(), path.field("uid"));
        uint32(d.gid(), path.field("gid"));
    }

    private void resources(Resources r, SpecPath path) {
        each(r.devices(), path.field("devices"), this::deviceRule);
        if (r.memory() != null) {
            memory(r.memory(), path.field("memory"));
        }
        if (r.cpu() != null) {
            cpu(r.cpu(), path.field("cpu"));
        }
        if (r.pids() != null && required(r.pids().limit(), path.field("pids").field("limit"))) {
            atLeast(r.pids().limit(), -1, path.field("pids").field("limit"));
        }
        if (r.blockIO() != null) {
            blockIo(r.blockIO(), path.field("blockIO"));
        }
        each(r.hugepageLimits(), path.field("hugepageLimits"), this::hugepageLimit);
        if (r.network() != null) {
            uint32(r.network().classID(), path.field("network").field("classID"));
            each(r.network().priorities(), path.field("network").field("priorities"), this::interfacePriority);
        }
        if (r.rdma() != null) {
            r.rdma().forEach((device, limits) -> {
                SpecPath at = path.field("rdma").field(device);
                uint32(limits.hcaHandles(), at.field("hcaHandles"));
                uint32(limits.hcaObjects(), at.field("hcaObjects"));
            });
        }
        if (r.unified() != null) {
            r.unified().keySet().forEach(k -> unifiedKey(k, path.field("unified").field(k)));
        }
    }

    private void deviceRule(DeviceRule d, SpecPath path) {
        required(d.allow(), path.field("allow"));
        if (d.type() != null) {
            known(d.type(), LinuxNames.DEVICE_RULE_TYPES, path.field("type"), "device rule type");
        }
        atLeast(d.major(), -1, path.field("major"));
        atLeast(d.minor(), -1, path.field("minor"));
        if (d.access() != null && !d.access().isEmpty() && !DEVICE_ACCESS.matcher(d.access()).matches()) {
            error(path.field("access"), quote(d.access()) + " is not a combination of r, w and m");
        }
    }

    private void memory(Memory m, SpecPath path) {
        // -1 is "unlimited" for these; anything below is meaningless.
        atLeast(m.limit(), -1, path.field("limit"));
        atLeast(m.reservation(), -1, path.field("reservation"));
        atLeast(m.swap(), -1, path.field("swap"));
        if (m.swap() != null && m.swap() > 0 && m.limit() != null && m.limit() > 0 && m.swap() < m.limit()) {
            error(path.field("swap"), "memory+swap " + m.swap() + " is less than the memory limit " + m.limit());
        }
        if (m.swap() != null && m.swap() > 0 && (m.limit() == null || m.limit() <= 0)) {
            error(path.field("swap"), "a swap limit needs a memory limit");
        }
        if (m.swappiness() != null && uint64(m.swappiness(), path.field("swappiness"))
                && m.swappiness().compareTo(BigInteger.valueOf(100)) > 0) {
            error(path.field("swappiness"), "must be between 0 and 100, got " + m.swappiness());
        }
    }

    private void cpu(Cpu c, SpecPath path) {
        // The cgroup v1 range of cpu.shares; 0 leaves it unset.
        if (uint64(c.shares(), path.field("shares")) && c.shares().signum() != 0
                && (c.shares().compareTo(BigInteger.TWO) < 0 || c.shares().compareTo(BigInteger.valueOf(262144)) > 0)) {
            error(path.field("shares"), "must be between 2 and 262144, got " + c.shares());
        }
        // The kernel takes a quota of at least 1 ms, and a period from 1 ms to 1 s; -1 and 0 mean no quota.
        if (c.quota() != null && c.quota() != -1 && c.quota() != 0 && c.quota() < 1000) {
            error(path.field("quota"), "must be -1 (no limit) or at least 1000 microseconds, got " + c.quota());
        }
        if (uint64(c.period(), path.field("period")) && c.period().signum() != 0
                && (c.period().compareTo(BigInteger.valueOf(1000)) < 0
                        || c.period().compareTo(BigInteger.valueOf(1_000_000)) > 0)) {
            error(path.field("period"), "must be between 1000 and 1000000 microseconds, got " + c.period());
        }
        uint64(c.burst(), path.field("burst"));
        uint64(c.realtimePeriod(), path.field("realtimePeriod"));
        cpuList(c.cpus(), path.field("cpus"));
        cpuList(c.mems(), path.field("mems"));
        range(c.idle(), 0, 1, path.field("idle"));
    }

    private void cpuList(String list, SpecPath path) {
        if (list == null || list.isEmpty()) {
            return;
        }
        if (!CPU_LIST.matcher(list).matches()) {
            error(path, quote(list) + " is not a list like 0-3,5");
            return;
        }
        for (String part : list.split(",")) {
            String[] bounds = part.split("-");
            if (bounds.length == 2 && parseOrMax(bounds[0]) > parseOrMax(bounds[1])) {
                error(path, "the range " + part + " runs backwards");
            } else if (parseOrMax(bounds[bounds.length - 1]) >= CpuSets.MAX_CPU) {
                error(path, part + " is beyond the " + CpuSets.MAX_CPU + " CPUs or nodes Linux supports");
            }
        }
    }

    private static long parseOrMax(String digits) {
        return digits.length() > 9 ? Long.MAX_VALUE : Long.parseLong(digits);
    }

    private void blockIo(BlockIo b, SpecPath path) {
        // The blkio weight range; the io.weight of cgroup v2 is derived from it.
        range(b.weight(), 10, 1000, path.field("weight"));
        range(b.leafWeight(), 10, 1000, path.field("leafWeight"));
        each(b.weightDevice(), path.field("weightDevice"), (WeightDevice d, SpecPath at) -> {
            blockDevice(d.major(), d.minor(), at);
            range(d.weight(), 10, 1000, at.field("weight"));
            range(d.leafWeight(), 10, 1000, at.field("leafWeight"));
        });
        BiConsumer<ThrottleDevice, SpecPath> throttle = (d, at) -> {
            blockDevice(d.major(), d.minor(), at);
            if (required(d.rate(), at.field("rate"))) {
                uint64(d.rate(), at.field("rate"));
            }
        };
        each(b.throttleReadBpsDevice(), path.field("throttleReadBpsDevice"), throttle);
        each(b.throttleWriteBpsDevice(), path.field("throttleWriteBpsDevice"), throttle);
        each(b.throttleReadIOPSDevice(), path.field("throttleReadIOPSDevice"), throttle);
        each(b.throttleWriteIOPSDevice(), path.field("throttleWriteIOPSDevice"), throttle);
    }

    private void blockDevice(Long major, Long minor, SpecPath path) {
        if (required(major, path.field("major"))) {
            range(major, 0, UINT32_MAX, path.field("major"));
        }
        if (required(minor, path.field("minor"))) {
            range(minor, 0, UINT32_MAX, path.field("minor"));
        }
    }

    private void hugepageLimit(HugepageLimit h, SpecPath path) {
        if (required(h.pageSize(), path.field("pageSize")) && !HUGEPAGE_SIZE.matcher(h.pageSize()).matches()) {
            error(path.field("pageSize"), quote(h.pageSize()) + " is not a size like 2MB or 1GB");
        }
        if (required(h.limit(), path.field("limit"))) {
            uint64(h.limit(), path.field("limit"));
        }
    }

    private void interfacePriority(InterfacePriority p, SpecPath path) {
        if (required(p.name(), path.field("name")) && p.name().isEmpty()) {
            error(path.field("name"), "must not be empty");
        }
        if (required(p.priority(), path.field("priority"))) {
            uint32(p.priority(), path.field("priority"));
        }
    }

    /** A cgroup v2 interface file name, {@code controller.file}: it is joined to a path, so no separators. */
    private void unifiedKey(String key, SpecPath path) {
        if (key.indexOf('/') >= 0 || key.indexOf('\0') >= 0 || key.indexOf('.') <= 0 || key.endsWith(".")) {
            error(path, "is not a cgroup interface file name like memory.high");
        }
    }

    /** A sysctl name; it becomes a path under /proc/sys, so it must not climb out of it. */
    private void sysctlKey(String key, SpecPath path) {
        if (key.isEmpty() || key.indexOf('\0') >= 0 || key.startsWith(".") || key.startsWith("/")
                || key.contains("..") || key.contains("//") || key.chars().anyMatch(Character::isWhitespace)) {
            error(path, "is not a sysctl name like net.ipv4.ip_forward");
        }
    }

    private void seccomp(Seccomp s, SpecPath path) {
        if (required(s.defaultAction(), path.field("defaultAction"))) {
            known(s.defaultAction(), LinuxNames.SECCOMP_ACTIONS, path.field("defaultAction"), "seccomp action");
        }
        uint32(s.defaultErrnoRet(), path.field("defaultErrnoRet"));
        each(s.architectures(), path.field("architectures"),
                (a, at) -> known(a, LinuxNames.SECCOMP_ARCHITECTURES, at, "seccomp architecture"));
        each(s.flags(), path.field("flags"), (f, at) -> known(f, LinuxNames.SECCOMP_FLAGS, at, "seccomp flag"));
        boolean notify = "SCMP_ACT_NOTIFY".equals(s.defaultAction());
        SpecPath syscalls = path.field("syscalls");
        for (int i = 0; s.syscalls() != null && i < s.syscalls().size(); i++) {
            Syscall sc = s.syscalls().get(i);
            if (sc != null) {
                syscall(sc, syscalls.index(i));
                notify |= "SCMP_ACT_NOTIFY".equals(sc.action());
            }
        }
        if (notify && (s.listenerPath() == null || s.listenerPath().isEmpty())) {
            error(path.field("listenerPath"), "SCMP_ACT_NOTIFY needs a listener path");
        }
        if (s.listenerPath() != null && !s.listenerPath().isEmpty()) {
            absolute(s.listenerPath(), path.field("listenerPath"));
        }
    }

    private void syscall(Syscall sc, SpecPath path) {
        if (sc.names() == null || sc.names().isEmpty()) {
            error(path.field("names"), "at least one syscall name is required");
        }
        each(sc.names(), path.field("names"), (n, at) -> {
            if (n.isEmpty()) {
                error(at, "must not be empty");
            }
        });
        if (required(sc.action(), path.field("action"))) {
            known(sc.action(), LinuxNames.SECCOMP_ACTIONS, path.field("action"), "seccomp action");
        }
        uint32(sc.errnoRet(), path.field("errnoRet"));
        each(sc.args(), path.field("args"), (SeccompArg a, SpecPath at) -> {
            if (required(a.index(), at.field("index"))) {
                range(a.index(), 0, LinuxNames.SECCOMP_MAX_ARG_INDEX, at.field("index"));
            }
            if (required(a.value(), at.field("value"))) {
                uint64(a.value(), at.field("value"));
            }
            uint64(a.valueTwo(), at.field("valueTwo"));
            if (required(a.op(), at.field("op"))) {
                known(a.op(), LinuxNames.SECCOMP_OPERATORS, at.field("op"), "seccomp operator");
            }
        });
    }

    private void personality(Personality p, SpecPath path) {
        if (required(p.domain(), path.field("domain"))) {
            known(p.domain(), LinuxNames.PERSONALITY_DOMAINS, path.field("domain"), "personality domain");
        }
        each(p.flags(), path.field("flags"), (f, at) -> error(at, quote(f) + ": the spec defines no flags"));
    }

    private void timeOffsets(Map<String, TimeOffset> offsets, SpecPath path, Set<String> namespaces) {
        if (!offsets.isEmpty() && !namespaces.contains("time")) {
            error(path, "time offsets need a time namespace, and linux.namespaces has none");
        }
        offsets.forEach((clock, offset) -> {
            SpecPath at = path.field(clock);
            known(clock, LinuxNames.TIME_CLOCKS, at, "clock");
            range(offset.nanosecs(), 0, 999_999_999, at.field("nanosecs"));
        });
    }

    // ---- rule helpers -----------------------------------------------------------------------------------

    private void error(SpecPath path, String message) {
        errors.add(new SpecError(path.toString(), message));
    }

    /** Visits each element, reporting null elements (possible in lists: see ShapeCheck) instead of visiting. */
    private <T> void each(List<T> list, SpecPath path, BiConsumer<T, SpecPath> check) {
        if (list == null) {
            return;
        }
        for (int i = 0; i < list.size(); i++) {
            T element = list.get(i);
            if (element == null) {
                error(path.index(i), "must not be null");
            } else {
                check.accept(element, path.index(i));
            }
        }
    }

    private boolean required(Object value, SpecPath path) {
        if (value == null) {
            error(path, "is required");
        }
        return value != null;
    }

    private void absolute(String value, SpecPath path) {
        if (!value.startsWith("/")) {
            error(path, quote(value) + " is not an absolute path");
        }
    }

    private boolean known(String value, Set<String> names, SpecPath path, String what) {
        if (names.contains(value)) {
            return true;
        }
        String hint = names.size() <= 8 ? " (one of " + String.join(", ", new TreeSet<>(names)) + ")" : "";
        error(path, quote(value) + " is not a known " + what + hint);
        return false;
    }

    private void range(Long value, long min, long max, SpecPath path) {
        if (value != null && (value < min || value > max)) {
            error(path, "must be between " + min + " and " + max + ", got " + value);
        }
    }

    private void atLeast(Long value, long min, SpecPath path) {
        if (value != null && value < min) {
            error(path, "must be at least " + min + ", got " + value);
        }
    }

    private boolean uint32(Long value, SpecPath path) {
        range(value, 0, UINT32_MAX, path);
        return value != null && value >= 0 && value <= UINT32_MAX;
    }

    private boolean uint64(BigInteger value, SpecPath path) {
        if (value == null) {
            return false;
        }
        if (value.signum() < 0 || value.compareTo(UINT64_MAX) > 0) {
            error(path, "must be between 0 and " + UINT64_MAX + ", got " + value);
            return false;
        }
        return true;
    }

    private static String quote(String s) {
        return '"' + s + '"';
    }

    /** Long values (an environment entry can be 128 KiB) are cut in messages. */
    private static String shorten(String s) {
        return s.length() <= 64 ? s : s.substring(0, 61) + "...";
    }
}
