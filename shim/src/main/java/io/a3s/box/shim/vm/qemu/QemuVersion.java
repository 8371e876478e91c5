package io.a3s.box.shim.vm.qemu;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The version a QEMU binary reports ({@code qemu-system-x86_64 --version}).
 *
 * <p>It matters for one known reason: Debian 12's QEMU 7.2 serves 9p with a fix for CVE-2023-2861 that breaks
 * {@code mknod} of a FIFO or a socket on the shared directory (QEMU makes the node on the host, refuses to open
 * the special file for the chmod that follows, and removes it: the guest gets ENXIO). 10.0, the oldest release
 * a3s-box is tested on, makes them. {@code docs/vm.md}, "QEMU's version".
 */
public record QemuVersion(int major, int minor, int micro) implements Comparable<QemuVersion> {
    /** The oldest QEMU tested to make FIFOs and Unix sockets on a 9p export. */
    public static final QemuVersion SPECIAL_FILES_ON_9P = new QemuVersion(10, 0, 0);

    private static final Pattern VERSION = Pattern.compile("QEMU emulator version (\\d+)\\.(\\d+)(?:\\.(\\d+))?");

    /** The version in {@code qemu --version}'s output, or empty if it names none. */
    static Optional<QemuVersion> parse(String versionOutput) {
        Matcher m = VERSION.matcher(versionOutput);
        if (!m.find()) {
            return Optional.empty();
        }
        return Optional.of(new QemuVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                m.group(3) == null ? 0 : Integer.parseInt(m.group(3))));
    }

    /** Runs {@code qemu --version} (at most 5 s). */
    public static QemuVersion of(Path qemu) throws IOException {
        Process p = new ProcessBuilder(qemu.toString(), "--version").redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        try {
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(qemu + " --version did not answer within 5 s");
            }
            String out;
            try (InputStream in = p.getInputStream()) {
                out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            return parse(out).orElseThrow(() -> new IOException(qemu + " --version printed no version: "
                    + out.strip().lines().findFirst().orElse("(nothing)")));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException(qemu + " --version: interrupted", e);
        }
    }

    /** Whether this QEMU's 9p server makes FIFOs and sockets (see the class comment). */
    public boolean makesSpecialFilesOn9p() {
        return compareTo(SPECIAL_FILES_ON_9P) >= 0;
    }

    @Override
    public int compareTo(QemuVersion o) {
        int c = Integer.compare(major, o.major);
        if (c == 0) {
            c = Integer.compare(minor, o.minor);
        }
        return c != 0 ? c : Integer.compare(micro, o.micro);
    }

    @Override
    public String toString() {
        return major + "." + minor + "." + micro;
    }
}
