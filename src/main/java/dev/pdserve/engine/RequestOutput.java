package dev.pdserve.engine;

import java.util.List;

/**
 * What one engine step produced for one request: the new tokens (usually one), their text delta
 * (never a broken UTF-8 character; stop strings never included unless asked), and, on the last
 * output, why it finished. Counts are totals so far.
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
        String error) {}
