package io.a3s.box.shim.bootstrap;

import com.google.protobuf.Timestamp;
import io.a3s.box.shim.admin.v1.CleanupTaskRequest;
import io.a3s.box.shim.admin.v1.CleanupTaskResponse;
import io.a3s.box.shim.admin.v1.PingRequest;
import io.a3s.box.shim.admin.v1.PingResponse;
import io.a3s.box.shim.daemon.DaemonConfig;
import io.a3s.box.ttrpc.ServiceDefinition;
import io.a3s.box.ttrpc.TtrpcServer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A stand-in for the shim daemon, spawned by {@code start} in the tests ({@code -Da3s.shim.daemon-class}): it
 * serves only the Admin service, and records what happened under the state root:
 * {@code test-daemon.spawns} (one line per daemon started) and {@code test-daemon.calls} (one line per
 * CleanupTask). Tasks whose id starts with "exited" are reported found, with pid 42, exit status 3 and
 * exited_at 1700000000.5. {@code -Da3s.test.daemon.delay-ms} delays listening (to widen races). Exits by
 * itself after two minutes, in case a test forgets it.
 */
public final class TestDaemon {
    static final String SPAWNS = "test-daemon.spawns";
    static final String CALLS = "test-daemon.calls";

    private TestDaemon() {
    }

    public static int serve(DaemonConfig config) throws Exception {
        Path root = config.layout().root();
        long pid = ProcessHandle.current().pid();
        Files.createDirectories(root);
        append(root.resolve(SPAWNS), "spawn " + pid + " " + config.containerdAddress() + " " + config.ttrpcAddress()
                + " debug=" + config.debug() + "\n");
        Thread.sleep(Long.getLong("a3s.test.daemon.delay-ms", 0));
        Files.createDirectories(config.socket().getParent());
        ServiceDefinition admin = ServiceDefinition.builder("a3s.shim.v1.Admin")
                .unary("Ping", PingRequest.parser(), (r, ctx) -> PingResponse.newBuilder().setPid((int) pid)
                        .setVersion("test").setContainerdAddress(config.containerdAddress())
                        .setTtrpcAddress(config.ttrpcAddress()).build())
                .unary("CleanupTask", CleanupTaskRequest.parser(), (r, ctx) -> {
                    append(root.resolve(CALLS), "cleanup " + r.getNamespace() + " " + r.getId() + " " + r.getBundle()
                            + "\n");
                    if (r.getId().startsWith("exited")) {
                        return CleanupTaskResponse.newBuilder().setFound(true).setPid(42).setExitStatus(3)
                                .setExitedAt(Timestamp.newBuilder().setSeconds(1_700_000_000L).setNanos(500_000_000))
                                .build();
                    }
                    return CleanupTaskResponse.getDefaultInstance();
                })
                .build();
        try (TtrpcServer server = TtrpcServer.builder().socket(config.socket()).addService(admin).build().start()) {
            Files.writeString(config.pidFile(), pid + "\n");
            Thread.sleep(120_000);
        }
        return 0;
    }

    private static synchronized void append(Path file, String line) throws IOException {
        Files.writeString(file, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
}
