package io.a3s.box.shim.events;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;

/**
 * {@code google.protobuf.Any} the way containerd writes them: the type URL is the bare full message name
 * ({@code containerd.events.TaskExit}), with no {@code type.googleapis.com/} prefix. containerd 1.6 resolves
 * URLs by exact name, so protobuf-java's {@code Any.pack} (which adds the prefix) would make every event
 * unreadable there; and {@code Any.unpack} cannot read containerd's prefix-less values. Use these instead.
 */
public final class Anys {
    private static final String GOOGLE_PREFIX = "type.googleapis.com/";

    private Anys() {
    }

    /** Packs with a prefix-less type URL. */
    public static Any pack(Message message) {
        return Any.newBuilder().setTypeUrl(message.getDescriptorForType().getFullName())
                .setValue(message.toByteString()).build();
    }

    /** The type name of an Any, with any {@code .../} prefix removed. */
    public static String typeName(Any any) {
        String url = any.getTypeUrl();
        return url.startsWith(GOOGLE_PREFIX) ? url.substring(GOOGLE_PREFIX.length()) : url;
    }

    /** True when the Any holds {@code typeName}, with or without the Google prefix. */
    public static boolean is(Any any, String typeName) {
        return typeName(any).equals(typeName);
    }

    /**
     * Unpacks an Any that must hold {@code typeName}.
     *
     * @throws StatusException INVALID_ARGUMENT naming what was expected and what came
     */
    public static <T extends Message> T unpack(Any any, String typeName, Parser<T> parser) throws StatusException {
        if (!is(any, typeName)) {
            throw Code.INVALID_ARGUMENT.toException("expected an Any of type %s, got %s", typeName,
                    any.getTypeUrl().isEmpty() ? "an empty type URL" : any.getTypeUrl());
        }
        try {
            return parser.parseFrom(any.getValue());
        } catch (InvalidProtocolBufferException e) {
            throw Code.INVALID_ARGUMENT.toException("cannot decode %s: %s", typeName, e.getMessage());
        }
    }
}
