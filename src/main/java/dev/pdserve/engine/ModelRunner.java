package dev.pdserve.engine;

import dev.pdserve.model.CausalLM;
import dev.pdserve.model.ForwardBatch;
import dev.pdserve.model.KvCache;

/**
 * Turns a step's schedule into one forward: every scheduled span (prefill chunks and decode
 * tokens together) goes into one reused {@link ForwardBatch}; logits come back only for the
 * rows the step asks for ({@link ScheduledBatch#logitRows}: a sampling row, one per draft token
 * of a speculating request, every prompt position for prompt logprobs), in batch order.
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

    /** Runs the scheduled spans; returns the logits rows ({@code vocab} floats each, reused). */
    float[] run(ScheduledBatch step) {
        batch.clear();
        for (int i = 0; i < step.size(); i++) {
            Request r = step.request(i);
            batch.addSequence(r.tokens, r.numComputed, step.numTokens(i), r.numComputed, r.blockTable, cache.blockSize(), step.logitRows(i));
        }
        int need = batch.numLogitRows * model.vocabSize();
        if (logits.length < need) logits = new float[Math.max(need, logits.length * 2)];
        if (batch.numTokens > 0) model.forward(batch, cache, logits);
        return logits;
    }
}
