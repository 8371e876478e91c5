package io.a3s.box.shim.config;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DurationsTest {
    @Test
    void parsesGoStyleDurations() {
        assertEquals(Duration.ofMillis(500), Durations.parse("500ms"));
        assertEquals(Duration.ofSeconds(30), Durations.parse("30s"));
        assertEquals(Duration.ofMinutes(5), Durations.parse("5m"));
        assertEquals(Duration.ofMinutes(90), Durations.parse("1h30m"));
        assertEquals(Duration.ofMillis(1500), Durations.parse("1.5s"));
        assertEquals(Duration.ZERO, Durations.parse("0"));
    }

    @Test
    void refusesAmbiguousOrMalformedText() {
        for (String bad : new String[]{"", "30", "5x", "-1s", "s", "1 s", "1s ", "1.s", "0s1"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Durations.parse(bad), bad);
            assertTrue(e.getMessage().contains("not a duration"), e.getMessage());
        }
    }

    @Test
    void formatsTheShortestForm() {
        assertEquals("0", Durations.format(Duration.ZERO));
        assertEquals("500ms", Durations.format(Duration.ofMillis(500)));
        assertEquals("1.5s", Durations.format(Duration.ofMillis(1500)));
        assertEquals("30s", Durations.format(Duration.ofSeconds(30)));
        assertEquals("1h30m", Durations.format(Duration.ofMinutes(90)));
        assertEquals("168h", Durations.format(Duration.ofDays(7)));
        for (String s : new String[]{"500ms", "1.5s", "30s", "5m", "1h30m", "2h5s"}) {
            assertEquals(s, Durations.format(Durations.parse(s)));
        }
    }
}
