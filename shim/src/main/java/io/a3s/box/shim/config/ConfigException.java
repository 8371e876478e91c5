package io.a3s.box.shim.config;

/**
 * A configuration that cannot be used: unreadable, not TOML, an unknown key or a value out of range. The
 * message names the source and the key, and says what is allowed, e.g.
 * {@code /etc/a3s-box/config.toml: vm.vcpus: 0 is out of range 1..64}.
 */
public final class ConfigException extends Exception {
    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
