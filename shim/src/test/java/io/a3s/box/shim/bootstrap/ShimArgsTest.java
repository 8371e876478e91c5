package io.a3s.box.shim.bootstrap;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShimArgsTest {
    @Test
    void parsesContainerdsStartCommandLine() throws Exception {
        ShimArgs a = ShimArgs.parse("-namespace", "k8s.io", "-address", "/run/containerd/containerd.sock",
                "-publish-binary", "/usr/bin/containerd", "-id", "abc", "-debug", "start");
        assertEquals("k8s.io", a.namespace());
        assertEquals("/run/containerd/containerd.sock", a.address());
        assertEquals("/usr/bin/containerd", a.publishBinary());
        assertEquals("abc", a.id());
        assertTrue(a.debug());
        assertEquals("start", a.action());
        assertEquals("", a.bundle());
    }

    @Test
    void acceptsEveryGoFlagForm() throws Exception {
        ShimArgs a = ShimArgs.parse("--namespace=ns", "-address=/a", "--id", "x", "-bundle", "/b", "-debug=false",
                "--socket", "unix:///s", "delete");
        assertEquals("ns", a.namespace());
        assertEquals("/a", a.address());
        assertEquals("x", a.id());
        assertEquals("/b", a.bundle());
        assertEquals("unix:///s", a.socket());
        assertFalse(a.debug());
        assertEquals("delete", a.action());
        // a value may start with a dash, and "=" may be empty
        assertEquals("-weird", ShimArgs.parse("-id", "-weird", "start").id());
        assertEquals("", ShimArgs.parse("-id=", "start").id());
        // "--" ends the flags
        assertEquals("start", ShimArgs.parse("-id", "x", "--", "start").action());
        assertTrue(ShimArgs.parse("-debug=TRUE", "start").debug());
    }

    @Test
    void versionAndInfoNeedNoAction() throws Exception {
        assertTrue(ShimArgs.parse("-v").version());
        assertTrue(ShimArgs.parse("--version").version());
        assertTrue(ShimArgs.parse("-info").info());
        assertNull(ShimArgs.parse("-v").action());
    }

    @Test
    void serveTakesTheTtrpcAddress() throws Exception {
        ShimArgs a = ShimArgs.parse("-address", "/a", "-ttrpc-address", "/a.ttrpc", "serve");
        assertEquals("/a.ttrpc", a.ttrpcAddress());
        assertEquals("serve", a.action());
    }

    @Test
    void refusesWhatItDoesNotKnow() {
        assertEquals("flag provided but not defined: -nope",
                assertThrows(UsageException.class, () -> ShimArgs.parse("-nope", "start")).getMessage());
        assertEquals("unknown action \"stop\" (expected start or delete)",
                assertThrows(UsageException.class, () -> ShimArgs.parse("-id", "x", "stop")).getMessage());
        assertEquals("flag needs an argument: -id",
                assertThrows(UsageException.class, () -> ShimArgs.parse("-id")).getMessage());
        assertEquals("no action given (expected start or delete)",
                assertThrows(UsageException.class, () -> ShimArgs.parse("-id", "x")).getMessage());
        assertEquals("unexpected argument after start: \"extra\"",
                assertThrows(UsageException.class, () -> ShimArgs.parse("start", "extra")).getMessage());
        assertEquals("invalid boolean value \"yes\" for -debug",
                assertThrows(UsageException.class, () -> ShimArgs.parse("-debug=yes", "start")).getMessage());
        assertEquals("bad flag syntax: ---id",
                assertThrows(UsageException.class, () -> ShimArgs.parse("---id", "x", "start")).getMessage());
        // flags come before the action, as with Go's flag package
        assertThrows(UsageException.class, () -> ShimArgs.parse("start", "-id", "x"));
    }
}
