package io.a3s.box.conformance;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * One port-forward stream through the CRI streaming server, as kubelet opens it for kubectl: a
 * {@link ChannelSocket} whose channel 0 carries the port's data and channel 1 its errors, where the server's
 * first message on each channel is the port, two bytes little-endian.
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
        try (ChannelSocket socket = ChannelSocket.open(url)) {
            socket.send(0, request);
            socket.awaitClosed(limit); // the caller judges what arrived
            return new Result(withoutPort(socket.bytes(0)), withoutPort(socket.bytes(1)));
        }
    }

    private static String withoutPort(byte[] b) {
        return b.length < 2 ? "" : new String(b, 2, b.length - 2, StandardCharsets.UTF_8);
    }
}
