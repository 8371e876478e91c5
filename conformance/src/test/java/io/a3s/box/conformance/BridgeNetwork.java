package io.a3s.box.conformance;

import static io.a3s.box.conformance.HostShell.sh;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * A pod network as a node has one, kept off the host's network: a network namespace of the test's own
 * ({@code a3s-cri-<random>}, loopback up, nothing else) in which containerd runs ({@link #wrapper()}), so that
 * what CNI creates for the pods (the bridge {@value #BRIDGE}, the veths' host ends, the gateway address, IP
 * forwarding) lives only there, and a CNI config ({@link #conflist}) of Debian's containernetworking-plugins:
 * {@code bridge} with {@code host-local} IPAM on a /24 of {@value #SUBNET}, and {@code loopback}.
 *
 * <p>That namespace is what the node's own network is for the pods: it has the bridge's gateway address and no
 * other route, so a pod reaches the other pods and the "node" and nothing beyond. On the host,
 * {@value #SUBNET} is routed {@code unreachable} (the machines' rule for a test subnet: nothing addressed to it
 * may leave by the default route); the route is left in place, as PodNetworkingTest leaves its own.
 *
 * <p>containerd is started with {@code nsenter --net}, not {@code ip netns exec}: the latter also gives the
 * process a mount namespace of its own (to remount /sys), where containerd's mounts (rootfs, the pods' netns
 * and /dev/shm) would be out of the harness's sight, and its leak checks blind.
 */
final class BridgeNetwork implements AutoCloseable {
    /** The test pod subnet; each harness takes a /24 of it. */
    static final String SUBNET = "10.214.0.0/16";
    /** The bridge's name, in the harness's namespace (so it cannot collide with a host's). */
    static final String BRIDGE = "a3scni0";

    final String suffix = Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000, 0xfffff));
    /** The namespace's name ({@code ip netns}). */
    final String netns = "a3s-cri-" + suffix;
    /** The CNI network's name, which libcni's cache files under /var/lib/cni/results start with. */
    final String name = "a3s-bridge-" + suffix;
    private final int third = ThreadLocalRandom.current().nextInt(1, 255);
    /** The pods' /24, e.g. {@code 10.214.7.0/24}. */
    final String podSubnet = "10.214." + third + ".0/24";
    /** The bridge's address: the pods' default gateway, and the "node"'s address on their network. */
    final String gateway = "10.214." + third + ".1";
    /** host-local's directory of reserved addresses (under the harness's directory, not /var/lib/cni/networks). */
    final Path ipamDir;

    private BridgeNetwork(Path ipamDir) {
        this.ipamDir = ipamDir;
    }

    /** Creates the namespace (loopback up) and the host's unreachable route; ipamDir is where host-local keeps its. */
    static BridgeNetwork create(Path ipamDir) throws IOException, InterruptedException {
        BridgeNetwork n = new BridgeNetwork(ipamDir);
        sh("ip route replace unreachable " + SUBNET);
        sh("ip netns add " + n.netns);
        try {
            sh("ip -n " + n.netns + " link set lo up");
        } catch (IOException e) {
            n.close();
            throw e;
        }
        return n;
    }

    /** The namespace's bind mount, as {@code ip netns add} made it. */
    Path netnsPath() {
        return Path.of("/run/netns", netns);
    }

    /** What containerd is started through: {@code nsenter --net=<the namespace>}. */
    List<String> wrapper() {
        return List.of("nsenter", "--net=" + netnsPath());
    }

    /** Whether {@code ip} is a pod address of this network: in its /24, and neither the gateway nor broadcast. */
    boolean isPodAddress(String ip) {
        String prefix = gateway.substring(0, gateway.lastIndexOf('.') + 1);
        if (!ip.startsWith(prefix)) {
            return false;
        }
        try {
            int last = Integer.parseInt(ip.substring(prefix.length()));
            return last >= 2 && last <= 254;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /**
     * The CNI network: a bridge {@value #BRIDGE} that has the gateway's address (isGateway), no masquerading, hairpin mode on the pods' ports; host-local hands out the /24's addresses, keeping
     * its reservations in {@link #ipamDir}, and gives each pod a default route via the gateway; loopback, chained
     * after, brings the pod's {@code lo} up and passes bridge's result on (containerd 1.6 takes the pod's IP from
     * it: the address of {@code eth0}); portmap, between them, turns a pod's host ports (kubelet's
     * {@code hostPort}) into DNAT rules of the namespace's iptables, as on a node.
     */
    String conflist() {
        return """
                {
                  "cniVersion": "1.0.0",
                  "name": "%1$s",
                  "plugins": [
                    {
                      "type": "bridge",
                      "bridge": "%2$s",
                      "isGateway": true,
                      "ipMasq": false,
                      "hairpinMode": true,
                      "ipam": {
                        "type": "host-local",
                        "dataDir": "%3$s",
                        "ranges": [[{"subnet": "%4$s", "gateway": "%5$s"}]],
                        "routes": [{"dst": "0.0.0.0/0"}]
                      }
                    },
                    {
                      "type": "portmap",
                      "capabilities": {"portMappings": true}
                    },
                    {
                      "type": "loopback"
                    }
                  ]
                }
                """.formatted(name, BRIDGE, ipamDir, podSubnet, gateway);
    }

    /** The plugins the conflist runs, all of Debian's /usr/lib/cni. */
    static List<String> plugins() {
        return List.of("bridge", "host-local", "portmap", "loopback");
    }

    /** Runs {@code cmd} in the namespace ({@code ip netns exec}), as the node runs a probe of a pod. */
    PrivateContainerd.Result exec(java.time.Duration timeout, String... cmd) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", netns));
        full.addAll(List.of(cmd));
        return PrivateContainerd.run(full, null, timeout);
    }

    /**
     * What the pods may leave behind once all are removed: the namespace's links (CNI's DEL removes each pod's
     * veth; {@code lo} and the bridge stay), host-local's reservations (released on DEL) and libcni's cached
     * results of this network in /var/lib/cni/results (removed on DEL). Empty when nothing is left.
     */
    List<String> leftovers() throws IOException, InterruptedException {
        List<String> left = new ArrayList<>();
        String links = sh("ip -n " + netns + " -o link show");
        for (String l : links.lines().toList()) {
            String[] f = l.split(":\\s+", 3);
            String link = f.length > 1 ? f[1].replaceFirst("@.*", "") : l;
            if (!link.equals("lo") && !link.equals(BRIDGE)) {
                left.add("link " + link + " in " + netns);
            }
        }
        Path reservations = ipamDir.resolve(name);
        if (Files.isDirectory(reservations)) {
            try (Stream<Path> files = Files.list(reservations)) {
                // host-local keeps "lock" and "last_reserved_ip.0"; a reservation is a file named by its address
                files.map(f -> f.getFileName().toString()).filter(f -> Character.isDigit(f.charAt(0)))
                        .forEach(f -> left.add("host-local reservation " + f));
            }
        }
        Path cache = Path.of("/var/lib/cni/results");
        if (Files.isDirectory(cache)) {
            try (Stream<Path> files = Files.list(cache)) {
                files.map(f -> f.getFileName().toString()).filter(f -> f.startsWith(name + "-"))
                        .forEach(f -> left.add("libcni cached result " + cache.resolve(f)));
            }
        }
        return left;
    }

    /** Deletes the namespace (its bridge goes with it once nothing runs in it); the host's route stays. */
    @Override
    public void close() throws IOException, InterruptedException {
        sh("ip netns del " + netns + " 2>/dev/null || true");
    }

}
