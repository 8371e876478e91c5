package io.a3s.box.shim.daemon;

import io.a3s.box.shim.Layout;

import java.nio.file.Path;
import java.util.Objects;

/**
 * What the shim daemon of one containerd needs to serve: where to listen, whose events to publish where.
 *
 * @param layout            the state tree (socket, pid file, task files, VM directories)
 * @param containerdAddress containerd's gRPC socket ({@code -address} of start)
 * @param ttrpcAddress      containerd's ttrpc socket ({@code $TTRPC_ADDRESS}), where events are forwarded
 * @param debug             containerd runs at debug level ({@code -debug}, or BootstrapParams' log level)
 */
public record DaemonConfig(Layout layout, String containerdAddress, String ttrpcAddress, boolean debug) {
    public DaemonConfig {
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(containerdAddress, "containerdAddress");
        Objects.requireNonNull(ttrpcAddress, "ttrpcAddress");
    }

    public Path socket() {
        return layout.shimSocket(containerdAddress, ttrpcAddress);
    }

    public Path pidFile() {
        return layout.shimPidFile(containerdAddress, ttrpcAddress);
    }

    public Path logFile() {
        return layout.shimLog(containerdAddress, ttrpcAddress);
    }
}
