package dev.pdserve.engine;

/** One sequence to generate: its id (unique while it runs), prompt token ids and sampling. */
public record GenerationRequest(String requestId, int[] promptIds, SamplingParams sampling) {}
