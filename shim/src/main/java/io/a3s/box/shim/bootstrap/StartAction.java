package io.a3s.box.shim.bootstrap;

import io.a3s.box.shim.Layout;
import io.a3s.box.shim.ShimMain;
import io.a3s.box.shim.config.ConfigException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * {@code start}: make sure the shim daemon of this containerd runs, and tell containerd its address.
 *
 * <p>Contract with containerd (every version): stdout is exactly {@code unix://<socket>} (no newline) and the
 * same string is in {@code <bundle>/address}; nothing on stderr on success (containerd reads stdout and stderr
 * together, as one answer); exit 0. On failure a one-line reason on stderr and exit 1.
 */
final class StartAction {
    private StartAction() {
    }

    static int run(ShimArgs args, Invocation inv) {
        try {
            String namespace = Invocation.identifier("namespace", args.namespace());
            String id = Invocation.identifier("id", args.id());
            String address = args.require("address", args.address());
            StartInput input = StartInput.classify(StartInput.readAll(inv.stdin()), id, namespace);

            String ttrpcAddress = inv.getenv(Invocation.TTRPC_ADDRESS_ENV);
            if (ttrpcAddress.isEmpty() && input instanceof StartInput.Bootstrap b) {
                ttrpcAddress = b.params().getContainerdTtrpcAddress();
            }
            if (ttrpcAddress.isEmpty()) {
                throw new UsageException("$TTRPC_ADDRESS is not set (containerd sets it for every shim)");
            }
            Layout layout = inv.layout();
            // the config's shim.debug is the daemon's to read (serve)
            boolean debug = args.debug() || (input instanceof StartInput.Bootstrap b && b.debug());

            DaemonStarter starter = new DaemonStarter(layout, address, ttrpcAddress, debug,
                    JvmCommand.current(ShimMain.class.getName()), ShimMain.class.getName());
            Path socket = starter.socket().toAbsolutePath();
            if (socket.toString().getBytes(StandardCharsets.UTF_8).length > Layout.MAX_SOCKET_PATH) {
                throw new IOException("socket path " + socket + " is longer than " + Layout.MAX_SOCKET_PATH
                        + " bytes: choose a shorter state directory");
            }
            starter.ensureRunning();

            String answer = "unix://" + socket;
            AtomicFile.write(inv.cwd().resolve("address"), answer);
            inv.stdout().print(answer);
            inv.stdout().flush();
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return fail(inv, "interrupted");
        } catch (UsageException | ConfigException | IOException | RuntimeException e) {
            return fail(inv, e.getMessage());
        }
    }

    private static int fail(Invocation inv, String reason) {
        inv.stderr().println("containerd-shim-a3s-box start: " + oneLine(reason));
        inv.stderr().flush();
        return 1;
    }

    static String oneLine(String s) {
        return s == null ? "unknown error" : s.replace('\n', ' ').strip();
    }
}
