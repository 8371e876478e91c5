package io.a3s.box.conformance;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A stream of the CRI streaming server (containerd's, behind CRI Exec, Attach and PortForward) as kubectl opens
 * it: a WebSocket with the {@code v4.channel.k8s.io} framing, where every binary message starts with its
 * channel's byte. Exec and attach: 0 stdin, 1 stdout, 2 stderr, 3 the status (JSON) at the end; port-forward:
 * 0 the port's data, 1 its errors. v4 has no half-close: a client ends its stdin by closing the socket.
 */
final class ChannelSocket implements AutoCloseable {
    static final int STDIN = 0;
    static final int STDOUT = 1;
    static final int STDERR = 2;
    static final int STATUS = 3;

    private final HttpClient http = HttpClient.newHttpClient();
    private final ByteArrayOutputStream[] channels = new ByteArrayOutputStream[4];
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final WebSocket ws;

    private ChannelSocket(String url) throws Exception {
        for (int i = 0; i < channels.length; i++) {
            channels[i] = new ByteArrayOutputStream();
        }
        ByteArrayOutputStream message = new ByteArrayOutputStream();
        WebSocket.Listener listener = new WebSocket.Listener() {
            @Override
            public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
                byte[] b = new byte[data.remaining()];
                data.get(b);
                message.writeBytes(b);
                if (last) {
                    byte[] m = message.toByteArray();
                    message.reset();
                    if (m.length > 0 && m[0] >= 0 && m[0] < channels.length) {
                        synchronized (channels) {
                            channels[m[0]].write(m, 1, m.length - 1);
                            channels.notifyAll();
                        }
                    }
                }
                ws.request(1);
                return null;
            }

            @Override
            public CompletionStage<?> onClose(WebSocket ws, int status, String reason) {
                closed.complete(null);
                return null;
            }

            @Override
            public void onError(WebSocket ws, Throwable error) {
                closed.complete(null);
            }
        };
        ws = http.newWebSocketBuilder().subprotocols("v4.channel.k8s.io").connectTimeout(Duration.ofSeconds(10))
                .buildAsync(URI.create(url.replaceFirst("^http", "ws")), listener).get(10, TimeUnit.SECONDS);
    }

    /** Opens {@code url}, an answer of CRI Exec, Attach or PortForward. */
    static ChannelSocket open(String url) throws Exception {
        return new ChannelSocket(url);
    }

    /** Sends {@code text} on {@code channel}. */
    void send(int channel, String text) throws Exception {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        ws.sendBinary(ByteBuffer.allocate(b.length + 1).put((byte) channel).put(b).flip(), true)
                .get(10, TimeUnit.SECONDS);
    }

    /** What arrived on {@code channel} so far, as UTF-8. */
    String received(int channel) {
        return new String(bytes(channel), StandardCharsets.UTF_8);
    }

    /** What arrived on {@code channel} so far. */
    byte[] bytes(int channel) {
        synchronized (channels) {
            return channels[channel].toByteArray();
        }
    }

    /** Waits until what arrived on {@code channel} satisfies {@code done}, or {@code limit} passes; returns it. */
    String awaitReceived(int channel, Predicate<String> done, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        synchronized (channels) {
            String now = received(channel);
            while (!done.test(now) && deadline - System.nanoTime() > 0 && !closed.isDone()) {
                channels.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
                now = received(channel);
            }
            return now;
        }
    }

    /** Waits until the server ends the stream; false if {@code limit} passed first. */
    boolean awaitClosed(Duration limit) throws InterruptedException {
        try {
            closed.get(limit.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return false;
        } catch (java.util.concurrent.ExecutionException e) {
            return true;
        }
    }

    /** Ends the stream from this side (and with it, in v4, the client's stdin). */
    @Override
    public void close() {
        try {
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(2, TimeUnit.SECONDS);
        } catch (Exception e) {
            // closed already, or the server does not answer: the abort below ends it either way
        }
        ws.abort();
        http.close();
    }
}
