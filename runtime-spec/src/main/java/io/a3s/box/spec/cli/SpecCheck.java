package io.a3s.box.spec.cli;

import io.a3s.box.spec.SpecError;
import io.a3s.box.spec.SpecException;
import io.a3s.box.spec.guest.GuestContainerSpec;
import io.a3s.box.spec.guest.GuestExecSpec;
import io.a3s.box.spec.guest.SpecMapper;
import io.a3s.box.spec.guest.Warning;
import io.a3s.box.spec.oci.OciJson;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code a3s-box spec check [--id ID] PATH}: validates a {@code config.json} (or the one in a bundle directory),
 * maps it, and prints the guest container spec. With {@code --process}, PATH is an exec's process JSON (the
 * {@code ExecProcessRequest.spec} containerd sends) and the guest process spec is printed.
 *
 * <p>Exit status: 0 with the mapped spec as JSON on stdout (warnings, if any, also go to stderr as
 * {@code warning: path: reason}); 1 with one {@code path: rule} line per problem on stderr; 2 for a usage or I/O
 * error. The {@code a3s-box} launcher hands it the arguments that follow {@code spec}.
 */
public final class SpecCheck {
    public static final int OK = 0;
    public static final int INVALID = 1;
    public static final int USAGE = 2;

    /** The container id used for guest paths when none is given. */
    public static final String DEFAULT_ID = "spec-check";

    private static final String USAGE_TEXT = """
            usage: a3s-box spec check [--id ID] PATH
                   a3s-box spec check --process PATH
              PATH       a config.json, or a bundle directory holding one
              --id       container id for the guest paths (default: %s)
              --process  PATH is an exec's process JSON (ExecProcessRequest.spec)
            """.formatted(DEFAULT_ID);

    private SpecCheck() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the command; never calls System.exit, so the launcher can embed it. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        String id = DEFAULT_ID;
        String path = null;
        boolean process = false;
        if (args.length == 0 || !args[0].equals("check")) {
            err.print(USAGE_TEXT);
            return USAGE;
        }
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "-h", "--help" -> {
                    out.print(USAGE_TEXT);
                    return OK;
                }
                case "--process" -> process = true;
                case "--id" -> {
                    if (++i == args.length) {
                        err.print("a3s-box spec check: --id needs a value\n" + USAGE_TEXT);
                        return USAGE;
                    }
                    id = args[i];
                }
                default -> {
                    if (path != null || args[i].startsWith("-")) {
                        err.print("a3s-box spec check: unexpected argument \"" + args[i] + "\"\n" + USAGE_TEXT);
                        return USAGE;
                    }
                    path = args[i];
                }
            }
        }
        if (path == null) {
            err.print(USAGE_TEXT);
            return USAGE;
        }
        return check(id, Path.of(path).toAbsolutePath(), process, out, err);
    }

    private static int check(String id, Path path, boolean process, PrintStream out, PrintStream err) {
        try {
            Object mapped;
            List<Warning> warnings;
            if (process) {
                GuestExecSpec exec = SpecMapper.mapExec(OciJson.readProcess(path), null);
                mapped = exec.process();
                warnings = exec.warnings();
            } else {
                Path bundle = Files.isDirectory(path) ? path : path.getParent();
                GuestContainerSpec container = SpecMapper.map(id, bundle, OciJson.readSpec(path));
                mapped = container;
                warnings = container.warnings();
            }
            for (Warning w : warnings) {
                err.println("warning: " + w);
            }
            out.println(OciJson.writePretty(mapped));
            return OK;
        } catch (SpecException e) {
            for (SpecError error : e.errors()) {
                err.println(error);
            }
            return INVALID;
        } catch (NoSuchFileException e) {
            err.println("a3s-box spec check: " + e.getFile() + ": no such file");
            return USAGE;
        } catch (IOException e) {
            err.println("a3s-box spec check: " + path + ": " + e.getMessage());
            return USAGE;
        } catch (IllegalArgumentException e) {
            err.println("a3s-box spec check: " + e.getMessage());
            return USAGE;
        }
    }
}
