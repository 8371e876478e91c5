package io.a3s.box.shim;

import io.a3s.box.shim.bootstrap.Invocation;
import io.a3s.box.shim.bootstrap.ShimCli;

/**
 * {@code containerd-shim-a3s-box}: containerd's runtime v2 shim binary. See {@link ShimCli} for the actions and
 * docs/shim-bootstrap.md for the contract with containerd.
 */
public final class ShimMain {
    private ShimMain() {
    }

    public static void main(String[] args) {
        System.exit(ShimCli.run(args, Invocation.system()));
    }
}
