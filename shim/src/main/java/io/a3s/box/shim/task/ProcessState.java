package io.a3s.box.shim.task;

import io.a3s.box.containerd.types.task.Status;

/**
 * The life of one process (a container's init or an exec), owned by the host. The guest agent only
 * spawns, signals and reports; what is legal when is decided here.
 *
 * <pre>
 *   Created ──start──► Running ◄──resume── Paused
 *      │                 │ └────pause────►   │
 *      │ exit            │ exit              │ exit
 *      └───────────────► Stopped ◄───────────┘
 *                          │ delete
 *                          ▼
 *                       Deleted
 * </pre>
 * A created process that is deleted without having started is killed and goes straight to Deleted.
 */
public sealed interface ProcessState {
    /** Parked in the guest before execve. */
    record Created() implements ProcessState {
    }

    record Running() implements ProcessState {
    }

    /** Frozen with the container (cgroup freezer). */
    record Paused() implements ProcessState {
    }

    record Stopped(ExitStatus exit) implements ProcessState {
    }

    record Deleted(ExitStatus exit) implements ProcessState {
    }

    ProcessState CREATED = new Created();
    ProcessState RUNNING = new Running();
    ProcessState PAUSED = new Paused();

    /** containerd's view of this state. */
    default Status status() {
        return switch (this) {
            case Created c -> Status.CREATED;
            case Running r -> Status.RUNNING;
            case Paused p -> Status.PAUSED;
            case Stopped s -> Status.STOPPED;
            case Deleted d -> Status.STOPPED;
        };
    }

    default String label() {
        return switch (this) {
            case Created c -> "created";
            case Running r -> "running";
            case Paused p -> "paused";
            case Stopped s -> "stopped";
            case Deleted d -> "deleted";
        };
    }
}
