package io.a3s.box.shim.daemon;

import io.a3s.box.shim.BuildInfo;
import io.a3s.box.shim.admin.v1.CleanupTaskRequest;
import io.a3s.box.shim.admin.v1.CleanupTaskResponse;
import io.a3s.box.shim.admin.v1.PingRequest;
import io.a3s.box.shim.admin.v1.PingResponse;
import io.a3s.box.shim.task.Container;
import io.a3s.box.shim.task.ExitStatus;
import io.a3s.box.shim.task.TaskService;
import io.a3s.box.ttrpc.CallContext;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.ServiceDefinition;
import io.a3s.box.ttrpc.StatusException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;

/** The daemon's private service for the shim binary's short-lived actions (see admin.proto). */
final class AdminService {
    private static final Logger log = LoggerFactory.getLogger(AdminService.class);
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
    CleanupTaskResponse cleanupTask(CleanupTaskRequest req, CallContext ctx) throws StatusException {
        Container c = tasks.find(req.getNamespace(), req.getId());
        if (c == null) {
            // containerd knows a task this daemon does not (a failed create, a daemon restart): clean up
            // whatever its record says it holds, as the shim binary would without a daemon
            io.a3s.box.shim.bootstrap.DeleteAction.cleanupFromRecord(config.layout(), req.getNamespace(),
                    req.getId(), java.nio.file.Path.of(req.getBundle()), System.err);
            return CleanupTaskResponse.newBuilder().setFound(false).build();
        }
        try {
            c.kill("", 9, true);
        } catch (StatusException e) {
            if (e.code() != Code.NOT_FOUND) {
                log.warn("cleanup of task {}: kill: {}", req.getId(), e.getMessage());
            }
        }
        Container.Deleted d;
        try {
            d = c.delete("");
        } catch (StatusException e) {
            log.warn("cleanup of task {}: delete: {}", req.getId(), e.getMessage());
            c.sandbox().release();
            d = new Container.Deleted(c.initPid(), new ExitStatus(ExitStatus.VM_DIED, Instant.now()));
        }
        tasks.remove(req.getNamespace(), req.getId());
        return CleanupTaskResponse.newBuilder().setFound(true).setPid(d.pid()).setExitStatus(d.exit().status())
                .setExitedAt(d.exit().timestamp()).build();
    }
}
