package io.a3s.box.shim.net;

import com.google.protobuf.ByteString;
import io.a3s.box.guest.v1.OpenPortRequest;
import io.a3s.box.guest.v1.PortCloseRequest;
import io.a3s.box.guest.v1.PortReadRequest;
import io.a3s.box.guest.v1.PortReadResponse;
import io.a3s.box.guest.v1.PortWriteRequest;
import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.ttrpc.StatusException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * kubectl port-forward for a pod in a VM: each connection containerd makes to {@code localhost:PORT} in the pod's
 * network namespace ({@link LoopbackTrap} catches it) is joined to a connection the agent opens to
 * {@code 127.0.0.1:PORT} in the VM, where the pod's containers listen. docs/shim.md, "kubectl port-forward".
 */
public final class PortForward {
    private static final Logger log = LoggerFactory.getLogger(PortForward.class);
    /** OpenPort is answered within the agent's own 5 s connect limit. */
    private static final Duration OPEN_LIMIT = Duration.ofSeconds(10);
    /** A write waits while the guest-side socket's buffer is full: as long as the peer does not read. */
    private static final Duration WRITE_LIMIT = Duration.ofMinutes(10);
    /** A read waits for the peer to send something; the VM dying or the connection closing ends it sooner. */
    private static final Duration READ_LIMIT = Duration.ofDays(3650);
    private static final Duration CALL = Duration.ofSeconds(10);
    private static final int CHUNK = 64 * 1024;

    private PortForward() {}

    /** Starts forwarding the pod namespace {@code netnsPath}'s loopback into the VM whose agent this is. */
    public static LoopbackTrap start(String netnsPath, String vmId, Supplier<AgentClient> agent) throws IOException {
        return LoopbackTrap.open(netnsPath, (fd, port) -> bridge(vmId, agent, fd, port));
    }

    /** Runs one forwarded connection to its end, then closes both sides. */
    static void bridge(String vmId, Supplier<AgentClient> agents, int fd, int port) {
        AgentClient agent;
        long conn;
        try {
            agent = agents.get(); // throws once the VM is gone or handed over
            conn = agent.openPort(OpenPortRequest.newBuilder().setPort(port).build(), OPEN_LIMIT).getConnId();
        } catch (StatusException | RuntimeException e) {
            // the client sees its connection closed at once, as with nothing listening on that port under runc
            log.info("vm {}: port-forward to {}: {}", vmId, port, e.getMessage());
            Linux.close(fd);
            return;
        }
        // read(2) on the host socket blocks its thread: a platform thread for that direction
        Thread up = Thread.ofPlatform().daemon().name("a3s-port-" + port + "-up").start(() -> hostToGuest(agent, fd,
                conn));
        guestToHost(agent, fd, conn);
        try {
            up.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            agent.portClose(PortCloseRequest.newBuilder().setConnId(conn).build(), CALL);
        } catch (StatusException e) {
            log.debug("vm {}: port-forward to {}: close: {}", vmId, port, e.getMessage());
        }
        Linux.close(fd);
    }

    private static void hostToGuest(AgentClient agent, int fd, long conn) {
        byte[] buf = new byte[CHUNK];
        try {
            while (true) {
                int n = Linux.read(fd, buf);
                agent.portWrite(PortWriteRequest.newBuilder().setConnId(conn)
                        .setData(ByteString.copyFrom(buf, 0, Math.max(n, 0))).setCloseWrite(n <= 0).build(), WRITE_LIMIT);
                if (n <= 0) {
                    return;
                }
            }
        } catch (IOException | StatusException e) {
            // the guest side is gone, or the host side reset: stop the other direction too
            Linux.shutdown(fd, Linux.SHUT_RDWR);
        }
    }

    private static void guestToHost(AgentClient agent, int fd, long conn) {
        try {
            while (true) {
                PortReadResponse r = agent.portRead(PortReadRequest.newBuilder().setConnId(conn).setMaxBytes(CHUNK)
                        .build(), READ_LIMIT);
                if (!r.getData().isEmpty()) {
                    Linux.writeAll(fd, r.getData().toByteArray());
                }
                if (r.getEof()) {
                    Linux.shutdown(fd, Linux.SHUT_WR);
                    return;
                }
            }
        } catch (IOException | StatusException e) {
            Linux.shutdown(fd, Linux.SHUT_RDWR);
        }
    }
}
