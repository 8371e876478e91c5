package io.a3s.box.spec.oci;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import io.a3s.box.spec.SpecError;
import io.a3s.box.spec.SpecPath;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Compares a JSON tree with the model's records and reports every value of the wrong JSON type, so that a config
 * with three typos gets three errors rather than Jackson's first. The expected types are read from the records
 * themselves (component types and {@link JsonProperty} names): there is no second copy of the schema to drift.
 *
 * <p>{@code null} is accepted wherever a field is optional (every field is, at this level; validation decides
 * what is required) but not as a list element or map value, where Go would silently turn it into a zero value.
 */
final class ShapeCheck {
    /** JSON name to declared type, for each record class. */
    private static final ClassValue<Map<String, Type>> FIELDS = new ClassValue<>() {
        @Override
        protected Map<String, Type> computeValue(Class<?> type) {
            Map<String, Type> fields = new HashMap<>();
            for (RecordComponent c : type.getRecordComponents()) {
                JsonProperty renamed = c.getAnnotation(JsonProperty.class);
                if (renamed != null && renamed.value().equals(Immutable.EXTRA)) {
                    continue;
                }
                fields.put(renamed != null ? renamed.value() : c.getName(), c.getGenericType());
            }
            return Collections.unmodifiableMap(fields);
        }
    };

    private final List<SpecError> errors = new ArrayList<>();

    private ShapeCheck() {}

    static List<SpecError> check(JsonNode root, Class<? extends Record> type) {
        ShapeCheck check = new ShapeCheck();
        check.value(root, type, SpecPath.ROOT);
        return check.errors;
    }

    private void value(JsonNode node, Type type, SpecPath path) {
        if (type instanceof Class<?> c && c.isRecord()) {
            if (expect(node.isObject(), node, "an object", path)) {
                Map<String, Type> fields = FIELDS.get(c);
                node.properties().forEach(e -> {
                    Type fieldType = fields.get(e.getKey());
                    if (e.getKey().equals(Immutable.EXTRA)) {
                        errors.add(new SpecError(path.field(e.getKey()).toString(), "this field name is reserved"));
                    } else if (fieldType != null && !e.getValue().isNull()) {
                        value(e.getValue(), fieldType, path.field(e.getKey()));
                    }
                });
            }
        } else if (type instanceof ParameterizedType p && p.getRawType() == List.class) {
            if (expect(node.isArray(), node, "an array", path)) {
                Type element = p.getActualTypeArguments()[0];
                for (int i = 0; i < node.size(); i++) {
                    element(node.get(i), element, path.index(i));
                }
            }
        } else if (type instanceof ParameterizedType p && p.getRawType() == Map.class) {
            if (expect(node.isObject(), node, "an object", path)) {
                Type valueType = p.getActualTypeArguments()[1];
                node.properties().forEach(e -> element(e.getValue(), valueType, path.field(e.getKey())));
            }
        } else if (type == String.class) {
            expect(node.isTextual(), node, "a string", path);
        } else if (type == Boolean.class) {
            expect(node.isBoolean(), node, "true or false", path);
        } else if (type == Long.class) {
            if (expect(node.isIntegralNumber(), node, "an integer", path) && !node.canConvertToLong()) {
                errors.add(new SpecError(path.toString(), node.asText() + " is out of range"));
            }
        } else if (type == BigInteger.class) {
            expect(node.isIntegralNumber(), node, "an integer", path);
        } else if (type != JsonNode.class) {
            throw new IllegalStateException("the model uses a type ShapeCheck does not know: " + type);
        }
    }

    private void element(JsonNode node, Type type, SpecPath path) {
        if (node.isNull()) {
            errors.add(new SpecError(path.toString(), "null is not allowed here"));
        } else {
            value(node, type, path);
        }
    }

    private boolean expect(boolean ok, JsonNode node, String expected, SpecPath path) {
        if (!ok) {
            errors.add(new SpecError(path.toString(), "expected " + expected + ", got " + kind(node)));
        }
        return ok;
    }

    private static String kind(JsonNode node) {
        return switch (node.getNodeType()) {
            case OBJECT -> "an object";
            case ARRAY -> "an array";
            case STRING -> "a string";
            case NUMBER -> node.isIntegralNumber() ? "the integer " + node.asText() : "the number " + node.asText();
            case BOOLEAN -> node.asText();
            case NULL -> "null";
            case BINARY, POJO, MISSING -> node.getNodeType().name().toLowerCase();
        };
    }
}
