package dev.pdserve.engine;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One sequence to generate: its id (unique while it runs), prompt token ids and sampling, and
 * the request's {@code kv_transfer_params} (null when absent) for PD disaggregation.
 */
public record GenerationRequest(String requestId, int[] promptIds, SamplingParams sampling, JsonNode kvTransferParams) {
    public GenerationRequest(String requestId, int[] promptIds, SamplingParams sampling) {
        this(requestId, promptIds, sampling, null);
    }

    /**
     * Every rule a request must pass before an engine queues it, with vLLM's messages: an id, a
     * non-empty prompt of token ids in the vocabulary, {@link SamplingParams#validate}, and prompt
     * plus max_tokens within max-model-len. Throws
     * {@link EngineException} 400 naming the parameter of the first rule broken.
     */
    public void validate(int vocabSize, int maxModelLen) {
        if (requestId == null || requestId.isEmpty()) throw EngineException.badRequest("request_id", "request id is empty");
        if (promptIds == null || promptIds.length == 0) throw EngineException.badRequest("prompt", "The decoder prompt cannot be empty");
        for (int t : promptIds) checkTokenId("prompt", t, vocabSize);
        int n = promptIds.length;
        if (n >= maxModelLen) {
            throw EngineException.badRequest("prompt", "This model's maximum context length is " + maxModelLen + " tokens. However, your request has "
                    + n + " input tokens. Please reduce the length of the input messages.");
        }
        if (sampling == null) throw EngineException.badRequest(null, "sampling parameters are missing");
        sampling.validate(vocabSize);
        int max = sampling.maxTokens();
        if ((long) n + max > maxModelLen) {
            throw EngineException.badRequest("max_tokens", "'max_tokens' or 'max_completion_tokens' is too large: " + max + ". This model's maximum context length is "
                    + maxModelLen + " tokens and your request has " + n + " input tokens (" + max + " > " + maxModelLen + " - " + n + ").");
        }
    }

    /** A token id the model does not have: 400 naming {@code param}. */
    public static void checkTokenId(String param, int id, int vocabSize) {
        if (id < 0 || id >= vocabSize) throw EngineException.badRequest(param, "Token id " + id + " is out of vocabulary (size " + vocabSize + ")");
    }
}
