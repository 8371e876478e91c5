package io.a3s.box.shim.daemon;

import io.a3s.box.guest.v1.ContainerSpec;
import io.a3s.box.guest.v1.NamespaceJoin;
import io.a3s.box.guest.v1.Namespaces;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DefaultHostnameTest {
    static ContainerSpec spec(Namespaces ns, String hostname) {
        return ContainerSpec.newBuilder().setNamespaces(ns).setHostname(hostname).build();
    }

    @Test
    void aHostnameTheSpecGivesIsKept() {
        ContainerSpec s = spec(Namespaces.newBuilder().setUts(true).build(), "web");
        assertSame(s, VmTaskFactory.withDefaultHostname(s, "c1"));
    }

    @Test
    void aUtsNamespaceOfItsOwnIsNamedAfterTheContainer() {
        ContainerSpec s = VmTaskFactory.withDefaultHostname(spec(Namespaces.newBuilder().setUts(true).build(), ""),
                "x".repeat(70));
        assertEquals("x".repeat(63), s.getHostname());
    }

    @Test
    void theHostsUtsNamespaceBecomesOneOfItsOwnWithTheHostsName() throws Exception {
        // a host-network pod's containers list no uts namespace: under runc they read the node's name
        ContainerSpec s = VmTaskFactory.withDefaultHostname(spec(Namespaces.newBuilder().setMount(true).build(), ""),
                "c1");
        assertEquals(Files.readString(Path.of("/proc/sys/kernel/hostname")).strip(), s.getHostname());
        assertTrue(s.getNamespaces().getUts());
        assertTrue(s.getNamespaces().getMount());
    }

    @Test
    void aJoinedUtsNamespaceKeepsItsName() {
        ContainerSpec s = spec(Namespaces.newBuilder()
                .addJoins(NamespaceJoin.newBuilder().setType("uts").setPid(7)).build(), "");
        ContainerSpec out = VmTaskFactory.withDefaultHostname(s, "c1");
        assertSame(s, out);
        assertFalse(out.getNamespaces().getUts());
    }
}
