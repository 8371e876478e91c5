package io.a3s.box.ttrpc;

/** A failed call, carrying its {@link Status}. Thrown by clients, and by handlers to answer with an error. */
public final class StatusException extends Exception {
    private final Status status;

    public StatusException(Status status) {
        super(status.toString(), status.cause());
        this.status = status;
    }

    public Status status() {
        return status;
    }

    public Code code() {
        return status.code();
    }
}
