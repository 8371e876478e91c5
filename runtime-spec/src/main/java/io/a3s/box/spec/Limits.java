package io.a3s.box.spec;

/**
 * Bounds on what this module will read, so that a hostile or broken {@code config.json} costs a clear error and a
 * bounded amount of memory, never an OutOfMemoryError. Real configs are far below every one of these: the largest
 * fixture containerd produced here ({@code --privileged}, which lists every host device) is 12 KiB; a Kubernetes
 * config carries up to 256 KiB of annotations.
 */
public final class Limits {
    /** Largest {@code config.json} (or exec process JSON) read, in bytes. */
    public static final int MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;
    /** Deepest nesting of JSON objects and arrays; a real spec nests 6 levels deep. */
    public static final int MAX_NESTING_DEPTH = 64;
    /** Longest number literal, in characters; a uint64 has 20 digits. */
    public static final int MAX_NUMBER_LENGTH = 32;
    /** Longest single argument or environment entry, as Linux's MAX_ARG_STRLEN: execve rejects longer ones. */
    public static final int MAX_ARG_BYTES = 32 * 4096;

    private Limits() {}
}
