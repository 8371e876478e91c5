package io.a3s.box.ttrpc;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A service served by {@link TtrpcServer}: its full proto name and its methods.
 * <pre>{@code
 * ServiceDefinition.builder("containerd.task.v2.Task")
 *     .unary("State", StateRequest.parser(), service::state)
 *     .build();
 * }</pre>
 */
public final class ServiceDefinition {

    /** A method that decodes its own request and encodes its own response. */
    @FunctionalInterface
    public interface RawMethod {
        byte[] invoke(byte[] payload, CallContext context) throws Exception;
    }

    private final String name;
    private final Map<String, RawMethod> methods;

    private ServiceDefinition(String name, Map<String, RawMethod> methods) {
        this.name = name;
        this.methods = Map.copyOf(methods);
    }

    public static Builder builder(String name) {
        return new Builder(name);
    }

    public String name() {
        return name;
    }

    public Map<String, RawMethod> methods() {
        return methods;
    }

    /** The same methods under another service name (containerd's task v2 and v3 share every message). */
    public ServiceDefinition renamed(String newName) {
        return new ServiceDefinition(newName, methods);
    }

    public static final class Builder {
        private final String name;
        private final Map<String, RawMethod> methods = new LinkedHashMap<>();

        private Builder(String name) {
            this.name = Objects.requireNonNull(name, "name");
        }

        public <Q extends MessageLite, R extends MessageLite> Builder unary(
                String method, Parser<Q> parser, UnaryHandler<Q, R> handler) {
            return raw(method, (payload, ctx) -> {
                Q request;
                try {
                    request = parser.parseFrom(payload);
                } catch (InvalidProtocolBufferException e) {
                    throw Code.INVALID_ARGUMENT.toException("%s.%s: cannot decode request: %s",
                            name, method, e.getMessage());
                }
                R response = handler.handle(request, ctx);
                if (response == null) {
                    // A nil response is an error in Go's ttrpc too: every method answers a message.
                    throw Code.INTERNAL.toException("%s.%s: handler returned no response", name, method);
                }
                return response.toByteArray();
            });
        }

        public Builder raw(String method, RawMethod raw) {
            if (methods.putIfAbsent(Objects.requireNonNull(method), Objects.requireNonNull(raw)) != null) {
                throw new IllegalArgumentException("method " + name + "." + method + " registered twice");
            }
            return this;
        }

        public ServiceDefinition build() {
            return new ServiceDefinition(name, methods);
        }
    }
}
