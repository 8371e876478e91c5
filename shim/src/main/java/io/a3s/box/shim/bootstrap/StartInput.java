package io.a3s.box.shim.bootstrap;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.a3s.box.containerd.bootstrap.BootstrapParams;
import io.a3s.box.containerd.bootstrap.Extension;
import io.a3s.box.containerd.bootstrap.LogLevel;

import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;

/**
 * What containerd wrote on {@code start}'s stdin, classified as containerd's own compatibility code does it:
 * <ol>
 *   <li>containerd 2.3+ writes a {@code BootstrapParams}. Accepted only if its {@code instance_id} and
 *       {@code namespace} equal {@code -id} and {@code -namespace}: a legacy {@code Any} usually decodes as a
 *       "valid" BootstrapParams too (its fields 1 and 2 are strings as well).</li>
 *   <li>containerd 1.6 to 2.2 write the task's runtime options as one raw {@code google.protobuf.Any}.</li>
 *   <li>No options: empty stdin.</li>
 * </ol>
 * Bytes that are none of these (garbage) are classified {@link Unrecognized}: {@code start} still succeeds,
 * because the daemon gets each task's options again in {@code CreateTaskRequest.options}.
 */
public sealed interface StartInput {
    /** Cap on what is read: containerd's own limit for the same stdin. */
    int MAX_BYTES = 10 << 20;

    /** The runtime options carried, if any. */
    Optional<Any> options();

    /** containerd 2.3+. */
    record Bootstrap(BootstrapParams params) implements StartInput {
        @Override
        public Optional<Any> options() {
            // containerd appends the runtime options Any as an extension; take the last that has a value.
            for (Extension e : params.getExtensionsList().reversed()) {
                if (e.hasValue()) {
                    return Optional.of(e.getValue());
                }
            }
            return Optional.empty();
        }

        /** containerd asks for debug or trace logging. */
        public boolean debug() {
            LogLevel l = params.getLogLevel();
            return l == LogLevel.DEBUG || l == LogLevel.TRACE;
        }
    }

    /** containerd 1.6 to 2.2, with runtime options. */
    record Legacy(Any any) implements StartInput {
        @Override
        public Optional<Any> options() {
            return Optional.of(any);
        }
    }

    /** No options (empty stdin). */
    record Empty() implements StartInput {
        @Override
        public Optional<Any> options() {
            return Optional.empty();
        }
    }

    /** Bytes that decode as none of the above; {@code reason} says why (for debug logs). */
    record Unrecognized(int length, String reason) implements StartInput {
        @Override
        public Optional<Any> options() {
            return Optional.empty();
        }
    }

    /** Classifies {@code stdin} for the task {@code id} in {@code namespace}. */
    static StartInput classify(byte[] stdin, String id, String namespace) {
        if (stdin.length == 0) {
            return new Empty();
        }
        try {
            BootstrapParams p = BootstrapParams.parseFrom(stdin);
            if (!p.getInstanceId().isEmpty() && p.getInstanceId().equals(id) && p.getNamespace().equals(namespace)) {
                return new Bootstrap(p);
            }
        } catch (InvalidProtocolBufferException e) {
            // not a BootstrapParams: try the legacy form
        }
        try {
            Any any = Any.parseFrom(stdin);
            if (any.getTypeUrl().isEmpty()) {
                return new Unrecognized(stdin.length, "an Any without a type URL");
            }
            return new Legacy(any);
        } catch (InvalidProtocolBufferException e) {
            return new Unrecognized(stdin.length, "neither BootstrapParams nor Any: " + e.getMessage());
        }
    }

    /**
     * Reads all of {@code in}, up to {@link #MAX_BYTES}.
     *
     * @throws IOException if there is more (containerd never sends that much: something else is on stdin)
     */
    static byte[] readAll(InputStream in) throws IOException {
        byte[] buf = in.readNBytes(MAX_BYTES);
        if (buf.length == MAX_BYTES && in.read() >= 0) {
            throw new IOException("stdin holds more than " + (MAX_BYTES >> 20) + " MiB");
        }
        return buf;
    }
}
