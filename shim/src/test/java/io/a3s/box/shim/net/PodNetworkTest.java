package io.a3s.box.shim.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.a3s.box.guest.v1.ConfigureNetworkRequest;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What is read off a pod's network namespace (`ip -j` output as iproute2 6.1 prints it) and sent to the agent. */
class PodNetworkTest {
    private static final String LO = "{\"ifindex\":1,\"ifname\":\"lo\",\"mtu\":65536,\"link_type\":\"loopback\","
            + "\"address\":\"00:00:00:00:00:00\",\"addr_info\":[{\"family\":\"inet\",\"local\":\"127.0.0.1\","
            + "\"prefixlen\":8,\"scope\":\"host\"}]}";
    private static final String ETH0 = "{\"ifindex\":3,\"link\":\"p0\",\"ifname\":\"eth0\",\"mtu\":1450,"
            + "\"link_type\":\"ether\",\"address\":\"6e:6a:22:77:be:5c\",\"addr_info\":["
            + "{\"family\":\"inet\",\"local\":\"10.250.0.5\",\"prefixlen\":24,\"scope\":\"global\"},"
            + "{\"family\":\"inet6\",\"local\":\"fd00:250::5\",\"prefixlen\":64,\"scope\":\"global\"},"
            + "{\"family\":\"inet6\",\"local\":\"fe80::6c6a:22ff:fe77:be5c\",\"prefixlen\":64,\"scope\":\"link\"}]}";
    private static final String ROUTES = "[{\"dst\":\"default\",\"gateway\":\"10.250.0.1\",\"dev\":\"eth0\","
            + "\"flags\":[]},{\"dst\":\"10.250.0.0/24\",\"dev\":\"eth0\",\"protocol\":\"kernel\",\"scope\":\"link\","
            + "\"prefsrc\":\"10.250.0.5\",\"flags\":[]},{\"dst\":\"10.96.0.0/12\",\"dev\":\"eth0\",\"scope\":\"link\","
            + "\"prefsrc\":\"10.250.0.5\",\"flags\":[]}]";
    private static final String ROUTES6 = "[{\"dst\":\"fd00:250::/64\",\"dev\":\"eth0\",\"protocol\":\"kernel\","
            + "\"metric\":256,\"flags\":[]},{\"dst\":\"fe80::/64\",\"dev\":\"eth0\",\"protocol\":\"kernel\","
            + "\"metric\":256},{\"dst\":\"default\",\"gateway\":\"fd00:250::1\",\"dev\":\"eth0\",\"metric\":1024}]";

    @Test
    void theInterfaceWithItsGlobalAddressesAndTheRoutesTheKernelDoesNotMake() throws Exception {
        PodNetwork.Config c = PodNetwork.parse("[" + LO + "," + ETH0 + "]", ROUTES, ROUTES6);
        assertEquals(new PodNetwork.Interface("eth0", "6e:6a:22:77:be:5c", 1450,
                List.of("10.250.0.5/24", "fd00:250::5/64")), c.iface());
        assertEquals(List.of(new PodNetwork.Route("default", "10.250.0.1", "", 0),
                new PodNetwork.Route("10.96.0.0/12", "", "10.250.0.5", 0),
                new PodNetwork.Route("default", "fd00:250::1", "", 1024)), c.routes());
        assertEquals(List.of(), c.ignored());

        ConfigureNetworkRequest r = PodNetwork.request(c);
        assertEquals("eth0", r.getInterfaces(0).getGuestName());
        assertEquals("6e:6a:22:77:be:5c", r.getInterfaces(0).getMac());
        assertEquals(1450, r.getInterfaces(0).getMtu());
        assertEquals(3, r.getRoutesCount());
        assertEquals("eth0", r.getRoutes(1).getDevice());
    }

    @Test
    void aNamespaceWithOnlyLoopbackHasNothingToWire() throws Exception {
        assertNull(PodNetwork.parse("[" + LO + "]", "[]", ""));
    }

    @Test
    void eth0IsPreferredAndOtherInterfacesAreNamed() throws Exception {
        String net1 = ETH0.replace("\"eth0\"", "\"net1\"").replace("10.250.0.5", "10.251.0.5");
        PodNetwork.Config c = PodNetwork.parse("[" + net1 + "," + ETH0 + "]", ROUTES, ROUTES6);
        assertEquals("eth0", c.iface().name());
        assertEquals(List.of("net1"), c.ignored());
    }

    @Test
    void theHostsOwnNamespaceIsRefusedAndANamespaceThatIsNotThereNamed() {
        var host = assertThrows(StatusException.class, () -> PodNetwork.checkNotTheHosts("/proc/self/ns/net"));
        assertEquals(Code.INVALID_ARGUMENT, host.code());
        assertTrue(host.status().description().contains("is the host's own"), host.status().description());
        var missing = assertThrows(StatusException.class,
                () -> PodNetwork.checkNotTheHosts("/var/run/netns/a3s-no-such-namespace"));
        assertEquals(Code.FAILED_PRECONDITION, missing.code());
        assertTrue(missing.status().description().startsWith("network namespace /var/run/netns/a3s-no-such-namespace"));
    }

    @Test
    void tapNamesFitAnInterfaceName() {
        assertTrue(PodNetwork.tapName("vm-0123456789abcdef-long").length() <= 15);
    }
}
