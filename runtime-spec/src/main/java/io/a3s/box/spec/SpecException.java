package io.a3s.box.spec;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The one error type of this module: a spec that cannot be read, is invalid, or asks for something a container
 * in a VM cannot honour. It carries every problem found, not only the first, so that a user fixes a config in one
 * round trip.
 */
public final class SpecException extends Exception {
    private final List<SpecError> errors;

    public SpecException(List<SpecError> errors) {
        super(render(errors));
        if (errors.isEmpty()) {
            throw new IllegalArgumentException("a SpecException needs at least one error");
        }
        this.errors = List.copyOf(errors);
    }

    public SpecException(SpecError error) {
        this(List.of(error));
    }

    /** The problems, in the order they were found (document order for validation). */
    public List<SpecError> errors() {
        return errors;
    }

    private static String render(List<SpecError> errors) {
        return errors.stream().map(SpecError::toString).collect(Collectors.joining("; "));
    }
}
