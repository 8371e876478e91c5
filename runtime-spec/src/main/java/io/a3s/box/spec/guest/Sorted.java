package io.a3s.box.spec.guest;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/** Maps of the guest spec are sorted, so that the same config always yields the same bytes on the wire. */
final class Sorted {
    private Sorted() {}

    static <V> Map<String, V> map(Map<String, V> map) {
        return Collections.unmodifiableMap(new TreeMap<>(map));
    }
}
