package io.a3s.box.shim.vm.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A one-shot QEMU Machine Protocol exchange: connect to the QMP socket, leave capabilities negotiation, run
 * one command, return its {@code "return"} value. Events (such as {@code SHUTDOWN}) in between are skipped.
 * Bounded by a timeout: a wedged QEMU never blocks the caller longer.
 */
final class Qmp {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Qmp() {}

    /** Runs {@code command} (e.g. {@code "quit"}, {@code "stop"}, {@code "cont"}, {@code "query-status"}). */
    static JsonNode execute(Path socket, String command, Duration timeout) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        CompletableFuture<JsonNode> result = new CompletableFuture<>();
        Thread t = Thread.ofVirtual().name("qmp-" + command).start(() -> {
            try {
                ch.connect(UnixDomainSocketAddress.of(socket));
                BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch),
                        StandardCharsets.UTF_8));
                readReply(in, true);                                   // the greeting
                send(ch, "{\"execute\":\"qmp_capabilities\"}");
                readReply(in, false);
                send(ch, "{\"execute\":\"" + command + "\"}");
                result.complete(readReply(in, false));
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        });
        try {
            return result.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new IOException("qmp " + command + " on " + socket + ": no answer within " + timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("qmp " + command + ": interrupted");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw c instanceof IOException io ? new IOException("qmp " + command + " on " + socket + ": "
                    + io.getMessage(), io) : new IOException("qmp " + command + ": " + c, c);
        } finally {
            ch.close();
            t.interrupt();
        }
    }

    private static void send(SocketChannel ch, String json) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((json + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static JsonNode readReply(BufferedReader in, boolean greeting) throws IOException {
        while (true) {
            String line = in.readLine();
            if (line == null) {
                throw new IOException("connection closed by qemu");
            }
            JsonNode n = JSON.readTree(line);
            if (greeting && n.has("QMP")) {
                return n;
            }
            if (n.has("return")) {
                return n.get("return");
            }
            if (n.has("error")) {
                JsonNode err = n.get("error");
                throw new IOException(err.path("class").asText() + ": " + err.path("desc").asText());
            }
            // an asynchronous event: skip
        }
    }
}
