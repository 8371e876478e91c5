package io.a3s.box.shim.daemon;

import io.a3s.box.spec.guest.GuestMount;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Optional;

/**
 * Answers, on the host, questions the agent would otherwise answer inside the VM by reading the container's root
 * filesystem over 9p, where each lookup is a round trip of 1 to 3 ms under TCG (docs/performance.md). Every
 * answer is the guest's answer or none: when a spec mount could cover the file, or the rootfs is not what it
 * seems, the lookup declines and the agent does it itself.
 *
 * <p>Paths are resolved inside the rootfs the way the container sees it: a symlink's target is taken relative to
 * the rootfs, never to the host's root (an image cannot make the host read its own files).
 *
 * <p>For a container's first process only: before it runs, the host's view of the rootfs is the guest's. Once it
 * runs, it may have mounted something or written files whose data is still in the guest's page cache (9p
 * {@code cache=loose}), so an exec's lookups stay in the guest.
 */
final class RootfsLookup {
    static final int MAX_PASSWD_BYTES = 1 << 20;
    private static final int MAX_LINKS = 40;

    private RootfsLookup() {
    }

    /**
     * HOME for {@code uid} as runc and the agent compute it when the process has none: the home field of the first
     * {@code /etc/passwd} entry of that uid, {@code /} when there is none (or no file). Empty when this cannot be
     * decided here.
     */
    static Optional<String> home(Path rootfs, long uid, List<GuestMount> mounts) {
        try {
            for (GuestMount m : mounts) {
                String at = resolve(rootfs, m.destination());
                if (at == null || at.equals("/") || at.equals("/etc") || at.equals("/etc/passwd")) {
                    return Optional.empty();
                }
            }
            String passwdAt = resolve(rootfs, "/etc/passwd");
            if (!"/etc/passwd".equals(passwdAt)) {
                return Optional.empty(); // a symlink in the way: the guest resolves it
            }
            Path passwd = rootfs.resolve("etc/passwd");
            BasicFileAttributes a;
            try {
                a = Files.readAttributes(passwd, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            } catch (NoSuchFileException e) {
                return Optional.of("/");
            }
            if (!a.isRegularFile() || a.size() > MAX_PASSWD_BYTES) {
                return Optional.empty();
            }
            return Optional.of(homeIn(Files.readString(passwd, StandardCharsets.ISO_8859_1), uid));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /**
     * How many leading entries of the PATH search for {@code arg0} the agent may skip ({@code path_skip}): those
     * that hold no regular file of that name in the rootfs, counted up to the first entry that does, or that this
     * cannot judge (relative or empty, at or under a spec mount, or not resolvable here). 0 when {@code arg0}
     * has a '/', or when the environment names no PATH.
     */
    static int pathSkip(Path rootfs, String arg0, List<String> env, List<GuestMount> mounts) {
        if (arg0.isEmpty() || arg0.contains("/")) {
            return 0;
        }
        String path = null;
        for (String e : env) {
            if (e.startsWith("PATH=")) {
                path = e.substring(5); // the agent takes the last one
            }
        }
        if (path == null) {
            return 0;
        }
        try {
            List<String> covered = new java.util.ArrayList<>();
            for (GuestMount m : mounts) {
                String at = resolve(rootfs, m.destination());
                if (at == null) {
                    return 0;
                }
                covered.add(at);
            }
            int skip = 0;
            for (String dir : path.split(":", -1)) {
                if (!dir.startsWith("/")) {
                    break;
                }
                String at = resolve(rootfs, dir + "/" + arg0);
                if (at == null || covered.stream().anyMatch(c -> at.equals(c) || at.startsWith(c.equals("/") ? c
                        : c + "/"))) {
                    break;
                }
                if (Files.isRegularFile(rootfs.resolve(at.substring(1)), LinkOption.NOFOLLOW_LINKS)) {
                    break; // the guest checks it (and whether it may execute it) itself
                }
                skip++;
            }
            return skip;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** The agent's rule (guest/src/container.c, home_of), on the text of a passwd file. */
    static String homeIn(String passwd, long uid) {
        for (String line : passwd.split("\n")) {
            String[] f = line.split(":", 7);
            if (f.length >= 6 && !f[5].isEmpty() && f[2].matches("[0-9]{1,19}")) {
                try {
                    if (Long.parseUnsignedLong(f[2]) == uid) {
                        return f[5];
                    }
                } catch (NumberFormatException e) {
                    // not a uid
                }
            }
        }
        return "/";
    }

    /**
     * Where {@code path} leads inside {@code rootfs}, as an absolute container path with every symlink followed
     * (inside the rootfs) up to the last component that exists; what does not exist yet is appended as given.
     * Null when it cannot be told (too many links, a component that is not a directory).
     */
    static String resolve(Path rootfs, String path) throws IOException {
        Deque<String> todo = new ArrayDeque<>(List.of(path.split("/")));
        Deque<String> done = new ArrayDeque<>();
        int links = 0;
        boolean missing = false;
        while (!todo.isEmpty()) {
            String c = todo.removeFirst();
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                if (missing) {
                    return null; // back out of what does not exist yet: the guest may create it first
                }
                if (!done.isEmpty()) {
                    done.removeLast();
                }
                continue;
            }
            done.addLast(c);
            if (missing) {
                continue;
            }
            Path host = rootfs.resolve(String.join("/", done));
            BasicFileAttributes a;
            try {
                a = Files.readAttributes(host, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            } catch (NoSuchFileException e) {
                missing = true;
                continue;
            }
            if (a.isSymbolicLink()) {
                if (++links > MAX_LINKS) {
                    return null;
                }
                String target = Files.readSymbolicLink(host).toString();
                done.removeLast();
                if (target.startsWith("/")) {
                    done.clear();
                }
                List<String> parts = List.of(target.split("/"));
                for (int i = parts.size() - 1; i >= 0; i--) {
                    todo.addFirst(parts.get(i));
                }
            } else if (!a.isDirectory() && !todo.isEmpty() && todo.stream().anyMatch(s -> !s.isEmpty())) {
                return null; // a file in the middle of the path
            }
        }
        return "/" + String.join("/", done);
    }
}
