package io.a3s.box.shim.net;

import io.a3s.box.shim.sys.Linux;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Catches the TCP connections made to 127.0.0.1 inside a pod's network namespace on the host, and hands each to a
 * handler with the port it was made to. containerd's CRI PortForward (kubectl port-forward) dials
 * {@code localhost:PORT} in that namespace, where nothing of an a3s-box pod listens: its processes, and their
 * loopback, are in the VM. An iptables REDIRECT in the namespace (its own rules only) sends every such connection
 * to one listener of the shim there, and {@code SO_ORIGINAL_DST} tells the port it was meant for. docs/shim.md,
 * "kubectl port-forward".
 */
public final class LoopbackTrap implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LoopbackTrap.class);

    /** Takes one caught connection: its fd, which the handler owns and closes, and the port it was made to. */
    @FunctionalInterface
    public interface Handler {
        void connected(int fd, int port);
    }

    private final String netnsPath;
    private final Linux.Listener listener;
    private final List<String> rule;
    private final Thread acceptor;
    private volatile boolean closed;

    private LoopbackTrap(String netnsPath, Linux.Listener listener, List<String> rule, Handler handler) {
        this.netnsPath = netnsPath;
        this.listener = listener;
        this.rule = rule;
        // accept(2) blocks its thread: a platform one, which closing the trap wakes (shutdown of the listener)
        this.acceptor = Thread.ofPlatform().daemon().name("a3s-loopback-trap").unstarted(() -> acceptLoop(handler));
    }

    /**
     * Starts catching in {@code netnsPath}: a listener on 127.0.0.1 there, then the rule that redirects every
     * other TCP port of 127.0.0.1 to it. Nothing is left behind when it fails.
     */
    public static LoopbackTrap open(String netnsPath, Handler handler) throws IOException {
        Linux.Listener l = Linux.listenOnLoopbackIn(netnsPath);
        String port = Integer.toString(l.port());
        List<String> rule = List.of("OUTPUT", "-o", "lo", "-p", "tcp", "-d", "127.0.0.1", "!", "--dport", port,
                "-j", "REDIRECT", "--to-ports", port);
        try {
            iptables(netnsPath, "-A", rule);
        } catch (IOException e) {
            Linux.close(l.fd());
            throw new IOException("network namespace " + netnsPath + ": redirect of 127.0.0.1: " + e.getMessage(), e);
        }
        LoopbackTrap trap = new LoopbackTrap(netnsPath, l, rule, handler);
        trap.acceptor.start();
        log.debug("network namespace {}: connections to 127.0.0.1 caught on port {}", netnsPath, port);
        return trap;
    }

    /** The port of the listener in the namespace (the one port the rule leaves alone). */
    public int port() {
        return listener.port();
    }

    private void acceptLoop(Handler handler) {
        while (!closed) {
            int fd;
            try {
                fd = Linux.accept(listener.fd());
            } catch (Linux.ErrnoException e) {
                if (!closed) {
                    log.warn("network namespace {}: accept: {}", netnsPath, e.getMessage());
                }
                return;
            }
            int port;
            try {
                port = Linux.originalDestinationPort(fd);
            } catch (Linux.ErrnoException e) {
                log.warn("network namespace {}: a caught connection without its port: {}", netnsPath, e.getMessage());
                Linux.close(fd);
                continue;
            }
            Thread.ofVirtual().name("a3s-loopback-" + port).start(() -> handler.connected(fd, port));
        }
    }

    /**
     * Removes the rule and the listener. Idempotent; never throws. The namespace may be gone already (the pod's
     * network torn down first), and then so are both.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            iptables(netnsPath, "-D", rule);
        } catch (IOException e) {
            log.debug("network namespace {}: remove the redirect of 127.0.0.1: {}", netnsPath, e.getMessage());
        }
        Linux.shutdown(listener.fd(), Linux.SHUT_RDWR);
        try {
            acceptor.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Linux.close(listener.fd());
    }

    private static void iptables(String netnsPath, String op, List<String> rule) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=" + netnsPath, "iptables", "-w", "5", "-t",
                "nat", op));
        cmd.addAll(rule);
        PodNetwork.run(cmd);
    }
}
