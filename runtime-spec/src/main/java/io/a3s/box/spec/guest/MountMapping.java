package io.a3s.box.spec.guest;

import static io.a3s.box.spec.guest.MountFlag.MS_BIND;
import static io.a3s.box.spec.guest.MountFlag.MS_DIRSYNC;
import static io.a3s.box.spec.guest.MountFlag.MS_LAZYTIME;
import static io.a3s.box.spec.guest.MountFlag.MS_MANDLOCK;
import static io.a3s.box.spec.guest.MountFlag.MS_NOATIME;
import static io.a3s.box.spec.guest.MountFlag.MS_NODEV;
import static io.a3s.box.spec.guest.MountFlag.MS_NODIRATIME;
import static io.a3s.box.spec.guest.MountFlag.MS_NOEXEC;
import static io.a3s.box.spec.guest.MountFlag.MS_NOSUID;
import static io.a3s.box.spec.guest.MountFlag.MS_NOSYMFOLLOW;
import static io.a3s.box.spec.guest.MountFlag.MS_RDONLY;
import static io.a3s.box.spec.guest.MountFlag.MS_REC;
import static io.a3s.box.spec.guest.MountFlag.MS_RELATIME;
import static io.a3s.box.spec.guest.MountFlag.MS_REMOUNT;
import static io.a3s.box.spec.guest.MountFlag.MS_SILENT;
import static io.a3s.box.spec.guest.MountFlag.MS_STRICTATIME;
import static io.a3s.box.spec.guest.MountFlag.MS_SYNCHRONOUS;

import io.a3s.box.spec.SpecPath;
import io.a3s.box.spec.oci.Mount;
import io.a3s.box.spec.validate.LinuxNames;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Maps {@code mounts}. Two kinds survive the trip into a VM: bind mounts, whose host source travels through the
 * 9p share (see {@link SharedDir}), and kernel filesystems that the guest kernel creates itself. Anything backed
 * by a host device or another host filesystem is refused: the VM has no access to it.
 */
final class MountMapping {
    /** Filesystems the guest creates from nothing; {@code cgroup} (v1) becomes {@code cgroup2}. */
    private static final Set<String> GUEST_FILESYSTEMS =
            Set.of("proc", "sysfs", "devpts", "tmpfs", "mqueue", "cgroup", "cgroup2");

    /** mount(8) option names and the flags they set ({@code rbind} sets two). */
    private static final Map<String, Set<MountFlag>> SETS = Map.ofEntries(
            Map.entry("ro", EnumSet.of(MS_RDONLY)), Map.entry("nosuid", EnumSet.of(MS_NOSUID)),
            Map.entry("nodev", EnumSet.of(MS_NODEV)), Map.entry("noexec", EnumSet.of(MS_NOEXEC)),
            Map.entry("sync", EnumSet.of(MS_SYNCHRONOUS)), Map.entry("dirsync", EnumSet.of(MS_DIRSYNC)),
            Map.entry("remount", EnumSet.of(MS_REMOUNT)), Map.entry("mand", EnumSet.of(MS_MANDLOCK)),
            Map.entry("noatime", EnumSet.of(MS_NOATIME)), Map.entry("nodiratime", EnumSet.of(MS_NODIRATIME)),
            Map.entry("bind", EnumSet.of(MS_BIND)), Map.entry("rbind", EnumSet.of(MS_BIND, MS_REC)),
            Map.entry("relatime", EnumSet.of(MS_RELATIME)), Map.entry("strictatime", EnumSet.of(MS_STRICTATIME)),
            Map.entry("lazytime", EnumSet.of(MS_LAZYTIME)), Map.entry("silent", EnumSet.of(MS_SILENT)),
            Map.entry("nosymfollow", EnumSet.of(MS_NOSYMFOLLOW)));

    /** mount(8) option names that clear a flag; {@code defaults} clears nothing. */
    private static final Map<String, Set<MountFlag>> CLEARS = Map.ofEntries(
            Map.entry("rw", EnumSet.of(MS_RDONLY)), Map.entry("suid", EnumSet.of(MS_NOSUID)),
            Map.entry("dev", EnumSet.of(MS_NODEV)), Map.entry("exec", EnumSet.of(MS_NOEXEC)),
            Map.entry("async", EnumSet.of(MS_SYNCHRONOUS)), Map.entry("nomand", EnumSet.of(MS_MANDLOCK)),
            Map.entry("atime", EnumSet.of(MS_NOATIME)), Map.entry("diratime", EnumSet.of(MS_NODIRATIME)),
            Map.entry("norelatime", EnumSet.of(MS_RELATIME)), Map.entry("nostrictatime", EnumSet.of(MS_STRICTATIME)),
            Map.entry("nolazytime", EnumSet.of(MS_LAZYTIME)), Map.entry("loud", EnumSet.of(MS_SILENT)),
            Map.entry("symfollow", EnumSet.of(MS_NOSYMFOLLOW)), Map.entry("defaults", EnumSet.noneOf(MountFlag.class)));

    /** The runtime-spec's recursive mount attributes (mount_setattr(2) with AT_RECURSIVE). */
    private static final Map<String, MountFlag> RECURSIVE_SETS = Map.of(
            "rro", MS_RDONLY, "rnosuid", MS_NOSUID, "rnodev", MS_NODEV, "rnoexec", MS_NOEXEC,
            "rnoatime", MS_NOATIME, "rnodiratime", MS_NODIRATIME, "rrelatime", MS_RELATIME,
            "rstrictatime", MS_STRICTATIME, "rnosymfollow", MS_NOSYMFOLLOW);
    private static final Map<String, MountFlag> RECURSIVE_CLEARS = Map.of(
            "rrw", MS_RDONLY, "rsuid", MS_NOSUID, "rdev", MS_NODEV, "rexec", MS_NOEXEC,
            "ratime", MS_NOATIME, "rdiratime", MS_NODIRATIME, "rnorelatime", MS_RELATIME,
            "rnostrictatime", MS_STRICTATIME, "rsymfollow", MS_NOSYMFOLLOW);
    /** atime is a mode, not a bit: setting one recursively replaces the others. */
    private static final Set<MountFlag> ATIME_MODES = EnumSet.of(MS_NOATIME, MS_RELATIME, MS_STRICTATIME);

    /** Every option {@link #map} gives a meaning to: flags set and cleared, recursive attributes, propagation. */
    static final SortedSet<String> OPTIONS;

    static {
        TreeSet<String> all = new TreeSet<>(SETS.keySet());
        all.addAll(CLEARS.keySet());
        all.addAll(RECURSIVE_SETS.keySet());
        all.addAll(RECURSIVE_CLEARS.keySet());
        all.addAll(LinuxNames.PROPAGATIONS);
        OPTIONS = Collections.unmodifiableSortedSet(all);
    }

    private MountMapping() {}

    /** The outcome for one mount: what the agent mounts, and for a bind mount what the shim shares first. */
    record Mapped(GuestMount mount, ShareBind share) {}

    /** Maps {@code mounts[index]}, or returns null when it is refused (the report says why). */
    static Mapped map(Mount m, int index, String containerId, Path bundle, SpecPath path, Report report) {
        if ((m.uidMappings() != null && !m.uidMappings().isEmpty())
                || (m.gidMappings() != null && !m.gidMappings().isEmpty())) {
            report.refuse(path, "id-mapped mounts are not supported: the VM sees host files through 9p, which"
                    + " cannot be id-mapped");
            return null;
        }
        List<String> options = ProcessMapping.nonNull(m.options());
        boolean bind = "bind".equals(m.type()) || options.contains("bind") || options.contains("rbind");
        if (!bind && !known(m, path, report)) {
            return null;
        }
        EnumSet<MountFlag> flags = EnumSet.noneOf(MountFlag.class);
        EnumSet<MountFlag> recursive = EnumSet.noneOf(MountFlag.class);
        EnumSet<MountFlag> recursiveClear = EnumSet.noneOf(MountFlag.class);
        List<String> data = new ArrayList<>();
        String propagation = null;
        SpecPath optionsPath = path.field("options");
        for (int i = 0; i < options.size(); i++) {
            String o = options.get(i);
            if (SETS.containsKey(o)) {
                flags.addAll(SETS.get(o));
            } else if (CLEARS.containsKey(o)) {
                flags.removeAll(CLEARS.get(o));
            } else if (RECURSIVE_SETS.containsKey(o)) {
                MountFlag f = RECURSIVE_SETS.get(o);
                if (ATIME_MODES.contains(f)) {
                    recursive.removeAll(ATIME_MODES);
                    recursiveClear.removeAll(ATIME_MODES);
                }
                recursive.add(f);
                recursiveClear.remove(f);
            } else if (RECURSIVE_CLEARS.containsKey(o)) {
                MountFlag f = RECURSIVE_CLEARS.get(o);
                recursive.remove(f);
                recursiveClear.add(f);
            } else if (LinuxNames.PROPAGATIONS.contains(o)) {
                propagation = o;
            } else if (o.equals("idmap") || o.equals("ridmap")) {
                report.refuse(optionsPath.index(i), "id-mapped mounts are not supported: the VM sees host files"
                        + " through 9p, which cannot be id-mapped");
                return null;
            } else if (o.equals("tmpcopyup")) {
                report.warn(optionsPath.index(i), "runc's copy-up of the covered directory into the tmpfs is not"
                        + " supported; the tmpfs starts empty");
            } else if (bind) {
                report.warn(optionsPath.index(i), '"' + o + "\" is a filesystem option, which a bind mount"
                        + " does not take; ignored");
            } else {
                data.add(o);
            }
        }
        if (!bind) {
            String type = m.type().equals("cgroup") ? "cgroup2" : m.type();
            return new Mapped(new GuestMount(type, m.source(), m.destination(), List.copyOf(flags),
                    List.copyOf(recursive), String.join(",", data), propagation, List.copyOf(recursiveClear)), null);
        }
        if (m.source() == null || m.source().isEmpty()) {
            report.refuse(path.field("source"), "a bind mount needs a source");
            return null;
        }
        flags.add(MS_BIND);
        String guestSource = SharedDir.mountSource(containerId, index);
        // The spec allows a source relative to the bundle.
        String hostSource = bundle.resolve(m.source()).normalize().toString();
        boolean readonly = flags.contains(MS_RDONLY) || recursive.contains(MS_RDONLY);
        return new Mapped(
                new GuestMount("bind", guestSource, m.destination(), List.copyOf(flags), List.copyOf(recursive),
                        "", propagation, List.copyOf(recursiveClear)),
                new ShareBind(hostSource, guestSource, readonly, ShareBind.HostPropagation.of(propagation),
                        path.toString()));
    }

    /** Whether a mount that is not a bind mount is one the guest kernel can create by itself. */
    private static boolean known(Mount m, SpecPath path, Report report) {
        if (m.type() == null || m.type().isEmpty()) {
            report.refuse(path.field("type"), "a mount without bind or rbind needs a filesystem type");
            return false;
        }
        if (GUEST_FILESYSTEMS.contains(m.type())) {
            return true;
        }
        if (m.source() != null && m.source().startsWith("/dev/")) {
            report.refuse(path, "the " + m.type() + " filesystem on host device " + m.source() + " cannot be"
                    + " mounted inside the VM: the device is not attached to it");
        } else {
            report.refuse(path.field("type"), '"' + m.type() + "\" mounts are not supported inside the VM (bind"
                    + " mounts and " + String.join(", ", GUEST_FILESYSTEMS.stream().sorted().toList()) + " are)");
        }
        return false;
    }
}
