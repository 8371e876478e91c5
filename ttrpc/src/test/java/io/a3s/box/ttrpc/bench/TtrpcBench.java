package io.a3s.box.ttrpc.bench;

import com.google.protobuf.BytesValue;
import com.google.protobuf.ByteString;
import io.a3s.box.ttrpc.Metadata;
import io.a3s.box.ttrpc.ServiceDefinition;
import io.a3s.box.ttrpc.TtrpcClient;
import io.a3s.box.ttrpc.TtrpcServer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Unary round-trip benchmark over a Unix socket (a command, not a test: run by scripts/bench-ttrpc).
 * Prints one figure per line as {@code name value unit}.
 */
public final class TtrpcBench {
    private TtrpcBench() {
    }

    public static void main(String[] args) throws Exception {
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
        int payload = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        Path dir = Files.createTempDirectory("ttrpc-bench");
        Path sock = dir.resolve("b.sock");
        ServiceDefinition echo = ServiceDefinition.builder("bench.v1.Echo")
                .unary("Echo", BytesValue.parser(), (req, ctx) -> req).build();
        try (TtrpcServer server = TtrpcServer.builder().socket(sock).addService(echo).build().start();
             TtrpcClient client = TtrpcClient.connect(sock)) {
            BytesValue msg = BytesValue.of(ByteString.copyFrom(new byte[payload]));
            run(client, msg, Math.max(2_000, calls / 4), 1, null); // warm-up: JIT, virtual thread pools
            run(client, msg, Math.max(2_000, calls / 4), 16, null);
            for (int concurrency : new int[]{1, 16}) {
                run(client, msg, calls, concurrency, "ttrpc_unary_c" + concurrency + "_b" + payload);
            }
        } finally {
            Files.deleteIfExists(sock);
            Files.deleteIfExists(dir);
        }
    }

    private static void run(TtrpcClient client, BytesValue msg, int calls, int concurrency, String name)
            throws Exception {
        long[] latencies = new long[calls];
        int perThread = calls / concurrency;
        CountDownLatch done = new CountDownLatch(concurrency);
        List<Throwable> errors = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int t = 0; t < concurrency; t++) {
            int base = t * perThread;
            Thread.ofVirtual().start(() -> {
                try {
                    for (int i = 0; i < perThread; i++) {
                        long s = System.nanoTime();
                        client.call("bench.v1.Echo", "Echo", msg, BytesValue.parser(), Duration.ofSeconds(10),
                                Metadata.empty());
                        latencies[base + i] = System.nanoTime() - s;
                    }
                } catch (Throwable e) {
                    synchronized (errors) {
                        errors.add(e);
                    }
                } finally {
                    done.countDown();
                }
            });
        }
        done.await();
        long elapsed = System.nanoTime() - t0;
        if (!errors.isEmpty()) {
            throw new IllegalStateException("benchmark calls failed", errors.getFirst());
        }
        if (name == null) {
            return;
        }
        int n = perThread * concurrency;
        long[] sorted = Arrays.copyOf(latencies, n);
        Arrays.sort(sorted);
        System.out.printf("%s_p50 %.1f us%n", name, sorted[n / 2] / 1e3);
        System.out.printf("%s_p99 %.1f us%n", name, sorted[(int) (n * 0.99)] / 1e3);
        System.out.printf("%s_rate %.0f calls/s%n", name, n / (elapsed / 1e9));
    }
}
