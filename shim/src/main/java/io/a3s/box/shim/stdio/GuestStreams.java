package io.a3s.box.shim.stdio;

import io.a3s.box.guest.v1.ReadOutputResponse;
import io.a3s.box.guest.v1.Stream;
import io.a3s.box.ttrpc.StatusException;

/**
 * The guest end of one process's stdio (the agent's pull-model streams). Blocking calls, made from the
 * copier's own virtual thread; they fail with UNAVAILABLE once the VM is gone.
 */
public interface GuestStreams {
    /** Up to {@code maxBytes} of output as soon as some is there, or {@code eof} once drained. */
    ReadOutputResponse read(Stream stream, int maxBytes) throws StatusException;

    /** Writes all of {@code data} to the process's stdin (or its pty). */
    void write(byte[] data) throws StatusException;

    /** The process sees EOF on stdin once what was written is consumed. */
    void closeStdin() throws StatusException;
}
