package dev.pdserve.engine;

/**
 * Speculative decoding's counters, as vLLM's {@code SpecDecodingStats}: verifications that
 * carried drafts ({@code numDrafts}), draft tokens proposed and accepted, and acceptances by
 * position in the draft ({@code acceptedPerPos[i]}: how often the (i+1)-th draft was accepted;
 * its length is {@code num_speculative_tokens}).
 */
public record SpecDecodeStats(long numDrafts, long numDraftTokens, long numAcceptedTokens, long[] acceptedPerPos) {
    /** Accepted draft tokens over proposed ones (0 before any). */
    public double acceptanceRate() { return numDraftTokens == 0 ? 0 : (double) numAcceptedTokens / numDraftTokens; }

    /** Tokens per verification step: the accepted drafts plus the one every step samples anyway. */
    public double meanAcceptanceLength() { return numDrafts == 0 ? 0 : 1 + (double) numAcceptedTokens / numDrafts; }
}
