package io.a3s.box.shim.stdio;

import io.a3s.box.guest.v1.ProcessSpec;
import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;

/**
 * The stdio of a process as containerd hands it over (CreateTaskRequest / ExecProcessRequest): three paths,
 * any of them empty for "unused", and whether a terminal is wanted.
 *
 * <p>Forms of {@code stdout} (containerd's runc shim decides on it; stderr follows):
 * a plain path (a FIFO the client made, or a regular file), {@code fifo://path}, {@code file:///abs/path}
 * (both streams appended to one file), {@code binary:///abs/path?k=v} (a logging binary fed on fds 3 and 4).
 */
public record StdioPaths(String stdin, String stdout, String stderr, boolean terminal) {
    public enum Kind { NULL, FIFO_OR_FILE, FILE_URI, BINARY }

    public StdioPaths {
        stdin = stdin == null ? "" : stdin;
        stdout = stdout == null ? "" : stdout;
        stderr = stderr == null ? "" : stderr;
    }

    public boolean hasStdin() {
        return !stdin.isEmpty();
    }

    /**
     * The process's stdio as the guest is to make it: a terminal, a stdin pipe if the client has a stdin, and
     * {@code /dev/null} for an output stream no host end takes (an empty path: containerd's null io, or
     * {@code ctr task exec} without a stderr), as runc's shim gives it; a pipe nobody reads would stop the
     * process once full. A {@code file://} or {@code binary://} stdout takes both streams.
     */
    public ProcessSpec applyTo(ProcessSpec spec) {
        boolean uri = stdout.startsWith("file://") || stdout.startsWith("binary://");
        return spec.toBuilder().setTerminal(terminal).setStdin(hasStdin())
                .setDiscardStdout(!terminal && stdout.isEmpty())
                .setDiscardStderr(!terminal && stderr.isEmpty() && !uri).build();
    }

    /** How stdout (and so stderr) is delivered. */
    public Kind kind() throws StatusException {
        if (stdout.isEmpty() && stderr.isEmpty()) {
            return Kind.NULL;
        }
        if (stdout.startsWith("binary://")) {
            return Kind.BINARY;
        }
        if (stdout.startsWith("file://")) {
            return Kind.FILE_URI;
        }
        if (stdout.contains("://") && !stdout.startsWith("fifo://")) {
            throw Code.INVALID_ARGUMENT.toException("stdio: unsupported scheme in %s (fifo, file and binary are)",
                    stdout);
        }
        return Kind.FIFO_OR_FILE;
    }

    /** The path of a plain or {@code fifo://} stdio string. */
    public static Path plainPath(String s) {
        return Path.of(s.startsWith("fifo://") ? s.substring("fifo://".length()) : s);
    }

    /** The URI of a {@code file://} or {@code binary://} stdout, validated. */
    public URI uri() throws StatusException {
        try {
            URI u = new URI(stdout);
            if (u.getPath() == null || !u.getPath().startsWith("/")) {
                throw Code.INVALID_ARGUMENT.toException("stdio: %s needs an absolute path", stdout);
            }
            return u;
        } catch (URISyntaxException e) {
            throw Code.INVALID_ARGUMENT.toException("stdio: malformed URI %s: %s", stdout, e.getMessage());
        }
    }
}
