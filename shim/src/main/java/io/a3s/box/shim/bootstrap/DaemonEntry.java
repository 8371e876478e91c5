package io.a3s.box.shim.bootstrap;

import io.a3s.box.shim.daemon.DaemonConfig;
import io.a3s.box.shim.daemon.ShimDaemon;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Calls the daemon: {@link ShimDaemon#serve}, or {@code public static int serve(DaemonConfig)} of the class
 * named by the system property {@value #CLASS_PROPERTY}. Tests run {@code start} against a stand-in daemon
 * that way; the property reaches the daemon because {@code start} spawns it with its own JVM options.
 */
final class DaemonEntry {
    static final String CLASS_PROPERTY = "a3s.shim.daemon-class";

    private DaemonEntry() {
    }

    static int serve(DaemonConfig config) throws Throwable {
        String name = System.getProperty(CLASS_PROPERTY);
        if (name == null || name.isEmpty()) {
            return ShimDaemon.serve(config);
        }
        MethodHandle serve = MethodHandles.publicLookup().findStatic(Class.forName(name), "serve",
                MethodType.methodType(int.class, DaemonConfig.class));
        return (int) serve.invokeExact(config);
    }
}
