package dev.pdserve.engine;

import dev.pdserve.structured.Matcher;

/**
 * A request's state inside the engine (owned by the step-loop thread): its tokens so far (prompt
 * then output), how many of them already have their KV in the cache, its block table, its
 * sampling state and its output text.
 */
final class Request {
    final String id;
    final SamplingParams sampling;
    final OutputSink sink;
    final int numPromptTokens;

    /**
     * Prompt then generated tokens; capacity prompt + max_tokens, so appending never allocates.
     * Past {@code numTokens} it is scratch: a speculating step's draft tokens sit there.
     */
    final int[] tokens;
    int numTokens;
    /** Tokens whose KV is in the cache. The next step feeds tokens[numComputed, numTokens). */
    int numComputed;

    /** Blocks holding this request's KV, in position order; capacity for its longest possible length. */
    final int[] blockTable;
    int numBlocks;
    /** Hash chain of the full blocks of {@link #tokens}: blockHashes[i] covers blocks 0..i. */
    final long[] blockHashes;
    int numHashedBlocks;
    /** Blocks of the table already offered to the prefix cache. */
    int numRegisteredBlocks;

    /** Prompt tokens found in the prefix cache when first scheduled. */
    int cachedPromptTokens;
    boolean everScheduled;
    /** System.nanoTime() when first scheduled (vLLM's scheduled_ts), 0 before. */
    long scheduledNanos;
    /** splitmix64 state: one stream per request so a seeded request samples the same in any batch. */
    long rngState;

    final OutputText text;
    /** Where the output is in its structured output constraint, or null when it has none. Kept through preemption. */
    final Matcher matcher;

    /** Prompt logprobs by position (entry 0 stays null: nothing predicts it); null when not asked for. */
    final TokenLogprob[] promptLogprobs;
    /** Positions of {@link #promptLogprobs} filled. */
    int numPromptLogprobs;
    /** Speculative decoding's control for this request (unused when the engine does not speculate). */
    final Acceptance acceptance = new Acceptance();

    /** Why it ended and vLLM's stop_reason, set by {@link StopRules}; null while it runs. */
    FinishReason finishReason;
    Object stopReason;

    /** What the request's kv_transfer_params ask for (PD disaggregation); {@link KvConnector#NONE} when nothing. */
    KvConnector.Plan kvPlan = KvConnector.NONE;

    Request(String id, int[] promptIds, SamplingParams sampling, OutputSink sink, int blockSize, long seed, OutputText text) {
        this.id = id;
        this.sampling = sampling;
        this.sink = sink;
        this.numPromptTokens = promptIds.length;
        this.tokens = new int[promptIds.length + sampling.maxTokens()];
        System.arraycopy(promptIds, 0, tokens, 0, promptIds.length);
        this.numTokens = promptIds.length;
        int maxBlocks = (tokens.length + blockSize - 1) / blockSize;
        this.blockTable = new int[maxBlocks];
        this.blockHashes = new long[maxBlocks];
        this.rngState = seed;
        this.text = text;
        this.matcher = sampling.structured() == null ? null : sampling.structured().newMatcher();
        this.promptLogprobs = sampling.promptLogprobs() == null ? null : new TokenLogprob[promptIds.length];
        if (promptLogprobs != null) numPromptLogprobs = 1;
    }

    /** Asked for prompt logprobs that are not all computed yet: its prefill steps need every token's logits. */
    boolean promptLogprobsPending() { return promptLogprobs != null && numPromptLogprobs < numPromptTokens; }

    int numOutputTokens() { return numTokens - numPromptTokens; }

    /** Appends a generated token (capacity was reserved for max_tokens of them). */
    void append(int token) { tokens[numTokens++] = token; }

    /** Uniform double in [0, 1) from this request's own stream (splitmix64). */
    double nextRandom() {
        long z = (rngState += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z = z ^ (z >>> 31);
        return (z >>> 11) * 0x1.0p-53;
    }

    @Override
    public String toString() {
        return id + "[tokens=" + numTokens + ", computed=" + numComputed + ", blocks=" + numBlocks + "]";
    }
}
