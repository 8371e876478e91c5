package io.a3s.box.shim.daemon;

import io.a3s.box.containerd.task.CreateTaskRequest;
import io.a3s.box.guest.v1.CreateContainerRequest;
import io.a3s.box.guest.v1.ContainerRequest;
import io.a3s.box.guest.v1.ContainerSpec;
import io.a3s.box.guest.v1.ProcessSpec;
import io.a3s.box.shim.Layout;
import io.a3s.box.shim.config.ShimConfig;
import io.a3s.box.shim.config.TaskOptions;
import io.a3s.box.shim.events.EventBus;
import io.a3s.box.shim.net.PodNetwork;
import io.a3s.box.shim.net.PortForward;
import io.a3s.box.shim.pool.Lease;
import io.a3s.box.shim.pool.VmProvider;
import io.a3s.box.shim.stdio.StdioPaths;
import io.a3s.box.shim.sys.HostCgroups;
import io.a3s.box.shim.task.Container;
import io.a3s.box.shim.task.TaskFactory;
import io.a3s.box.shim.task.TaskPids;
import io.a3s.box.shim.vm.VmConfig;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.spec.SpecException;
import io.a3s.box.spec.guest.GuestContainerSpec;
import io.a3s.box.spec.guest.GuestNamespaceJoin;
import io.a3s.box.spec.guest.PodMember;
import io.a3s.box.spec.guest.ShareBind;
import io.a3s.box.spec.guest.SpecMapper;
import io.a3s.box.spec.guest.VmNetwork;
import io.a3s.box.spec.guest.Warning;
import io.a3s.box.spec.oci.OciJson;
import io.a3s.box.spec.oci.Spec;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Create, on the request path: map the bundle's spec, mount the rootfs, lease an IDLE VM, put the
 * container's filesystems into the VM's share directory, and have the agent set the container up and park
 * its first process before execve. Nothing boots here. A failure at any step undoes the steps before it.
 */
final class VmTaskFactory implements TaskFactory {
    private static final Logger log = LoggerFactory.getLogger(VmTaskFactory.class);
    static final Duration GUEST_CREATE_DEADLINE = Duration.ofSeconds(60);

    private final Layout layout;
    private final VmProvider vms;
    private final ShimConfig settings;
    private final OciSpecConverter specs;
    private final EventBus events;
    private final Clock clock;
    private final Pods pods = new Pods();

    VmTaskFactory(Layout layout, VmProvider vms, ShimConfig settings, OciSpecConverter specs, EventBus events,
                  Clock clock) {
        this.layout = layout;
        this.vms = vms;
        this.settings = settings;
        this.specs = specs;
        this.events = events;
        this.clock = clock;
    }

    @Override
    public Container create(String namespace, CreateTaskRequest req) throws StatusException {
        String id = req.getId();
        long t0 = System.nanoTime();
        Path bundle = Path.of(req.getBundle());
        StdioPaths stdio = new StdioPaths(req.getStdin(), req.getStdout(), req.getStderr(), req.getTerminal());
        TaskOptions options;
        try {
            options = TaskOptions.of(req.hasOptions() ? req.getOptions() : null, settings);
        } catch (StatusException e) {
            throw e.status().withContext("create task " + id).asException();
        }
        GuestContainerSpec spec = loadSpec(id, bundle);
        long tSpec = System.nanoTime();
        Path rootfs = bundle.resolve("rootfs");
        Path taskFile = layout.taskFile(namespace, id);
        PodMember pod = spec.pod();
        boolean joinsPod = pod != null && !pod.isSandbox();
        List<VmExports.Export> exports = new ArrayList<>();
        boolean rootfsMounted = false;
        SharedVm shared = null;
        boolean registered = false;
        Integer pid = null;
        boolean handedOver = false;
        ContainerHooks hooks = ContainerHooks.NONE;
        // A pod's container runs in the VM of the pod's sandbox; anything else leases one. The lease (a round trip
        // to the pool and the attach) overlaps with the rootfs mount: neither needs the other.
        PendingLease pending = joinsPod ? null : PendingLease.start(vms, vmFor(spec, options.config().vm().toVmConfig()),
                "task " + namespace + "/" + id);
        try {
            if (joinsPod) {
                shared = pods.join(pod.sandboxId(), id);
                warnIfBigger(id, spec, shared);
            }
            rootfsMounted = RootfsMounts.mount(req.getRootfsList(), rootfs);
            TaskRecord record = new TaskRecord(namespace, id, bundle.toString(), rootfsMounted, "", "");
            record.write(taskFile);

            long tMount = System.nanoTime();
            if (!joinsPod) {
                shared = new SharedVm(pending.join(), vms, pod != null ? pod.sandboxId() : null);
            }
            checkJoins(spec, shared);
            Lease lease = shared.lease();
            long tLease = System.nanoTime();
            VmInstance vm = lease.vm();
            if (!joinsPod && options.shimCgroup().isPresent()) {
                joinShimCgroup(id, vm, options.shimCgroup().get());
            }
            if (!joinsPod && spec.network().mode() == VmNetwork.Mode.POD_NETNS) {
                PodNetwork.wire(vm, spec.network().netnsPath(), GUEST_CREATE_DEADLINE);
                shared.wiredTo(spec.network().netnsPath());
                forwardPorts(shared, spec.network().netnsPath());
            }
            record.withVm(vm.id(), vm.stateDir().toString()).write(taskFile);
            Map<String, String> renamed = new HashMap<>();
            for (ShareBind share : spec.shares()) {
                VmExports.Export export = shared.exports().bind(share);
                exports.add(export);
                if (!export.guestPath().equals(share.guestPath())) {
                    renamed.put(share.guestPath(), export.guestPath());
                }
            }

            ContainerSpec guestSpec = withDefaultHostname(GuestSpecs.toProto(spec), id);
            guestSpec = guestSpec.toBuilder()
                    .setProcess(specs.withInherited(stdio.applyTo(guestSpec.getProcess()))).build();
            guestSpec = GuestSpecs.withSources(withHostLookups(guestSpec, spec), renamed);
            long tShare = System.nanoTime();
            pid = TaskPids.ofGuest(vm.agent().createContainer(CreateContainerRequest.newBuilder().setContainerId(id)
                    .setSpec(guestSpec).build(), GUEST_CREATE_DEADLINE).getPid());
            shared.addInit(pid, id);
            long tGuest = System.nanoTime();
            log.info("create task {}: {} ms (spec {}, rootfs {}, {} {} {}, share {}, guest {})", id,
                    ms(tGuest - t0), ms(tSpec - t0), ms(tMount - tSpec),
                    joinsPod ? "pod" : "lease", joinsPod ? pod.sandboxId() : lease.warm() ? "warm" : "COLD",
                    ms(tLease - tMount), ms(tShare - tLease), ms(tGuest - tShare));
            hooks = ContainerHooks.prepare(id, bundle, spec.hooks(), hookNetns(spec, shared));
            hooks.runCreate();
            if (hooks != ContainerHooks.NONE && !joinsPod && spec.network().mode() == VmNetwork.Mode.VM) {
                // what the hooks built in the container's new namespace (nerdctl's CNI) is its network
                PodNetwork.wire(vm, hooks.netnsPath(), GUEST_CREATE_DEADLINE);
                shared.wiredTo(hooks.netnsPath());
            }

            if (pod != null && pod.isSandbox()) {
                pods.register(shared);
                registered = true;
            }
            SharedVm vmOfTask = shared;
            int initPid = pid;
            boolean sandboxOfPod = registered;
            VmSandbox sandbox = new VmSandbox(shared, exports, rootfsMounted ? rootfs : null, taskFile, () -> {
                specs.forget(id);
                vmOfTask.removeInit(initPid);
                if (sandboxOfPod) {
                    pods.forget(vmOfTask);
                }
            }, hooks);
            specs.remember(id, spec);
            handedOver = true; // from here on, the sandbox's release undoes everything
            try {
                return new Container(namespace, id, bundle.toString(), pid, stdio, sandbox,
                        events.forNamespace(namespace), clock);
            } catch (StatusException e) {
                sandbox.release();
                throw e;
            }
        } catch (StatusException | IOException | RuntimeException e) {
            if (handedOver) {
                throw e instanceof StatusException se ? se : Code.INTERNAL.toException("create task %s: %s", id, e);
            }
            // undo, newest first
            if (registered) {
                pods.forget(shared);
            }
            if (shared != null) {
                if (pid != null && shared.isPod()) {
                    forgetInGuest(shared, id, pid);
                }
                VmSandbox.unbind(shared, exports);
                shared.leave();
            } else if (pending != null) {
                pending.abandon();
            }
            if (rootfsMounted) {
                VmSandbox.detach(rootfs);
            }
            hooks.close(); // poststop, as runc's destroy after a failed create
            try {
                Files.deleteIfExists(taskFile);
            } catch (IOException ignored) {
                // the delete binary tolerates a stale record
            }
            if (e instanceof StatusException se) {
                throw se.status().withContext("create task " + id).asException();
            }
            throw Code.INTERNAL.toException("create task %s: %s", id, e.getMessage());
        }
    }

    /**
     * The task's {@code shim_cgroup} (runc's options): runc's shim moves itself there, so that what it uses is
     * counted there; what a3s-box uses for the task on the host is its VM, so the VM's process goes there.
     */
    private static void joinShimCgroup(String id, VmInstance vm, String cgroup) throws StatusException {
        try {
            HostCgroups.join(vm.pid(), cgroup);
            log.info("task {}: vm {} (pid {}) moved into shim_cgroup {}", id, vm.id(), vm.pid(), cgroup);
        } catch (IOException e) {
            throw Code.INVALID_ARGUMENT.toException("shim_cgroup: %s", e.getMessage());
        }
    }

    /**
     * The network namespace the hooks' holder sits in: the one the container's network is in on the host side. A
     * config asking for a new one gets a new one, which the VM is wired to after the hooks ran.
     */
    private static ContainerHooks.Netns hookNetns(GuestContainerSpec spec, SharedVm shared) {
        return switch (spec.network().mode()) {
            case VM -> new ContainerHooks.Netns.Fresh();
            case POD_NETNS -> new ContainerHooks.Netns.Join(spec.network().netnsPath());
            case POD_VM -> shared.netnsPath() != null ? new ContainerHooks.Netns.Join(shared.netnsPath())
                    : new ContainerHooks.Netns.Fresh();
            case HOST_UNAVAILABLE -> new ContainerHooks.Netns.Host();
        };
    }

    /**
     * Checks the namespaces to join against the VM: each pid must be the first process of a container in this pod's
     * VM (CRI names the sandbox's; a debug container names its target's), never the agent or a stranger.
     */
    private static void checkJoins(GuestContainerSpec spec, SharedVm shared) throws StatusException {
        for (GuestNamespaceJoin join : spec.joins()) {
            if (shared.containerOf(join.pid()) == null) {
                throw Code.INVALID_ARGUMENT.toException("%s: process %d is not the first process of a container of"
                        + " pod %s (the pids a3s-box reports are the VM's plus %d)", join.specPath(), join.pid(),
                        shared.podId(), TaskPids.OFFSET);
            }
        }
    }

    /** A container created in a pod's VM whose create failed after the guest made it: the VM stays, so remove it. */
    private static void forgetInGuest(SharedVm shared, String id, int pid) {
        shared.removeInit(pid);
        try {
            shared.lease().vm().agent().destroyContainer(ContainerRequest.newBuilder().setContainerId(id).build(),
                    GUEST_CREATE_DEADLINE);
        } catch (StatusException | RuntimeException e) {
            log.warn("task {}: destroy in pod {}'s vm after a failed create: {}", id, shared.podId(), e.getMessage());
        }
    }

    /**
     * kubectl port-forward into the pod's VM (containerd dials localhost in the pod's namespace). The pod works
     * without it, so a failure (no iptables, say) is a warning, and port-forward then fails as it did before.
     */
    private static void forwardPorts(SharedVm shared, String netnsPath) {
        VmInstance vm = shared.lease().vm();
        try {
            shared.forwardPorts(PortForward.start(netnsPath, vm.id(), vm::agent));
        } catch (IOException e) {
            log.warn("vm {}: no port-forward into the pod: {}", vm.id(), e.getMessage());
        }
    }

    /** A pod's VM is sized by its sandbox: a container asking for more gets its cgroup limits, not a bigger VM. */
    private void warnIfBigger(String id, GuestContainerSpec spec, SharedVm shared) {
        VmConfig wanted = vmFor(spec, settings.vm().toVmConfig());
        VmConfig has = shared.lease().vm().config();
        if (wanted.vcpus() > has.vcpus() || wanted.memoryMiB() > has.memoryMiB()) {
            log.warn("task {}: asks for a vm of {} vCPUs and {} MiB; pod {}'s vm has {} and {} MiB", id,
                    wanted.vcpus(), wanted.memoryMiB(), shared.podId(), has.vcpus(), has.memoryMiB());
        }
    }

    /** A lease asked for on a virtual thread; {@link #abandon} releases it whenever it arrives. */
    private record PendingLease(VmProvider vms, CompletableFuture<Lease> lease) {
        static PendingLease start(VmProvider vms, VmConfig key, String holder) {
            var f = new CompletableFuture<Lease>();
            Thread.ofVirtual().name("lease-" + holder).start(() -> {
                try {
                    f.complete(vms.lease(key, holder));
                } catch (StatusException | RuntimeException e) {
                    f.completeExceptionally(e);
                }
            });
            return new PendingLease(vms, f);
        }

        /** The lease; its failure as the StatusException the pool gave. The pool's own deadline bounds the wait. */
        Lease join() throws StatusException {
            try {
                return lease.join();
            } catch (CompletionException e) {
                if (e.getCause() instanceof StatusException se) {
                    throw se;
                }
                throw Code.INTERNAL.toException("lease: %s", e.getCause());
            }
        }

        void abandon() {
            lease.thenAccept(vms::release);
        }
    }

    /**
     * What the agent would look up in the rootfs over 9p (several round trips under TCG), looked up here when the
     * host's view is the guest's ({@link RootfsLookup}): HOME for a process that has none, and how many PATH
     * entries hold no such binary.
     */
    private static ContainerSpec withHostLookups(ContainerSpec guestSpec, GuestContainerSpec spec) {
        if (spec.shares().isEmpty()) {
            return guestSpec;
        }
        Path rootfs = Path.of(spec.shares().getFirst().hostPath());
        ProcessSpec.Builder p = guestSpec.getProcess().toBuilder();
        // the agent keeps the last of repeated names, and an empty HOME counts as none, as with runc
        if (p.getEnvList().reversed().stream().filter(e -> e.startsWith("HOME=")).findFirst()
                .filter(e -> e.length() > "HOME=".length()).isEmpty()) {
            RootfsLookup.home(rootfs, Integer.toUnsignedLong(p.getUid()), spec.mounts())
                    .ifPresent(home -> p.addEnv("HOME=" + home));
        }
        if (p.getArgsCount() > 0) {
            p.setPathSkip(RootfsLookup.pathSkip(rootfs, p.getArgs(0), p.getEnvList(), spec.mounts()));
        }
        return guestSpec.toBuilder().setProcess(p).build();
    }

    private static long ms(long nanos) {
        return nanos / 1_000_000;
    }

    private GuestContainerSpec loadSpec(String id, Path bundle) throws StatusException {
        Path config = bundle.resolve(OciJson.CONFIG_FILE);
        try {
            Spec oci = OciJson.readSpec(config);
            GuestContainerSpec spec = SpecMapper.map(id, bundle, oci);
            for (Warning w : spec.warnings()) {
                log.info("task {}: {}", id, w);
            }
            return spec;
        } catch (SpecException e) {
            throw Code.INVALID_ARGUMENT.toException("%s: %s", config, OciSpecConverter.describe(e));
        } catch (IOException e) {
            throw Code.INVALID_ARGUMENT.toException("read %s: %s", config, e.getMessage());
        }
    }

    /**
     * The pool key: the configured VM, grown when the spec needs more. Never smaller than the default, so
     * that small containers all share one key and find IDLE VMs.
     */
    private static VmConfig vmFor(GuestContainerSpec spec, VmConfig defaultVm) {
        int vcpus = defaultVm.vcpus();
        int mib = defaultVm.memoryMiB();
        if (spec.vm() != null) {
            if (spec.vm().vcpus() != null) {
                vcpus = Math.max(vcpus, Math.min(spec.vm().vcpus(), VmConfig.MAX_VCPUS));
            }
            if (spec.vm().memoryMib() != null) {
                mib = (int) Math.max(mib, Math.min(spec.vm().memoryMib(), VmConfig.MAX_MEMORY_MIB));
            }
        }
        if (vcpus == defaultVm.vcpus() && mib == defaultVm.memoryMiB()) {
            return defaultVm;
        }
        return new VmConfig(defaultVm.kernel(), defaultVm.initrd(), vcpus, mib, defaultVm.accelerator(),
                defaultVm.extraKernelArgs(), defaultVm.bootDeadline());
    }

    /**
     * The hostname of a container whose spec names none, which a VM would otherwise show as "(none)". In a UTS
     * namespace of its own, runc would leave the host's name there; a3s-box uses the container id, as Docker
     * does. With no UTS namespace at all the spec asks for the host's (a host-network pod): a VM cannot share
     * it, so the container gets one of its own that bears the host's name, which is what it would read under
     * runc (only a change of the host's name later does not reach it). A joined UTS namespace keeps its name.
     */
    static ContainerSpec withDefaultHostname(ContainerSpec guestSpec, String id) {
        if (!guestSpec.getHostname().isEmpty()) {
            return guestSpec;
        }
        var ns = guestSpec.getNamespaces();
        if (ns.getUts()) {
            return guestSpec.toBuilder().setHostname(id.length() > 63 ? id.substring(0, 63) : id).build();
        }
        if (ns.getJoinsList().stream().anyMatch(j -> j.getType().equals("uts"))) {
            return guestSpec;
        }
        String host = hostName();
        return host.isEmpty() ? guestSpec : guestSpec.toBuilder().setHostname(host)
                .setNamespaces(ns.toBuilder().setUts(true)).build();
    }

    /** The host's hostname (the daemon's UTS namespace is containerd's), or "" when it cannot be read. */
    private static String hostName() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
        } catch (IOException e) {
            return "";
        }
    }
}
