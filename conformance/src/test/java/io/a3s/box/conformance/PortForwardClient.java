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

/**
 * One port-forward stream through the CRI streaming server, as kubelet opens it for kubectl: a WebSocket with
 * the {@code v4.channel.k8s.io} framing, where every binary message starts with its channel's byte (0: the port's
 * data, 1: its errors) and the server's first message on each channel is the port, two bytes little-endian.
 */
final class PortForwardClient {
    private PortForwardClient() {}

    /** What was read on the two channels, after the port prefixes, until the server closed. */
    record Result(String data, String error) {}

    /**
     * Opens {@code url} (CRI PortForward's answer), sends {@code request} on the data channel and collects what
     * comes back until the server ends the stream or {@code limit} passes.
     */
    static Result exchange(String url, String request, Duration limit) throws Exception {
        ByteArrayOutputStream[] channels = {new ByteArrayOutputStream(), new ByteArrayOutputStream()};
        CompletableFuture<Void> closed = new CompletableFuture<>();
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
        try (HttpClient http = HttpClient.newHttpClient()) {
            WebSocket ws = http.newWebSocketBuilder().subprotocols("v4.channel.k8s.io")
                    .connectTimeout(Duration.ofSeconds(10))
                    .buildAsync(URI.create(url.replaceFirst("^http", "ws")), listener).get(10, TimeUnit.SECONDS);
            byte[] req = request.getBytes(StandardCharsets.UTF_8);
            ByteBuffer out = ByteBuffer.allocate(req.length + 1).put((byte) 0).put(req).flip();
            ws.sendBinary(out, true).get(10, TimeUnit.SECONDS);
            try {
                closed.get(limit.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                // the caller judges what arrived
            }
            ws.abort();
        }
        synchronized (channels) {
            return new Result(withoutPort(channels[0].toByteArray()), withoutPort(channels[1].toByteArray()));
        }
    }

    private static String withoutPort(byte[] b) {
        return b.length < 2 ? "" : new String(b, 2, b.length - 2, StandardCharsets.UTF_8);
    }
}
