package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.engine.FinishReason;
import dev.pdserve.engine.RequestOutput;
import dev.pdserve.engine.TokenLogprob;
import dev.pdserve.toolcall.ToolCallStream;

import java.util.ArrayList;
import java.util.List;

/** One choice of a response (one engine request): what it produced so far and when. */
final class Choice {
    final int index;
    final String requestId;
    final StringBuilder text = new StringBuilder();
    final List<TokenLogprob> logprobs = new ArrayList<>();
    /** Which prompt of the request this choice continues (its n choices share it). */
    final int promptIndex;
    /** The max_tokens the engine runs it with (vLLM's max_tokens_param). */
    final int maxTokens;
    final long arrivalNanos;
    /** When the engine first scheduled it, from its outputs; 0 until known. */
    long scheduledNanos;
    long firstTokenNanos;
    long lastTokenNanos;
    boolean finished;
    FinishReason finishReason;
    String error;
    /** vLLM's stop_reason: the stop string or stop token id that ended the choice, else null. */
    Object stopReason;
    int promptTokens;
    int completionTokens;
    int cachedTokens;
    /** Characters of the text already streamed, where the next logprobs' text_offset starts. */
    int streamedTextOffset;
    /** The engine's kv_transfer_params on the last output (a prefill instance's lease), else null. */
    JsonNode kvTransferParams;
    /** Reads the text back into tool calls (a chat request with tools), else null. */
    ToolCallStream tools;
    /** HTTP status of an ERROR finish: 500 engine failure, 502 KV transfer failure. */
    int errorStatus = 500;
    /** The engine's prompt logprobs (entry 0 null), once its first token came; null when not asked for. */
    List<TokenLogprob> promptLogprobs;
    /** Echo: the prompt's ids and text, put in front of the first output; null without echo. */
    private final int[] echoIds;
    private final String echoText;
    /** Echo with max_tokens 0: the one token the engine computes is dropped. */
    private final boolean echoOnly;
    private boolean echoed;

    Choice(int index, String requestId, int promptIndex, int promptTokens, int maxTokens, long arrivalNanos) {
        this(index, requestId, promptIndex, promptTokens, maxTokens, arrivalNanos, null, null, false);
    }

    Choice(int index, String requestId, int promptIndex, int promptTokens, int maxTokens, long arrivalNanos,
           int[] echoIds, String echoText, boolean echoOnly) {
        this.echoIds = echoIds;
        this.echoText = echoText;
        this.echoOnly = echoOnly;
        this.index = index;
        this.requestId = requestId;
        this.promptIndex = promptIndex;
        this.promptTokens = promptTokens;
        this.maxTokens = maxTokens;
        this.arrivalNanos = arrivalNanos;
    }

    /** Takes one output in; records TTFT, inter-token latency and the finish in {@code metrics}. */
    void apply(RequestOutput o, VllmMetrics metrics) {
        long now = System.nanoTime();
        if (o.scheduledNanos() != 0) scheduledNanos = o.scheduledNanos();
        if (o.newTokenIds() != null && o.newTokenIds().length > 0) {
            if (firstTokenNanos == 0) {
                firstTokenNanos = now;
                metrics.recordFirstToken((now - arrivalNanos) / 1e9);
            } else {
                metrics.recordInterToken((now - lastTokenNanos) / 1e9);
            }
            lastTokenNanos = now;
        }
        if (echoText != null && !echoed && o.newTokenIds() != null && o.newTokenIds().length > 0) { // echo: the prompt goes first
            echoed = true;
            text.append(echoText);
        }
        if (o.promptLogprobs() != null) {
            promptLogprobs = o.promptLogprobs();
            if (echoText != null) {
                // The first prompt token has no logprob (nothing predicts it): an entry without alternatives.
                logprobs.add(new TokenLogprob(echoIds[0], Float.NaN, null, null));
                logprobs.addAll(promptLogprobs.subList(1, promptLogprobs.size()));
            }
        }
        if (!echoOnly) {
            if (o.textDelta() != null) text.append(o.textDelta());
            if (o.logprobs() != null) logprobs.addAll(o.logprobs());
        }
        promptTokens = o.promptTokens();
        completionTokens = echoOnly ? 0 : o.completionTokens();
        cachedTokens = o.cachedPromptTokens();
        if (o.finished()) {
            finished = true;
            finishReason = o.finishReason() == null ? FinishReason.STOP : o.finishReason();
            error = o.error();
            stopReason = o.stopReason();
            kvTransferParams = o.kvTransferParams();
            if (o.errorStatus() > 0) errorStatus = o.errorStatus();
            metrics.recordFinished(finished(now));
        }
    }

    /** Ends the choice without an engine output (the client went away); the caller records it. */
    VllmMetrics.FinishedRequest abort(long now) {
        finished = true;
        finishReason = FinishReason.ABORT;
        return finished(now);
    }

    private VllmMetrics.FinishedRequest finished(long now) {
        return new VllmMetrics.FinishedRequest(finishReason, arrivalNanos, scheduledNanos, firstTokenNanos, lastTokenNanos, now,
                promptTokens, completionTokens, maxTokens);
    }
}
