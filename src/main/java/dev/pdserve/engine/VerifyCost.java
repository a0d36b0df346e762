package dev.pdserve.engine;

import dev.pdserve.model.CausalLM;
import dev.pdserve.model.ForwardBatch;
import dev.pdserve.model.KvCache;

import java.util.logging.Logger;

/**
 * What one more token in a sequence's step costs, as a share of a plain one-token step, measured
 * once at startup on this machine and model: forwards of 1 and of k + 1 tokens into a free block,
 * the fastest of a few each. On a CPU a big model reads its weights once per step either way, so
 * extra tokens are cheap; a tiny model is bound by arithmetic instead and they cost nearly a
 * full step each. {@link Acceptance} weighs drafts by it.
 */
final class VerifyCost {
    private static final Logger LOG = Logger.getLogger(VerifyCost.class.getName());

    private VerifyCost() {}

    /** Measures with {@code block} (free, at least k + 1 slots) of {@code cache}; returns the per-draft cost. */
    static double measure(CausalLM model, KvCache cache, int block, int k) {
        int[] table = {block};
        int n = Math.min(k + 1, cache.blockSize());
        int[] tokens = new int[n];
        float[] logits = new float[n * model.vocabSize()];
        ForwardBatch batch = new ForwardBatch();
        long one = Long.MAX_VALUE, many = Long.MAX_VALUE;
        for (int round = 0; round < 4; round++) {
            one = Math.min(one, time(model, cache, batch, tokens, 1, table, logits));
            many = Math.min(many, time(model, cache, batch, tokens, n, table, logits));
        }
        double perDraft = n <= 1 ? 1 : Math.max(0.01, (double) (many - one) / one / (n - 1));
        LOG.info(String.format("speculative decoding: a step of %d tokens costs %.2fx a 1-token step (%.3f per draft)",
                n, (double) many / one, perDraft));
        return perDraft;
    }

    private static long time(CausalLM model, KvCache cache, ForwardBatch batch, int[] tokens, int n, int[] table, float[] logits) {
        batch.clear();
        batch.addSequence(tokens, 0, n, 0, table, cache.blockSize(), n);
        long t0 = System.nanoTime();
        model.forward(batch, cache, logits);
        return System.nanoTime() - t0;
    }
}
