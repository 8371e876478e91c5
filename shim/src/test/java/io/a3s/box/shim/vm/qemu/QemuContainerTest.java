package io.a3s.box.shim.vm.qemu;

import io.a3s.box.guest.v1.CloseStdinRequest;
import io.a3s.box.guest.v1.ExecProcessRequest;
import io.a3s.box.guest.v1.ProcessSpec;
import io.a3s.box.guest.v1.ReadOutputRequest;
import io.a3s.box.guest.v1.ReadOutputResponse;
import io.a3s.box.guest.v1.ResizePtyRequest;
import io.a3s.box.guest.v1.StartProcessRequest;
import io.a3s.box.guest.v1.Stream;
import io.a3s.box.guest.v1.WaitProcessRequest;
import io.a3s.box.guest.v1.WaitProcessResponse;
import io.a3s.box.guest.v1.WriteStdinRequest;
import io.a3s.box.shim.guest.AgentClient;
import io.a3s.box.shim.vm.StateDir;
import io.a3s.box.shim.vm.VmInstance;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import com.google.protobuf.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.a3s.box.shim.vm.qemu.GuestContainers.CALL;
import static io.a3s.box.shim.vm.qemu.GuestContainers.create;
import static io.a3s.box.shim.vm.qemu.GuestContainers.destroy;
import static io.a3s.box.shim.vm.qemu.GuestContainers.drain;
import static io.a3s.box.shim.vm.qemu.GuestContainers.process;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Containers in one real microVM (QEMU TCG, the real agent), with a busybox rootfs bind-mounted into the VM's
 * share after boot, as the shim does it: create (parked before execve), spawn-main, stdio, exec, pty, exit codes.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class QemuContainerTest {
    private static final Duration LONG = Duration.ofMinutes(5);

    private static Path stateRoot;
    private static Path rootfs;
    private static VmInstance vm;
    private static AgentClient agent;

    @BeforeAll
    static void boot() throws Exception {
        VmTestSupport.assumeVmSupport();
        stateRoot = VmTestSupport.newStateRoot();
        rootfs = Files.createDirectories(stateRoot.resolve("rootfs"));
        // a3s.trace: the agent times each container's set-up on the console (see setUpStepsAreTraced)
        vm = new QemuBackend().newInstance(VmTestSupport.config().withExtraKernelArgs(List.of("a3s.trace")),
                StateDir.of(stateRoot, "ctr"));
        vm.start();
        agent = vm.agent();
    }

    @AfterAll
    static void shutdown() throws Exception {
        if (vm != null) {
            vm.shutdown();
        }
        VmTestSupport.removeStateRoot(stateRoot);
    }

    private static StartProcessRequest start(String cid, String eid) {
        return StartProcessRequest.newBuilder().setContainerId(cid).setExecId(eid).build();
    }

    private static WaitProcessRequest waitFor(String cid, String eid) {
        return WaitProcessRequest.newBuilder().setContainerId(cid).setExecId(eid).build();
    }

    private static ReadOutputRequest read(String cid, String eid, Stream s) {
        return ReadOutputRequest.newBuilder().setContainerId(cid).setExecId(eid).setStream(s).setMaxBytes(65536)
                .build();
    }

    @Test
    void spawnMainRunsTheParkedProcessAndReportsItsExit() throws Exception {
        int pid = create(vm, "hi", rootfs, process("sh", "-c", "echo hi; exit 7").build());
        try {
            assertTrue(pid > 1, "guest pid " + pid);
            long t0 = System.nanoTime();
            CompletableFuture<ReadOutputResponse> first = agent.readOutputAsync(read("hi", "", Stream.STDOUT), LONG);
            assertEquals(pid, agent.startProcess(start("hi", ""), CALL).getPid());
            ReadOutputResponse r = first.get(30, TimeUnit.SECONDS);
            long firstByteMs = (System.nanoTime() - t0) / 1_000_000;
            String out = r.getData().toStringUtf8() + (r.getEof() ? "" : drain(agent, "hi", "", Stream.STDOUT));
            WaitProcessResponse w = agent.waitProcess(waitFor("hi", ""), CALL);
            assertEquals("hi\n", out);
            assertEquals(7, w.getExitStatus());
            assertEquals(pid, w.getPid());
            System.out.printf("spawn-main to first byte: %d ms%n", firstByteMs);
        } finally {
            destroy(vm, "hi");
        }
    }

    @Test
    void setUpStepsAreTracedOnTheConsoleWithATraceKernelArgument() throws Exception {
        create(vm, "traced", rootfs, process("true").build());
        try {
            Path console = vm.stateDir().resolve(StateDir.CONSOLE);
            String agentLine = "trace: container `traced` agent (ms): cgroup=";
            String initLine = "trace: container `traced` init (ms): forked=";
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            String text = "";
            while (System.nanoTime() < deadline && !(text.contains(agentLine) && text.contains(initLine))) {
                text = Files.readString(console, java.nio.charset.StandardCharsets.ISO_8859_1);
                Thread.sleep(100);
            }
            assertTrue(text.contains(agentLine) && text.contains(initLine), "console.log:\n" + text);
            String init = text.substring(text.indexOf(initLine)).lines().findFirst().orElseThrow();
            for (String step : List.of(" /proc=", " pivot_root=", " masked_paths=", " resolve_exe=")) {
                assertTrue(init.contains(step), step + " in " + init);
            }
            System.out.println(init.substring(init.indexOf("trace:")));
        } finally {
            destroy(vm, "traced");
        }
    }

    @Test
    void aMissingBinaryFailsCreateContainerAtOnce() throws Exception {
        // as with runc, whose init looks the command up before it waits for start (TestContainerNoBinaryExists)
        long t0 = System.nanoTime();
        StatusException e = assertThrows(StatusException.class,
                () -> create(vm, "nobin", rootfs, process("/no/such/binary").build()));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        try {
            assertTrue(ms < 2000, "CreateContainer failed after " + ms + " ms");
            assertTrue(e.getMessage().contains("/no/such/binary") && e.getMessage().contains("No such file"),
                    e.getMessage());
            StatusException gone = assertThrows(StatusException.class,
                    () -> agent.waitProcess(waitFor("nobin", ""), CALL));
            assertEquals(Code.NOT_FOUND, gone.code(), "the failed container is not left in the guest");
            System.out.printf("missing binary: CreateContainer failed in %d ms: %s%n", ms, e.getMessage());
        } finally {
            try {
                destroy(vm, "nobin"); // unmounts the rootfs; the guest has nothing to destroy
            } catch (StatusException expected) {
                // NOT_FOUND
            }
        }
    }

    @Test
    void eightConcurrentExecs() throws Exception {
        create(vm, "conc", rootfs, process("sleep", "1000").build());
        agent.startProcess(start("conc", ""), CALL);
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                int n = i;
                results.add(pool.submit(() -> {
                    String eid = "e" + n;
                    agent.execProcess(ExecProcessRequest.newBuilder().setContainerId("conc").setExecId(eid)
                            .setProcess(process("sh", "-c", "echo exec-" + n + "; exit " + (10 + n))).build(), CALL);
                    agent.startProcess(start("conc", eid), CALL);
                    String out = drain(agent, "conc", eid, Stream.STDOUT);
                    int status = agent.waitProcess(waitFor("conc", eid), CALL).getExitStatus();
                    return out.strip() + "/" + status;
                }));
            }
            for (int i = 0; i < 8; i++) {
                assertEquals("exec-" + i + "/" + (10 + i), results.get(i).get(3, TimeUnit.MINUTES));
            }
        } finally {
            destroy(vm, "conc");
        }
    }

    @Test
    void fiftyMiBOfOutputArriveByteExact() throws Exception {
        String line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\n";   // 64 bytes
        long size = 50L << 20;
        create(vm, "big", rootfs, process("sh", "-c", "yes '" + line.strip() + "' | head -c " + size).build());
        try {
            PatternCheck check = new PatternCheck(line.getBytes(StandardCharsets.US_ASCII));
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> {
                try {
                    return drain(agent, "big", "", Stream.STDERR);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }, Executors.newVirtualThreadPerTaskExecutor());
            long t0 = System.nanoTime();
            agent.startProcess(start("big", ""), CALL);
            long n = drain(agent, "big", "", Stream.STDOUT, check);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(0, agent.waitProcess(waitFor("big", ""), CALL).getExitStatus());
            assertEquals("", err.get(1, TimeUnit.MINUTES));
            assertEquals(size, n);
            assertEquals(-1, check.firstMismatch, "first differing byte");
            System.out.printf("50 MiB stdout in %d ms (%.1f MiB/s)%n", ms, 50.0 * 1000 / Math.max(ms, 1));
        } finally {
            destroy(vm, "big");
        }
    }

    @Test
    void closeStdinDeliversEof() throws Exception {
        create(vm, "cat", rootfs, process("cat").setStdin(true).build());
        try {
            agent.startProcess(start("cat", ""), CALL);
            agent.writeStdin(WriteStdinRequest.newBuilder().setContainerId("cat")
                    .setData(ByteString.copyFromUtf8("hello\nworld\n")).build(), CALL);
            agent.closeStdin(CloseStdinRequest.newBuilder().setContainerId("cat").build(), CALL);
            assertEquals("hello\nworld\n", drain(agent, "cat", "", Stream.STDOUT));
            assertEquals(0, agent.waitProcess(waitFor("cat", ""), CALL).getExitStatus());
        } finally {
            destroy(vm, "cat");
        }
    }

    @Test
    void aPtyReportsItsSizeAndFollowsResize() throws Exception {
        ProcessSpec p = process("sh", "-c", "stty size; read x; stty size").setTerminal(true).setStdin(true)
                .setConsoleWidth(80).setConsoleHeight(24).addEnv("TERM=xterm").build();
        create(vm, "tty", rootfs, p);
        try {
            agent.startProcess(start("tty", ""), CALL);
            ByteArrayOutputStream seen = new ByteArrayOutputStream();
            while (!seen.toString().contains("24 80")) {
                ReadOutputResponse r = agent.readOutput(read("tty", "", Stream.STDOUT), CALL);
                r.getData().writeTo(seen);
                assertTrue(!r.getEof(), "eof before the first size: " + seen);
            }
            agent.resizePty(ResizePtyRequest.newBuilder().setContainerId("tty").setWidth(100).setHeight(30).build(),
                    CALL);
            agent.writeStdin(WriteStdinRequest.newBuilder().setContainerId("tty")
                    .setData(ByteString.copyFromUtf8("\n")).build(), CALL);
            String rest = drain(agent, "tty", "", Stream.STDOUT);
            assertTrue(rest.contains("30 100"), "size after resize: " + rest);
            assertEquals(0, agent.waitProcess(waitFor("tty", ""), CALL).getExitStatus());
        } finally {
            destroy(vm, "tty");
        }
    }

    @Test
    void everyExitCodeFrom0To255IsReportedExactly() throws Exception {
        create(vm, "table", rootfs, process("sleep", "1000").build());
        agent.startProcess(start("table", ""), CALL);
        AtomicInteger wrong = new AtomicInteger();
        List<String> mismatches = java.util.Collections.synchronizedList(new ArrayList<>());
        long t0 = System.nanoTime();
        try (ExecutorService pool = Executors.newFixedThreadPool(8, Thread.ofVirtual().factory())) {
            List<Future<?>> fs = new ArrayList<>();
            for (int code = 0; code < 256; code++) {
                int c = code;
                fs.add(pool.submit(() -> {
                    String eid = "x" + c;
                    agent.execProcess(ExecProcessRequest.newBuilder().setContainerId("table").setExecId(eid)
                            .setProcess(process("sh", "-c", "exit " + c)).build(), CALL);
                    agent.startProcess(start("table", eid), CALL);
                    int got = agent.waitProcess(waitFor("table", eid), CALL).getExitStatus();
                    if (got != c) {
                        wrong.incrementAndGet();
                        mismatches.add(c + "->" + got);
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get(5, TimeUnit.MINUTES);
            }
        } finally {
            destroy(vm, "table");
        }
        assertEquals(0, wrong.get(), "wrong exit codes: " + mismatches);
        System.out.printf("256 execs in %d ms%n", (System.nanoTime() - t0) / 1_000_000);
    }

    @Test
    void theVmStaysHealthyAfterTheContainers() throws Exception {
        assertTrue(vm.isRunning());
        assertNotEquals(-1, vm.pid());
        assertTrue(Files.exists(vm.stateDir().resolve(StateDir.AGENT_SOCKET)));
    }

    /** Checks a stream against a repeating pattern without keeping it. */
    private static final class PatternCheck extends OutputStream {
        private final byte[] pattern;
        long pos;
        long firstMismatch = -1;

        PatternCheck(byte[] pattern) {
            this.pattern = pattern;
        }

        @Override
        public void write(int b) {
            if (firstMismatch < 0 && (byte) b != pattern[(int) (pos % pattern.length)]) {
                firstMismatch = pos;
            }
            pos++;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            for (int i = 0; i < len; i++) {
                write(b[off + i]);
            }
        }
    }
}
