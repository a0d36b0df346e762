package dev.pdserve.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.engine.TokenLogprob;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Logprobs in the two shapes the API has: the legacy completions one ({@code tokens},
 * {@code token_logprobs}, {@code top_logprobs} as token→logprob maps, {@code text_offset}) and the
 * chat one ({@code content: [{token, logprob, bytes, top_logprobs: [...]}]}). With vLLM's
 * {@code return_tokens_as_token_ids} every token is spelled {@code token_id:N}.
 */
final class LogprobsFormat {
    /** vLLM reports -inf as this. */
    private static final float FLOOR = -9999.0f;
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private final TextCodec codec;
    private final boolean asTokenIds;

    LogprobsFormat(TextCodec codec, boolean asTokenIds) {
        this.codec = codec;
        this.asTokenIds = asTokenIds;
    }

    String token(int id) {
        return asTokenIds ? "token_id:" + id : codec.tokenText(id);
    }

    private static double value(float logprob) {
        return Float.isInfinite(logprob) || Float.isNaN(logprob) ? FLOOR : logprob;
    }

    /**
     * The legacy shape for some tokens; {@code textOffset} is where the first token's text starts
     * in the completion (in characters), and grows by each token's text as vLLM counts it.
     */
    ObjectNode completion(List<TokenLogprob> tokens, int topK, int textOffset) {
        ObjectNode out = F.objectNode();
        ArrayNode texts = out.putArray("tokens");
        ArrayNode lps = out.putArray("token_logprobs");
        ArrayNode tops = out.putArray("top_logprobs");
        ArrayNode offsets = out.putArray("text_offset");
        int offset = textOffset;
        for (TokenLogprob t : tokens) {
            String text = token(t.tokenId());
            texts.add(text);
            lps.add(value(t.logprob()));
            offsets.add(offset);
            offset += text.codePointCount(0, text.length());
            ObjectNode top = tops.addObject();
            int k = numTop(t, topK);
            for (int i = 0; i < k; i++) top.put(token(t.topIds()[i]), value(t.topLogprobs()[i]));
            // vLLM's map also holds the sampled token when it is outside the top k.
            String chosen = token(t.tokenId());
            if (!top.has(chosen)) top.put(chosen, value(t.logprob()));
        }
        return out;
    }

    /** Characters the tokens add to the text offset (the next chunk's starting offset). */
    int textLength(List<TokenLogprob> tokens) {
        int n = 0;
        for (TokenLogprob t : tokens) {
            String text = token(t.tokenId());
            n += text.codePointCount(0, text.length());
        }
        return n;
    }

    ObjectNode chat(List<TokenLogprob> tokens, int topK) {
        ObjectNode out = F.objectNode();
        ArrayNode content = out.putArray("content");
        for (TokenLogprob t : tokens) {
            ObjectNode entry = entry(content.addObject(), t.tokenId(), t.logprob());
            ArrayNode top = entry.putArray("top_logprobs");
            int k = numTop(t, topK);
            for (int i = 0; i < k; i++) entry(top.addObject(), t.topIds()[i], t.topLogprobs()[i]);
        }
        return out;
    }

    /** The alternatives to show: the top {@code topK}, or all the sampler kept for vLLM's -1. */
    private static int numTop(TokenLogprob t, int topK) {
        int kept = t.topIds() == null ? 0 : t.topIds().length;
        return topK < 0 ? kept : Math.min(topK, kept);
    }

    private ObjectNode entry(ObjectNode node, int id, float logprob) {
        String text = token(id);
        node.put("token", text);
        node.put("logprob", value(logprob));
        ArrayNode bytes = node.putArray("bytes");
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) bytes.add(b & 0xff);
        return node;
    }
}
