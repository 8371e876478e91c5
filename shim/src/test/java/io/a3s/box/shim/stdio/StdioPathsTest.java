package io.a3s.box.shim.stdio;

import io.a3s.box.guest.v1.ProcessSpec;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which streams the guest gives a pipe and which {@code /dev/null}, from the paths containerd sends. */
class StdioPathsTest {
    private static final ProcessSpec SPEC = ProcessSpec.newBuilder().addArgs("true").build();

    @Test
    void nullIoDiscardsBothOutputsAndHasNoStdin() {
        ProcessSpec p = new StdioPaths("", "", "", false).applyTo(SPEC);
        assertTrue(p.getDiscardStdout());
        assertTrue(p.getDiscardStderr());
        assertFalse(p.getStdin());
        assertFalse(p.getTerminal());
        assertEquals(SPEC.getArgsList(), p.getArgsList());
    }

    @Test
    void anEmptyStderrIsDiscardedAndTheFifosAreNot() {
        ProcessSpec p = new StdioPaths("/run/fifo/0", "/run/fifo/1", "", false).applyTo(SPEC);
        assertFalse(p.getDiscardStdout());
        assertTrue(p.getDiscardStderr());
        assertTrue(p.getStdin());
        ProcessSpec both = new StdioPaths("", "fifo:///run/fifo/1", "/run/fifo/2", false).applyTo(SPEC);
        assertFalse(both.getDiscardStdout());
        assertFalse(both.getDiscardStderr());
    }

    @Test
    void aLogUriTakesBothStreams() {
        for (String uri : new String[] {"binary:///usr/bin/logger?k=v", "file:///var/log/c.log"}) {
            ProcessSpec p = new StdioPaths("", uri, "", false).applyTo(SPEC);
            assertFalse(p.getDiscardStdout(), uri);
            assertFalse(p.getDiscardStderr(), uri);
        }
    }

    @Test
    void aTerminalDiscardsNothing() {
        // all output is on the terminal; the guest has no separate stderr to send anywhere
        ProcessSpec p = new StdioPaths("", "", "", true).applyTo(SPEC);
        assertTrue(p.getTerminal());
        assertFalse(p.getDiscardStdout());
        assertFalse(p.getDiscardStderr());
    }
}
