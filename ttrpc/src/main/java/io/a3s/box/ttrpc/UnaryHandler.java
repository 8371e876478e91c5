package io.a3s.box.ttrpc;

import com.google.protobuf.MessageLite;

/**
 * Serves one unary method. Runs on its own (virtual) thread, so it may block for as long as the call lasts
 * (containerd's {@code Wait} blocks for the life of a process) without delaying other calls.
 * Throw {@link StatusException} to answer with an error; any other exception answers UNKNOWN.
 */
@FunctionalInterface
public interface UnaryHandler<Q extends MessageLite, R extends MessageLite> {
    R handle(Q request, CallContext context) throws Exception;
}
