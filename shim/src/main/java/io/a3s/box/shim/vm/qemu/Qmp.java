package io.a3s.box.shim.vm.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.a3s.box.shim.sys.Linux;

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
import java.util.List;
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

    /**
     * Passes {@code fd} to QEMU ({@code getfd} with SCM_RIGHTS, under {@code fdName}), then runs {@code commands}
     * (whole QMP JSON objects) in order on the same connection, which is where the name is known. Every step is
     * bounded by what is left of {@code timeout}; QEMU's error is the exception's message.
     */
    static void executeWithFd(Path socket, String fdName, int fd, List<String> commands, Duration timeout)
            throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        int sock = Linux.unixConnect(socket.toString());
        try {
            FdLines in = new FdLines(sock, deadline, socket);
            readReply(in, true);
            Linux.writeAll(sock, "{\"execute\":\"qmp_capabilities\"}\n".getBytes(StandardCharsets.UTF_8));
            readReply(in, false);
            Linux.sendWithFd(sock, ("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"" + fdName + "\"}}\n")
                    .getBytes(StandardCharsets.UTF_8), fd);
            readReply(in, false);
            for (String c : commands) {
                Linux.writeAll(sock, (c + "\n").getBytes(StandardCharsets.UTF_8));
                try {
                    readReply(in, false);
                } catch (IOException e) {
                    throw new IOException(c + ": " + e.getMessage(), e);
                }
            }
        } finally {
            Linux.close(sock);
        }
    }

    /** Lines from a raw socket fd, each read bounded by a deadline. */
    private static final class FdLines implements LineSource {
        private final int fd;
        private final long deadline;
        private final Path socket;
        private final java.io.ByteArrayOutputStream pending = new java.io.ByteArrayOutputStream();
        private final byte[] buf = new byte[4096];

        FdLines(int fd, long deadline, Path socket) {
            this.fd = fd;
            this.deadline = deadline;
            this.socket = socket;
        }

        @Override
        public String readLine() throws IOException {
            while (true) {
                byte[] have = pending.toByteArray();
                for (int i = 0; i < have.length; i++) {
                    if (have[i] == '\n') {
                        pending.reset();
                        pending.write(have, i + 1, have.length - i - 1);
                        return new String(have, 0, i, StandardCharsets.UTF_8);
                    }
                }
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0 || !Linux.poll(new int[] {fd}, (int) left)[0]) {
                    if (deadline - System.nanoTime() <= 0) {
                        throw new IOException("qmp on " + socket + ": no answer in time");
                    }
                    continue;
                }
                int n = Linux.read(fd, buf);
                if (n == 0) {
                    return null;
                }
                pending.write(buf, 0, n);
            }
        }
    }

    /** Where replies are read from: a reader over a channel, or a raw fd. */
    private interface LineSource {
        String readLine() throws IOException;
    }

    private static void send(SocketChannel ch, String json) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((json + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static JsonNode readReply(BufferedReader in, boolean greeting) throws IOException {
        return readReply((LineSource) in::readLine, greeting);
    }

    private static JsonNode readReply(LineSource in, boolean greeting) throws IOException {
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
