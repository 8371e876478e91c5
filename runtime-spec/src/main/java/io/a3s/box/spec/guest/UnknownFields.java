package io.a3s.box.spec.guest;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.a3s.box.spec.SpecPath;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Warns about every field the model does not know (kept in the records' {@code extra}). The mapping cannot honour
 * what it does not understand, and a silent drop would hide, say, a field of a newer spec version that matters.
 * The walk is reflective over the model's records, so a field added to the model stops warning without a change
 * here.
 */
final class UnknownFields {
    /** A record component: its JSON name and accessor, and whether it holds the unknown fields. */
    private record Component(String jsonName, Method accessor, boolean extra) {}

    /** Components per record class; reflecting on every call costs more than the whole rest of the mapping. */
    private static final ClassValue<List<Component>> COMPONENTS = new ClassValue<>() {
        @Override
        protected List<Component> computeValue(Class<?> type) {
            return Arrays.stream(type.getRecordComponents()).map(c -> {
                JsonProperty renamed = c.getAnnotation(JsonProperty.class);
                boolean extra = c.getName().equals("extra") && c.getType() == Map.class;
                return new Component(renamed != null ? renamed.value() : c.getName(), c.getAccessor(), extra);
            }).toList();
        }
    };

    private UnknownFields() {}

    static void warn(Record record, SpecPath path, Report report) {
        for (Component c : COMPONENTS.get(record.getClass())) {
            Object value = read(c.accessor(), record);
            if (c.extra()) {
                for (Object key : ((Map<?, ?>) value).keySet()) {
                    report.warn(path.field((String) key), "not a field of runtime-spec v1.2 for Linux; ignored");
                }
            } else if (value != null) {
                visit(value, path.field(c.jsonName()), report);
            }
        }
    }

    private static void visit(Object value, SpecPath path, Report report) {
        switch (value) {
            case Record r -> warn(r, path, report);
            case List<?> list -> {
                for (int i = 0; i < list.size(); i++) {
                    if (list.get(i) instanceof Record r) {
                        warn(r, path.index(i), report);
                    }
                }
            }
            case Map<?, ?> map -> map.forEach((k, v) -> {
                if (v instanceof Record r) {
                    warn(r, path.field((String) k), report);
                }
            });
            default -> { } // scalars and JsonNode values hold no model fields
        }
    }

    private static Object read(Method accessor, Record record) {
        try {
            return accessor.invoke(record);
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException("a model record's accessor failed: " + accessor, e);
        }
    }
}
