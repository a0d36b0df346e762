package dev.pdserve.engine;

import java.util.List;

/**
 * What one engine step produced for one request: the new tokens (usually one), their text delta
 * (never a broken UTF-8 character; stop strings never included unless asked), and, on the last
 * output, why it finished. Counts are totals so far. {@code stopReason} is vLLM's {@code stop_reason}:
 * the stop string (String) or stop token id (Integer) that ended the request, null otherwise
 * (EOS, length, abort).
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
        Object stopReason) {

    /** Without a stop reason (the shape before {@code stopReason} was added). */
    public RequestOutput(String requestId, int[] newTokenIds, String textDelta, List<TokenLogprob> logprobs, boolean finished,
                         FinishReason finishReason, int promptTokens, int completionTokens, int cachedPromptTokens, String error) {
        this(requestId, newTokenIds, textDelta, logprobs, finished, finishReason, promptTokens, completionTokens, cachedPromptTokens, error, null);
    }
}
