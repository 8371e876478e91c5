package io.a3s.box.spec.guest;

import io.a3s.box.spec.SpecError;
import io.a3s.box.spec.SpecException;
import io.a3s.box.spec.SpecPath;
import java.util.ArrayList;
import java.util.List;

/** What one mapping found: refusals (errors) and fields not honoured as written (warnings). Not thread-safe. */
final class Report {
    private final List<SpecError> errors = new ArrayList<>();
    private final List<Warning> warnings = new ArrayList<>();

    void errors(List<SpecError> found) {
        errors.addAll(found);
    }

    /** The config asks for something a container in a VM cannot have; the container must not be created. */
    void refuse(SpecPath path, String reason) {
        errors.add(new SpecError(path.toString(), reason));
    }

    /** The config asks for something that is safe to go without; the container is created anyway. */
    void warn(SpecPath path, String reason) {
        warnings.add(new Warning(path.toString(), reason));
    }

    List<Warning> warnings() {
        return warnings;
    }

    void throwIfRefused() throws SpecException {
        if (!errors.isEmpty()) {
            throw new SpecException(errors);
        }
    }
}
