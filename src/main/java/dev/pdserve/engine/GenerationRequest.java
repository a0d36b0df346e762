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
}
