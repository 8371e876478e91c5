package io.a3s.box.spec.guest;

import java.util.List;

/**
 * The result of mapping an exec's process: the process for the agent, and (host side) the fields it did not
 * honour.
 */
public record GuestExecSpec(GuestProcessSpec process, List<Warning> warnings) {
    public GuestExecSpec {
        warnings = List.copyOf(warnings);
    }
}
