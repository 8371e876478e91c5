package io.a3s.box.shim;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HexFormat;

/**
 * Where a3s-box keeps its runtime state. Everything lives under one root ({@value #DEFAULT_ROOT}, or
 * {@code $A3S_BOX_STATE}, which tests point at a private directory), so that reconciling after a crash means
 * reading one tree.
 *
 * <pre>
 * /run/a3s-box/
 *   pool.sock, pool.pid            the pool daemon (one per host)
 *   pool.lock, pool.log            held by the live pool daemon (flock); its log when started on demand
 *   pool-run/                      `a3s-box pool run`'s default busybox root filesystem
 *   vms/&lt;vmId&gt;/                    one directory per VM (see vm.StateDir): qemu.pid, agent.sock, share/, owner
 *   shim/&lt;key&gt;.sock, &lt;key&gt;.pid    the shim daemon of one containerd (key = hash of its addresses)
 *   shim/&lt;key&gt;.log                 that daemon's log (each task's lines also go to its bundle's log FIFO)
 *   tasks/&lt;namespace&gt;/&lt;id&gt;.json   one file per live task: what `delete` needs to clean up after a crash
 * </pre>
 * Socket paths must fit in {@link #MAX_SOCKET_PATH} bytes, hence short names.
 */
public record Layout(Path root) {
    /**
     * The longest Unix socket path the JDK binds or connects to: sun_path's 108 bytes less its NUL and one more
     * ({@code MAX_UNIX_DOMAIN_PATH_LEN} of its nio_util.h), which is also containerd's {@code socketPathLimit}.
     */
    public static final int MAX_SOCKET_PATH = 106;
    public static final String DEFAULT_ROOT = "/run/a3s-box";
    public static final String ROOT_ENV = "A3S_BOX_STATE";

    /** The layout rooted at {@code $A3S_BOX_STATE}, or {@value #DEFAULT_ROOT}. */
    public static Layout fromEnvironment() {
        String env = System.getenv(ROOT_ENV);
        return new Layout(Path.of(env == null || env.isBlank() ? DEFAULT_ROOT : env));
    }

    public Path vms() {
        return root.resolve("vms");
    }

    public Path poolSocket() {
        return root.resolve("pool.sock");
    }

    public Path poolPidFile() {
        return root.resolve("pool.pid");
    }

    /** Locked (flock) by the live pool daemon for as long as it runs: one pool per state tree. */
    public Path poolLockFile() {
        return root.resolve("pool.lock");
    }

    /** The pool daemon's stdout and stderr when a client started it. */
    public Path poolLog() {
        return root.resolve("pool.log");
    }

    public Path shimDir() {
        return root.resolve("shim");
    }

    /** The shim daemon socket serving the containerd at these addresses. */
    public Path shimSocket(String containerdAddress, String ttrpcAddress) {
        return shimDir().resolve(daemonKey(containerdAddress, ttrpcAddress) + ".sock");
    }

    public Path shimPidFile(String containerdAddress, String ttrpcAddress) {
        return shimDir().resolve(daemonKey(containerdAddress, ttrpcAddress) + ".pid");
    }

    public Path shimLog(String containerdAddress, String ttrpcAddress) {
        return shimDir().resolve(daemonKey(containerdAddress, ttrpcAddress) + ".log");
    }

    public Path taskFile(String namespace, String id) {
        return root.resolve("tasks").resolve(namespace).resolve(id + ".json");
    }

    /**
     * 64-bit FNV-1a of (containerd address, NUL, ttrpc address, NUL), UTF-8, in 16 hex digits: one daemon per
     * containerd instance. Not a security digest: the inputs are containerd's own addresses, a few per host;
     * FNV because the launcher computes it in bash without a fork.
     */
    public static String daemonKey(String containerdAddress, String ttrpcAddress) {
        long h = 0xcbf29ce484222325L;
        for (String s : new String[] {containerdAddress, ttrpcAddress}) {
            for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
                h = (h ^ (b & 0xff)) * 0x100000001b3L;
            }
            h *= 0x100000001b3L;
        }
        return HexFormat.of().toHexDigits(h);
    }
}
