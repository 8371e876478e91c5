package io.a3s.box.spec.guest;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.a3s.box.spec.Fixtures;
import io.a3s.box.spec.SpecException;
import io.a3s.box.spec.oci.OciJson;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Real configs with one value replaced by something of another type or range, or with their bytes cut or
 * flipped: parsing and mapping must end in a result or a SpecException, never in another exception. The mapping
 * runs even when validation fails (to report refusals together with errors), so this is what keeps it honest.
 */
class MutationTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final int ROUNDS_PER_FIXTURE = 150;

    @Test
    void mutatedConfigsNeverCrashTheMapping() throws Exception {
        Random random = new Random(20261123);
        List<String> failures = new ArrayList<>();
        for (String name : Fixtures.containerConfigs()) {
            byte[] original = Fixtures.bytes(name);
            for (int round = 0; round < ROUNDS_PER_FIXTURE; round++) {
                byte[] mutated = round % 4 == 0 ? mutateBytes(original, random) : mutateTree(original, random);
                try {
                    SpecMapper.map("c1", Fixtures.BUNDLE, OciJson.parseSpec(mutated));
                } catch (SpecException expected) {
                    // the only acceptable failure
                } catch (RuntimeException e) {
                    failures.add(name + " round " + round + ": " + e + "\n" + new String(mutated,
                            StandardCharsets.UTF_8));
                }
            }
        }
        assertTrue(failures.isEmpty(), () -> failures.size() + " crashes, first: " + failures.getFirst());
    }

    private static byte[] mutateBytes(byte[] original, Random random) {
        byte[] copy = original.clone();
        if (random.nextBoolean()) {
            return java.util.Arrays.copyOf(copy, random.nextInt(copy.length));
        }
        copy[random.nextInt(copy.length)] = (byte) random.nextInt(128);
        return copy;
    }

    private static byte[] mutateTree(byte[] original, Random random) throws Exception {
        JsonNode root = JSON.readTree(original);
        List<JsonNode> containers = new ArrayList<>();
        collect(root, containers);
        JsonNode target = containers.get(random.nextInt(containers.size()));
        JsonNode replacement = randomValue(random);
        if (target instanceof ObjectNode object && !object.isEmpty()) {
            List<String> names = new ArrayList<>();
            object.fieldNames().forEachRemaining(names::add);
            object.set(names.get(random.nextInt(names.size())), replacement);
        } else if (target instanceof ArrayNode array && !array.isEmpty()) {
            array.set(random.nextInt(array.size()), replacement);
        }
        return JSON.writeValueAsBytes(root);
    }

    private static void collect(JsonNode node, List<JsonNode> out) {
        if (node.isContainerNode()) {
            out.add(node);
            node.forEach(child -> collect(child, out));
        }
    }

    private static JsonNode randomValue(Random random) {
        return switch (random.nextInt(12)) {
            case 0 -> NODES.nullNode();
            case 1 -> NODES.booleanNode(random.nextBoolean());
            case 2 -> NODES.numberNode(-1);
            case 3 -> NODES.numberNode(0);
            case 4 -> NODES.numberNode(Long.MAX_VALUE);
            case 5 -> NODES.numberNode(new BigInteger("340282366920938463463374607431768211456"));
            case 6 -> NODES.numberNode(1.5);
            case 7 -> NODES.textNode("");
            case 8 -> NODES.textNode("../../etc");
            case 9 -> NODES.arrayNode().add(NODES.nullNode()).add("x");
            case 10 -> NODES.objectNode().put("type", "bogus");
            default -> NODES.arrayNode();
        };
    }
}
