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
            offsets.add(offset);
            offset += text.codePointCount(0, text.length());
            if (t.topIds() == null) { // an echoed prompt's first token: nothing predicts it
                lps.addNull();
                tops.addNull();
                continue;
            }
            lps.add(value(t.logprob()));
            ObjectNode top = tops.addObject();
            int k = numTop(t, topK);
            for (int i = 0; i < k; i++) top.put(token(t.topIds()[i]), value(t.topLogprobs()[i]));
            // vLLM's map also holds the sampled token when it is outside the top k.
            String chosen = token(t.tokenId());
            if (!top.has(chosen)) top.put(chosen, value(t.logprob()));
        }
        return out;
    }

    /**
     * vLLM's {@code prompt_logprobs}: per prompt token, null for the first, else a map from token
     * id to {@code {logprob, rank, decoded_token}} over the top alternatives and the prompt token.
     */
    ArrayNode prompt(List<TokenLogprob> tokens) {
        ArrayNode out = F.arrayNode();
        for (TokenLogprob t : tokens) {
            if (t == null) {
                out.addNull();
                continue;
            }
            ObjectNode m = out.addObject();
            for (int i = 0; i < t.topIds().length; i++) {
                // Ranks of the alternatives: one more than the number of strictly better ones.
                int rank = 1;
                while (rank - 1 < i && t.topLogprobs()[rank - 1] > t.topLogprobs()[i]) rank++;
                promptEntry(m, t.topIds()[i], t.topLogprobs()[i], rank);
            }
            if (!m.has(Integer.toString(t.tokenId()))) promptEntry(m, t.tokenId(), t.logprob(), t.rank());
        }
        return out;
    }

    private void promptEntry(ObjectNode m, int id, float logprob, int rank) {
        m.putObject(Integer.toString(id)).put("logprob", value(logprob)).put("rank", rank).put("decoded_token", token(id));
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
