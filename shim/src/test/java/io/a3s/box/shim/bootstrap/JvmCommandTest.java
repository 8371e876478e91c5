package io.a3s.box.shim.bootstrap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JvmCommandTest {
    private static final String MAIN = "io.a3s.box.shim.ShimMain";

    @Test
    void prefixStopsAtTheMainClassAndDropsTrainingOptions() {
        JvmCommand c = JvmCommand.of("/jdk/bin/java",
                List.of("-Xss256k", "-XX:AOTCacheOutput=/tmp/x.aot", "-cp", MAIN, "-XX:AOTCache=/b/start.aot", MAIN,
                        "-id", "x", "start"),
                MAIN);
        // the class path's value is not the main class even when it reads like one
        assertEquals(List.of("/jdk/bin/java", "-Xss256k", "-cp", MAIN, "-XX:AOTCache=/b/start.aot"), c.prefix());
        assertEquals(List.of("/jdk/bin/java", "-Xss256k", "-cp", MAIN, "-XX:AOTCache=/b/start.aot", MAIN, "serve"),
                c.with(MAIN, List.of("serve")));
    }

    @Test
    void aCommandLineWithoutTheMainClassIsRefused() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> JvmCommand.of("/jdk/bin/java", List.of("-jar", "x.jar"), MAIN));
        assertEquals("this JVM's command line does not name " + MAIN + " (start the shim with its launcher)",
                e.getMessage());
    }

    @Test
    void aDaemonMapsTheDaemonsCacheInPlaceOfThisJvmsWithoutRelocation() {
        JvmCommand start = new JvmCommand(List.of("/jdk/bin/java", "-Xss256k", "-XX:AOTCache=/b/start.aot",
                "-cp", "/b/a.jar"));
        JvmCommand daemon = start.withDaemonCache("/b/daemon.aot");
        assertEquals(List.of("/jdk/bin/java", "-XX:+UnlockDiagnosticVMOptions", "-XX:ArchiveRelocationMode=0",
                "-XX:AOTCache=/b/daemon.aot", "-Xss256k", "-cp", "/b/a.jar"), daemon.prefix());
        // a daemon starting another daemon (the shim daemon its pool) passes the same flags, once
        assertEquals(daemon.prefix(), daemon.withDaemonCache("/b/daemon.aot").prefix());
    }

    @Test
    void withoutADaemonCacheFileTheCommandIsUnchanged(@TempDir Path dir) throws Exception {
        JvmCommand start = new JvmCommand(List.of("/jdk/bin/java", "-XX:AOTCache=/b/start.aot", "-cp", "/b/a.jar"));
        String saved = System.getProperty(JvmCommand.DAEMON_AOT_PROPERTY);
        try {
            System.clearProperty(JvmCommand.DAEMON_AOT_PROPERTY);
            assertSame(start, start.forDaemon());
            System.setProperty(JvmCommand.DAEMON_AOT_PROPERTY, dir.resolve("missing.aot").toString());
            assertSame(start, start.forDaemon()); // not trained (yet, or training failed): the launcher's cache
            Path cache = Files.createFile(dir.resolve("daemon.aot"));
            System.setProperty(JvmCommand.DAEMON_AOT_PROPERTY, cache.toString());
            assertEquals("-XX:AOTCache=" + cache, start.forDaemon().prefix().get(3));
        } finally {
            if (saved == null) {
                System.clearProperty(JvmCommand.DAEMON_AOT_PROPERTY);
            } else {
                System.setProperty(JvmCommand.DAEMON_AOT_PROPERTY, saved);
            }
        }
    }
}
