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

/**
 * A run of one of containerd's own test suites by a script of ours ({@code scripts/containerd-suite},
 * {@code scripts/cri-suite}), with runc and with a3s-box in the same run, and the judgement both suite tests
 * make of it. The scripts print one line per test and runtime, {@code RESULT TEST RUNTIME}.
 */
record SuiteRun(String output, Map<String, String> runc, Map<String, String> a3s) {

    /**
     * Runs {@code script args...}, kills it and its children if it has not ended within {@code limit}, and
     * parses what it printed; {@code runcName} and {@code a3sName} are the runtimes as the script names them.
     */
    static SuiteRun of(Path script, Duration limit, String runcName, String a3sName, String... args)
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
                    results.getOrDefault(a3sName, Map.of()));
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /**
     * What is wrong with the run, one line each (empty: nothing): a test that failed with runc; a test that failed
     * with a3s-box, but for those {@code a3sKnown} lists; a test skipped with a3s-box only. Known failures that
     * passed are printed.
     */
    List<String> wrong(Map<String, String> a3sKnown) {
        List<String> wrong = new ArrayList<>();
        runc.forEach((test, r) -> {
            if (r.equals("FAIL")) {
                wrong.add(test + " failed with runc: the harness or the host, not the runtime");
            }
        });
        a3s.forEach((test, r) -> {
            if (r.equals("FAIL") && !a3sKnown.containsKey(test)) {
                wrong.add(test + " failed with a3s-box");
            } else if (!r.equals("FAIL") && a3sKnown.containsKey(test)) {
                System.out.println("note: " + test + " no longer fails with a3s-box (" + r + ")");
            }
            if (r.equals("SKIP") && !"SKIP".equals(runc.get(test))) {
                wrong.add(test + " was skipped with a3s-box only");
            }
        });
        return wrong;
    }
}
