package io.a3s.box.ttrpc;

import java.util.List;
import java.util.Objects;

/**
 * The outcome of a call: a {@link Code}, a human-readable description and optional typed details.
 * The one error type of this library. It is translated to and from the wire {@code google.rpc.Status} in a
 * single place ({@code io.a3s.box.ttrpc.internal.WireStatus}).
 *
 * @param code        never null
 * @param description may be null; messages follow containerd's convention "context: cause"
 * @param cause       local only, never sent on the wire
 * @param details     {@code google.rpc.Status.details}, kept as received
 */
public record Status(Code code, String description, Throwable cause, List<com.google.protobuf.Any> details) {

    public static final Status OK = new Status(Code.OK, null, null);

    public Status {
        Objects.requireNonNull(code, "code");
        details = details == null ? List.of() : List.copyOf(details);
    }

    public Status(Code code, String description, Throwable cause) {
        this(code, description, cause, List.of());
    }

    public boolean isOk() {
        return code == Code.OK;
    }

    public Status withDescription(String newDescription) {
        return new Status(code, newDescription, cause, details);
    }

    /** Prepends context, as in {@code "create task \"x\": " + description}. */
    public Status withContext(String context) {
        return withDescription(description == null || description.isEmpty() ? context : context + ": " + description);
    }

    public Status withCause(Throwable newCause) {
        return new Status(code, description, newCause, details);
    }

    public Status withDetails(List<com.google.protobuf.Any> newDetails) {
        return new Status(code, description, cause, newDetails);
    }

    public StatusException asException() {
        return new StatusException(this);
    }

    /**
     * The status a throwable stands for: its own if it is (or wraps) a {@link StatusException}, otherwise
     * {@link Code#UNKNOWN} with the throwable's message, as errgrpc maps a plain Go error.
     */
    public static Status fromThrowable(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof StatusException se) {
                return se.status();
            }
        }
        String message = t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
        return new Status(Code.UNKNOWN, message, t);
    }

    @Override
    public String toString() {
        return description == null || description.isEmpty() ? code.name() : code.name() + ": " + description;
    }
}
