package dev.pdserve.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.engine.SamplingParams;

import java.util.List;

/**
 * A validated completions or chat request: the prompts as token ids, how to sample, and how to
 * answer (stream, usage, logprobs). {@code kvTransferParams} rides along untouched so PD
 * disaggregation can use it on every kind of request, streaming and chat included.
 *
 * @param sampling    the request's sampling but for max_tokens, which {@link #samplingFor} sets per prompt
 * @param maxTokens   the client's max_tokens, or null for "up to max-model-len"
 * @param logprobs    top alternatives per token to report, or null for no logprobs
 * @param tools       a chat request's tools and tool_choice, or null without tools
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
        ObjectNode kvTransferParams,
        ToolRequest tools) {

    public enum Kind { COMPLETION, CHAT }

    ApiRequest withSampling(SamplingParams s) {
        return new ApiRequest(kind, prompts, s, maxTokens, n, stream, includeUsage, continuousUsage, logprobs, returnTokensAsTokenIds, kvTransferParams, tools);
    }

    ApiRequest withTools(ToolRequest t) {
        return new ApiRequest(kind, prompts, sampling, maxTokens, n, stream, includeUsage, continuousUsage, logprobs, returnTokensAsTokenIds, kvTransferParams, t);
    }

    /** The sampling of one prompt: the client's max_tokens, or vLLM's default, what is left of the context. */
    public SamplingParams samplingFor(int promptLen, int maxModelLen) {
        return sampling.withMaxTokens(maxTokens != null ? maxTokens : maxModelLen - promptLen);
    }
}
