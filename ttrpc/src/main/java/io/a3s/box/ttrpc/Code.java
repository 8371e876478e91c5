package io.a3s.box.ttrpc;

/**
 * Status codes, with the numeric values of gRPC (and so of containerd's errdefs). ttrpc carries them in
 * {@code google.rpc.Status.code}; the numbers are part of the wire contract and never change.
 */
public enum Code {
    OK(0),
    CANCELLED(1),
    UNKNOWN(2),
    INVALID_ARGUMENT(3),
    DEADLINE_EXCEEDED(4),
    NOT_FOUND(5),
    ALREADY_EXISTS(6),
    PERMISSION_DENIED(7),
    RESOURCE_EXHAUSTED(8),
    FAILED_PRECONDITION(9),
    ABORTED(10),
    OUT_OF_RANGE(11),
    UNIMPLEMENTED(12),
    INTERNAL(13),
    UNAVAILABLE(14),
    DATA_LOSS(15),
    UNAUTHENTICATED(16);

    private static final Code[] BY_VALUE = new Code[17];

    static {
        for (Code c : values()) {
            BY_VALUE[c.value] = c;
        }
    }

    private final int value;

    Code(int value) {
        this.value = value;
    }

    /** The gRPC number of this code. */
    public int value() {
        return value;
    }

    /** The code for a wire number; numbers gRPC does not define map to {@link #UNKNOWN}, as in gRPC. */
    public static Code fromValue(int value) {
        return value >= 0 && value < BY_VALUE.length ? BY_VALUE[value] : UNKNOWN;
    }

    /** {@code Status} of this code with a description. */
    public Status withDescription(String description) {
        return new Status(this, description, null);
    }

    /** Shorthand for {@code withDescription(String.format(format, args)).asException()}. */
    public StatusException toException(String format, Object... args) {
        return withDescription(args.length == 0 ? format : String.format(format, args)).asException();
    }
}
