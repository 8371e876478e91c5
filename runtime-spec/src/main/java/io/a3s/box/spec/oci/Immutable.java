package io.a3s.box.spec.oci;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Defensive copies for the model's records. Absent stays {@code null} (not empty) so that a round trip reproduces
 * the document exactly, and elements may be {@code null} so that a {@code null} in a list reaches validation
 * with its path instead of failing inside Jackson.
 */
final class Immutable {
    /**
     * The JSON name Jackson binds the {@code extra} component to. Jackson treats a record's any-setter parameter
     * also as a named property, so a document field with that name would be bound to it and break the unknown
     * fields that follow; a name no config uses keeps every real field name (including {@code "extra"}) an
     * ordinary unknown field. {@link ShapeCheck} refuses documents that use this name.
     */
    static final String EXTRA = "\u0000a3s-box-unknown-fields";

    private Immutable() {}

    static <T> List<T> list(List<T> list) {
        return list == null ? null : Collections.unmodifiableList(new ArrayList<>(list));
    }

    static <V> Map<String, V> map(Map<String, V> map) {
        return map == null ? null : Collections.unmodifiableMap(new LinkedHashMap<>(map));
    }

    /** Unknown fields: copied deeply, because JsonNode trees are mutable. */
    static Map<String, JsonNode> extra(Map<String, JsonNode> extra) {
        if (extra == null || extra.isEmpty()) {
            return Map.of();
        }
        Map<String, JsonNode> copy = new LinkedHashMap<>();
        extra.forEach((k, v) -> copy.put(k, v == null ? null : v.deepCopy()));
        return Collections.unmodifiableMap(copy);
    }
}
