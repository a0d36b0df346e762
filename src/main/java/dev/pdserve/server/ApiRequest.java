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
 * @param maxTokens   the client's max_tokens, or null for vLLM's default ({@link #samplingFor})
 * @param logprobs    top alternatives per token to report, or null for no logprobs
 * @param echo        completions' echo: each choice starts with its prompt (text, and logprobs when asked)
 * @param echoOnly    echo with max_tokens 0: the prompt alone, one token computed and dropped (as vLLM)
 * @param promptTexts the prompts as the client wrote them (for echo); null entries for token-id prompts
 * @param promptLogprobs vLLM's prompt_logprobs as asked (the choice's {@code prompt_logprobs} field), or null
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
        boolean echo,
        boolean echoOnly,
        List<String> promptTexts,
        Integer promptLogprobs,
        ToolRequest tools) {

    public enum Kind { COMPLETION, CHAT }

    /** Completions' max_tokens when the client sends none (vLLM's and OpenAI's default). */
    public static final int DEFAULT_COMPLETION_MAX_TOKENS = 16;

    ApiRequest withSampling(SamplingParams s) {
        return new ApiRequest(kind, prompts, s, maxTokens, n, stream, includeUsage, continuousUsage, logprobs, returnTokensAsTokenIds, kvTransferParams, echo, echoOnly, promptTexts, promptLogprobs, tools);
    }

    ApiRequest withTools(ToolRequest t) {
        return new ApiRequest(kind, prompts, sampling, maxTokens, n, stream, includeUsage, continuousUsage, logprobs, returnTokensAsTokenIds, kvTransferParams, echo, echoOnly, promptTexts, promptLogprobs, t);
    }

    /**
     * The sampling of one prompt: the client's max_tokens, or vLLM's default: 16 for completions,
     * what is left of the context for chat (either capped by what is left).
     */
    public SamplingParams samplingFor(int promptLen, int maxModelLen) {
        int left = maxModelLen - promptLen;
        int fallback = kind == Kind.COMPLETION ? Math.min(DEFAULT_COMPLETION_MAX_TOKENS, left) : left;
        if (echoOnly) return sampling.withMaxTokens(1);
        return sampling.withMaxTokens(maxTokens != null ? maxTokens : fallback);
    }
}
