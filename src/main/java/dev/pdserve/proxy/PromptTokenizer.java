package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A request's prompt token ids, for hashing its blocks the way the instances do. Token ids given in
 * the request are taken as they are; text and chat messages are tokenized by an instance's
 * {@code POST /tokenize}: the instance's own tokenizer and chat template give exactly the tokens it
 * will cache, the proxy needs no model files and stays HTTP-only (vLLM has the same endpoint), for
 * one loopback round trip per request. Null when the prompt cannot be tokenized here (a batch of
 * prompts, no instance answering): the request is then routed by load.
 */
final class PromptTokenizer {
    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final List<String> CHAT_FIELDS = List.of("add_generation_prompt", "continue_final_message",
            "add_special_tokens", "chat_template", "chat_template_kwargs", "tools");

    private final InstancePool pool;
    private final Upstream upstream;
    private final ObjectMapper json;
    private final AtomicInteger next = new AtomicInteger();

    PromptTokenizer(InstancePool pool, Upstream upstream, ObjectMapper json) {
        this.pool = pool;
        this.upstream = upstream;
        this.json = json;
    }

    int[] tokens(String apiPath, ObjectNode body, Upstream.Forward fwd) throws InterruptedException {
        JsonNode prompt = body.get("prompt");
        if (!apiPath.contains("chat")) {
            if (prompt == null) return null;
            if (prompt.isArray() && prompt.size() == 1 && !prompt.get(0).isNumber()) prompt = prompt.get(0);
            if (prompt.isArray()) return ids(prompt);
            if (!prompt.isTextual()) return null;
        } else if (!body.path("messages").isArray()) {
            return null;
        }
        ObjectNode q = json.createObjectNode();
        if (body.has("model")) q.set("model", body.get("model"));
        if (apiPath.contains("chat")) {
            q.set("messages", body.get("messages"));
            for (String f : CHAT_FIELDS) if (body.has(f)) q.set(f, body.get(f));
        } else {
            q.set("prompt", prompt);
            if (body.has("add_special_tokens")) q.set("add_special_tokens", body.get("add_special_tokens"));
        }
        List<Instance> candidates = new ArrayList<>();
        for (InstanceType t : InstanceType.values()) for (Instance i : pool.list(t)) if (i.isAvailable()) candidates.add(i);
        if (candidates.isEmpty()) return null;
        Instance at = candidates.get(Math.floorMod(next.getAndIncrement(), candidates.size()));
        try {
            HttpResponse<byte[]> r = upstream.postBuffered(at.address, "/tokenize", json.writeValueAsBytes(q), fwd, TIMEOUT,
                    dev.pdserve.http.TcpPeer.UNWATCHED);
            if (r.statusCode() != 200) return null; // the instance will say what is wrong when the request reaches it
            return ids(json.readTree(r.body()).get("tokens"));
        } catch (IOException e) {
            return null;
        }
    }

    private static int[] ids(JsonNode a) {
        if (a == null || !a.isArray() || a.isEmpty()) return null;
        int[] out = new int[a.size()];
        for (int k = 0; k < out.length; k++) {
            if (!a.get(k).canConvertToInt()) return null;
            out[k] = a.get(k).intValue();
        }
        return out;
    }
}
