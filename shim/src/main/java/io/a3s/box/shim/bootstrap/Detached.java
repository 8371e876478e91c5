package io.a3s.box.shim.bootstrap;

import java.io.File;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Starting a long-lived daemon from a short-lived (or unrelated) process: the shim daemon from {@code start},
 * the pool daemon from its first client. The daemon is detached from everything of its starter: its own session
 * ({@code setsid}, so a signal to the starter's process group does not reach it), stdin on {@code /dev/null},
 * stdout and stderr appended to its log file (never a pipe, which would break when the starter exits), cwd
 * {@code /}. Concurrent starters serialize on a lock file and the second one finds the first one's daemon.
 */
public final class Detached {
    private static final List<String> SETSID = List.of("/usr/bin/setsid", "/bin/setsid");
    private static final long POLL_MILLIS = 5;

    private Detached() {
    }

    /** The {@code setsid} binary. */
    public static String setsid() {
        for (String s : SETSID) {
            if (Files.isExecutable(Path.of(s))) {
                return s;
            }
        }
        return "setsid"; // from PATH; a clear "cannot run" error if it is not there either
    }

    /**
     * Runs {@code command} in its own session, output appended to {@code log}.
     *
     * @param env added to (or replacing in) this process's environment
     */
    public static Process spawn(List<String> command, Path log, Map<String, String> env) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(setsid());
        cmd.addAll(command);
        File logFile = log.toFile();
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .directory(new File("/"))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile))
                .redirectError(ProcessBuilder.Redirect.appendTo(logFile));
        pb.environment().putAll(env);
        return pb.start();
    }

    /** An exclusive lock on {@code ch} (the file {@code path}), waiting up to {@code timeout}. */
    public static FileLock lock(FileChannel ch, Path path, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            FileLock l = ch.tryLock();
            if (l != null) {
                return l;
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new IOException("another process has held " + path + " for " + timeout.toSeconds() + " s");
            }
            Thread.sleep(POLL_MILLIS);
        }
    }

    /** {@code " (<log>: <its last line>)"} for an error message, or "" if there is no log. */
    public static String logHint(Path log) {
        if (!Files.isReadable(log)) {
            return "";
        }
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            String last = lines.isEmpty() ? "" : lines.getLast().strip();
            return " (" + log + (last.isEmpty() ? "" : ": " + last) + ")";
        } catch (IOException | RuntimeException e) {
            return " (see " + log + ")";
        }
    }
}
