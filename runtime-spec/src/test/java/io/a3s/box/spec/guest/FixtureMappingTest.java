package io.a3s.box.spec.guest;

import static io.a3s.box.spec.guest.MountFlag.MS_BIND;
import static io.a3s.box.spec.guest.MountFlag.MS_NODEV;
import static io.a3s.box.spec.guest.MountFlag.MS_NOEXEC;
import static io.a3s.box.spec.guest.MountFlag.MS_NOSUID;
import static io.a3s.box.spec.guest.MountFlag.MS_RDONLY;
import static io.a3s.box.spec.guest.MountFlag.MS_REC;
import static io.a3s.box.spec.guest.ShareBind.HostPropagation.SLAVE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.a3s.box.spec.Fixtures;
import io.a3s.box.spec.SpecError;
import io.a3s.box.spec.SpecException;
import io.a3s.box.spec.validate.LinuxNames;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** What each config containerd produced maps to, as docs/oci-mapping.md says it should. */
class FixtureMappingTest {
    private static final String PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    private static final String SHARE = "/run/a3s/share/c1";
    private static final String VOLUMES = "/run/a3s/volumes/c1";

    static List<String> runnable() {
        return Fixtures.runnable();
    }

    private static List<String> warnings(GuestContainerSpec spec) {
        return spec.warnings().stream().map(Warning::toString).toList();
    }

    @ParameterizedTest
    @MethodSource("runnable")
    void everyContainerdConfigMaps(String name) throws Exception {
        GuestContainerSpec spec = Fixtures.mapped(name);
        assertEquals("c1", spec.containerId());
        assertEquals(SHARE + "/rootfs", spec.root().path());
        assertEquals(new ShareBind(Fixtures.BUNDLE + "/rootfs", SHARE + "/rootfs", false, SLAVE, "root.path"),
                spec.shares().getFirst());
        assertTrue(spec.namespaces().contains(GuestNamespace.MOUNT));
        assertNotNull(spec.process());
        assertFalse(spec.process().args().isEmpty());
        // containerd's standard mounts are all created by the guest kernel.
        assertEquals(List.of("proc", "tmpfs", "devpts", "tmpfs", "mqueue", "sysfs", "tmpfs"),
                spec.mounts().stream().limit(7).map(GuestMount::type).toList());
        // The default device allowlist reaches the guest cgroup.
        assertFalse(spec.cgroup().devices().isEmpty());
        assertEquals("/a3s-spec-fixtures/fx-" + name, spec.hostCgroupsPath());
    }

    @Test
    void defaultConfig() throws Exception {
        GuestContainerSpec spec = Fixtures.mapped("default");
        GuestProcessSpec p = spec.process();
        assertEquals(List.of("sh"), p.args());
        assertEquals(List.of(PATH_ENV), p.env());
        assertEquals("/", p.cwd());
        assertEquals(0, p.uid());
        assertEquals(0, p.gid());
        assertEquals(List.of(0L), p.additionalGids());
        assertNull(p.umask());
        assertFalse(p.terminal());
        assertTrue(p.noNewPrivileges());
        assertNull(p.seccomp());
        assertEquals(List.of(new GuestRlimit("RLIMIT_NOFILE", 1024, 1024)), p.rlimits());
        assertEquals(List.of("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
                "CAP_KILL", "CAP_AUDIT_WRITE"), p.capabilities().bounding());
        assertEquals(p.capabilities().bounding(), p.capabilities().effective());
        assertEquals(List.of(), p.capabilities().inheritable());
        assertEquals(List.of(GuestNamespace.MOUNT, GuestNamespace.PID, GuestNamespace.UTS, GuestNamespace.IPC),
                spec.namespaces());
        assertEquals(new VmNetwork(VmNetwork.Mode.VM, null), spec.network());
        assertEquals(new VmSizing(null, null, null, null), spec.vm());
        assertFalse(spec.root().readonly());
        assertEquals(1, spec.shares().size());
        assertEquals(List.of(), warnings(spec));
        assertEquals(10, spec.maskedPaths().size());
        assertTrue(spec.readonlyPaths().contains("/proc/sys"));
        GuestMount proc = spec.mounts().getFirst();
        assertEquals(new GuestMount("proc", "proc", "/proc", List.of(MS_NOSUID, MS_NODEV, MS_NOEXEC), List.of(), "",
                null), proc);
        GuestMount devpts = spec.mounts().get(2);
        assertEquals("newinstance,ptmxmode=0666,mode=0620,gid=5", devpts.data());
        GuestMount sys = spec.mounts().get(5);
        assertEquals(List.of(MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC), sys.flags());
        // cpu.shares 1024 -> cpu.weight 1 + (1022 * 9999) / 262142 = 39
        assertEquals(39L, spec.cgroup().cpuWeight());
        assertEquals(new GuestDeviceRule(false, "a", null, null, "rwm"), spec.cgroup().devices().getFirst());
        assertEquals(new GuestDeviceRule(true, "c", 136L, null, "rwm"), spec.cgroup().devices().get(8));
    }

    @Test
    void env() throws Exception {
        GuestProcessSpec p = Fixtures.mapped("env").process();
        assertEquals(List.of(PATH_ENV, "FOO=bar", "EMPTY=", "WITH_EQUALS=a=b=c"), p.env());
        assertEquals(List.of("env"), p.args());
    }

    @Test
    void cwd() throws Exception {
        assertEquals("/srv/app", Fixtures.mapped("cwd").process().cwd());
    }

    @Test
    void userFromTheImage() throws Exception {
        GuestProcessSpec p = Fixtures.mapped("user").process();
        assertEquals(1000, p.uid());
        assertEquals(1000, p.gid());
        assertEquals(List.of(1000L, 10L), p.additionalGids());
    }

    @Test
    void tty() throws Exception {
        GuestProcessSpec p = Fixtures.mapped("tty").process();
        assertTrue(p.terminal());
        assertTrue(p.env().contains("TERM=xterm"));
        assertNull(p.consoleWidth()); // ctr sends the size later, with ResizePty
    }

    @Test
    void bindMountsGoThroughTheShare() throws Exception {
        GuestContainerSpec spec = Fixtures.mapped("mount");
        List<GuestMount> extra = spec.mounts().subList(7, spec.mounts().size());
        assertEquals(List.of(
                new GuestMount("bind", VOLUMES + "/7", "/host", List.of(MS_RDONLY, MS_BIND, MS_REC), List.of(),
                        "", null),
                new GuestMount("bind", VOLUMES + "/8", "/etc/host-hostname", List.of(MS_RDONLY, MS_BIND),
                        List.of(), "", null),
                new GuestMount("tmpfs", "tmpfs", "/scratch", List.of(), List.of(), "size=64m,mode=1777", null)),
                extra);
        // A directory and a file: the host side binds both into the share, read-only as in the config.
        assertEquals(List.of(
                new ShareBind(Fixtures.BUNDLE + "/rootfs", SHARE + "/rootfs", false, SLAVE, "root.path"),
                new ShareBind("/tmp", VOLUMES + "/7", true, SLAVE, "mounts[7]"),
                new ShareBind("/etc/hostname", VOLUMES + "/8", true, SLAVE, "mounts[8]")), spec.shares());
    }

    @Test
    void memoryLimitBecomesCgroupAndVmSize() throws Exception {
        GuestContainerSpec spec = Fixtures.mapped("memory-limit");
        assertEquals(268435456L, spec.cgroup().memoryMax());
        assertNull(spec.cgroup().memorySwapMax());
        assertEquals(256 + SpecMapper.VM_MEMORY_OVERHEAD_MIB, spec.vm().memoryMib());
        assertNull(spec.vm().vcpus());
    }

    @Test
    void cpusBecomeCpuMaxAndVcpus() throws Exception {
        GuestContainerSpec spec = Fixtures.mapped("cpus"); // --cpus 1.5
        assertEquals(150000L, spec.cgroup().cpuQuota());
        assertEquals(100000L, spec.cgroup().cpuPeriod());
        assertEquals(2, spec.vm().vcpus()); // ceil(1.5)
        assertNull(spec.vm().memoryMib());
    }

    @Test
    void cpuSharesAndQuota() throws Exception {
        GuestContainerSpec spec = Fixtures.mapped("cpu-shares"); // --cpu-shares 512 --cpu-quota 50000
        assertEquals(1 + (510L * 9999) / 262142, spec.cgroup().cpuWeight());
        assertEquals(50000L, spec.cgroup().cpuQuota());
        assertEquals(1, spec.vm().vcpus());
    }

    @Test
    void privilegedKeepsEveryCapabilityAndMapsTheDevicesTheVmHas() throws Exception {
        GuestContainerSpec spec = Fixtures.mapped("privileged");
        GuestProcessSpec p = spec.process();
        assertEquals(40, p.capabilities().bounding().size());
        assertTrue(p.capabilities().bounding().containsAll(List.of("CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_BPF")));
        assertTrue(LinuxNames.CAPABILITIES.containsAll(p.capabilities().effective()));
        assertEquals(new GuestDeviceRule(true, "a", null, null, "rwm"), spec.cgroup().devices().getFirst());
        // /sys is writable for a privileged container.
        assertFalse(spec.mounts().get(5).flags().contains(MS_RDONLY));
        // Devices every kernel numbers the same are created; the host's others are not, with a warning each.
        assertEquals(List.of("/dev/full", "/dev/fuse", "/dev/kmsg", "/dev/net/tun", "/dev/null", "/dev/ptmx",
                "/dev/random", "/dev/tty", "/dev/urandom", "/dev/zero"),
                spec.devices().stream().map(GuestDevice::path).sorted().toList());
        // The fixture lists the devices of the machine that generated it; every one the guest lacks warns.
        assertEquals(spec.devices().size() + spec.warnings().size(), Fixtures.spec("privileged").linux().devices()
                .size());
        assertTrue(warnings(spec).stream().allMatch(w -> w.matches("linux\\.devices\\[\\d+]: host device /dev/\\S+"
                + " \\([cb] \\d+:\\d+\\) does not exist in the VM; not created")),
                () -> String.join("\n", warnings(spec)));
        assertTrue(spec.maskedPaths().isEmpty());
    }

    @Test
    void seccompReachesTheAgentInLibseccompTerms() throws Exception {
        GuestSeccomp s = Fixtures.mapped("seccomp").process().seccomp();
        assertNotNull(s);
        assertEquals("SCMP_ACT_ERRNO", s.defaultAction());
        assertEquals(List.of("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"), s.architectures());
        assertEquals(11, s.syscalls().size());
        GuestSeccomp.Rule first = s.syscalls().getFirst();
        assertEquals("SCMP_ACT_ALLOW", first.action());
        assertTrue(first.names().containsAll(List.of("read", "write", "execve", "exit_group")));
        assertEquals(new GuestSeccomp.Rule(List.of("personality"), "SCMP_ACT_ALLOW", null,
                List.of(new GuestSeccomp.Arg(0, 0, 0, "SCMP_CMP_EQ"))), s.syscalls().get(1));
        assertTrue(s.syscalls().stream().flatMap(r -> r.args().stream()).map(GuestSeccomp.Arg::op)
                .allMatch(LinuxNames.SECCOMP_OPERATORS::contains));
    }

    @Test
    void readOnlyRootfs() throws Exception {
        GuestContainerSpec spec = Fixtures.mapped("read-only");
        assertTrue(spec.root().readonly());
        // the agent makes the mount points, then remounts it read-only: the share bind stays writable
        assertFalse(spec.shares().getFirst().readonly());
    }

    @Test
    void hostNetworkIsNotAvailableInAVm() throws Exception {
        GuestContainerSpec spec = Fixtures.mapped("net-host");
        assertEquals(new VmNetwork(VmNetwork.Mode.HOST_UNAVAILABLE, null), spec.network());
        assertEquals(List.of("linux.namespaces: no network namespace asks for the host's network, which a VM cannot"
                + " share; the container uses the VM's network"), warnings(spec));
        // containerd binds the host's /etc/hosts and resolv.conf, both files.
        assertEquals(List.of("/etc/hosts", "/etc/resolv.conf"),
                spec.shares().stream().skip(1).map(ShareBind::hostPath).toList());
    }

    @Test
    void podNetworkNamespaceIsRecordedForTheVm() throws Exception {
        GuestContainerSpec spec = Fixtures.mapped("with-netns");
        assertEquals(new VmNetwork(VmNetwork.Mode.POD_NETNS, "/var/run/netns/a3s-pod"), spec.network());
        assertEquals(List.of(), warnings(spec));
    }

    @Test
    void joiningAHostPidNamespaceIsRefused() {
        SpecException e = assertThrows(SpecException.class, () -> Fixtures.mapped("with-pidns"));
        assertEquals(List.of("linux.namespaces[0].path: joining the existing pid namespace /proc/1/ns/pid cannot be"
                + " honoured: it is a namespace of the host, and the container runs in a VM"),
                e.errors().stream().map(SpecError::toString).toList());
    }

    @Test
    void theOciSpecTemplateHasNothingToRun() {
        SpecException e = assertThrows(SpecException.class, () -> Fixtures.mapped("oci-spec-default"));
        assertEquals(List.of("process.args: at least one argument (the program to run) is required"),
                e.errors().stream().map(SpecError::toString).toList());
    }

    @Test
    void capabilitiesAddedAndDropped() throws Exception {
        List<String> bounding = Fixtures.mapped("caps").process().capabilities().bounding();
        assertTrue(bounding.containsAll(List.of("CAP_NET_ADMIN", "CAP_SYS_TIME")));
        assertFalse(bounding.contains("CAP_CHOWN"));
    }

    @Test
    void allowNewPrivileges() throws Exception {
        assertFalse(Fixtures.mapped("allow-new-privs").process().noNewPrivileges());
    }

    @Test
    void userNamespaceIsCreatedInTheGuestWithItsMappings() throws Exception {
        GuestContainerSpec spec = Fixtures.mapped("userns");
        assertTrue(spec.namespaces().contains(GuestNamespace.USER));
        assertEquals(List.of(new GuestIdMapping(0, 100000, 65536)), spec.uidMappings());
        assertEquals(List.of(new GuestIdMapping(0, 100000, 65536)), spec.gidMappings());
    }

    @Test
    void deviceTheGuestHas() throws Exception {
        GuestContainerSpec spec = Fixtures.mapped("device");
        assertEquals(List.of(new GuestDevice("/dev/zero", "c", 1, 5, 0666L, 0L, 0L)), spec.devices());
        assertEquals(List.of(), warnings(spec));
    }

    @Test
    void vcpuAnnotationSizesTheVm() throws Exception {
        GuestContainerSpec spec = Fixtures.mapped("annotations");
        assertEquals(2, spec.vm().vcpus());
        assertEquals(List.of(), warnings(spec));
    }

    @Test
    void rootfsPropagation() throws Exception {
        assertEquals("rshared", Fixtures.mapped("rootfs-propagation").root().propagation());
    }

    @Test
    void kitchenSink() throws Exception {
        GuestContainerSpec spec = Fixtures.mapped("kitchen-sink");
        GuestProcessSpec p = spec.process();
        assertTrue(p.terminal());
        assertEquals("/tmp", p.cwd());
        assertTrue(p.env().contains("LANG=C.UTF-8"));
        assertTrue(p.capabilities().bounding().contains("CAP_NET_ADMIN"));
        assertNotNull(p.seccomp());
        assertTrue(spec.root().readonly());
        assertEquals(new GuestMount("bind", VOLUMES + "/7", "/data", List.of(MS_BIND, MS_REC), List.of(), "",
                null), spec.mounts().get(7));
        assertEquals(new ShareBind("/tmp", VOLUMES + "/7", false, SLAVE, "mounts[7]"), spec.shares().get(1));
        assertEquals(536870912L, spec.cgroup().memoryMax());
        assertEquals(200000L, spec.cgroup().cpuQuota());
        assertEquals(new VmSizing(2, 512 + SpecMapper.VM_MEMORY_OVERHEAD_MIB, null, null), spec.vm());
        assertEquals(List.of(), warnings(spec));
    }

    @Test
    void mappingIsDeterministic() throws Exception {
        for (String name : runnable()) {
            assertEquals(Fixtures.mapped(name), Fixtures.mapped(name));
            assertEquals(io.a3s.box.spec.oci.OciJson.write(Fixtures.mapped(name)),
                    io.a3s.box.spec.oci.OciJson.write(Fixtures.mapped(name)));
        }
    }

    @Test
    void guestSpecMapsAreSorted() throws Exception {
        GuestContainerSpec spec = SpecMapper.map("c1", Fixtures.BUNDLE, withSysctls(Map.of("b.y", "1", "a.x", "2")));
        assertEquals(List.of("a.x", "b.y"), List.copyOf(spec.sysctls().keySet()));
    }

    private static io.a3s.box.spec.oci.Spec withSysctls(Map<String, String> sysctls) throws Exception {
        io.a3s.box.spec.oci.Spec s = Fixtures.spec("default");
        io.a3s.box.spec.oci.Linux l = s.linux();
        return new io.a3s.box.spec.oci.Spec(s.ociVersion(), s.process(), s.root(), s.hostname(), s.domainname(),
                s.mounts(), s.hooks(), s.annotations(), new io.a3s.box.spec.oci.Linux(l.uidMappings(),
                        l.gidMappings(), sysctls, l.resources(), l.cgroupsPath(), l.namespaces(), l.devices(),
                        l.seccomp(), l.rootfsPropagation(), l.maskedPaths(), l.readonlyPaths(), l.mountLabel(),
                        l.intelRdt(), l.personality(), l.timeOffsets(), l.extra()), s.extra());
    }
}
