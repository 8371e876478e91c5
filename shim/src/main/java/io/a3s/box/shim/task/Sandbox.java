package io.a3s.box.shim.task;

import io.a3s.box.shim.guest.AgentClient;

import java.util.concurrent.CompletableFuture;

/**
 * The VM a container runs in, as the task layer sees it: the agent to talk to, and the one way to give the
 * VM back. Made by the daemon at Create (a lease from the pool plus the container's mounts in the VM's
 * share directory).
 */
public interface Sandbox {
    String vmId();

    /** The guest agent of this VM; calls fail with UNAVAILABLE once the VM is gone. */
    AgentClient agent();

    /** Completes when the VM has died or was released. */
    CompletableFuture<?> onExit();

    /**
     * Whether {@link #release} destroys the VM with everything in it. Then tearing the container down in the
     * guest first is wasted time on the delete path (and under TCG, a lot of it).
     */
    default boolean releaseDestroysVm() {
        return false;
    }

    /** The container's first process was released (poststart hooks run here). Never throws. */
    default void started() {}

    /**
     * Kills the VM now, with everything in it, because its guest stopped answering ({@code why}): every process
     * in it then exits as a dead VM's do (137). {@link #release} is still due. Idempotent.
     */
    void kill(String why);

    /**
     * Unmounts what was mounted for the container in the share directory and gives the VM back, which
     * destroys it (a VM that ran a workload never serves another). Idempotent; never throws.
     */
    void release();
}
