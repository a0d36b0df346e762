package dev.pdserve.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.engine.SamplingParams;

import java.util.List;

/**
 * A validated completions or chat request: the prompts as token ids, how to sample, and how to
 * answer (stream, usage, logprobs). {@code kvTransferParams} rides along untouched so PD
 * disaggregation can use it on every kind of request, streaming and chat included.
 *
 * @param maxTokens   the client's max_tokens, or null for "up to max-model-len"
 * @param logprobs    top alternatives per token to report, or null for no logprobs
 */
public record ApiRequest(
        Kind kind,
        List<int[]> prompts,
        SamplingParams sampling,
        Integer maxTokens,
        int n,
        boolean stream,
        boolean includeUsage,
        boolean continuousUsage,
        Integer logprobs,
        boolean returnTokensAsTokenIds,
        ObjectNode kvTransferParams) {

    public enum Kind { COMPLETION, CHAT }

    /** The sampling of one prompt: vLLM's default max_tokens fills the rest of the context. */
    public SamplingParams samplingFor(int promptLen, int maxModelLen) {
        int max = maxTokens != null ? maxTokens : maxModelLen - promptLen;
        SamplingParams s = sampling;
        return new SamplingParams(s.temperature(), s.topP(), s.topK(), s.minP(), s.seed(), s.presencePenalty(),
                s.frequencyPenalty(), s.repetitionPenalty(), s.stop(), s.stopTokenIds(), s.includeStopStrInOutput(),
                max, s.minTokens(), s.ignoreEos(), s.logprobs(), s.skipSpecialTokens());
    }
}
