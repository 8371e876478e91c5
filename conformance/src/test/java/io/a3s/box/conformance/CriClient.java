package io.a3s.box.conformance;

import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;
import io.a3s.box.conformance.cri.v1.ContainerFilter;
import io.a3s.box.conformance.cri.v1.ContainerConfig;
import io.a3s.box.conformance.cri.v1.ContainerStatsRequest;
import io.a3s.box.conformance.cri.v1.ContainerStatsResponse;
import io.a3s.box.conformance.cri.v1.ContainerStatusRequest;
import io.a3s.box.conformance.cri.v1.ContainerStatusResponse;
import io.a3s.box.conformance.cri.v1.CreateContainerRequest;
import io.a3s.box.conformance.cri.v1.CreateContainerResponse;
import io.a3s.box.conformance.cri.v1.Cri;
import io.a3s.box.conformance.cri.v1.AttachRequest;
import io.a3s.box.conformance.cri.v1.AttachResponse;
import io.a3s.box.conformance.cri.v1.ExecRequest;
import io.a3s.box.conformance.cri.v1.ExecResponse;
import io.a3s.box.conformance.cri.v1.ExecSyncRequest;
import io.a3s.box.conformance.cri.v1.ExecSyncResponse;
import io.a3s.box.conformance.cri.v1.ImageSpec;
import io.a3s.box.conformance.cri.v1.LinuxContainerResources;
import io.a3s.box.conformance.cri.v1.PortForwardRequest;
import io.a3s.box.conformance.cri.v1.PortForwardResponse;
import io.a3s.box.conformance.cri.v1.UpdateContainerResourcesRequest;
import io.a3s.box.conformance.cri.v1.UpdateContainerResourcesResponse;
import io.a3s.box.conformance.cri.v1.ImageStatusRequest;
import io.a3s.box.conformance.cri.v1.ImageStatusResponse;
import io.a3s.box.conformance.cri.v1.ListContainersRequest;
import io.a3s.box.conformance.cri.v1.ListContainersResponse;
import io.a3s.box.conformance.cri.v1.ListPodSandboxRequest;
import io.a3s.box.conformance.cri.v1.ListPodSandboxResponse;
import io.a3s.box.conformance.cri.v1.PodSandboxConfig;
import io.a3s.box.conformance.cri.v1.PodSandboxStatusRequest;
import io.a3s.box.conformance.cri.v1.PodSandboxStatusResponse;
import io.a3s.box.conformance.cri.v1.RemoveContainerRequest;
import io.a3s.box.conformance.cri.v1.RemoveContainerResponse;
import io.a3s.box.conformance.cri.v1.RemovePodSandboxRequest;
import io.a3s.box.conformance.cri.v1.RemovePodSandboxResponse;
import io.a3s.box.conformance.cri.v1.RunPodSandboxRequest;
import io.a3s.box.conformance.cri.v1.RunPodSandboxResponse;
import io.a3s.box.conformance.cri.v1.StartContainerRequest;
import io.a3s.box.conformance.cri.v1.StartContainerResponse;
import io.a3s.box.conformance.cri.v1.StatusRequest;
import io.a3s.box.conformance.cri.v1.StatusResponse;
import io.a3s.box.conformance.cri.v1.StopContainerRequest;
import io.a3s.box.conformance.cri.v1.StopContainerResponse;
import io.a3s.box.conformance.cri.v1.StopPodSandboxRequest;
import io.a3s.box.conformance.cri.v1.StopPodSandboxResponse;
import io.a3s.box.conformance.cri.v1.VersionRequest;
import io.a3s.box.conformance.cri.v1.VersionResponse;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCalls;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A client of the Kubernetes CRI (v1) as kubelet speaks it: gRPC over a unix socket, here containerd's own
 * socket, which its CRI plugin serves. The messages come from src/test/proto; the method descriptors are built
 * here (no generated stubs) and checked against the services declared there. Every call has a deadline, so a
 * runtime that hangs fails the test instead of stalling it; a failed call throws gRPC's
 * {@link io.grpc.StatusRuntimeException} with the runtime's message.
 *
 * <p>Only a unix socket is ever dialled.
 */
final class CriClient implements AutoCloseable {
    /**
     * The deadline of calls that may wait for a container to be made or stopped: under TCG on a loaded host a
     * VM can take a minute to boot before a pod's first container even exists.
     */
    static final Duration LONG = Duration.ofMinutes(5);
    /** The deadline of calls that only read the runtime's state. */
    static final Duration SHORT = Duration.ofSeconds(30);

    private static final String RUNTIME = "runtime.v1.RuntimeService";
    private static final String IMAGES = "runtime.v1.ImageService";

    private static final MethodDescriptor<VersionRequest, VersionResponse> VERSION =
            method(RUNTIME, "Version", VersionRequest.getDefaultInstance(), VersionResponse.getDefaultInstance());
    private static final MethodDescriptor<StatusRequest, StatusResponse> STATUS =
            method(RUNTIME, "Status", StatusRequest.getDefaultInstance(), StatusResponse.getDefaultInstance());
    private static final MethodDescriptor<RunPodSandboxRequest, RunPodSandboxResponse> RUN_POD_SANDBOX =
            method(RUNTIME, "RunPodSandbox", RunPodSandboxRequest.getDefaultInstance(),
                    RunPodSandboxResponse.getDefaultInstance());
    private static final MethodDescriptor<StopPodSandboxRequest, StopPodSandboxResponse> STOP_POD_SANDBOX =
            method(RUNTIME, "StopPodSandbox", StopPodSandboxRequest.getDefaultInstance(),
                    StopPodSandboxResponse.getDefaultInstance());
    private static final MethodDescriptor<RemovePodSandboxRequest, RemovePodSandboxResponse> REMOVE_POD_SANDBOX =
            method(RUNTIME, "RemovePodSandbox", RemovePodSandboxRequest.getDefaultInstance(),
                    RemovePodSandboxResponse.getDefaultInstance());
    private static final MethodDescriptor<PodSandboxStatusRequest, PodSandboxStatusResponse> POD_SANDBOX_STATUS =
            method(RUNTIME, "PodSandboxStatus", PodSandboxStatusRequest.getDefaultInstance(),
                    PodSandboxStatusResponse.getDefaultInstance());
    private static final MethodDescriptor<ListPodSandboxRequest, ListPodSandboxResponse> LIST_POD_SANDBOX =
            method(RUNTIME, "ListPodSandbox", ListPodSandboxRequest.getDefaultInstance(),
                    ListPodSandboxResponse.getDefaultInstance());
    private static final MethodDescriptor<CreateContainerRequest, CreateContainerResponse> CREATE_CONTAINER =
            method(RUNTIME, "CreateContainer", CreateContainerRequest.getDefaultInstance(),
                    CreateContainerResponse.getDefaultInstance());
    private static final MethodDescriptor<StartContainerRequest, StartContainerResponse> START_CONTAINER =
            method(RUNTIME, "StartContainer", StartContainerRequest.getDefaultInstance(),
                    StartContainerResponse.getDefaultInstance());
    private static final MethodDescriptor<StopContainerRequest, StopContainerResponse> STOP_CONTAINER =
            method(RUNTIME, "StopContainer", StopContainerRequest.getDefaultInstance(),
                    StopContainerResponse.getDefaultInstance());
    private static final MethodDescriptor<RemoveContainerRequest, RemoveContainerResponse> REMOVE_CONTAINER =
            method(RUNTIME, "RemoveContainer", RemoveContainerRequest.getDefaultInstance(),
                    RemoveContainerResponse.getDefaultInstance());
    private static final MethodDescriptor<ListContainersRequest, ListContainersResponse> LIST_CONTAINERS =
            method(RUNTIME, "ListContainers", ListContainersRequest.getDefaultInstance(),
                    ListContainersResponse.getDefaultInstance());
    private static final MethodDescriptor<ContainerStatusRequest, ContainerStatusResponse> CONTAINER_STATUS =
            method(RUNTIME, "ContainerStatus", ContainerStatusRequest.getDefaultInstance(),
                    ContainerStatusResponse.getDefaultInstance());
    private static final MethodDescriptor<ExecSyncRequest, ExecSyncResponse> EXEC_SYNC =
            method(RUNTIME, "ExecSync", ExecSyncRequest.getDefaultInstance(), ExecSyncResponse.getDefaultInstance());
    private static final MethodDescriptor<ContainerStatsRequest, ContainerStatsResponse> CONTAINER_STATS =
            method(RUNTIME, "ContainerStats", ContainerStatsRequest.getDefaultInstance(),
                    ContainerStatsResponse.getDefaultInstance());
    private static final MethodDescriptor<UpdateContainerResourcesRequest, UpdateContainerResourcesResponse>
            UPDATE_CONTAINER_RESOURCES = method(RUNTIME, "UpdateContainerResources",
                    UpdateContainerResourcesRequest.getDefaultInstance(),
                    UpdateContainerResourcesResponse.getDefaultInstance());
    private static final MethodDescriptor<ExecRequest, ExecResponse> EXEC =
            method(RUNTIME, "Exec", ExecRequest.getDefaultInstance(), ExecResponse.getDefaultInstance());
    private static final MethodDescriptor<AttachRequest, AttachResponse> ATTACH =
            method(RUNTIME, "Attach", AttachRequest.getDefaultInstance(), AttachResponse.getDefaultInstance());
    private static final MethodDescriptor<PortForwardRequest, PortForwardResponse> PORT_FORWARD =
            method(RUNTIME, "PortForward", PortForwardRequest.getDefaultInstance(),
                    PortForwardResponse.getDefaultInstance());
    private static final MethodDescriptor<ImageStatusRequest, ImageStatusResponse> IMAGE_STATUS =
            method(IMAGES, "ImageStatus", ImageStatusRequest.getDefaultInstance(),
                    ImageStatusResponse.getDefaultInstance());

    /**
     * A unary method of the proto's {@code service}, with protobuf marshallers; fails at class initialization
     * when the proto does not declare it with these message types (a typo would otherwise only show as
     * UNIMPLEMENTED from the server).
     */
    private static <Q extends Message, R extends Message> MethodDescriptor<Q, R> method(String service, String name,
            Q request, R response) {
        Descriptors.ServiceDescriptor s = Cri.getDescriptor()
                .findServiceByName(service.substring(service.lastIndexOf('.') + 1));
        Descriptors.MethodDescriptor m = s == null ? null : s.findMethodByName(name);
        if (m == null || !m.getInputType().equals(request.getDescriptorForType())
                || !m.getOutputType().equals(response.getDescriptorForType())) {
            throw new IllegalStateException("cri.proto declares no " + service + "/" + name + "("
                    + request.getDescriptorForType().getName() + ") returns ("
                    + response.getDescriptorForType().getName() + ")");
        }
        return MethodDescriptor.<Q, R>newBuilder()
                .setType(MethodDescriptor.MethodType.UNARY)
                .setFullMethodName(MethodDescriptor.generateFullMethodName(service, name))
                .setRequestMarshaller(ProtoUtils.marshaller(request))
                .setResponseMarshaller(ProtoUtils.marshaller(response))
                .build();
    }

    private final EpollEventLoopGroup group;
    private final ManagedChannel channel;

    /** A channel to the CRI server on the unix socket {@code socket}; it connects on the first call. */
    CriClient(Path socket) {
        this.group = new EpollEventLoopGroup(1);
        this.channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .eventLoopGroup(group)
                .channelType(EpollDomainSocketChannel.class)
                // gRPC asks every channel for TCP keepalive, which a unix socket has not (netty would warn)
                .withOption(ChannelOption.SO_KEEPALIVE, null)
                // the socket's path is no host name: give the :authority header a valid one
                .overrideAuthority("localhost")
                .usePlaintext()
                // containerd caps what it sends at 16 MiB (ExecSync output); accept that much
                .maxInboundMessageSize((16 << 20) + 1024)
                .build();
    }

    private <Q, R> R call(MethodDescriptor<Q, R> method, Q request, Duration deadline) {
        return ClientCalls.blockingUnaryCall(channel, method,
                CallOptions.DEFAULT.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS), request);
    }

    // ---- the runtime --------------------------------------------------------------------------------------------

    VersionResponse version() {
        return call(VERSION, VersionRequest.newBuilder().setVersion("v1").build(), SHORT);
    }

    StatusResponse status() {
        return call(STATUS, StatusRequest.newBuilder().setVerbose(false).build(), SHORT);
    }

    // ---- pod sandboxes --------------------------------------------------------------------------------------------

    /** Runs a pod sandbox with {@code handler} (a runtime name of the CRI config); returns its id. */
    String runPodSandbox(PodSandboxConfig config, String handler) {
        return call(RUN_POD_SANDBOX, RunPodSandboxRequest.newBuilder().setConfig(config).setRuntimeHandler(handler)
                .build(), LONG).getPodSandboxId();
    }

    void stopPodSandbox(String id) {
        call(STOP_POD_SANDBOX, StopPodSandboxRequest.newBuilder().setPodSandboxId(id).build(), LONG);
    }

    void removePodSandbox(String id) {
        call(REMOVE_POD_SANDBOX, RemovePodSandboxRequest.newBuilder().setPodSandboxId(id).build(), LONG);
    }

    /** The sandbox's status; {@code verbose} adds containerd's info (its spec, pid, netns) as JSON. */
    PodSandboxStatusResponse podSandboxStatus(String id, boolean verbose) {
        return call(POD_SANDBOX_STATUS, PodSandboxStatusRequest.newBuilder().setPodSandboxId(id).setVerbose(verbose)
                .build(), SHORT);
    }

    /** Every pod sandbox the runtime knows, whatever its state. */
    ListPodSandboxResponse listPodSandbox() {
        return call(LIST_POD_SANDBOX, ListPodSandboxRequest.getDefaultInstance(), SHORT);
    }

    // ---- containers -----------------------------------------------------------------------------------------------

    /** Creates a container in the pod {@code podId} (run with {@code podConfig}); returns its id. */
    String createContainer(String podId, ContainerConfig config, PodSandboxConfig podConfig) {
        return call(CREATE_CONTAINER, CreateContainerRequest.newBuilder().setPodSandboxId(podId).setConfig(config)
                .setSandboxConfig(podConfig).build(), LONG).getContainerId();
    }

    void startContainer(String id) {
        call(START_CONTAINER, StartContainerRequest.newBuilder().setContainerId(id).build(), LONG);
    }

    /** Stops with SIGTERM (or the image's stop signal), then SIGKILL after {@code timeoutSeconds}. */
    void stopContainer(String id, long timeoutSeconds) {
        call(STOP_CONTAINER, StopContainerRequest.newBuilder().setContainerId(id).setTimeout(timeoutSeconds).build(),
                LONG.plusSeconds(timeoutSeconds));
    }

    void removeContainer(String id) {
        call(REMOVE_CONTAINER, RemoveContainerRequest.newBuilder().setContainerId(id).build(), LONG);
    }

    ContainerStatusResponse containerStatus(String id, boolean verbose) {
        return call(CONTAINER_STATUS, ContainerStatusRequest.newBuilder().setContainerId(id).setVerbose(verbose)
                .build(), SHORT);
    }

    /** The container's CPU and memory figures, as kubelet reads them (kubectl top, eviction). */
    ContainerStatsResponse containerStats(String id) {
        return call(CONTAINER_STATS, ContainerStatsRequest.newBuilder().setContainerId(id).build(), SHORT);
    }

    /** kubelet's in-place resize (and its CPU manager): new cgroup resources for a running container. */
    void updateContainerResources(String id, LinuxContainerResources resources) {
        call(UPDATE_CONTAINER_RESOURCES, UpdateContainerResourcesRequest.newBuilder().setContainerId(id)
                .setLinux(resources).build(), SHORT);
    }

    /** kubectl exec: the URL of containerd's streaming server for {@code request}. */
    String exec(ExecRequest request) {
        return call(EXEC, request, SHORT).getUrl();
    }

    /** kubectl attach: the URL of containerd's streaming server for {@code request}. */
    String attach(AttachRequest request) {
        return call(ATTACH, request, SHORT).getUrl();
    }

    /** kubectl port-forward: the URL of containerd's streaming server for {@code port} of the pod. */
    String portForward(String podId, int port) {
        return call(PORT_FORWARD, PortForwardRequest.newBuilder().setPodSandboxId(podId).addPort(port).build(), SHORT)
                .getUrl();
    }

    /** The containers of pod {@code podId}; every container when it is null. */
    ListContainersResponse listContainers(String podId) {
        ListContainersRequest.Builder r = ListContainersRequest.newBuilder();
        if (podId != null) {
            r.setFilter(ContainerFilter.newBuilder().setPodSandboxId(podId));
        }
        return call(LIST_CONTAINERS, r.build(), SHORT);
    }

    /**
     * Runs {@code cmd} in the container and waits for it; the runtime kills it after {@code timeoutSeconds}
     * (0: never), and the call's own deadline is a minute past that.
     */
    ExecSyncResponse execSync(String id, List<String> cmd, long timeoutSeconds) {
        Duration deadline = timeoutSeconds == 0 ? LONG : Duration.ofSeconds(timeoutSeconds + 60);
        return call(EXEC_SYNC, ExecSyncRequest.newBuilder().setContainerId(id).addAllCmd(cmd)
                .setTimeout(timeoutSeconds).build(), deadline);
    }

    // ---- images -------------------------------------------------------------------------------------------------

    /** Whether the runtime holds {@code image} (a reference, as a container config names it). */
    boolean hasImage(String image) {
        ImageStatusResponse r = call(IMAGE_STATUS, ImageStatusRequest.newBuilder()
                .setImage(ImageSpec.newBuilder().setImage(image)).build(), SHORT);
        return r.hasImage();
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow();
        channel.awaitTermination(10, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 5, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
    }
}
