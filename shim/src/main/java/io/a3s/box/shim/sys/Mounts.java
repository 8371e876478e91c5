package io.a3s.box.shim.sys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Mount table queries and teardown, for the mount namespace of this process. */
public final class Mounts {
    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

    private Mounts() {}

    /** Every mount point at or below {@code dir}, deepest first (the order to unmount them in). */
    public static List<Path> mountsUnder(Path dir) throws IOException {
        Path base = dir.toAbsolutePath().normalize();
        List<Path> found = new ArrayList<>();
        for (String line : Files.readAllLines(MOUNTINFO)) {
            // mountinfo: id parent major:minor root mount-point options ... - fstype source super-options
            String[] f = line.split(" ", 6);
            if (f.length < 5) {
                continue;
            }
            Path mp = Path.of(unescape(f[4]));
            if (mp.startsWith(base)) {
                found.add(mp);
            }
        }
        // Deepest first; for the same path (stacked mounts) the later, upper one comes first.
        List<Path> ordered = new ArrayList<>(found.reversed());
        ordered.sort(Comparator.comparingInt(Path::getNameCount).reversed());
        return ordered;
    }

    /**
     * Lazily unmounts ({@code MNT_DETACH}) everything mounted at or below {@code dir}, deepest first. A lazy
     * unmount cannot fail on a busy mount: the mount leaves the namespace at once and goes away when its last
     * user does. Returns what was unmounted.
     *
     * @throws IOException naming the first mount point that could not be unmounted (after trying all)
     */
    public static List<Path> detachAllUnder(Path dir) throws IOException {
        List<Path> done = new ArrayList<>();
        IOException first = null;
        // Stacked mounts show up once per layer; repeat until nothing is left (bounded).
        for (int round = 0; round < 8; round++) {
            List<Path> mounts = mountsUnder(dir);
            if (mounts.isEmpty()) {
                break;
            }
            boolean progress = false;
            for (Path mp : mounts) {
                try {
                    Linux.umount2(mp.toString(), Linux.MNT_DETACH | Linux.UMOUNT_NOFOLLOW);
                    done.add(mp);
                    progress = true;
                } catch (Linux.ErrnoException e) {
                    if (e.errno() != Linux.EINVAL && e.errno() != Linux.ENOENT && first == null) {
                        first = e;
                    }
                }
            }
            if (!progress) {
                break;
            }
        }
        if (first != null && !mountsUnder(dir).isEmpty()) {
            throw first;
        }
        return done;
    }

    /** The mount points of the cgroup hierarchies (v1 {@code cgroup} and v2 {@code cgroup2}) of this namespace. */
    public static List<Path> cgroupHierarchies() throws IOException {
        return cgroupHierarchies(Files.readAllLines(MOUNTINFO));
    }

    static List<Path> cgroupHierarchies(List<String> mountinfo) {
        List<Path> found = new ArrayList<>();
        for (String line : mountinfo) {
            // the filesystem type is the first field after the " - " that ends the optional fields
            int dash = line.indexOf(" - ");
            String[] f = line.split(" ", 6);
            if (dash < 0 || f.length < 5) {
                continue;
            }
            String fstype = line.substring(dash + 3).split(" ", 2)[0];
            if (fstype.equals("cgroup") || fstype.equals("cgroup2")) {
                found.add(Path.of(unescape(f[4])));
            }
        }
        return found;
    }

    /** Decodes mountinfo's octal escapes ({@code \040} for space, {@code \011}, {@code \012}, {@code \134}). */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()
                    && isOctal(s.charAt(i + 1)) && isOctal(s.charAt(i + 2)) && isOctal(s.charAt(i + 3))) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    private static boolean isOctal(char c) {
        return c >= '0' && c <= '7';
    }
}
