package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.http.ApiException;

import java.util.ArrayList;
import java.util.List;

/** Typed reads of one JSON request body; a wrong type is a 400 naming the field. */
final class JsonFields {
    private final ObjectNode body;

    JsonFields(ObjectNode body) { this.body = body; }

    /** The field, or null when absent or JSON null (OpenAI clients send nulls for unset fields). */
    JsonNode get(String name) {
        JsonNode n = body.get(name);
        return n == null || n.isNull() ? null : n;
    }

    boolean has(String name) { return get(name) != null; }

    String string(String name, String fallback) {
        JsonNode n = get(name);
        if (n == null) return fallback;
        if (!n.isTextual()) throw wrongType(name, "a string");
        return n.textValue();
    }

    boolean bool(String name, boolean fallback) {
        JsonNode n = get(name);
        if (n == null) return fallback;
        if (!n.isBoolean()) throw wrongType(name, "a boolean");
        return n.booleanValue();
    }

    Integer integer(String name) {
        JsonNode n = get(name);
        if (n == null) return null;
        if (!n.isIntegralNumber() || !n.canConvertToInt()) throw wrongType(name, "an integer");
        return n.intValue();
    }

    int integer(String name, int fallback) {
        Integer v = integer(name);
        return v == null ? fallback : v;
    }

    Long longValue(String name) {
        JsonNode n = get(name);
        if (n == null) return null;
        if (!n.isIntegralNumber() || !n.canConvertToLong()) throw wrongType(name, "an integer");
        return n.longValue();
    }

    double number(String name, double fallback) {
        JsonNode n = get(name);
        if (n == null) return fallback;
        if (!n.isNumber()) throw wrongType(name, "a number");
        return n.doubleValue();
    }

    /** A string or a list of strings (OpenAI's {@code stop}). */
    List<String> strings(String name) {
        JsonNode n = get(name);
        List<String> out = new ArrayList<>();
        if (n == null) return out;
        if (n.isTextual()) {
            out.add(n.textValue());
            return out;
        }
        if (!n.isArray()) throw wrongType(name, "a string or a list of strings");
        for (JsonNode e : n) {
            if (!e.isTextual()) throw wrongType(name, "a string or a list of strings");
            out.add(e.textValue());
        }
        return out;
    }

    int[] ints(String name) {
        JsonNode n = get(name);
        if (n == null) return new int[0];
        if (!n.isArray()) throw wrongType(name, "a list of integers");
        int[] out = new int[n.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode e = n.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToInt()) throw wrongType(name, "a list of integers");
            out[i] = e.intValue();
        }
        return out;
    }

    ObjectNode object(String name) {
        JsonNode n = get(name);
        if (n == null) return null;
        if (!n.isObject()) throw wrongType(name, "an object");
        return (ObjectNode) n;
    }

    static ApiException wrongType(String name, String what) {
        return ApiException.badRequest(name, "'" + name + "' must be " + what);
    }
}
