package dev.pdserve.engine;

/**
 * One token's log-probability with its top alternatives (ids and logprobs, best first) and its
 * rank among all tokens (1 is the most likely; 0 when not computed).
 */
public record TokenLogprob(int tokenId, float logprob, int[] topIds, float[] topLogprobs, int rank) {
    public TokenLogprob(int tokenId, float logprob, int[] topIds, float[] topLogprobs) {
        this(tokenId, logprob, topIds, topLogprobs, 0);
    }
}
