package dev.pdserve.engine;

/**
 * Proposes draft tokens for a decoding request: the scheduler asks before each step, and the
 * drafts ride in the step's forward after the request's pending token, where the target model
 * verifies them all at once ({@link Engine}'s verification, {@link Sampler#verify}).
 */
interface Drafter {
    /**
     * Writes up to {@code max} (at least 1) draft tokens for {@code r} at {@code r.tokens[r.numTokens..]}
     * (scratch past the request's tokens, which the request reserved) and returns how many.
     */
    int propose(Request r, int max);

    /** Called after every step with the batch it ran (a drafter with a model of its own runs it here). */
    default void afterStep(ScheduledBatch batch) {}
}
