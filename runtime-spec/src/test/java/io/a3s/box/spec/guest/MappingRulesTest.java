package io.a3s.box.spec.guest;

import static io.a3s.box.spec.guest.MountFlag.MS_BIND;
import static io.a3s.box.spec.guest.MountFlag.MS_NOEXEC;
import static io.a3s.box.spec.guest.MountFlag.MS_NOSUID;
import static io.a3s.box.spec.guest.MountFlag.MS_NOSYMFOLLOW;
import static io.a3s.box.spec.guest.MountFlag.MS_RDONLY;
import static io.a3s.box.spec.guest.MountFlag.MS_REC;
import static io.a3s.box.spec.guest.MountFlag.MS_STRICTATIME;
import static io.a3s.box.spec.guest.ShareBind.HostPropagation.PRIVATE;
import static io.a3s.box.spec.guest.ShareBind.HostPropagation.SHARED;
import static io.a3s.box.spec.guest.ShareBind.HostPropagation.SLAVE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.a3s.box.spec.SpecError;
import io.a3s.box.spec.SpecException;
import io.a3s.box.spec.oci.OciJson;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The rules of docs/oci-mapping.md, one field at a time, on small hand-made configs. */
class MappingRulesTest {
    private static final Path BUNDLE = Path.of("/bundles/c1");
    private static final String ALL_NAMESPACES =
            "[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},{\"type\":\"network\"}]";

    /** A valid config with {@code fields} added at the top level; linux gets all the usual namespaces. */
    private static String config(String fields) {
        String linux = fields.contains("\"linux\"") ? "" : ",\"linux\":{\"namespaces\":" + ALL_NAMESPACES + "}";
        return "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"},"
                + "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}}" + linux
                + (fields.isEmpty() ? "" : "," + fields) + "}";
    }

    /** As {@link #config}, with {@code linuxFields} added to the linux object. */
    private static String linux(String linuxFields) {
        return config("\"linux\":{\"namespaces\":" + ALL_NAMESPACES + "," + linuxFields + "}");
    }

    private static GuestContainerSpec map(String json) throws SpecException {
        return SpecMapper.map("c1", BUNDLE, OciJson.parseSpec(json.getBytes(StandardCharsets.UTF_8)));
    }

    private static List<String> refusals(String json) {
        return assertThrows(SpecException.class, () -> map(json)).errors().stream().map(SpecError::toString)
                .toList();
    }

    private static List<String> warnings(String json) throws SpecException {
        return map(json).warnings().stream().map(Warning::toString).toList();
    }

    // ---- mounts -------------------------------------------------------------------------------------------

    @Test
    void bindSourceRelativeToTheBundle() throws Exception {
        GuestContainerSpec spec = map(config(
                "\"mounts\":[{\"destination\":\"/data\",\"type\":\"none\",\"source\":\"volumes/data\","
                        + "\"options\":[\"rbind\",\"rprivate\",\"nosuid\",\"ro\"]}]"));
        assertEquals(new GuestMount("bind", "/run/a3s/volumes/c1/0", "/data",
                List.of(MS_RDONLY, MS_NOSUID, MS_BIND, MS_REC), List.of(), "", "rprivate"), spec.mounts().getFirst());
        assertEquals(new ShareBind("/bundles/c1/volumes/data", "/run/a3s/volumes/c1/0", true, PRIVATE, "mounts[0]"),
                spec.shares().get(1));
    }

    @Test
    void aBindsPropagationDecidesWhichHostMountsReachItsShare() throws Exception {
        // CRI: PROPAGATION_PRIVATE is rprivate, HOST_TO_CONTAINER rslave, BIDIRECTIONAL rshared; ctr gives none
        Map<String, ShareBind.HostPropagation> expected = new LinkedHashMap<>();
        expected.put("\"rprivate\",", PRIVATE);
        expected.put("\"private\",", PRIVATE);
        expected.put("\"runbindable\",", PRIVATE);
        expected.put("\"rslave\",", SLAVE);
        expected.put("", SLAVE);
        expected.put("\"rshared\",", SHARED);
        expected.put("\"shared\",", SHARED);
        for (var e : expected.entrySet()) {
            GuestContainerSpec spec = map(config("\"mounts\":[{\"destination\":\"/data\",\"type\":\"bind\","
                    + "\"source\":\"/srv\",\"options\":[" + e.getKey() + "\"rbind\"]}]"));
            assertEquals(e.getValue(), spec.shares().get(1).propagation(), e.getKey());
        }
    }

    @Test
    void bindTypeWithoutBindOptionIsStillABind() throws Exception {
        GuestMount m = map(config("\"mounts\":[{\"destination\":\"/d\",\"type\":\"bind\",\"source\":\"/srv\"}]"))
                .mounts().getFirst();
        assertEquals(List.of(MS_BIND), m.flags());
    }

    @Test
    void laterOptionsWin() throws Exception {
        GuestMount m = map(config("\"mounts\":[{\"destination\":\"/t\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
                + "\"options\":[\"ro\",\"noexec\",\"rw\",\"exec\",\"defaults\",\"size=1m\"]}]")).mounts().getFirst();
        assertEquals(List.of(), m.flags());
        assertEquals("size=1m", m.data());
    }

    @Test
    void recursiveAttributes() throws Exception {
        GuestMount m = map(config("\"mounts\":[{\"destination\":\"/d\",\"source\":\"/srv\","
                + "\"options\":[\"rbind\",\"rro\",\"rnosuid\",\"rnoexec\",\"rexec\"]}]")).mounts().getFirst();
        assertEquals(List.of(MS_RDONLY, MS_NOSUID), m.recursiveFlags());
        assertEquals(List.of(MS_NOEXEC), m.recursiveClearFlags());
        assertTrue(map(config("\"mounts\":[{\"destination\":\"/d\",\"source\":\"/srv\",\"options\":[\"rbind\","
                + "\"rro\"]}]")).shares().get(1).readonly());
    }

    @Test
    void recursiveAtimeIsOneModeAndSymfollowIsRecursiveToo() throws Exception {
        GuestContainerSpec spec = map(config("\"mounts\":[{\"destination\":\"/d\",\"source\":\"/srv\","
                + "\"options\":[\"rbind\",\"rnoatime\",\"rstrictatime\",\"rnosymfollow\",\"rrw\"]}]"));
        GuestMount m = spec.mounts().getFirst();
        assertEquals(List.of(MS_NOSYMFOLLOW, MS_STRICTATIME), m.recursiveFlags());
        assertEquals(List.of(MS_RDONLY), m.recursiveClearFlags());
        assertTrue(spec.warnings().stream().noneMatch(w -> w.path().startsWith("mounts")), spec.warnings()::toString);
    }

    @Test
    void everyMountOptionTheFeaturesNameIsHonouredOnABindMount() throws Exception {
        // what -info declares (containerd's CRI tells kubelet "recursive read-only works" from "rro") must map
        // to a flag, a recursive attribute or a propagation, never to the warning of an ignored option
        assertTrue(SpecMapper.mountOptions().containsAll(List.of("rro", "ro", "rbind", "rprivate", "nosymfollow")));
        for (String option : SpecMapper.mountOptions()) {
            GuestContainerSpec spec = map(config("\"mounts\":[{\"destination\":\"/d\",\"source\":\"/srv\","
                    + "\"options\":[\"rbind\",\"" + option + "\"]}]"));
            assertTrue(spec.warnings().stream().noneMatch(w -> w.path().startsWith("mounts")),
                    option + ": " + spec.warnings());
        }
        assertFalse(SpecMapper.mountOptions().contains("tmpcopyup"), "only warned about, not honoured");
    }

    @Test
    void cgroupV1MountBecomesCgroup2() throws Exception {
        GuestMount m = map(config("\"mounts\":[{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\","
                + "\"source\":\"cgroup\",\"options\":[\"nosuid\",\"noexec\",\"ro\"]}]")).mounts().getFirst();
        assertEquals(new GuestMount("cgroup2", "cgroup", "/sys/fs/cgroup", List.of(MS_RDONLY, MS_NOSUID, MS_NOEXEC),
                List.of(), "", null), m);
    }

    @Test
    void filesystemOptionsOnABindMountAreIgnoredWithAWarning() throws Exception {
        assertEquals(List.of("mounts[0].options[1]: \"size=1m\" is a filesystem option, which a bind mount does not"
                + " take; ignored"), warnings(config("\"mounts\":[{\"destination\":\"/d\",\"source\":\"/srv\","
                        + "\"options\":[\"bind\",\"size=1m\"]}]")));
    }

    @Test
    void unsupportedMountsAreRefusedWithTheReason() {
        assertEquals(List.of(
                "mounts[0]: the ext4 filesystem on host device /dev/sdb cannot be mounted inside the VM: the device is"
                        + " not attached to it",
                "mounts[1].type: \"overlay\" mounts are not supported inside the VM (bind mounts and cgroup, cgroup2,"
                        + " devpts, mqueue, proc, sysfs, tmpfs are)",
                "mounts[2].type: a mount without bind or rbind needs a filesystem type",
                "mounts[3].source: a bind mount needs a source",
                "mounts[4]: id-mapped mounts are not supported: the VM sees host files through 9p, which cannot be"
                        + " id-mapped",
                "mounts[5].options[1]: id-mapped mounts are not supported: the VM sees host files through 9p, which"
                        + " cannot be id-mapped"),
                refusals(config("\"mounts\":["
                        + "{\"destination\":\"/a\",\"type\":\"ext4\",\"source\":\"/dev/sdb\"},"
                        + "{\"destination\":\"/b\",\"type\":\"overlay\",\"source\":\"overlay\","
                        + "\"options\":[\"lowerdir=/l\"]},"
                        + "{\"destination\":\"/c\",\"source\":\"x\"},"
                        + "{\"destination\":\"/d\",\"options\":[\"bind\"]},"
                        + "{\"destination\":\"/e\",\"source\":\"/s\",\"options\":[\"bind\"],"
                        + "\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]},"
                        + "{\"destination\":\"/f\",\"source\":\"/s\",\"options\":[\"bind\",\"idmap\"]}]")));
    }

    // ---- namespaces -----------------------------------------------------------------------------------------

    @Test
    void joiningHostNamespacesIsRefusedAllAtOnce() {
        assertEquals(List.of(
                "linux.namespaces[0].path: joining the existing ipc namespace /proc/9/ns/ipc cannot be honoured: it is"
                        + " a namespace of the host, and the container runs in a VM",
                "linux.namespaces[1].path: joining the existing uts namespace /run/uts/x cannot be honoured: it is"
                        + " a namespace of the host, and the container runs in a VM"),
                refusals(config("\"linux\":{\"namespaces\":[{\"type\":\"ipc\",\"path\":\"/proc/9/ns/ipc\"},"
                        + "{\"type\":\"uts\",\"path\":\"/run/uts/x\"},{\"type\":\"pid\"},{\"type\":\"mount\"},"
                        + "{\"type\":\"network\",\"path\":\"/var/run/netns/cni-1\"}]}")));
    }

    /** What containerd's CRI plugin writes for a container of a pod whose sandbox has guest pid 42. */
    private static final String POD_CONTAINER_ANNOTATIONS = "\"annotations\":{\"io.kubernetes.cri.container-type\":"
            + "\"container\",\"io.kubernetes.cri.sandbox-id\":\"sb1\"}";

    @Test
    void aPodContainerJoinsItsSandboxsNamespacesInTheVm() throws Exception {
        GuestContainerSpec spec = map(config(POD_CONTAINER_ANNOTATIONS + ",\"linux\":{\"namespaces\":["
                + "{\"type\":\"mount\"},{\"type\":\"network\",\"path\":\"/proc/42/ns/net\"},"
                + "{\"type\":\"ipc\",\"path\":\"/proc/42/ns/ipc\"},{\"type\":\"uts\",\"path\":\"/proc/42/ns/uts\"},"
                + "{\"type\":\"pid\",\"path\":\"/proc/42/ns/pid\"}]}"));
        assertEquals(new PodMember("sb1", false), spec.pod());
        assertEquals(List.of(GuestNamespace.MOUNT), spec.namespaces());
        assertEquals(List.of(new GuestNamespaceJoin(GuestNamespace.IPC, 42, "linux.namespaces[2].path"),
                new GuestNamespaceJoin(GuestNamespace.UTS, 42, "linux.namespaces[3].path"),
                new GuestNamespaceJoin(GuestNamespace.PID, 42, "linux.namespaces[4].path")), spec.joins());
        assertEquals(VmNetwork.Mode.POD_VM, spec.network().mode());
    }

    @Test
    void aPodSandboxCreatesItsNamespacesAndKeepsItsNetnsPath() throws Exception {
        GuestContainerSpec spec = map(config("\"annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\","
                + "\"io.kubernetes.cri.sandbox-id\":\"c1\"},\"linux\":{\"namespaces\":[{\"type\":\"mount\"},"
                + "{\"type\":\"network\",\"path\":\"/var/run/netns/cni-1\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
                + "{\"type\":\"pid\"}]}"));
        assertEquals(new PodMember("c1", true), spec.pod());
        assertEquals(List.of(), spec.joins());
        assertEquals(List.of(GuestNamespace.MOUNT, GuestNamespace.PID, GuestNamespace.UTS, GuestNamespace.IPC),
                spec.namespaces());
        assertEquals(new VmNetwork(VmNetwork.Mode.POD_NETNS, "/var/run/netns/cni-1"), spec.network());
    }

    @Test
    void aPodContainerJoinsOnlyIpcUtsAndPidAndOnlyThroughProc() {
        assertEquals(List.of(
                "linux.namespaces[1].path: joining another container's cgroup namespace (/proc/42/ns/cgroup) is not"
                        + " supported: only ipc, uts and pid namespaces are shared inside a VM",
                "linux.namespaces[2].path: joining the existing ipc namespace /proc/42/ns/uts cannot be honoured: it"
                        + " is a namespace of the host, and the container runs in a VM",
                "linux.namespaces[3].path: joining the existing uts namespace /var/run/uts/x cannot be honoured: it"
                        + " is a namespace of the host, and the container runs in a VM"),
                refusals(config(POD_CONTAINER_ANNOTATIONS + ",\"linux\":{\"namespaces\":[{\"type\":\"mount\"},"
                        + "{\"type\":\"cgroup\",\"path\":\"/proc/42/ns/cgroup\"},"
                        + "{\"type\":\"ipc\",\"path\":\"/proc/42/ns/uts\"},"
                        + "{\"type\":\"uts\",\"path\":\"/var/run/uts/x\"}]}")));
    }

    @Test
    void aContainerOutsideAPodIsNoPodMember() throws Exception {
        assertNull(map(config("")).pod());
        assertNull(map(config("\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\"}")).pod());
    }

    @Test
    void noNamespacesAtAll() throws Exception {
        GuestContainerSpec spec = map(config("\"linux\":{}"));
        assertEquals(List.of(GuestNamespace.MOUNT), spec.namespaces());
        assertEquals(VmNetwork.Mode.HOST_UNAVAILABLE, spec.network().mode());
        assertEquals(List.of(
                "linux.namespaces: no network namespace asks for the host's network, which a VM cannot share; the"
                        + " container uses the VM's network",
                "linux.namespaces: no pid namespace: the container shares the VM's, where the agent is PID 1",
                "linux.namespaces: no mount namespace: the container gets one inside the VM anyway, as its root is not"
                        + " the VM's"), spec.warnings().stream().map(Warning::toString).toList());
    }

    @Test
    void cgroupAndTimeNamespacesAreCreatedInTheGuest() throws Exception {
        GuestContainerSpec spec = map(config("\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"pid\"},"
                + "{\"type\":\"network\"},{\"type\":\"cgroup\"},{\"type\":\"time\"}],"
                + "\"timeOffsets\":{\"monotonic\":{\"secs\":10,\"nanosecs\":5}}}"));
        assertEquals(List.of(GuestNamespace.MOUNT, GuestNamespace.PID, GuestNamespace.CGROUP, GuestNamespace.TIME),
                spec.namespaces());
        assertEquals(List.of(new GuestTimeOffset("monotonic", 10, 5)), spec.timeOffsets());
    }

    // ---- other refusals and warnings --------------------------------------------------------------------------

    @Test
    void hostHooksAreKeptForTheShimWithTheAnnotations() throws Exception {
        GuestContainerSpec s = map(config("\"annotations\":{\"io.x/y\":\"z\"},\"hooks\":{\"prestart\":[],"
                + "\"createRuntime\":[{\"path\":\"/usr/bin/nerdctl\",\"args\":[\"nerdctl\",\"internal\"],"
                + "\"timeout\":30}],\"poststop\":[{\"path\":\"/bin/true\"}]}"));
        assertEquals(List.of(), s.hooks().prestart());
        assertEquals("/usr/bin/nerdctl", s.hooks().createRuntime().getFirst().path());
        assertEquals(List.of("nerdctl", "internal"), s.hooks().createRuntime().getFirst().args());
        assertEquals(30L, s.hooks().createRuntime().getFirst().timeout());
        assertEquals("/bin/true", s.hooks().poststop().getFirst().path());
        assertEquals(Map.of("io.x/y", "z"), s.hooks().annotations());
        assertTrue(map(config("")).hooks().isEmpty());
    }

    @Test
    void hooksInTheContainersNamespacesAreRefused() {
        assertEquals(List.of("hooks.createContainer: this hook runs inside the container's namespaces, which are in"
                + " the VM: the host's hook binaries are not there (prestart, createRuntime, poststart and poststop"
                + " hooks run on the host)"),
                refusals(config("\"hooks\":{\"prestart\":[{\"path\":\"/bin/true\"}],"
                        + "\"createContainer\":[{\"path\":\"/usr/bin/nvidia-hook\"}]}")));
    }

    @Test
    void intelRdtAndSeccompNotifyAreRefused() {
        List<String> errors = refusals(linux("\"intelRdt\":{\"closID\":\"gold\"},"
                + "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/run/agent.sock\","
                + "\"syscalls\":[{\"names\":[\"mount\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}"));
        assertEquals(2, errors.size(), errors::toString);
        assertTrue(errors.get(0).startsWith("linux.intelRdt: Intel RDT is allocated through the host's resctrl"));
        assertTrue(errors.get(1).startsWith("linux.seccomp.listenerPath: a seccomp agent on the host cannot"));
    }

    @Test
    void validationErrorsAndRefusalsComeTogether() {
        assertEquals(List.of("process.cwd: \"rel\" is not an absolute path",
                "hooks.startContainer: this hook runs inside the container's namespaces, which are in the VM: the"
                        + " host's hook binaries are not there (prestart, createRuntime, poststart and poststop hooks"
                        + " run on the host)"),
                refusals(config("\"hooks\":{\"startContainer\":[{\"path\":\"/bin/true\"}]}").replace("\"cwd\":\"/\"",
                        "\"cwd\":\"rel\"")));
    }

    @Test
    void securityLabelsAndWindowsFieldsAreIgnoredWithWarnings() throws Exception {
        List<String> warnings = warnings(linux("\"mountLabel\":\"system_u:object_r:container_file_t:s0\"")
                .replace("\"user\":{", "\"apparmorProfile\":\"docker-default\","
                        + "\"selinuxLabel\":\"system_u:system_r:container_t:s0\",\"commandLine\":\"cmd.exe\","
                        + "\"user\":{\"username\":\"admin\","));
        assertEquals(List.of(
                "linux.mountLabel: the VM's kernel loads no SELinux policy; ignored",
                "process.user.username: a Windows field; ignored",
                "process.commandLine: a Windows field; ignored (args is used)",
                "process.apparmorProfile: the VM's kernel loads no AppArmor policy; the VM boundary confines the"
                        + " container instead",
                "process.selinuxLabel: the VM's kernel loads no SELinux policy; the VM boundary confines the container"
                        + " instead"), warnings);
    }

    @Test
    void unknownFieldsAreWarnedAbout() throws Exception {
        List<String> warnings = warnings(config("\"vm\":{\"kernel\":{\"path\":\"/k\"}}")
                .replace("\"cwd\":\"/\"", "\"cwd\":\"/\",\"execCPUAffinity\":{\"initial\":\"0\"}"));
        // Fields of a record come before its unknown fields.
        assertEquals(List.of(
                "process.execCPUAffinity: not a field of runtime-spec v1.2 for Linux; ignored",
                "vm: not a field of runtime-spec v1.2 for Linux; ignored"), warnings);
    }

    @Test
    void unknownCapabilitiesAreDroppedWithAWarning() throws Exception {
        GuestContainerSpec spec = map(config("").replace("\"cwd\":\"/\"", "\"cwd\":\"/\",\"capabilities\":"
                + "{\"bounding\":[\"CAP_CHOWN\",\"CAP_FUTURE\",\"CAP_CHOWN\"],\"ambient\":[\"CAP_KILL\"]}"));
        assertEquals(List.of("CAP_CHOWN"), spec.process().capabilities().bounding());
        assertEquals(List.of("CAP_KILL"), spec.process().capabilities().ambient());
        assertEquals(List.of("process.capabilities.bounding[1]: \"CAP_FUTURE\" is not a capability of the VM's"
                + " kernel; dropped"), spec.warnings().stream().map(Warning::toString).toList());
    }

    @Test
    void absentCapabilitiesStayAbsent() throws Exception {
        assertNull(map(config("")).process().capabilities());
    }

    // ---- resources ------------------------------------------------------------------------------------------

    @Test
    void cpuWeightFormula() {
        assertEquals(1L, ResourceMapping.cpuWeight(java.math.BigInteger.TWO));
        assertEquals(39L, ResourceMapping.cpuWeight(java.math.BigInteger.valueOf(1024)));
        assertEquals(10000L, ResourceMapping.cpuWeight(java.math.BigInteger.valueOf(262144)));
        assertNull(ResourceMapping.cpuWeight(java.math.BigInteger.ZERO));
        assertEquals(1L, ResourceMapping.ioWeight(10));
        assertEquals(10000L, ResourceMapping.ioWeight(1000));
        assertEquals(5000L, ResourceMapping.ioWeight(505));
    }

    @Test
    void denyAllAloneStillLetsTheStandardDevicesBeOpenedAsRuncDoes() throws Exception {
        // containerd's CRI plugin sends only this rule: /dev/null must stay usable.
        GuestContainerSpec spec = map(linux("\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]}"));
        List<GuestDeviceRule> rules = spec.cgroup().devices();
        assertEquals(new GuestDeviceRule(false, "a", null, null, "rwm"), rules.getFirst());
        assertEquals(ResourceMapping.DEFAULT_ALLOWED_DEVICES, rules.subList(1, rules.size()));
        assertTrue(rules.contains(new GuestDeviceRule(true, "c", 1L, 3L, "rwm")));
        assertEquals(List.of(), map(linux("\"resources\":{}")).cgroup().devices());
    }

    @Test
    void cgroupV2Conversions() throws Exception {
        GuestContainerSpec spec = map(linux("\"resources\":{"
                + "\"memory\":{\"limit\":1073741824,\"swap\":2147483648,\"reservation\":536870912},"
                + "\"cpu\":{\"quota\":250000,\"period\":100000,\"burst\":1000,\"idle\":1,\"cpus\":\"2-3\","
                + "\"mems\":\"0\"},"
                + "\"pids\":{\"limit\":0},"
                + "\"blockIO\":{\"weight\":500},"
                + "\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":18446744073709551615},"
                + "{\"pageSize\":\"1GB\",\"limit\":0}],"
                + "\"unified\":{\"memory.high\":\"900000000\"}}"));
        GuestCgroup c = spec.cgroup();
        assertEquals(1073741824L, c.memoryMax());
        assertEquals(1073741824L, c.memorySwapMax()); // memory+swap 2 GiB = 1 GiB of swap
        assertEquals(536870912L, c.memoryLow());
        assertEquals(250000L, c.cpuQuota());
        assertEquals(100000L, c.cpuPeriod());
        assertEquals(1000L, c.cpuBurst());
        assertEquals(1L, c.cpuIdle());
        assertEquals(-1L, c.pidsMax());
        assertEquals(ResourceMapping.ioWeight(500), c.ioWeight());
        assertEquals(java.util.Map.of("1GB", 0L, "2MB", -1L), c.hugetlbMax());
        assertEquals(java.util.Map.of("memory.high", "900000000"), c.unified());
        assertEquals(new VmSizing(3, 1024 + SpecMapper.VM_MEMORY_OVERHEAD_MIB, "2-3", "0"), spec.vm());
    }

    @Test
    void unlimitedMemoryAndSwap() throws Exception {
        GuestCgroup c = map(linux("\"resources\":{\"memory\":{\"limit\":-1,\"swap\":-1},\"pids\":{\"limit\":100}}"))
                .cgroup();
        assertEquals(-1L, c.memoryMax());
        assertEquals(-1L, c.memorySwapMax());
        assertEquals(100L, c.pidsMax());
        assertNull(map(linux("\"resources\":{\"memory\":{\"limit\":-1,\"swap\":-1}}")).vm().memoryMib());
    }

    @Test
    void cpusetSizesTheVmWhenThereIsNoQuota() throws Exception {
        assertEquals(new VmSizing(3, null, "0-1,5", null),
                map(linux("\"resources\":{\"cpu\":{\"cpus\":\"0-1,5\"}}")).vm());
    }

    @Test
    void cgroupV1OnlySettingsAreIgnoredWithWarnings() throws Exception {
        assertEquals(List.of(
                "linux.resources.memory.kernel: kernel memory limits do not exist in cgroup v2; ignored",
                "linux.resources.memory.kernelTCP: kernel TCP memory limits do not exist in cgroup v2; ignored",
                "linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness; ignored",
                "linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer; ignored",
                "linux.resources.cpu.realtimeRuntime: cgroup v2 has no real-time CPU bandwidth; ignored",
                "linux.resources.blockIO.leafWeight: a CFQ setting with no cgroup v2 counterpart; ignored",
                "linux.resources.blockIO.throttleReadBpsDevice: names host block devices; the VM reaches its storage"
                        + " through 9p and has none of them; ignored",
                "linux.resources.network: net_cls and net_prio are cgroup v1 controllers with no cgroup v2"
                        + " counterpart; ignored",
                "linux.resources.rdma: the VM has no RDMA devices; ignored"),
                warnings(linux("\"resources\":{"
                        + "\"memory\":{\"kernel\":1,\"kernelTCP\":1,\"swappiness\":10,\"disableOOMKiller\":true},"
                        + "\"cpu\":{\"realtimeRuntime\":950000},"
                        + "\"blockIO\":{\"leafWeight\":100,\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,"
                        + "\"rate\":1048576}]},"
                        + "\"network\":{\"classID\":1048577},"
                        + "\"rdma\":{\"mlx5_1\":{\"hcaHandles\":3}}}")));
    }

    // ---- VM sizing annotations ----------------------------------------------------------------------------

    @Test
    void sizingAnnotationsWinAndAreValidated() throws Exception {
        String annotated = linux("\"resources\":{\"memory\":{\"limit\":1048576},\"cpu\":{\"quota\":100000}}")
                .replace("\"ociVersion\"", "\"annotations\":{\"io.a3s.box.vcpus\":\"4\","
                        + "\"io.a3s.box.memory_mib\":\"2048\"},\"ociVersion\"");
        assertEquals(new VmSizing(4, 2048L, null, null), map(annotated).vm());
        assertEquals(List.of(
                "annotations[\"io.a3s.box.vcpus\"]: expected an integer from 1 to 255, got \"lots\"",
                "annotations[\"io.a3s.box.memory_mib\"]: expected an integer from 64 to 1048576, got \"1\""),
                refusals(config("\"annotations\":{\"io.a3s.box.vcpus\":\"lots\",\"io.a3s.box.memory_mib\":\"1\"}")));
    }

    @Test
    void aPodsVmIsSizedByItsSandboxsAnnotationsWhichOursStillBeat() throws Exception {
        String sandbox = "\"io.kubernetes.cri.container-type\":\"sandbox\",\"io.kubernetes.cri.sandbox-id\":\"c1\","
                + "\"io.kubernetes.cri.sandbox-cpu-period\":\"100000\",\"io.kubernetes.cri.sandbox-cpu-quota\":\"250000\","
                + "\"io.kubernetes.cri.sandbox-memory\":\"178257920\"";
        assertEquals(new VmSizing(3, 170 + SpecMapper.VM_MEMORY_OVERHEAD_MIB, null, null),
                map(config("\"annotations\":{" + sandbox + "}")).vm());
        assertEquals(new VmSizing(null, null, null, null), map(config("\"annotations\":{" + sandbox
                .replace("250000", "0").replace("178257920", "0") + "}")).vm(), "0: the pod has no limit");
        assertEquals(new VmSizing(2, 3 + SpecMapper.VM_MEMORY_OVERHEAD_MIB, null, null), map(config(
                "\"annotations\":{" + sandbox.replace("sandbox\",", "container\",") + "}").replace("\"linux\":{",
                "\"linux\":{\"resources\":{\"memory\":{\"limit\":3145728},\"cpu\":{\"quota\":150000}},")).vm(),
                "a container of the pod: its own limits (its VM is the sandbox's anyway)");
        assertEquals(new VmSizing(8, null, null, null),
                map(config("\"annotations\":{" + sandbox.replace("178257920", "0") + ",\"io.a3s.box.vcpus\":\"8\"}"))
                        .vm());
        assertEquals(List.of("annotations[\"io.kubernetes.cri.sandbox-memory\"]: expected an integer from 0 to "
                + Long.MAX_VALUE + ", got \"lots\""), refusals(config("\"annotations\":{" + sandbox
                .replace("178257920", "lots") + "}")));
    }

    // ---- other guest fields --------------------------------------------------------------------------------

    @Test
    void processAttributes() throws Exception {
        GuestProcessSpec p = map(config("").replace("\"cwd\":\"/\"", "\"cwd\":\"/\",\"terminal\":true,"
                + "\"consoleSize\":{\"height\":40,\"width\":120},\"oomScoreAdj\":-500,"
                + "\"scheduler\":{\"policy\":\"SCHED_FIFO\",\"priority\":10},"
                + "\"ioPriority\":{\"class\":\"IOPRIO_CLASS_BE\",\"priority\":4},"
                + "\"rlimits\":[{\"type\":\"RLIMIT_CORE\",\"soft\":0,\"hard\":18446744073709551615}]")
                .replace("\"gid\":0}", "\"gid\":0,\"umask\":18}")).process();
        assertEquals(120, p.consoleWidth());
        assertEquals(40, p.consoleHeight());
        assertEquals(-500, p.oomScoreAdj());
        assertEquals(18, p.umask());
        assertEquals(new GuestScheduler("SCHED_FIFO", 0, 10, List.of(), 0, 0, 0), p.scheduler());
        assertEquals(new GuestIoPriority("IOPRIO_CLASS_BE", 4), p.ioPriority());
        assertEquals(List.of(new GuestRlimit("RLIMIT_CORE", 0, -1)), p.rlimits()); // -1 is RLIM_INFINITY
    }

    @Test
    void hostnameSysctlsPersonality() throws Exception {
        GuestContainerSpec spec = map(linux("\"sysctl\":{\"net.ipv4.ip_forward\":\"1\",\"kernel.shm_rmid_forced\":"
                + "\"1\"},\"personality\":{\"domain\":\"LINUX32\"}").replace("\"ociVersion\"",
                "\"hostname\":\"web\",\"domainname\":\"example.org\",\"ociVersion\""));
        assertEquals("web", spec.hostname());
        assertEquals("example.org", spec.domainname());
        assertEquals(java.util.Map.of("kernel.shm_rmid_forced", "1", "net.ipv4.ip_forward", "1"), spec.sysctls());
        assertEquals("LINUX32", spec.personality());
    }

    @Test
    void containerIdMustBeOnePathComponent() throws Exception {
        var spec = OciJson.parseSpec(config("").getBytes(StandardCharsets.UTF_8));
        for (String bad : List.of("", "..", "a/b", "-x", "x".repeat(77), "a b")) {
            assertThrows(IllegalArgumentException.class, () -> SpecMapper.map(bad, BUNDLE, spec), bad);
        }
        SpecMapper.map("a.b_c-D9", BUNDLE, spec);
    }
}
