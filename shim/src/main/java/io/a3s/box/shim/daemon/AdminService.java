package io.a3s.box.shim.daemon;

import io.a3s.box.shim.BuildInfo;
import io.a3s.box.shim.admin.v1.CleanupTaskRequest;
import io.a3s.box.shim.admin.v1.CleanupTaskResponse;
import io.a3s.box.shim.admin.v1.PingRequest;
import io.a3s.box.shim.admin.v1.PingResponse;
import io.a3s.box.shim.task.Container;
import io.a3s.box.shim.task.TaskService;
import io.a3s.box.ttrpc.CallContext;
import io.a3s.box.ttrpc.ServiceDefinition;

/** The daemon's private service for the shim binary's short-lived actions (see admin.proto). */
final class AdminService {
    static final String NAME = "a3s.shim.v1.Admin";

    private final DaemonConfig config;
    private final TaskService tasks;

    AdminService(DaemonConfig config, TaskService tasks) {
        this.config = config;
        this.tasks = tasks;
    }

    ServiceDefinition definition() {
        return ServiceDefinition.builder(NAME)
                .unary("Ping", PingRequest.parser(), this::ping)
                .unary("CleanupTask", CleanupTaskRequest.parser(), this::cleanupTask)
                .build();
    }

    PingResponse ping(PingRequest req, CallContext ctx) {
        return PingResponse.newBuilder().setPid((int) ProcessHandle.current().pid())
                .setVersion(BuildInfo.CURRENT.version()).setTasks(tasks.taskCount())
                .setContainerdAddress(config.containerdAddress()).setTtrpcAddress(config.ttrpcAddress()).build();
    }

    /**
     * containerd runs the shim binary's delete after every task connection closes, and for tasks it finds
     * at start-up. If the task is still here (containerd gave up on it), kill and delete it for real.
     */
    CleanupTaskResponse cleanupTask(CleanupTaskRequest req, CallContext ctx) {
        return switch (tasks.cleanup(req.getNamespace(), req.getId())) {
            case TaskService.Cleanup.Deleted(Container.Deleted d) -> CleanupTaskResponse.newBuilder().setFound(true)
                    .setPid(d.pid()).setExitStatus(d.exit().status()).setExitedAt(d.exit().timestamp()).build();
            // the create holds the task's VM and record, and releases them when it ends
            case TaskService.Cleanup.CreateAbandoned() -> CleanupTaskResponse.newBuilder().setFound(false).build();
            case TaskService.Cleanup.Unknown() -> {
                // containerd knows a task this daemon does not (a failed create, a daemon restart): clean up
                // whatever its record says it holds, as the shim binary would without a daemon
                io.a3s.box.shim.bootstrap.DeleteAction.cleanupFromRecord(config.layout(), req.getNamespace(),
                        req.getId(), java.nio.file.Path.of(req.getBundle()), System.err);
                yield CleanupTaskResponse.newBuilder().setFound(false).build();
            }
        };
    }
}
