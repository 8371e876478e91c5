package io.a3s.box.shim.daemon;

import io.a3s.box.spec.guest.GuestMount;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class RootfsLookupTest {
    @TempDir
    Path root;

    private static GuestMount mount(String destination) {
        return new GuestMount("bind", "/src", destination, List.of(), List.of(), null, null);
    }

    private void passwd(String text) throws Exception {
        Files.createDirectories(root.resolve("etc"));
        Files.writeString(root.resolve("etc/passwd"), text);
    }

    @Test
    void homeIsTheFirstEntryOfTheUidAsTheAgentReadsIt() throws Exception {
        passwd("root:x:0:0:root:/root:/bin/sh\nbroken\nnohome:x:7:7::\n\napp:x:1000:1000::/home/app:/bin/sh\n"
                + "dup:x:1000:1000::/second:/bin/sh\n");
        assertEquals(Optional.of("/root"), RootfsLookup.home(root, 0, List.of()));
        assertEquals(Optional.of("/home/app"), RootfsLookup.home(root, 1000, List.of()));
        assertEquals(Optional.of("/"), RootfsLookup.home(root, 7, List.of()), "an empty home field is skipped");
        assertEquals(Optional.of("/"), RootfsLookup.home(root, 4242, List.of()), "no entry: /");
        assertEquals(Optional.of("/home/app"), RootfsLookup.home(root, 1000, List.of(mount("/etc/hosts"),
                mount("/data"))), "mounts elsewhere change nothing");
    }

    @Test
    void noPasswdFileMeansSlash() throws Exception {
        assertEquals(Optional.of("/"), RootfsLookup.home(root, 0, List.of()));
        Files.createDirectories(root.resolve("etc"));
        assertEquals(Optional.of("/"), RootfsLookup.home(root, 0, List.of()));
    }

    @Test
    void declinesWhenAMountCoversTheFile() throws Exception {
        passwd("root:x:0:0:root:/root:/bin/sh\n");
        for (String d : List.of("/", "/etc", "/etc/", "/etc/passwd", "//etc/./passwd", "/tmp/../etc")) {
            assertEquals(Optional.empty(), RootfsLookup.home(root, 0, List.of(mount(d))), d);
        }
        // a mount point that is a symlink to /etc, inside the rootfs
        Files.createSymbolicLink(root.resolve("cfg"), Path.of("/etc"));
        assertEquals(Optional.empty(), RootfsLookup.home(root, 0, List.of(mount("/cfg"))));
    }

    @Test
    void symlinksResolveInsideTheRootfsNeverOnTheHost() throws Exception {
        // /etc -> /host-etc (absolute: inside the rootfs, not the host's /etc)
        Files.createDirectories(root.resolve("host-etc"));
        Files.writeString(root.resolve("host-etc/passwd"), "root:x:0:0:root:/inside:/bin/sh\n");
        Files.createSymbolicLink(root.resolve("etc"), Path.of("/host-etc"));
        assertEquals("/host-etc/passwd", RootfsLookup.resolve(root, "/etc/passwd"));
        assertEquals(Optional.empty(), RootfsLookup.home(root, 0, List.of()),
                "a symlink in the way: the guest decides");
        assertEquals("/x", RootfsLookup.resolve(root, "/../../x"));
    }

    @Test
    void resolveFollowsRelativeAndAbsoluteLinksAndStopsAtLoops() throws Exception {
        Files.createDirectories(root.resolve("usr/bin"));
        Files.createSymbolicLink(root.resolve("bin"), Path.of("usr/bin"));
        Files.createSymbolicLink(root.resolve("usr/bin/sh"), Path.of("/bin/busybox"));
        assertEquals("/usr/bin/busybox", RootfsLookup.resolve(root, "/bin/sh"));
        Files.createSymbolicLink(root.resolve("loop"), Path.of("/loop"));
        assertNull(RootfsLookup.resolve(root, "/loop/x"));
        Files.writeString(root.resolve("file"), "");
        assertNull(RootfsLookup.resolve(root, "/file/x"));
    }

    @Test
    void pathSkipCountsTheEntriesWithoutTheBinaryUpToTheFirstThatHasIt() throws Exception {
        Files.createDirectories(root.resolve("usr/bin"));
        Files.createDirectories(root.resolve("sbin"));
        Files.writeString(root.resolve("usr/bin/busybox"), "");
        Files.createSymbolicLink(root.resolve("bin"), Path.of("usr/bin"));
        Files.createSymbolicLink(root.resolve("usr/bin/true"), Path.of("busybox"));
        Files.createDirectories(root.resolve("usr/local/bin/true")); // a directory is not a binary
        List<String> env = List.of("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin:/bin:/usr/bin");
        assertEquals(4, RootfsLookup.pathSkip(root, "true", env, List.of()));
        assertEquals(6, RootfsLookup.pathSkip(root, "nosuch", env, List.of()),
                "every entry (the agent still looks in the last)");
        assertEquals(0, RootfsLookup.pathSkip(root, "/bin/true", env, List.of()), "a path is not searched");
        assertEquals(0, RootfsLookup.pathSkip(root, "true", List.of("HOME=/"), List.of()), "no PATH: agent's own");
        // stops at what it cannot judge: a relative or empty entry, a mount at or above the candidate
        assertEquals(1, RootfsLookup.pathSkip(root, "true", List.of("PATH=/sbin:bin:/bin"), List.of()));
        assertEquals(1, RootfsLookup.pathSkip(root, "true", List.of("PATH=/sbin::/bin"), List.of()));
        assertEquals(2, RootfsLookup.pathSkip(root, "true", env, List.of(mount("/usr/sbin"))));
        assertEquals(0, RootfsLookup.pathSkip(root, "true", env, List.of(mount("/"))));
        assertEquals(3, RootfsLookup.pathSkip(root, "true", env, List.of(mount("/sbin"))));
        // a mount point reached through a link: /lnk -> /usr/local, so a mount on /lnk covers /usr/local/*
        Files.createSymbolicLink(root.resolve("lnk"), Path.of("/usr/local"));
        assertEquals(0, RootfsLookup.pathSkip(root, "true", env, List.of(mount("/lnk"))));
    }

    @Test
    void aPasswdThatIsNotARegularFileOrTooLargeIsLeftToTheGuest() throws Exception {
        Files.createDirectories(root.resolve("etc/passwd"));
        assertEquals(Optional.empty(), RootfsLookup.home(root, 0, List.of()));
        Files.delete(root.resolve("etc/passwd"));
        Files.write(root.resolve("etc/passwd"), new byte[RootfsLookup.MAX_PASSWD_BYTES + 1]);
        assertEquals(Optional.empty(), RootfsLookup.home(root, 0, List.of()));
    }
}
