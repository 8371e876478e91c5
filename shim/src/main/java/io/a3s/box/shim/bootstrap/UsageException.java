package io.a3s.box.shim.bootstrap;

/** A command line the shim binary cannot act on: an unknown flag or action, a missing value. Exit status 1. */
public final class UsageException extends Exception {
    public UsageException(String message) {
        super(message);
    }
}
