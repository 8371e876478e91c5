package io.a3s.box.conformance;

import static io.a3s.box.conformance.HostShell.sh;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * OCI hooks on the host, as nerdctl and containerd's own tests use them, runc and a3s-box side by side from one
 * config ({@code ctr run --config}). The createRuntime hook does what nerdctl's CNI hook does: it finds the
 * container's network namespace through the state's pid ({@code /proc/<pid>/ns/net}) and puts a veth with an
 * address and a default route there, whose peer is a namespace of the test's running a web server; the container
 * then fetches a page through it. The prestart hook is containerd's {@code TestContainerHook}: {@code containerd
 * oci-hook -- ps --pid {{pid}}}, which fails unless the pid is a live host process.
 */
class HooksTest extends ConformanceTest {
    private static final String RUNC = "io.containerd.runc.v2";
    private static final String SUBNET = "10.215.0.0/16";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String suffix = Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0xffff));
    private final String peerNs = "a3s-hpeer-" + suffix;
    private Path rootfs;
    private Path hooks;
    private Process httpd;


    @BeforeAll
    void peerAndRootfs() throws Exception {
        sh("ip route replace unreachable " + SUBNET); // nothing for the test's subnet leaves by the default route
        sh("ip netns add " + peerNs + "; ip -n " + peerNs + " link set lo up");
        Path www = Files.createDirectories(h.state.resolve("hooks-www"));
        Files.writeString(www.resolve("hello"), "hello from the peer\n");
        // listens on every address of the peer: each run adds one
        httpd = new ProcessBuilder("ip", "netns", "exec", peerNs, "busybox", "httpd", "-f", "-p", "8080",
                "-h", www.toString()).redirectErrorStream(true).start();

        rootfs = Files.createDirectories(h.state.resolve("hooks-rootfs/bin"));
        Files.copy(Path.of("/bin/busybox"), rootfs.resolve("busybox"));
        for (String applet : List.of("sh", "nc", "ip", "cat", "sleep")) {
            Files.createSymbolicLink(rootfs.resolve(applet), Path.of("busybox"));
        }
        rootfs = rootfs.getParent();

        hooks = Files.createDirectories(h.state.resolve("hooks-bin"));
        // createRuntime: the container's network, as a CNI plugin would make it, in the state pid's namespace
        script("net.sh", """
                #!/bin/sh
                set -e
                state=$(cat)
                echo "$state" > "$OUT/createRuntime.json"
                pid=$(echo "$state" | sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p')
                readlink /proc/$pid/ns/net > "$OUT/netns"
                ip link add eth0 netns "$pid" mtu 1400 type veth peer name "$PEERIF" netns "$PEERNS"
                nsenter --net=/proc/$pid/ns/net sh -ec "ip addr add $IP/24 dev eth0; ip link set eth0 up; \
                    ip link set lo up; ip route add default via $PEERIP"
                ip -n "$PEERNS" addr add "$PEERIP/24" dev "$PEERIF"
                ip -n "$PEERNS" link set "$PEERIF" up
                """);
        // poststart and poststop: their state, and whether the state's pid still lives
        script("record.sh", """
                #!/bin/sh
                state=$(cat)
                echo "$state" > "$OUT/$1.json"
                pid=$(echo "$state" | sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p')
                if [ -d /proc/$pid ]; then echo alive > "$OUT/$1.pid"; else echo gone > "$OUT/$1.pid"; fi
                """);
        script("fail.sh", """
                #!/bin/sh
                echo "no address left in pool $1" >&2
                exit 3
                """);
    }

    private void script(String name, String text) throws IOException {
        Path p = hooks.resolve(name);
        Files.writeString(p, text);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @AfterAll
    void removePeer() throws Exception {
        if (httpd != null) {
            httpd.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        sh("ip netns del " + peerNs + " || true");
    }

    /** {@code ctr oci spec}, running {@code script} in the test's busybox rootfs, with {@code hooks} added. */
    private Path config(String id, String script, ObjectNode hookLists) throws Exception {
        ObjectNode s = (ObjectNode) JSON.readTree(h.ctr("oci", "spec").stdout());
        ObjectNode process = (ObjectNode) s.get("process");
        process.putArray("args").add("/bin/sh").add("-c").add(script);
        process.putArray("env").add("PATH=/bin");
        s.putObject("root").put("path", rootfs.toString());
        s.set("hooks", hookLists);
        Path file = h.state.resolve(id + "-config.json");
        Files.writeString(file, JSON.writeValueAsString(s));
        return file;
    }

    private static ObjectNode hook(String path, List<String> args, List<String> env) {
        ObjectNode n = JSON.createObjectNode().put("path", path);
        args.forEach(n.putArray("args")::add);
        env.forEach(n.putArray("env")::add);
        return n;
    }

    @ParameterizedTest
    @ValueSource(strings = {RUNC, ShimHarness.RUNTIME})
    void hooksGetALiveHostPidInTheContainersNetworkAndWhatTheyBuildIsItsNetwork(String runtime) throws Exception {
        boolean runc = runtime.equals(RUNC);
        String id = "hooks-" + (runc ? "runc" : "a3s");
        int third = runc ? 1 : 2;
        String ip = "10.215." + third + ".2";
        String peerIp = "10.215." + third + ".1";
        Path out = Files.createDirectories(h.state.resolve(id + "-out"));
        List<String> env = List.of("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OUT=" + out, "PEERNS=" + peerNs,
                "PEERIF=hk" + third + "-" + suffix, "IP=" + ip, "PEERIP=" + peerIp);
        ObjectNode lists = JSON.createObjectNode();
        lists.putArray("prestart").add(hook(PrivateContainerd.CONTAINERD.toString(),
                List.of("containerd", "oci-hook", "--", "/usr/bin/ps", "--pid", "{{pid}}"), env));
        lists.putArray("createRuntime").add(hook(hooks.resolve("net.sh").toString(), List.of("net.sh"), env));
        lists.putArray("poststart").add(hook(hooks.resolve("record.sh").toString(), List.of("record.sh",
                "poststart"), env));
        lists.putArray("poststop").add(hook(hooks.resolve("record.sh").toString(), List.of("record.sh",
                "poststop"), env));
        Path config = config(id, "ip -o -4 addr show eth0; printf 'GET /hello HTTP/1.0\\r\\n\\r\\n' | nc -w 20 "
                + peerIp + " 8080", lists);

        PrivateContainerd.Result r = h.ctr("run", "--rm", "--runtime", runtime, "--config", config.toString(), id);
        try {
            assertEquals(0, r.exitCode(), r.stdout() + r.stderr() + "\nshim daemon log:\n"
                    + (runc ? "" : h.daemonLog(30)));
            assertTrue(r.stdout().contains(ip + "/24"), r.stdout());
            assertTrue(r.stdout().strip().endsWith("hello from the peer"), r.stdout());

            JsonNode created = JSON.readTree(out.resolve("createRuntime.json").toFile());
            assertEquals(id, created.get("id").asText());
            assertEquals("creating", created.get("status").asText());
            long pid = created.get("pid").asLong();
            assertTrue(pid > 0, created.toString());
            assertTrue(created.get("bundle").asText().endsWith("/" + id), created.toString());
            assertNotEquals(sh("readlink /proc/self/ns/net"), Files.readString(out.resolve("netns")).strip(),
                    "the state's pid is in a network namespace of the container's own");

            JsonNode started = JSON.readTree(out.resolve("poststart.json").toFile());
            // runc 1.1 (Debian 12's) runs poststart hooks within create; the runtime spec puts them after start
            assertEquals(runc ? "created" : "running", started.get("status").asText());
            assertEquals(pid, started.get("pid").asLong());
            assertEquals("alive", Files.readString(out.resolve("poststart.pid")).strip());
            JsonNode stopped = JSON.readTree(out.resolve("poststop.json").toFile());
            assertEquals("stopped", stopped.get("status").asText());
            assertFalse(ProcessHandle.of(pid).isPresent(), "pid " + pid + " outlived the container");
        } finally {
            h.remove(id);
        }
    }

    @Test
    void aFailingCreateRuntimeHookFailsTheRunWithItsOutputAndLeavesNothing() throws Exception {
        Path out = Files.createDirectories(h.state.resolve("hooks-fail-out"));
        List<String> env = List.of("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OUT=" + out);
        ObjectNode lists = JSON.createObjectNode();
        lists.putArray("createRuntime").add(hook(hooks.resolve("fail.sh").toString(), List.of("fail.sh", "blue"),
                env));
        lists.putArray("poststop").add(hook(hooks.resolve("record.sh").toString(), List.of("record.sh",
                "poststop"), env));
        Path config = config("hooks-fail", "true", lists);
        PrivateContainerd.Result r = h.ctr("run", "--rm", "--runtime", ShimHarness.RUNTIME, "--config",
                config.toString(), "hooks-fail");
        try {
            assertNotEquals(0, r.exitCode());
            assertTrue(r.stderr().contains("hooks.createRuntime[0] (" + hooks.resolve("fail.sh") + ") exited with"
                    + " status 3: no address left in pool blue"), r.stderr());
            // as runc's destroy after a failed create: poststop runs, and the holder goes
            JsonNode stopped = JSON.readTree(out.resolve("poststop.json").toFile());
            assertFalse(ProcessHandle.of(stopped.get("pid").asLong()).isPresent(), "the holder outlived the create");
        } finally {
            h.ctr("container", "rm", "hooks-fail");
        }
    }

    @Test
    void aHookInTheContainersNamespacesIsRefusedWithTheReason() throws Exception {
        ObjectNode lists = JSON.createObjectNode();
        lists.putArray("startContainer").add(hook("/bin/true", List.of(), List.of()));
        Path config = config("hooks-in", "true", lists);
        PrivateContainerd.Result r = h.ctr("run", "--rm", "--runtime", ShimHarness.RUNTIME, "--config",
                config.toString(), "hooks-in");
        try {
            assertNotEquals(0, r.exitCode());
            assertTrue(r.stderr().contains("hooks.startContainer: this hook runs inside the container's namespaces,"
                    + " which are in the VM"), r.stderr());
        } finally {
            h.ctr("container", "rm", "hooks-in");
        }
    }
}
