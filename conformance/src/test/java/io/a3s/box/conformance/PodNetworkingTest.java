package io.a3s.box.conformance;

import static io.a3s.box.conformance.HostShell.sh;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A pod's network, as CNI leaves it: a network namespace with a veth {@code eth0} (its address, MTU, default
 * route), whose peer is a host of the test's own (another namespace, running a web server). The sandbox names that
 * namespace; its VM gets the interface's MAC, MTU, address and routes, and traffic goes both ways. Everything stays
 * in the test's namespaces: the pod subnet is unreachable from the host's own namespace.
 */
class PodNetworkingTest extends ConformanceTest {
    private static final String TYPE = "io.kubernetes.cri.container-type";
    private static final String SANDBOX = "io.kubernetes.cri.sandbox-id";
    private static final String SUBNET = "10.213.0.0/16";

    private final String suffix = Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0xffff));
    private final int third = ThreadLocalRandom.current().nextInt(1, 250);
    private final String podNs = "a3s-pod-" + suffix;
    private final String peerNs = "a3s-peer-" + suffix;
    private final String podIp = "10.213." + third + ".2";
    private final String peerIp = "10.213." + third + ".1";
    private Process httpd;
    private String podMac;


    @BeforeAll
    void network() throws Exception {
        sh("ip route replace unreachable " + SUBNET); // nothing addressed to the pods leaves by the default route
        sh(String.join("\n",
                "ip netns add " + podNs,
                "ip netns add " + peerNs,
                "ip link add eth0 netns " + podNs + " mtu 1400 type veth peer name peer0 netns " + peerNs + " mtu 1400",
                "ip -n " + podNs + " addr add " + podIp + "/24 dev eth0",
                "ip -n " + podNs + " link set eth0 up",
                "ip -n " + podNs + " route add default via " + peerIp,
                "ip -n " + peerNs + " addr add " + peerIp + "/24 dev peer0",
                "ip -n " + peerNs + " link set peer0 up",
                "ip -n " + peerNs + " link set lo up"));
        podMac = sh("ip -n " + podNs + " -br link show eth0 | awk '{print $3}'");
        Path www = Files.createDirectories(h.state.resolve("www"));
        Files.writeString(www.resolve("hello"), "hello from the peer\n");
        httpd = new ProcessBuilder("ip", "netns", "exec", peerNs, "busybox", "httpd", "-f", "-p", peerIp + ":8080",
                "-h", www.toString()).redirectErrorStream(true).start();
    }

    @AfterAll
    void removeNetwork() throws Exception {
        if (httpd != null) {
            httpd.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        sh("ip netns del " + podNs + " || true; ip netns del " + peerNs + " || true");
    }

    private List<String> sandboxFlags(String id) {
        return List.of("--annotation", TYPE + "=sandbox", "--annotation", SANDBOX + "=" + id,
                "--with-ns", "network:/var/run/netns/" + podNs);
    }

    private String out(String id, String... cmd) throws Exception {
        PrivateContainerd.Result r = h.exec(id, cmd);
        assertEquals(0, r.exitCode(), id + ": " + String.join(" ", cmd) + ": " + r.stdout() + r.stderr());
        return r.stdout().trim();
    }

    /** GET /hello from the peer's web server, from inside container {@code id} (busybox's wget crashes here). */
    private String get(String id) throws Exception {
        return out(id, "sh", "-c", "printf 'GET /hello HTTP/1.0\\r\\n\\r\\n' | nc -w 20 " + peerIp + " 8080");
    }

    @Test
    void thePodsVmHasItsNamespacesInterfaceAndTalksBothWays() throws Exception {
        h.runDetached(sandboxFlags("net-a"), "net-a", "sleep", "600");
        try {
            String link = out("net-a", "ip", "-o", "link", "show", "eth0");
            assertTrue(link.contains("mtu 1400") && link.contains(podMac), link);
            String addr = out("net-a", "ip", "-o", "-4", "addr", "show", "eth0");
            assertTrue(addr.contains(podIp + "/24"), addr);
            assertTrue(out("net-a", "ip", "route").contains("default via " + peerIp), "the default route");

            // out: the VM reaches the peer through the pod's namespace
            assertTrue(get("net-a").endsWith("hello from the peer"), "the peer's answer");

            // in: the peer reaches a server in the VM at the pod's address
            out("net-a", "sh", "-c", "echo pong from the vm | nc -l -p 9000 > /dev/null 2>&1 &");
            // the server starts in the background: an attempt before it listens is refused, and its complaint
            // must not end up in the answer of the one that gets through
            String pong = sh("for i in $(seq 1 20); do ip netns exec " + peerNs + " busybox nc -w 5 " + podIp
                    + " 9000 </dev/null 2>/dev/null && break; sleep 0.5; done");
            assertEquals("pong from the vm", pong, "the peer's answer from port 9000 in the VM (20 tries)");

            // a container of the pod is on the same network
            List<String> member = new ArrayList<>(List.of("--annotation", TYPE + "=container", "--annotation",
                    SANDBOX + "=net-a", "--with-ns", "network:/proc/" + h.taskRow("net-a").orElseThrow()[1]
                            + "/ns/net"));
            h.runDetached(member, "net-a-c1", "sleep", "600");
            assertTrue(get("net-a-c1").endsWith("hello from the peer"), "the peer's answer");
        } finally {
            h.remove("net-a-c1");
            h.remove("net-a");
        }
    }

    @Test
    void aNetworkNamespaceThatDoesNotExistFailsTheCreateClearly() throws Exception {
        PrivateContainerd.Result r = h.run(List.of("--with-ns", "network:/var/run/netns/a3s-no-such-" + suffix),
                "net-none", "true");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.stderr().contains("network namespace /var/run/netns/a3s-no-such-" + suffix), r.stderr());
        h.remove("net-none");
    }
}
