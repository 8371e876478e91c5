package io.a3s.box.shim.net;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.a3s.box.guest.v1.ConfigureNetworkRequest;
import io.a3s.box.guest.v1.NetworkInterface;
import io.a3s.box.guest.v1.NetworkRoute;
import io.a3s.box.shim.sys.Linux;
import io.a3s.box.shim.vm.VmException;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A pod's network, given to its VM. CNI set up the pod's network namespace on the host (a veth {@code eth0} with
 * the pod's addresses and routes); the VM booted before that namespace existed, with a NIC on an empty hub. This
 * reads what the namespace's interface has, creates a tap in the namespace, redirects every frame between the
 * interface and the tap with tc (Kata's "tcfilter": ingress of each, mirred to the other, so the namespace's own
 * stack never sees the pod's traffic), hands the tap to QEMU, which joins it to the NIC's hub, and has the agent
 * give the VM's {@code eth0} the interface's MAC, MTU, addresses and routes. From then on the kernel and QEMU move
 * the frames; nothing of the shim is on the data path. The tap goes with QEMU; the namespace (and the tc rules on
 * its interface) with CNI's teardown.
 */
public final class PodNetwork {
    private static final Logger log = LoggerFactory.getLogger(PodNetwork.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The VM's NIC as the guest kernel names it. */
    static final String GUEST_NIC = "eth0";
    static final Duration COMMAND_LIMIT = Duration.ofSeconds(20);

    /** The namespace's interface, as the VM's must look. */
    public record Interface(String name, String mac, int mtu, List<String> addresses) {}

    /** A route of the namespace through that interface. */
    public record Route(String destination, String gateway, String source, int metric) {}

    /** What is wired: one interface and its routes. */
    public record Config(Interface iface, List<Route> routes, List<String> ignored) {}

    private PodNetwork() {}

    /**
     * Wires the VM into the network namespace at {@code netnsPath}. A namespace with no interface that has an
     * address (only loopback, say) leaves the VM with its own loopback: nothing to wire.
     *
     * @throws StatusException naming the namespace and the step that failed
     */
    public static void wire(VmInstance vm, String netnsPath, Duration agentDeadline) throws StatusException {
        checkNotTheHosts(netnsPath);
        Config config;
        try {
            config = read(netnsPath);
        } catch (IOException e) {
            throw Code.FAILED_PRECONDITION.toException("network namespace %s: %s", netnsPath, e.getMessage());
        }
        if (config == null) {
            log.info("vm {}: network namespace {} has no interface with an address; the VM has only loopback",
                    vm.id(), netnsPath);
            return;
        }
        if (!config.ignored().isEmpty()) {
            log.warn("vm {}: network namespace {}: only {} is wired into the VM, not {}", vm.id(), netnsPath,
                    config.iface().name(), config.ignored());
        }
        String tap = tapName(vm.id());
        int fd = -1;
        try {
            fd = Linux.openTapIn(netnsPath, tap);
            redirect(netnsPath, config.iface(), tap);
            vm.attachTap(fd);
        } catch (IOException | VmException e) {
            undoRedirect(netnsPath, config.iface().name());
            throw Code.FAILED_PRECONDITION.toException("network namespace %s: wire %s to vm %s: %s", netnsPath,
                    config.iface().name(), vm.id(), e.getMessage());
        } finally {
            Linux.close(fd); // QEMU has its own copy once attached; else the tap goes now
        }
        try {
            vm.agent().configureNetwork(request(config), agentDeadline);
        } catch (StatusException e) {
            throw e.status().withContext("network namespace " + netnsPath + ": configure the VM's "
                    + GUEST_NIC).asException();
        }
        log.info("vm {}: wired to {} of {} ({}, mtu {}, {} route(s))", vm.id(), config.iface().name(), netnsPath,
                config.iface().addresses(), config.iface().mtu(), config.routes().size());
    }

    /**
     * Refuses the host's own network namespace ({@code --with-ns network:/proc/1/ns/net}): redirecting its
     * interface to a VM would take the host off its network.
     */
    static void checkNotTheHosts(String netnsPath) throws StatusException {
        Object target;
        try {
            target = Files.readAttributes(Path.of(netnsPath), BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            throw Code.FAILED_PRECONDITION.toException("network namespace %s: %s", netnsPath, e.toString());
        }
        for (String own : List.of("/proc/1/ns/net", "/proc/self/ns/net")) {
            try {
                if (target != null && target.equals(Files.readAttributes(Path.of(own), BasicFileAttributes.class)
                        .fileKey())) {
                    throw Code.INVALID_ARGUMENT.toException("network namespace %s is the host's own (%s): a VM"
                            + " cannot share the host's network, and its interface is not given away", netnsPath, own);
                }
            } catch (IOException e) {
                // not visible here: not ours to compare
            }
        }
    }

    /** What the namespace's interfaces and routes are, or null when no interface has an address. */
    static Config read(String netnsPath) throws IOException {
        String out = run(List.of("nsenter", "--net=" + netnsPath, "sh", "-c",
                "ip -j addr show && echo && ip -j -4 route show table main && echo && ip -j -6 route show table main"));
        String[] parts = out.split("\n\\s*\n", -1);
        if (parts.length < 3) {
            throw new IOException("unexpected output of ip: " + out);
        }
        return parse(parts[0], parts[1], parts[2]);
    }

    /**
     * Picks the interface ({@code eth0} if it has an address, else the first other one that has) and its routes,
     * leaving out what the guest kernel makes by itself (prefix routes of its addresses, link-local ones).
     */
    static Config parse(String addrJson, String routesJson, String routes6Json) throws IOException {
        List<Interface> candidates = new ArrayList<>();
        for (JsonNode link : JSON.readTree(addrJson)) {
            if (!"ether".equals(link.path("link_type").asText())) {
                continue;
            }
            List<String> addresses = new ArrayList<>();
            for (JsonNode a : link.path("addr_info")) {
                String family = a.path("family").asText();
                if ((family.equals("inet") || family.equals("inet6")) && a.path("scope").asText().equals("global")) {
                    addresses.add(a.path("local").asText() + "/" + a.path("prefixlen").asInt());
                }
            }
            if (!addresses.isEmpty()) {
                candidates.add(new Interface(link.path("ifname").asText(), link.path("address").asText(),
                        link.path("mtu").asInt(), addresses));
            }
        }
        if (candidates.isEmpty()) {
            return null;
        }
        Interface chosen = candidates.stream().filter(i -> i.name().equals(GUEST_NIC)).findFirst()
                .orElse(candidates.getFirst());
        List<Route> routes = new ArrayList<>();
        for (String json : List.of(routesJson, routes6Json)) {
            for (JsonNode r : JSON.readTree(json.isBlank() ? "[]" : json)) {
                String dst = r.path("dst").asText();
                if (!r.path("dev").asText().equals(chosen.name()) || r.path("protocol").asText().equals("kernel")
                        || dst.startsWith("fe80:") || dst.startsWith("ff00:") || r.has("type")
                        && !r.path("type").asText().equals("unicast")) {
                    continue;
                }
                routes.add(new Route(dst, r.path("gateway").asText(""), r.path("prefsrc").asText(""),
                        r.path("metric").asInt(0)));
            }
        }
        List<String> ignored = candidates.stream().map(Interface::name).filter(n -> !n.equals(chosen.name()))
                .toList();
        return new Config(chosen, routes, ignored);
    }

    static ConfigureNetworkRequest request(Config c) {
        ConfigureNetworkRequest.Builder b = ConfigureNetworkRequest.newBuilder().addInterfaces(
                NetworkInterface.newBuilder().setGuestName(GUEST_NIC).setName(c.iface().name())
                        .setMac(c.iface().mac()).setMtu(c.iface().mtu()).addAllAddresses(c.iface().addresses()));
        for (Route r : c.routes()) {
            b.addRoutes(NetworkRoute.newBuilder().setDestination(r.destination()).setGateway(r.gateway())
                    .setDevice(c.iface().name()).setSource(r.source()).setMetric(r.metric()));
        }
        return b.build();
    }

    /** The tap's name in the namespace: at most 15 bytes, one per VM. */
    static String tapName(String vmId) {
        return String.format("a3s%08x", vmId.hashCode());
    }

    private static void redirect(String netnsPath, Interface iface, String tap) throws IOException {
        String mirred = " parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev ";
        run(List.of("nsenter", "--net=" + netnsPath, "sh", "-ec", String.join("; ",
                "ip link set " + tap + " mtu " + iface.mtu() + " up",
                "tc qdisc del dev " + iface.name() + " ingress 2>/dev/null || true",
                "tc qdisc add dev " + iface.name() + " ingress",
                "tc filter add dev " + iface.name() + mirred + tap,
                "tc qdisc add dev " + tap + " ingress",
                "tc filter add dev " + tap + mirred + iface.name())));
    }

    private static void undoRedirect(String netnsPath, String iface) {
        try {
            run(List.of("nsenter", "--net=" + netnsPath, "tc", "qdisc", "del", "dev", iface, "ingress"));
        } catch (IOException e) {
            log.debug("network namespace {}: remove the redirect of {}: {}", netnsPath, iface, e.getMessage());
        }
    }

    /** Runs a command to its end within {@link #COMMAND_LIMIT}; its stdout, or its stderr in the exception. */
    static String run(List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        var out = drain(p.getInputStream());
        var err = drain(p.getErrorStream());
        try {
            if (!p.waitFor(COMMAND_LIMIT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + ": no end within " + COMMAND_LIMIT);
            }
            String errText = err.get(1, TimeUnit.SECONDS).strip();
            if (p.exitValue() != 0) {
                throw new IOException(cmd.getLast() + ": exit " + p.exitValue() + (errText.isEmpty() ? ""
                        : ": " + errText));
            }
            return out.get(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException(String.join(" ", cmd) + ": its output: " + e);
        }
    }

    private static CompletableFuture<String> drain(java.io.InputStream in) {
        var f = new CompletableFuture<String>();
        Thread.ofVirtual().start(() -> {
            try (in) {
                f.complete(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }
}
