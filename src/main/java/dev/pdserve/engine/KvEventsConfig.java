package dev.pdserve.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.util.Iterator;
import java.util.Set;

/**
 * vLLM's {@code --kv-events-config} JSON ({@code KVEventsConfig}): whether the engine publishes its
 * KV events. pdserve publishes them on its own HTTP port ({@code GET /kv_events}), so the ZMQ
 * fields ({@code publisher}, {@code endpoint}, {@code replay_endpoint}, {@code topic}, buffer sizes)
 * are accepted and have no effect. Without the flag pdserve publishes (its proxy routes by them);
 * with it, {@code enable_kv_cache_events} decides, false by default as in vLLM.
 */
public record KvEventsConfig(boolean enabled, String publisher) {
    private static final Set<String> FIELDS = Set.of("enable_kv_cache_events", "publisher", "endpoint", "replay_endpoint",
            "buffer_steps", "hwm", "max_queue_size", "topic");

    public static final KvEventsConfig DEFAULT = new KvEventsConfig(true, "http");

    /** Parses the flag's JSON (null: the default); IllegalArgumentException names what is wrong. */
    public static KvEventsConfig parse(String json) {
        if (json == null) return DEFAULT;
        JsonNode n;
        try {
            n = new ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("--kv-events-config is not valid JSON: " + e.getMessage());
        }
        if (n == null || !n.isObject()) throw new IllegalArgumentException("--kv-events-config must be a JSON object");
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!FIELDS.contains(f)) throw new IllegalArgumentException("--kv-events-config: unknown field '" + f + "' (known: " + FIELDS + ")");
        }
        boolean enabled = bool(n.get("enable_kv_cache_events"));
        JsonNode p = n.get("publisher");
        String publisher = p == null || p.isNull() ? "null" : p.asText();
        if (!Set.of("null", "zmq").contains(publisher)) {
            throw new IllegalArgumentException("--kv-events-config: publisher must be 'null' or 'zmq', got '" + publisher + "'");
        }
        return new KvEventsConfig(enabled, publisher);
    }

    /** Pydantic's lax bool: true/false, 0/1 and their usual strings. */
    private static boolean bool(JsonNode v) {
        if (v == null || v.isNull()) return false;
        if (v.isBoolean()) return v.booleanValue();
        if (v.isIntegralNumber() && (v.asLong() == 0 || v.asLong() == 1)) return v.asLong() == 1;
        if (v.isTextual()) {
            switch (v.asText().toLowerCase(java.util.Locale.ROOT)) {
                case "true", "1", "yes", "on", "t", "y" -> { return true; }
                case "false", "0", "no", "off", "f", "n" -> { return false; }
                default -> { }
            }
        }
        throw new IllegalArgumentException("--kv-events-config: enable_kv_cache_events must be a boolean, got " + v);
    }
}
