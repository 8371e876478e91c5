package io.a3s.box.ttrpc.internal;

import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.Status;

/**
 * The one place where {@link Status} meets the wire's {@code google.rpc.Status}. Both the server (answering)
 * and the client (reading answers) go through here, so codes and messages cannot drift apart.
 */
public final class WireStatus {
    private WireStatus() {
    }

    public static io.a3s.box.ttrpc.wire.proto.Status toWire(Status status) {
        var b = io.a3s.box.ttrpc.wire.proto.Status.newBuilder().setCode(status.code().value());
        if (status.description() != null) {
            b.setMessage(status.description());
        }
        return b.addAllDetails(status.details()).build();
    }

    /** An absent status, like code 0, means success (ttrpc servers may omit it). */
    public static Status fromWire(io.a3s.box.ttrpc.wire.proto.Status wire) {
        if (wire == null || wire.getCode() == 0) {
            return Status.OK;
        }
        return new Status(Code.fromValue(wire.getCode()), wire.getMessage(), null, wire.getDetailsList());
    }
}
