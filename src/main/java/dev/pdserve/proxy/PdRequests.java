package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** The two request bodies a PD request turns into, and the prompt size used to balance prefill. */
final class PdRequests {
    private PdRequests() {}

    /**
     * The prefill body: the client's request cut to one token ({@code min_tokens=1} too, so an EOS first
     * token cannot skip the KV transfer), never streamed, asking the instance to keep the KV for a
     * remote decode.
     */
    static ObjectNode prefillBody(ObjectNode original) {
        ObjectNode p = original.deepCopy();
        p.put("max_tokens", 1);
        p.put("min_tokens", 1);
        if (p.has("max_completion_tokens")) p.put("max_completion_tokens", 1);
        p.put("stream", false);
        p.remove("stream_options");
        ObjectNode kv = p.putObject("kv_transfer_params");
        kv.put("do_remote_decode", true);
        kv.put("do_remote_prefill", false);
        kv.putNull("remote_engine_id");
        kv.putNull("remote_block_ids");
        kv.putNull("remote_host");
        kv.putNull("remote_port");
        return p;
    }

    /** The decode body: the client's request untouched plus the prefill instance's kv_transfer_params. */
    static ObjectNode decodeBody(ObjectNode original, JsonNode kvTransferParams) {
        ObjectNode d = original.deepCopy();
        d.set("kv_transfer_params", kvTransferParams);
        return d;
    }

    /**
     * Prompt size in tokens: token-id lists count exactly, text is estimated at four characters a token
     * (cheap, and only used to compare instances' queues).
     */
    static long promptTokens(JsonNode body) {
        long n = 0;
        JsonNode prompt = body.get("prompt");
        if (prompt != null) n += promptPart(prompt);
        JsonNode messages = body.get("messages");
        if (messages != null && messages.isArray()) {
            for (JsonNode m : messages) {
                n += 4; // role and template tokens
                JsonNode content = m.get("content");
                if (content == null) continue;
                if (content.isTextual()) n += textTokens(content.asText());
                else if (content.isArray()) for (JsonNode part : content) n += textTokens(part.path("text").asText(""));
            }
        }
        return Math.max(1, n);
    }

    private static long promptPart(JsonNode p) {
        if (p.isTextual()) return textTokens(p.asText());
        if (!p.isArray()) return 0;
        long n = 0;
        for (JsonNode e : p) {
            if (e.isNumber()) n++;
            else n += promptPart(e);
        }
        return n;
    }

    private static long textTokens(String s) {
        return (s.length() + 3) / 4;
    }
}
