package dev.pdserve.engine;

/** One generated token's log-probability with its top alternatives (ids and logprobs, best first). */
public record TokenLogprob(int tokenId, float logprob, int[] topIds, float[] topLogprobs) {}
