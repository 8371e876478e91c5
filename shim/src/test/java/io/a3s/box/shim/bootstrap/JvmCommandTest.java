package io.a3s.box.shim.bootstrap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @Test
    void aNativeDaemonKeepsOnlyPropertiesAndMemorySizes() {
        JvmCommand start = new JvmCommand(List.of("/jdk/bin/java", "--enable-native-access=ALL-UNNAMED", "-Xss256k",
                "-XX:+UseSerialGC", "-Xms8m", "-Xmx128m", "-Xmn4m", "-Da3s.home=/opt/a3s", "-XX:AOTCache=/b/start.aot",
                "-cp", "/b/a.jar:/b/-Dnot.a.property.jar"));
        JvmCommand daemon = start.withNativeImage("/b/a3s-box-daemon");
        assertEquals(List.of("/b/a3s-box-daemon", "-Xss256k", "-Xms8m", "-Xmx128m", "-Xmn4m", "-Da3s.home=/opt/a3s"),
                daemon.prefix());
        // the main class stays: the image dispatches on it, and a daemon reads its own command back as a JVM's
        assertEquals(List.of("/b/a3s-box-daemon", "-Xss256k", "-Xms8m", "-Xmx128m", "-Xmn4m", "-Da3s.home=/opt/a3s",
                MAIN, "serve"), daemon.with(MAIN, List.of("serve")));
        assertEquals(daemon.prefix(), JvmCommand.of("/b/a3s-box-daemon",
                List.of("-Xss256k", "-Xms8m", "-Xmx128m", "-Xmn4m", "-Da3s.home=/opt/a3s", MAIN, "serve"), MAIN).prefix());
    }

    @Test
    void theNativeImageIsTakenWhenItIsThere(@TempDir Path dir) throws Exception {
        JvmCommand start = new JvmCommand(List.of("/jdk/bin/java", "-Da3s.home=/opt/a3s", "-cp", "/b/a.jar"));
        String saved = System.getProperty(JvmCommand.DAEMON_NATIVE_PROPERTY);
        try {
            Path image = dir.resolve("a3s-box-daemon");
            System.setProperty(JvmCommand.DAEMON_NATIVE_PROPERTY, image.toString());
            assertSame(start, start.forDaemon()); // not built (A3S_BOX_NATIVE=0, or removed): the JVM
            Files.createFile(image);
            assertSame(start, start.forDaemon()); // not executable
            assertTrue(image.toFile().setExecutable(true));
            assertEquals(List.of(image.toString(), "-Da3s.home=/opt/a3s"), start.forDaemon().prefix());
        } finally {
            if (saved == null) {
                System.clearProperty(JvmCommand.DAEMON_NATIVE_PROPERTY);
            } else {
                System.setProperty(JvmCommand.DAEMON_NATIVE_PROPERTY, saved);
            }
        }
    }
}
