package io.a3s.box.shim.vm;

/**
 * The one error type of the VM layer. Messages name the VM and what failed, lower-case and chained
 * ({@code "vm 3f2a: boot: no hello from the agent within PT30S (2 attempts); console: ..."}).
 */
public final class VmException extends Exception {
    /** What kind of failure, for callers that react differently (the pool retries BOOT_TIMEOUT). */
    public enum Kind {
        /** Bad configuration or host set-up (missing kernel, QEMU refused its arguments). Retrying won't help. */
        CONFIG,
        /** The VMM could not be launched or controlled. */
        LAUNCH,
        /** No answer from the agent within the boot deadline. */
        BOOT_TIMEOUT,
        /** The VM exited while booting or while a request was in flight. */
        EXITED,
        /** The agent answered, but not as expected (protocol version mismatch). */
        AGENT,
        /** Tearing the VM down left something behind (a process, a mount, a directory). */
        TEARDOWN,
        /** The operation was interrupted. */
        INTERRUPTED
    }

    private final Kind kind;

    public VmException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public VmException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
