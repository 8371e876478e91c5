package io.a3s.box.shim.events;

import com.google.protobuf.Message;
import io.a3s.box.containerd.events.TaskCheckpointed;
import io.a3s.box.containerd.events.TaskCreate;
import io.a3s.box.containerd.events.TaskDelete;
import io.a3s.box.containerd.events.TaskExecAdded;
import io.a3s.box.containerd.events.TaskExecStarted;
import io.a3s.box.containerd.events.TaskExit;
import io.a3s.box.containerd.events.TaskOOM;
import io.a3s.box.containerd.events.TaskPaused;
import io.a3s.box.containerd.events.TaskResumed;
import io.a3s.box.containerd.events.TaskStart;

/** containerd's task event topics, and the one that belongs to each event message. */
public final class Topics {
    public static final String TASK_CREATE = "/tasks/create";
    public static final String TASK_START = "/tasks/start";
    public static final String TASK_EXIT = "/tasks/exit";
    public static final String TASK_DELETE = "/tasks/delete";
    public static final String TASK_EXEC_ADDED = "/tasks/exec-added";
    public static final String TASK_EXEC_STARTED = "/tasks/exec-started";
    public static final String TASK_OOM = "/tasks/oom";
    public static final String TASK_PAUSED = "/tasks/paused";
    public static final String TASK_RESUMED = "/tasks/resumed";
    public static final String TASK_CHECKPOINTED = "/tasks/checkpointed";

    private Topics() {
    }

    /** The topic of a task event message; a message that is no task event is a programming error. */
    public static String of(Message event) {
        return switch (event) {
            case TaskCreate e -> TASK_CREATE;
            case TaskStart e -> TASK_START;
            case TaskExit e -> TASK_EXIT;
            case TaskDelete e -> TASK_DELETE;
            case TaskExecAdded e -> TASK_EXEC_ADDED;
            case TaskExecStarted e -> TASK_EXEC_STARTED;
            case TaskOOM e -> TASK_OOM;
            case TaskPaused e -> TASK_PAUSED;
            case TaskResumed e -> TASK_RESUMED;
            case TaskCheckpointed e -> TASK_CHECKPOINTED;
            default -> throw new IllegalArgumentException("not a task event: " + event.getDescriptorForType()
                    .getFullName());
        };
    }
}
