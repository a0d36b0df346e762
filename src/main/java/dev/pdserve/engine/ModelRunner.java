package dev.pdserve.engine;

import dev.pdserve.model.CausalLM;
import dev.pdserve.model.ForwardBatch;
import dev.pdserve.model.KvCache;

/**
 * Turns a step's schedule into one forward: every scheduled span (prefill chunks and decode
 * tokens together) goes into one reused {@link ForwardBatch}; logits come back only for the
 * requests whose last known token is in the step, one row each, in schedule order.
 */
final class ModelRunner {
    private final CausalLM model;
    private final KvCache cache;
    private final ForwardBatch batch = new ForwardBatch();
    private float[] logits = new float[0];

    ModelRunner(CausalLM model, KvCache cache) {
        this.model = model;
        this.cache = cache;
    }

    /** Runs the scheduled spans; returns the logits rows (valid up to {@code numLogitRows() * vocab}). */
    float[] run(Scheduler s) {
        batch.clear();
        for (int i = 0; i < s.numScheduled; i++) {
            Request r = s.scheduled[i];
            int n = s.numScheduledTokens[i];
            batch.addSequence(r.tokens, r.numComputed, n, r.numComputed, r.blockTable, cache.blockSize(), Scheduler.wantsLogits(r, n));
        }
        int need = batch.numLogitRows * model.vocabSize();
        if (logits.length < need) logits = new float[Math.max(need, logits.length * 2)];
        if (batch.numTokens > 0) model.forward(batch, cache, logits);
        return logits;
    }

    int numTokens() { return batch.numTokens; }
}
