package io.a3s.box.ttrpc;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * ttrpc request metadata: an immutable multimap of lower-case keys to string values (ttrpc lower-cases keys
 * on the wire, e.g. containerd's {@code containerd-namespace-ttrpc}).
 */
public final class Metadata {
    private static final Metadata EMPTY = new Metadata(Map.of());

    private final Map<String, List<String>> entries;

    private Metadata(Map<String, List<String>> entries) {
        this.entries = entries;
    }

    public static Metadata empty() {
        return EMPTY;
    }

    public static Metadata of(String key, String value) {
        return EMPTY.with(key, value);
    }

    /** A copy with {@code value} appended to the values of {@code key}. */
    public Metadata with(String key, String value) {
        Map<String, List<String>> copy = new LinkedHashMap<>(entries);
        List<String> values = new ArrayList<>(copy.getOrDefault(normalize(key), List.of()));
        values.add(value);
        copy.put(normalize(key), List.copyOf(values));
        return new Metadata(Collections.unmodifiableMap(copy));
    }

    /** The first value of {@code key}, or null. */
    public String get(String key) {
        List<String> values = entries.get(normalize(key));
        return values == null || values.isEmpty() ? null : values.getFirst();
    }

    public List<String> getAll(String key) {
        return entries.getOrDefault(normalize(key), List.of());
    }

    public Map<String, List<String>> asMap() {
        return entries;
    }

    public boolean isEmpty() {
        return entries.isEmpty();
    }

    private static String normalize(String key) {
        return key.toLowerCase(Locale.ROOT);
    }

    @Override
    public String toString() {
        return entries.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Metadata m && m.entries.equals(entries);
    }

    @Override
    public int hashCode() {
        return entries.hashCode();
    }
}
