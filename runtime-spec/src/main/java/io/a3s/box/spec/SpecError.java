package io.a3s.box.spec;

import java.util.Objects;

/**
 * One problem found in a spec: where it is ({@code process.rlimits[2]}, see {@link SpecPath}) and which rule it
 * breaks ({@code soft 2048 exceeds hard 1024}). Rendered as {@code path: rule}, the form the CLI prints and the shim
 * puts in an INVALID_ARGUMENT status.
 */
public record SpecError(String path, String message) {
    public SpecError {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(message, "message");
    }

    @Override
    public String toString() {
        return path + ": " + message;
    }
}
