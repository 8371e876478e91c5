package io.a3s.box.conformance;

import io.a3s.box.conformance.cri.v1.ExecSyncResponse;
import io.a3s.box.conformance.cri.v1.PodSandboxConfig;
import io.a3s.box.conformance.cri.v1.PortMapping;
import io.a3s.box.conformance.cri.v1.PodSandboxState;
import io.a3s.box.conformance.cri.v1.PodSandboxStatus;
import io.a3s.box.conformance.cri.v1.PodSandboxStatusResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.ClassOrderer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestClassOrder;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pods on a real CNI network through containerd's CRI plugin: each pod gets an address of the bridge's subnet,
 * which its containers see on their {@code eth0} (for {@code a3s}, the VM's, which the shim wired into the
 * pod's network namespace), pods reach each other at their addresses, and the node reaches a pod at its
 * address (as kubelet's probes do). Both runtime handlers, as CriPodTest.
 *
 * <p>The network is {@link BridgeNetwork}'s: containerd runs in a network namespace of the test's own, where
 * CNI's bridge and the pods' veths live; nothing is on the host's network, and every connection here is to a
 * pod address of that namespace's /24 (routed {@code unreachable} on the host). The "node" is that namespace.
 */
@Timeout(600)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestClassOrder(ClassOrderer.OrderAnnotation.class)
class CriNetworkTest {
    static final int PORT = 8080;
    /** The node's port a host-port mapping forwards to {@link #PORT} of the pod. */
    static final int HOST_PORT = 30080;
    private static final Pattern MAC = Pattern.compile("link/ether ([0-9a-f]{2}(?::[0-9a-f]{2}){5})");
    /** The sandbox's network namespace in the runtime spec of its verbose status (containerd 1.6's info). */
    private static final Pattern NETNS_PATH =
            Pattern.compile("\\{\"type\"\\s*:\\s*\"network\"\\s*,\\s*\"path\"\\s*:\\s*\"([^\"]+)\"");

    PrivateCri h;
    BridgeNetwork net;

    @BeforeAll
    void startCri() throws Exception {
        h = PrivateCri.withBridgeNetwork();
        net = h.network;
    }

    @AfterAll
    void stopCri() throws Exception {
        if (h != null) {
            h.close();
        }
    }

    /** runc: the pod's containers are in its network namespace, on its veth. */
    @Nested
    @Order(1)
    class Runc extends NetworkTests {
        @Override
        String handler() {
            return PrivateCri.RUNC;
        }

        @Override
        void assertPlacement(String containerId) {
            assertEquals(HOST_KERNEL, exec(containerId, "uname", "-r"), "not on the host's kernel");
        }
    }

    /** io.a3s.box: the pod's containers are in its VM, whose eth0 the shim wired to the namespace's. */
    @Nested
    @Order(2)
    class A3s extends NetworkTests {
        @Override
        String handler() {
            return PrivateCri.A3S;
        }

        @Override
        void assertPlacement(String containerId) {
            assertNotEquals(HOST_KERNEL, exec(containerId, "uname", "-r"), "on the host's kernel, not in a VM");
        }
    }

    static final String HOST_KERNEL = System.getProperty("os.version");

    /** The tests, for one runtime handler. */
    abstract class NetworkTests {
        /** The CRI runtime handler the pods run with. */
        abstract String handler();

        /** Checks that a container runs where the handler runs it (so that its eth0 is the one meant). */
        abstract void assertPlacement(String containerId);

        @AfterEach
        void removePodsAndCheckNothingLeft() throws Exception {
            List<Throwable> errors = h.removeAllPods();
            if (!errors.isEmpty()) {
                AssertionError e = new AssertionError("removing the test's pods failed");
                errors.forEach(e::addSuppressed);
                throw e;
            }
            h.assertNothingLeft();
        }

        /** RunPodSandbox with a message that has the logs a failure needs. */
        String runPod(PodSandboxConfig pod) {
            try {
                return h.cri.runPodSandbox(pod, handler());
            } catch (RuntimeException e) {
                throw new AssertionError("RunPodSandbox (" + handler() + "): " + e + diagnostics(), e);
            }
        }

        /** Create and Start, with a message that has the logs a failure needs. */
        String runContainer(String podId, PodSandboxConfig pod, String name, String... command) {
            try {
                return h.run(podId, pod, PrivateCri.container(name, command));
            } catch (RuntimeException e) {
                throw new AssertionError("CreateContainer/StartContainer " + name + " (" + handler() + "): " + e
                        + diagnostics(), e);
            }
        }

        String diagnostics() {
            return "\ncontainerd log:\n" + ShimHarness.tail(h.containerd.log(), 30) + "\nshim daemon log:\n"
                    + h.shimLog(30);
        }

        /** The pod's IP as PodSandboxStatus reports it, checked to be a pod address of the bridge's /24. */
        String podIp(String podId) {
            PodSandboxStatus s = h.cri.podSandboxStatus(podId, false).getStatus();
            assertEquals(PodSandboxState.SANDBOX_READY, s.getState(), s.toString());
            String ip = s.getNetwork().getIp();
            assertTrue(net.isPodAddress(ip), "pod IP " + ip + " is not an address of " + net.podSubnet);
            return ip;
        }

        /** ExecSync of {@code cmd} in container {@code id}; its stdout, asserting exit code 0. */
        String exec(String id, String... cmd) {
            ExecSyncResponse r = h.cri.execSync(id, List.of(cmd), 120);
            String out = r.getStdout().toString(StandardCharsets.UTF_8);
            assertEquals(0, r.getExitCode(), () -> String.join(" ", cmd) + " in " + id + ": exit " + r.getExitCode()
                    + ", stdout: " + out + ", stderr: " + r.getStderr().toString(StandardCharsets.UTF_8)
                    + diagnostics());
            return out.trim();
        }

        /**
         * A pod whose container serves {@code answer} on {@value #PORT} (busybox nc, one connection at a time, for
         * ever); returns the pod's IP. A client may connect before it listens: clients retry.
         */
        String serverPod(String name, String answer) {
            PodSandboxConfig pod;
            try {
                pod = h.pod(name, name + "-host");
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            String podId = runPod(pod);
            runContainer(podId, pod, "server", "sh", "-c",
                    "while true; do echo " + answer + " | nc -l -p " + PORT + "; done");
            return podIp(podId);
        }

        /**
         * A shell loop that connects to {@code ip}:{@value #PORT} until an answer comes (the server may not
         * listen yet, or be between two connections), up to 30 tries; prints the answer, or fails.
         */
        static String connectLoop(String nc, String ip) {
            return connectLoop(nc, ip, PORT);
        }

        static String connectLoop(String nc, String ip, int port) {
            return "for i in $(seq 1 30); do out=$(" + nc + " -w 10 " + ip + " " + port + " </dev/null 2>&1);"
                    + " if [ -n \"$out\" ] && ! echo \"$out\" | grep -q 'nc:'; then echo \"$out\"; exit 0; fi;"
                    + " echo \"try $i: $out\" >&2; sleep 1; done; exit 1";
        }

        @Test
        void aPodHasAnAddressOfTheBridgeOnItsEth0AndADefaultRouteViaTheGateway() throws Exception {
            PodSandboxConfig pod = h.pod("addr", "addr-host");
            String podId = runPod(pod);
            String ip = podIp(podId);
            String c = runContainer(podId, pod, "c", "sleep", "1000");
            assertPlacement(c);

            String addr = exec(c, "ip", "-o", "-4", "addr", "show", "eth0");
            assertTrue(addr.contains("inet " + ip + "/24"), "eth0 of the container: " + addr);
            String routes = exec(c, "ip", "route");
            assertTrue(routes.lines().anyMatch(l -> l.startsWith("default via " + net.gateway + " ")),
                    "the container's routes: " + routes);

            // the container's eth0 is the one CNI made (runc), or has its MAC (a3s: the VM's NIC)
            String info = h.cri.podSandboxStatus(podId, true).getInfoMap().getOrDefault("info", "");
            Matcher netns = NETNS_PATH.matcher(info);
            assertTrue(netns.find(), "no network namespace in the sandbox's verbose info: " + info);
            String cniLink = HostShell.sh("nsenter --net=" + netns.group(1) + " ip -o link show eth0");
            String link = exec(c, "ip", "-o", "link", "show", "eth0");
            assertEquals(mac(cniLink), mac(link), "the pod netns's eth0: " + cniLink + "; the container's: "
                    + link);
        }

        @Test
        void aPodReachesAnotherPodAtItsAddress() throws Exception {
            String ipA = serverPod("server-a", "hi-from-A");
            PodSandboxConfig podB = h.pod("client-b", "client-b-host");
            String podIdB = runPod(podB);
            String ipB = podIp(podIdB);
            assertNotEquals(ipA, ipB, "both pods have the same IP");
            String client = runContainer(podIdB, podB, "client", "sleep", "1000");

            assertEquals("hi-from-A", exec(client, "sh", "-c", connectLoop("nc", ipA)));
        }

        @Test
        void theNodeReachesAPodAtItsAddress() throws Exception {
            String ip = serverPod("probed", "hi-from-the-pod");
            PrivateContainerd.Result r = net.exec(Duration.ofSeconds(120), "sh", "-c",
                    connectLoop("busybox nc", ip));
            assertEquals(0, r.exitCode(), () -> "from " + net.netns + " to " + ip + ":" + PORT + ": " + r.stderr()
                    + diagnostics());
            assertEquals("hi-from-the-pod", r.stdout().trim());
        }

        @Test
        void aHostPortMappingReachesThePod() throws Exception {
            // kubelet's hostPort: CNI's portmap DNATs the node's port to the pod's address, then the bridge
            PodSandboxConfig pod = h.pod("hostport", "hostport-host").toBuilder().addPortMappings(PortMapping
                    .newBuilder().setContainerPort(PORT).setHostPort(HOST_PORT)).build();
            String podId = runPod(pod);
            runContainer(podId, pod, "server", "sh", "-c",
                    "while true; do echo via-host-port | nc -l -p " + PORT + "; done");
            PrivateContainerd.Result r = net.exec(Duration.ofSeconds(120), "sh", "-c",
                    connectLoop("busybox nc", net.gateway, HOST_PORT));
            assertEquals(0, r.exitCode(), () -> "to the node's " + net.gateway + ":" + HOST_PORT + ": " + r.stderr()
                    + diagnostics());
            assertEquals("via-host-port", r.stdout().trim());
        }

        @Test
        void portForwardReachesAServerOnThePodsLoopback() throws Exception {
            // kubectl port-forward: containerd dials localhost:PORT inside the pod's network namespace on the
            // node. The server listens on 127.0.0.1 only: only that dial can reach it.
            PodSandboxConfig pod = h.pod("forwarded", "forwarded-host");
            String podId = runPod(pod);
            runContainer(podId, pod, "web", "sh", "-c", "mkdir -p /srv && echo forwarded-page > /srv/index.html"
                    + " && exec httpd -f -p 127.0.0.1:8080 -h /srv");
            String info = h.cri.podSandboxStatus(podId, true).getInfoMap().getOrDefault("info", "");
            Matcher netns = NETNS_PATH.matcher(info);
            assertTrue(netns.find(), "no network namespace in the sandbox's verbose info: " + info);
            String dial = "nsenter --net=" + netns.group(1) + " busybox nc -w 5 127.0.0.1 ";
            // until the server is up: a refused (runc) or at once closed (a3s) connection gives no page
            String page = HostShell.sh("for i in $(seq 1 60); do r=$(printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n'"
                    + " | " + dial + "8080 2>/dev/null || true); case $r in *forwarded-page*) echo \"$r\"; exit 0;;"
                    + " esac; sleep 0.5; done; echo \"no page: $r\"");
            assertTrue(page.contains("200 OK") && page.contains("forwarded-page"), page + diagnostics());
            // a port nothing listens on gives no bytes and does not hang
            long t0 = System.nanoTime();
            String none = HostShell.sh("echo x | " + dial + "8081 2>/dev/null || true");
            assertEquals("", none);
            assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(15).toNanos(), "the dial to a closed port hung");
        }

        private static String mac(String ipLink) {
            Matcher m = MAC.matcher(ipLink);
            assertTrue(m.find(), "no MAC in: " + ipLink);
            return m.group(1);
        }
    }
}
