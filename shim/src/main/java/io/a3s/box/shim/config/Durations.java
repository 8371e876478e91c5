package io.a3s.box.shim.config;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Durations as the config file writes them, in Go's {@code time.ParseDuration} style: one or more
 * {@code <number><unit>} terms, units {@code ms}, {@code s}, {@code m}, {@code h}, e.g. {@code "500ms"},
 * {@code "30s"}, {@code "1.5s"}, {@code "1h30m"}. {@code "0"} alone means zero. No sign, no bare numbers:
 * "30" could mean seconds or milliseconds, so it is refused.
 */
public final class Durations {
    private static final Pattern TERM = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m|h)");

    private Durations() {
    }

    /** Parses {@code text}, or throws IllegalArgumentException with a message that shows valid examples. */
    public static Duration parse(String text) {
        if (text.equals("0")) {
            return Duration.ZERO;
        }
        Matcher m = TERM.matcher(text);
        int at = 0;
        BigDecimal nanos = BigDecimal.ZERO;
        while (at < text.length() && m.find(at) && m.start() == at) {
            BigDecimal n = new BigDecimal(m.group(1));
            long unit = switch (m.group(2)) {
                case "ms" -> 1_000_000L;
                case "s" -> 1_000_000_000L;
                case "m" -> 60_000_000_000L;
                default -> 3_600_000_000_000L;
            };
            nanos = nanos.add(n.multiply(BigDecimal.valueOf(unit)));
            at = m.end();
        }
        if (at != text.length() || text.isEmpty()) {
            throw new IllegalArgumentException("\"" + text + "\" is not a duration (examples: \"500ms\", \"30s\", "
                    + "\"5m\", \"1h30m\")");
        }
        if (nanos.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new IllegalArgumentException("\"" + text + "\" is too long a duration");
        }
        return Duration.ofNanos(nanos.longValue());
    }

    /** The shortest of this class's forms for {@code d}: "0", "500ms", "30s", "5m", "1h30m", "1.5s". */
    public static String format(Duration d) {
        if (d.isZero()) {
            return "0";
        }
        long ms = d.toMillis();
        if (d.toNanos() % 1_000_000L != 0 || ms < 1000) {
            if (d.toNanos() % 1_000_000L != 0) {
                return BigDecimal.valueOf(d.toNanos()).movePointLeft(9).stripTrailingZeros().toPlainString() + "s";
            }
            return ms + "ms";
        }
        if (ms % 1000 != 0) {
            return BigDecimal.valueOf(ms).movePointLeft(3).stripTrailingZeros().toPlainString() + "s";
        }
        long s = ms / 1000;
        StringBuilder b = new StringBuilder();
        if (s >= 3600) {
            b.append(s / 3600).append('h');
            s %= 3600;
        }
        if (s >= 60) {
            b.append(s / 60).append('m');
            s %= 60;
        }
        if (s > 0) {
            b.append(s).append('s');
        }
        return b.toString();
    }
}
