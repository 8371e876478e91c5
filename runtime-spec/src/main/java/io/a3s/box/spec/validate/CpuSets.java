package io.a3s.box.spec.validate;

import java.util.BitSet;

/** Parsing of cpuset lists ({@code 0-3,5}), the format of {@code linux.resources.cpu.cpus} and {@code mems}. */
public final class CpuSets {
    /** Linux's largest NR_CPUS (CONFIG_NR_CPUS tops out at 8192); also far above any NUMA node count. */
    public static final int MAX_CPU = 8192;

    private CpuSets() {}

    /**
     * The members of a list {@link SpecValidator} has accepted.
     *
     * @throws IllegalArgumentException for a list it would have refused
     */
    public static BitSet parse(String list) {
        BitSet set = new BitSet();
        if (list.isEmpty()) {
            return set;
        }
        for (String part : list.split(",")) {
            int dash = part.indexOf('-');
            int from = cpu(dash < 0 ? part : part.substring(0, dash));
            int to = dash < 0 ? from : cpu(part.substring(dash + 1));
            if (from > to) {
                throw new IllegalArgumentException("backwards range " + part);
            }
            set.set(from, to + 1);
        }
        return set;
    }

    private static int cpu(String digits) {
        int n = Integer.parseInt(digits);
        if (n < 0 || n >= MAX_CPU) {
            throw new IllegalArgumentException("cpu " + digits + " out of range");
        }
        return n;
    }
}
