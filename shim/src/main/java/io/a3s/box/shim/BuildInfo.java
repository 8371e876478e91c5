package io.a3s.box.shim;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** Version and commit of this build, stamped into the jar by Maven resource filtering. */
public record BuildInfo(String version, String commit) {
    public static final BuildInfo CURRENT = load();

    private static BuildInfo load() {
        Properties p = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream("version.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            // fall through to "unknown": a version string is never worth failing for
        }
        return new BuildInfo(clean(p.getProperty("version")), clean(p.getProperty("commit")));
    }

    private static String clean(String v) {
        return v == null || v.isBlank() || v.startsWith("${") ? "unknown" : v;
    }

    @Override
    public String toString() {
        return version + " (commit " + commit + ")";
    }
}
