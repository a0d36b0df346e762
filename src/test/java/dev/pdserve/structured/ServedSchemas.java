package dev.pdserve.structured;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Fifty JSON schemas for the served structured output tests, each a nested object built from the
 * index: strings with enums, patterns, formats and length bounds, bounded integers and numbers,
 * booleans, nulls, arrays of objects and of scalars with item bounds, nested objects, required
 * subsets, additionalProperties false. Every free string and array is bounded, so a constrained
 * output has a bounded length and a small random model ends it within max_tokens.
 */
public final class ServedSchemas {
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final int COUNT = 50;

    private ServedSchemas() {}

    public static List<ObjectNode> all() {
        List<ObjectNode> out = new ArrayList<>();
        for (int i = 0; i < COUNT; i++) out.add(schema(i));
        return out;
    }

    /**
     * A chat request asking for {@code schema} through response_format (strict, as the OpenAI SDK
     * sends it); greedy for even {@code i}, seeded sampling for odd.
     */
    public static ObjectNode chatRequest(int i, ObjectNode schema) {
        ObjectNode body = JSON.createObjectNode().put("model", "tiny");
        body.putArray("messages").addObject().put("role", "user").put("content", "Describe thing number " + i + " as JSON.");
        ObjectNode rf = body.putObject("response_format").put("type", "json_schema");
        rf.putObject("json_schema").put("name", "thing" + i).put("strict", true).set("schema", schema);
        body.put("max_tokens", 900);
        if (i % 2 == 0) body.put("temperature", 0); else body.put("temperature", 1.0).put("seed", i);
        return body;
    }

    public static ObjectNode schema(int i) {
        Random rnd = new Random(1000 + i);
        ObjectNode s = object(rnd, 0, 2 + rnd.nextInt(3));
        s.put("title", "schema-" + i);
        return s;
    }

    private static ObjectNode object(Random rnd, int depth, int props) {
        ObjectNode o = JSON.createObjectNode().put("type", "object");
        ObjectNode p = o.putObject("properties");
        ArrayNode required = JSON.createArrayNode();
        for (int k = 0; k < props; k++) {
            String name = "f" + depth + "_" + k;
            p.set(name, value(rnd, depth));
            if (rnd.nextInt(3) > 0) required.add(name);
        }
        if (!required.isEmpty()) o.set("required", required);
        if (rnd.nextBoolean()) o.put("additionalProperties", false);
        return o;
    }

    private static ObjectNode value(Random rnd, int depth) {
        int kind = rnd.nextInt(depth < 2 ? 12 : 9);
        ObjectNode v = JSON.createObjectNode();
        switch (kind) {
            case 0 -> v.put("type", "string").put("maxLength", 1 + rnd.nextInt(10));
            case 1 -> v.put("type", "string").put("pattern", "^[a-z]{1,6}-[0-9]{2}$");
            case 2 -> v.put("type", "string").putArray("enum").add("red").add("green").add("blue");
            case 3 -> v.put("type", "integer").put("minimum", -50).put("maximum", 50 + rnd.nextInt(1000));
            case 4 -> v.put("type", "number").put("minimum", 0).put("maximum", 1);
            case 5 -> v.put("type", "boolean");
            case 6 -> v.put("type", "string").put("format", rnd.nextBoolean() ? "date" : "time");
            case 7 -> v.put("type", "null");
            case 8 -> {
                v.put("type", "array").put("minItems", rnd.nextInt(2)).put("maxItems", 1 + rnd.nextInt(3));
                v.set("items", rnd.nextBoolean() ? JSON.createObjectNode().put("type", "integer").put("minimum", 0).put("maximum", 99)
                        : JSON.createObjectNode().put("type", "string").put("pattern", "^[A-Z][a-z]{0,5}$"));
            }
            case 9, 10 -> {
                return object(rnd, depth + 1, 1 + rnd.nextInt(3));
            }
            default -> {
                v.put("type", "array").put("minItems", 1).put("maxItems", 2);
                v.set("items", object(rnd, depth + 1, 1 + rnd.nextInt(2)));
            }
        }
        return v;
    }
}
