package io.a3s.box.shim.task;

import io.a3s.box.shim.stdio.ProcessIo;
import io.a3s.box.shim.stdio.StdioPaths;

import java.util.concurrent.CompletableFuture;

/**
 * One process of a task: the init process ({@code execId} empty) or an exec. Its fields are guarded by the
 * owning {@link Container}'s lock, except {@link #exited}, which completes once and may be waited on
 * without it.
 */
final class TaskProcess {
    final String execId;
    final StdioPaths stdio;
    final ProcessIo io;
    final CompletableFuture<ExitStatus> exited = new CompletableFuture<>();
    // guarded by container lock
    ProcessState state = ProcessState.CREATED;
    // guarded by container lock; the pid as reported (TaskPids), known once created
    int pid;

    TaskProcess(String execId, StdioPaths stdio, ProcessIo io) {
        this.execId = execId;
        this.stdio = stdio;
        this.io = io;
    }

    boolean isInit() {
        return execId.isEmpty();
    }

    /** Started and not yet exited. */
    boolean isLive() {
        return state instanceof ProcessState.Running || state instanceof ProcessState.Paused;
    }

    String describe(String containerId) {
        return isInit() ? "task " + containerId : "exec " + execId + " of task " + containerId;
    }
}
