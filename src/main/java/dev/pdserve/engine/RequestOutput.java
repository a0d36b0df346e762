package dev.pdserve.engine;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/**
 * What one engine step produced for one request: the new tokens (usually one), their text delta
 * (never a broken UTF-8 character; stop strings never included unless asked), and, on the last
 * output, why it finished. Counts are totals so far. {@code stopReason} is vLLM's {@code stop_reason}:
 * the stop string (String) or stop token id (Integer) that ended the request, null otherwise
 * (EOS, length, abort). {@code kvTransferParams}: on a prefill instance's last output, where its
 * KV is leased (vLLM's response field). {@code errorStatus}: the HTTP status an ERROR maps to
 * (500 engine failure, 502 the KV could not be loaded from the prefill instance). {@code scheduledNanos}:
 * {@link System#nanoTime()} when the engine first scheduled the request, 0 if it never was (for vLLM's
 * queue and prefill time metrics).
 */
public record RequestOutput(
        String requestId,
        int[] newTokenIds,
        String textDelta,
        List<TokenLogprob> logprobs,
        boolean finished,
        FinishReason finishReason,
        int promptTokens,
        int completionTokens,
        int cachedPromptTokens,
        String error,
        Object stopReason,
        JsonNode kvTransferParams,
        int errorStatus,
        long scheduledNanos) {

    /** Without the scheduling time (the shape before it was added). */
    public RequestOutput(String requestId, int[] newTokenIds, String textDelta, List<TokenLogprob> logprobs, boolean finished,
                         FinishReason finishReason, int promptTokens, int completionTokens, int cachedPromptTokens, String error,
                         Object stopReason, JsonNode kvTransferParams, int errorStatus) {
        this(requestId, newTokenIds, textDelta, logprobs, finished, finishReason, promptTokens, completionTokens, cachedPromptTokens, error,
                stopReason, kvTransferParams, errorStatus, 0);
    }

    /** Without KV transfer params (the shape before PD disaggregation). */
    public RequestOutput(String requestId, int[] newTokenIds, String textDelta, List<TokenLogprob> logprobs, boolean finished,
                         FinishReason finishReason, int promptTokens, int completionTokens, int cachedPromptTokens, String error, Object stopReason) {
        this(requestId, newTokenIds, textDelta, logprobs, finished, finishReason, promptTokens, completionTokens, cachedPromptTokens, error, stopReason, null,
                error == null ? 0 : 500);
    }

    /** Without a stop reason (the shape before {@code stopReason} was added). */
    public RequestOutput(String requestId, int[] newTokenIds, String textDelta, List<TokenLogprob> logprobs, boolean finished,
                         FinishReason finishReason, int promptTokens, int completionTokens, int cachedPromptTokens, String error) {
        this(requestId, newTokenIds, textDelta, logprobs, finished, finishReason, promptTokens, completionTokens, cachedPromptTokens, error, null);
    }
}
