package io.a3s.box.conformance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A run of one of containerd's own test suites by a script of ours ({@code scripts/containerd-suite},
 * {@code scripts/cri-suite}), with runc and with a3s-box in the same run, and the judgement both suite tests
 * make of it. The scripts print one line per test and runtime, {@code RESULT TEST RUNTIME}.
 */
record SuiteRun(String output, Map<String, String> runc, Map<String, String> a3s, Path logDir, String runcName,
        String a3sName) {

    /** At most this many of a failed test's own lines go into {@link #wrong}'s judgement. */
    static final int WHY_LINES = 12;
    private static final Pattern HEADER =
            Pattern.compile("^\\s*(?:=== (?:RUN|CONT|PAUSE|NAME)|--- (?:PASS|FAIL|SKIP):)\\s+(\\S+)");

    /**
     * Runs {@code script args...}, kills it and its children if it has not ended within {@code limit}, and
     * parses what it printed; {@code runcName} and {@code a3sName} are the runtimes as the script names them, and
     * {@code logDir/NAME.log} each one's whole Go test log.
     */
    static SuiteRun of(Path script, Duration limit, Path logDir, String runcName, String a3sName, String... args)
            throws IOException, InterruptedException {
        Path out = Files.createTempFile("a3s-suite", ".out");
        try {
            List<String> command = new ArrayList<>(List.of(script.toString()));
            command.addAll(List.of(args));
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new AssertionError(script + " did not end within " + limit + ":\n" + Files.readString(out));
            }
            String text = Files.readString(out);
            System.out.println(text);
            if (p.exitValue() != 0) {
                throw new AssertionError(script + " failed (exit " + p.exitValue() + "):\n" + text);
            }
            Map<String, Map<String, String>> results = new TreeMap<>(); // runtime -> test -> PASS/FAIL/SKIP
            for (String line : text.lines().toList()) {
                String[] f = line.split(" ");
                if (f.length == 3 && f[1].startsWith("Test") && f[0].matches("PASS|FAIL|SKIP")) {
                    results.computeIfAbsent(f[2], k -> new TreeMap<>()).put(f[1], f[0]);
                }
            }
            return new SuiteRun(text, results.getOrDefault(runcName, Map.of()),
                    results.getOrDefault(a3sName, Map.of()), logDir, runcName, a3sName);
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /**
     * What is wrong with the run, one line each (empty: nothing): a test that failed with runc; a test that failed
     * with a3s-box, but for those {@code a3sKnown} lists; a test skipped with a3s-box only. Known failures that
     * passed are printed. A failure comes with what the test said of it in its log (CI shows the judgement,
     * not the logs, which stay on the machine that ran it).
     */
    List<String> wrong(Map<String, String> a3sKnown) {
        List<String> wrong = new ArrayList<>();
        runc.forEach((test, r) -> {
            if (r.equals("FAIL")) {
                wrong.add(test + " failed with runc: the harness or the host, not the runtime"
                        + why(logDir.resolve(runcName + ".log"), test));
            }
        });
        a3s.forEach((test, r) -> {
            if (r.equals("FAIL") && !a3sKnown.containsKey(test)) {
                wrong.add(a3sFailure(test));
            } else if (!r.equals("FAIL") && a3sKnown.containsKey(test)) {
                System.out.println("note: " + test + " no longer fails with a3s-box (" + r + ")");
            }
            if (r.equals("SKIP") && !"SKIP".equals(runc.get(test))) {
                wrong.add(test + " was skipped with a3s-box only");
            }
        });
        return wrong;
    }

    /**
     * {@link #wrong}, but the a3s-box failures it counts, when they are all it counts, are run once more on their
     * own ({@code script SCRIPT_ARGS --no-setup -r A3S -t ^(...)$}): a test that then passes is printed as flaky,
     * with what it said the first time, and not counted. One test of a suite that fails can leave a container
     * behind, and the tests after it that count containers fail with it; run alone, each says whether it fails by
     * itself. {@code scriptArgs} come first in the retry's command line (the suite's series, say).
     */
    List<String> wrongAfterRetry(Map<String, String> a3sKnown, Path script, Duration limit, String... scriptArgs)
            throws IOException, InterruptedException {
        List<String> wrong = wrong(a3sKnown);
        // test -> its judgement from the first run, taken before the retry writes over the log
        Map<String, String> failed = new TreeMap<>();
        a3s.forEach((test, r) -> {
            if (r.equals("FAIL") && !a3sKnown.containsKey(test)) {
                failed.put(test, a3sFailure(test));
            }
        });
        if (failed.isEmpty() || failed.size() != wrong.size()) {
            return wrong;
        }
        List<String> args = new ArrayList<>(List.of(scriptArgs));
        args.addAll(List.of("--no-setup", "-r", a3sName, "-t", "^(" + String.join("|", failed.keySet()) + ")$"));
        SuiteRun again = of(script, limit, logDir, runcName, a3sName, args.toArray(String[]::new));
        List<String> still = new ArrayList<>();
        failed.forEach((test, first) -> {
            String r = again.a3s.get(test);
            if ("PASS".equals(r)) {
                System.out.println("note: flaky: " + first + "\n  ...and passed when run again alone");
            } else {
                still.add(first + "\n  ...and again when run alone (" + (r == null ? "not run" : r) + ")"
                        + why(logDir.resolve(a3sName + ".log"), test));
            }
        });
        return still;
    }

    private String a3sFailure(String test) {
        return test + " failed with a3s-box" + why(logDir.resolve(a3sName + ".log"), test);
    }

    private static String why(Path log, String test) {
        try {
            List<String> lines = failureLines(Files.readAllLines(log), test);
            return lines.isEmpty() ? "" : "\n      " + String.join("\n      ", lines);
        } catch (IOException e) {
            return " (no log: " + e.getMessage() + ")";
        }
    }

    /**
     * What {@code test} (and its subtests) printed in a {@code go test -v} log, up to {@link #WHY_LINES} lines:
     * the indented lines under its {@code === RUN}, {@code === CONT} or {@code --- FAIL} headers (parallel tests
     * interleave, each block headed by its name). The lines of the daemons the tests log to the same stream are
     * not indented, and are left out.
     */
    static List<String> failureLines(List<String> log, String test) {
        List<String> out = new ArrayList<>();
        boolean mine = false;
        for (String line : log) {
            Matcher header = HEADER.matcher(line);
            if (header.find()) {
                String name = header.group(1);
                mine = name.equals(test) || name.startsWith(test + "/");
                boolean subtestFailed = line.stripLeading().startsWith("--- FAIL") && !name.equals(test);
                if (mine && subtestFailed && out.size() < WHY_LINES) {
                    out.add(line.strip());
                }
                continue;
            }
            if (mine && line.startsWith("    ") && !line.isBlank() && out.size() < WHY_LINES) {
                String l = line.strip();
                out.add(l.length() > 300 ? l.substring(0, 300) + "..." : l);
            }
        }
        return out;
    }
}
