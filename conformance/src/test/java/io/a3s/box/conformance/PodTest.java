package io.a3s.box.conformance;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Kubernetes pod as containerd's CRI plugin lays it out, written with ctr: a sandbox container, then containers
 * annotated with the sandbox's id that join its namespaces by {@code /proc/<sandbox pid>/ns/<type>} (the pid the
 * shim reported). They all run in the sandbox's VM. (CRI itself drives the same path in CriPodTest.)
 */
class PodTest extends ConformanceTest {
    private static final String TYPE = "io.kubernetes.cri.container-type";
    private static final String SANDBOX = "io.kubernetes.cri.sandbox-id";

    private void runSandbox(String id, List<String> extra) throws Exception {
        List<String> flags = new ArrayList<>(List.of("--annotation", TYPE + "=sandbox", "--annotation",
                SANDBOX + "=" + id));
        flags.addAll(extra);
        h.runDetached(flags, id, "sleep", "600");
    }

    /** The flags of a container of pod {@code sandbox} joining its {@code types} namespaces. */
    private List<String> member(String sandbox, String... types) throws Exception {
        String pid = h.taskRow(sandbox).orElseThrow()[1];
        List<String> flags = new ArrayList<>(List.of("--annotation", TYPE + "=container", "--annotation",
                SANDBOX + "=" + sandbox));
        for (String t : types) {
            flags.addAll(List.of("--with-ns", t + ":/proc/" + pid + "/ns/" + t));
        }
        return flags;
    }

    private String out(String id, String... cmd) throws Exception {
        PrivateContainerd.Result r = h.exec(id, cmd);
        assertEquals(0, r.exitCode(), id + ": " + String.join(" ", cmd) + ": " + r.stderr());
        return r.stdout().trim();
    }

    @Test
    void podContainersRunInTheSandboxsVmAndShareItsIpcUtsAndPidNamespaces() throws Exception {
        runSandbox("pod-a", List.of());
        try {
            h.runDetached(member("pod-a", "ipc", "uts", "pid"), "pod-a-c1", "sleep", "600");
            h.runDetached(member("pod-a", "ipc", "uts"), "pod-a-c2", "sleep", "600");
            assertEquals(h.vmOf("pod-a"), h.vmOf("pod-a-c1"), "one VM per pod");
            assertEquals(h.vmOf("pod-a"), h.vmOf("pod-a-c2"), "one VM per pod");

            for (String ns : List.of("ipc", "uts")) {
                String link = out("pod-a", "readlink", "/proc/self/ns/" + ns);
                assertEquals(link, out("pod-a-c1", "readlink", "/proc/self/ns/" + ns), ns);
                assertEquals(link, out("pod-a-c2", "readlink", "/proc/self/ns/" + ns), ns);
            }
            assertEquals("pod-a", out("pod-a-c1", "hostname"), "the sandbox's hostname");
            String pidns = out("pod-a", "readlink", "/proc/self/ns/pid");
            assertEquals(pidns, out("pod-a-c1", "readlink", "/proc/self/ns/pid"), "a shared process namespace");
            assertNotEquals(pidns, out("pod-a-c2", "readlink", "/proc/self/ns/pid"), "its own process namespace");
            assertTrue(out("pod-a-c1", "ps").lines().filter(l -> l.contains("sleep 600")).count() >= 2,
                    "the sandbox's process is seen from the container");

            // One network for the pod, as in Kubernetes: a container reaches another on localhost.
            out("pod-a-c2", "sh", "-c", "nc -l -p 7000 > /tmp/got < /dev/null 2>&1 &");
            out("pod-a-c1", "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do echo hello | nc 127.0.0.1 7000 && break;"
                    + " sleep 0.5; done");
            assertEquals("hello", out("pod-a-c2", "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do [ -s /tmp/got ]"
                    + " && break; sleep 0.2; done; cat /tmp/got"));

            // A container leaving the pod leaves the VM to the others.
            h.remove("pod-a-c1");
            assertEquals("pod-a", out("pod-a-c2", "hostname"));
            assertEquals(h.vmOf("pod-a"), h.vmOf("pod-a-c2"));
        } finally {
            h.remove("pod-a-c1");
            h.remove("pod-a-c2");
            h.remove("pod-a");
        }
    }

    /**
     * CRI binds the sandbox's hosts, resolv.conf and /dev/shm into every container of the pod: one host file or
     * directory, several containers of one VM. Each is exported once (9p would alias two exports of one source),
     * and stays readable, and fresh, in the sandbox after a container that shared it is gone.
     */
    @Test
    void filesSharedByContainersOfAPodOutliveEachOfThem() throws Exception {
        Path dir = Files.createDirectories(h.state.resolve("pod-b"));
        Path hosts = Files.writeString(dir.resolve("hosts"), "127.0.0.1 localhost\n");
        Path shm = Files.createDirectories(dir.resolve("shm"));
        Files.writeString(shm.resolve("seg"), "one\n");
        List<String> mounts = List.of("--mount", "type=bind,src=" + hosts + ",dst=/etc/hosts,options=rbind:rw",
                "--mount", "type=bind,src=" + shm + ",dst=/dev/shm,options=rbind:rw");
        runSandbox("pod-b", mounts);
        try {
            List<String> flags = new ArrayList<>(member("pod-b", "ipc", "uts"));
            flags.addAll(mounts);
            h.runDetached(flags, "pod-b-c1", "sleep", "600");
            assertEquals("127.0.0.1 localhost", out("pod-b-c1", "cat", "/etc/hosts"));
            assertEquals("one", out("pod-b-c1", "cat", "/dev/shm/seg"));
            out("pod-b-c1", "sh", "-c", "echo two > /dev/shm/seg2");
            assertEquals("two", out("pod-b", "cat", "/dev/shm/seg2"), "one directory for the pod");
            h.remove("pod-b-c1");
            Files.writeString(hosts, "10.0.0.1 pod-b\n");
            assertEquals("10.0.0.1 pod-b", out("pod-b", "cat", "/etc/hosts"));
            assertEquals("one two", out("pod-b", "sh", "-c", "cat /dev/shm/seg /dev/shm/seg2 | tr '\\n' ' '"));
            assertEquals("seg seg2", out("pod-b", "sh", "-c", "ls /dev/shm | tr '\\n' ' '"));
        } finally {
            h.remove("pod-b-c1");
            h.remove("pod-b");
        }
    }

    @Test
    void aContainerOfAPodWithNoSandboxHereFailsClearly() throws Exception {
        PrivateContainerd.Result r = h.run(List.of("--annotation", TYPE + "=container", "--annotation",
                SANDBOX + "=no-such-pod"), "pod-none", "true");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.stderr().contains("container pod-none belongs to pod sandbox no-such-pod, which has no vm in"
                + " this shim"), r.stderr());
        h.remove("pod-none");
    }

    @Test
    void joiningAProcessThatIsNoContainerOfThePodFailsClearly() throws Exception {
        runSandbox("pod-c", List.of());
        try {
            PrivateContainerd.Result r = h.run(List.of("--annotation", TYPE + "=container", "--annotation",
                    SANDBOX + "=pod-c", "--with-ns", "ipc:/proc/1/ns/ipc"), "pod-c-c1", "true");
            assertNotEquals(0, r.exitCode());
            assertTrue(r.stderr().contains("process 1 is not the first process of a container of pod pod-c"),
                    r.stderr());
            assertEquals("pod-c", out("pod-c", "hostname"), "the pod goes on");
        } finally {
            h.remove("pod-c-c1");
            h.remove("pod-c");
        }
    }
}
