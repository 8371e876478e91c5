package io.a3s.box.shim.task;

import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.ttrpc.StatusException;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A VM for task tests: a {@link FakeAgent} on a Unix socket and a real {@link AgentClient} connected to it
 * (session handshake done).
 * Releasing it (or {@link #killVm}) is the VM dying: the agent's connection drops and {@link #onExit}
 * completes.
 */
final class FakeSandbox implements Sandbox {
    final FakeAgent fake;
    final AtomicInteger releases = new AtomicInteger();
    final AtomicInteger kills = new AtomicInteger();
    /** Whether this VM holds one container, as the daemon's do (see {@link Sandbox#releaseDestroysVm}). */
    volatile boolean destroysVm;
    private final String vmId;
    private final CompletableFuture<Void> vmExit;
    private final AgentClient agent;

    private FakeSandbox(String vmId, FakeAgent fake, AgentClient agent, CompletableFuture<Void> vmExit) {
        this.vmId = vmId;
        this.fake = fake;
        this.agent = agent;
        this.vmExit = vmExit;
    }

    static FakeSandbox start(Path dir, String vmId) throws IOException {
        Path socket = dir.resolve(vmId + ".sock");
        FakeAgent fake = FakeAgent.start(socket);
        CompletableFuture<Void> vmExit = new CompletableFuture<>();
        AgentClient agent = AgentClient.connect(vmId, socket, vmExit);
        try {
            agent.handshake(Instant.now().plusSeconds(5));
        } catch (StatusException e) {
            fake.die();
            throw new IOException("handshake with the fake agent: " + e.getMessage(), e);
        }
        return new FakeSandbox(vmId, fake, agent, vmExit);
    }

    @Override
    public String vmId() {
        return vmId;
    }

    @Override
    public AgentClient agent() {
        return agent;
    }

    @Override
    public CompletableFuture<?> onExit() {
        return vmExit;
    }

    @Override
    public boolean releaseDestroysVm() {
        return destroysVm;
    }

    @Override
    public void kill(String why) {
        kills.incrementAndGet();
        killVm();
    }

    @Override
    public void release() {
        releases.incrementAndGet();
        killVm();
    }

    /** The VMM dies: the agent's connection drops, then the VM's exit is noticed. Idempotent. */
    void killVm() {
        fake.die();
        vmExit.complete(null);
    }
}
