package io.a3s.box.spec.guest;

/**
 * A field the mapping did not honour, or honoured differently than runc would, with the reason. Warnings never
 * stop a container; the shim logs them.
 */
public record Warning(String path, String reason) {
    @Override
    public String toString() {
        return path + ": " + reason;
    }
}
