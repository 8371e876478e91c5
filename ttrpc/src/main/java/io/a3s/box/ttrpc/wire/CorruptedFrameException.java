package io.a3s.box.ttrpc.wire;

import java.io.IOException;

/**
 * The byte stream cannot be a ttrpc stream (an unknown message type, or a length no valid frame has).
 * Framing is lost: the only safe reaction is to close the connection.
 */
public final class CorruptedFrameException extends IOException {
    public CorruptedFrameException(String message) {
        super(message);
    }
}
