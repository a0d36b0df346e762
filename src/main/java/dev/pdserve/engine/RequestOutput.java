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
 * (500 engine failure, 502 the KV could not be loaded from the prefill instance), else 0.
 * {@code scheduledNanos}: {@link System#nanoTime()} when the engine first scheduled the request, 0
 * if it never was (for vLLM's queue and prefill time metrics). {@code promptLogprobs}: on the
 * first token's output of a request that asked for them, one entry per prompt token (the first
 * null: nothing predicts it), else null. Made by the named factories
 * {@link #token}, {@link #abort} and {@link #error}.
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
        long scheduledNanos,
        List<TokenLogprob> promptLogprobs) {

    private static final int[] NO_TOKENS = new int[0];

    /**
     * How the message of an error that only this request caused begins (its sampling or
     * detokenization threw, the shared forward did not): the server marks such a 500 as the
     * request's fault, so a PD proxy neither retries it nor holds it against the instance.
     */
    public static final String REQUEST_FAULT = "engine error in this request's sampling or detokenization: ";

    /** Whether this ERROR output is one that only its own request caused (see {@link #REQUEST_FAULT}). */
    public static boolean causedByRequest(String error) {
        return error != null && error.startsWith(REQUEST_FAULT);
    }

    /** One new token of a request that goes on; {@code logprob} null when none were asked for. */
    public static RequestOutput token(String requestId, int tokenId, String textDelta, TokenLogprob logprob,
                                      int promptTokens, int completionTokens, int cachedPromptTokens, long scheduledNanos) {
        return new RequestOutput(requestId, new int[] {tokenId}, textDelta, logprob == null ? null : List.of(logprob), false, null,
                promptTokens, completionTokens, cachedPromptTokens, null, null, null, 0, scheduledNanos, null);
    }

    /** This output, as the request's last: why it ended, vLLM's stop_reason (or null) and its kv_transfer_params (or null). */
    public RequestOutput finish(FinishReason reason, Object stopReason, JsonNode kvTransferParams) {
        return new RequestOutput(requestId, newTokenIds, textDelta, logprobs, true, reason,
                promptTokens, completionTokens, cachedPromptTokens, error, stopReason, kvTransferParams, errorStatus, scheduledNanos, promptLogprobs);
    }

    /** This output with the prompt's logprobs (see the record's comment). */
    public RequestOutput withPromptLogprobs(List<TokenLogprob> prompt) {
        return new RequestOutput(requestId, newTokenIds, textDelta, logprobs, finished, finishReason,
                promptTokens, completionTokens, cachedPromptTokens, error, stopReason, kvTransferParams, errorStatus, scheduledNanos, prompt);
    }

    /** The last output of an aborted request: no new tokens. */
    public static RequestOutput abort(String requestId, int promptTokens, int completionTokens, int cachedPromptTokens, long scheduledNanos) {
        return new RequestOutput(requestId, NO_TOKENS, "", null, true, FinishReason.ABORT,
                promptTokens, completionTokens, cachedPromptTokens, null, null, null, 0, scheduledNanos, null);
    }

    /** The last output of a request that failed: {@code status} is the HTTP status to answer (500, 502, ...). */
    public static RequestOutput error(String requestId, int status, String message, int promptTokens, int completionTokens,
                                      int cachedPromptTokens, long scheduledNanos) {
        return new RequestOutput(requestId, NO_TOKENS, "", null, true, FinishReason.ERROR,
                promptTokens, completionTokens, cachedPromptTokens, message, null, null, status, scheduledNanos, null);
    }
}
