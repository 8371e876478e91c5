package io.a3s.box.shim;

import io.a3s.box.shim.cli.A3sBox;

import java.util.Arrays;

/**
 * The entry point of the daemons' native image ({@code a3s-box-daemon}, built by {@code scripts/build-native}):
 * its first argument names the Java main class it stands for, as on a {@code java} command line, so that
 * {@link io.a3s.box.shim.bootstrap.JvmCommand} builds the same command for either. Only the daemons run it:
 * the shim daemon ({@link ShimMain} {@code serve}) and the pool daemon ({@link A3sBox} {@code pool start}).
 */
public final class NativeMain {
    private NativeMain() {
    }

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println("a3s-box-daemon: usage: a3s-box-daemon " + ShimMain.class.getName() + "|"
                    + A3sBox.class.getName() + " ARGS...");
            System.exit(2);
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        if (args[0].equals(ShimMain.class.getName())) {
            ShimMain.main(rest);
        } else if (args[0].equals(A3sBox.class.getName())) {
            A3sBox.main(rest);
        } else {
            System.err.println("a3s-box-daemon: unknown main class \"" + args[0] + "\"");
            System.exit(2);
        }
    }
}
