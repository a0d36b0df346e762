package dev.pdserve.model;

import dev.pdserve.engine.PagedKvCache;

/** Drives one sequence through a model with its own small KV cache: prefill, then one token at a time. */
final class SingleSequence implements AutoCloseable {
    static final int BLOCK = 16;
    final CausalLM model;
    final PagedKvCache cache;
    final int[] blockTable;
    final ForwardBatch batch = new ForwardBatch();
    final float[] logits;
    int length;

    SingleSequence(CausalLM model, int maxTokens) {
        this.model = model;
        int blocks = (maxTokens + BLOCK - 1) / BLOCK;
        this.cache = new PagedKvCache(model.numLayers(), blocks, BLOCK, model.kvEntryFloats());
        this.blockTable = new int[blocks];
        // Reverse order, so the test also covers non-contiguous block tables.
        for (int i = 0; i < blocks; i++) blockTable[i] = blocks - 1 - i;
        this.logits = new float[model.vocabSize()];
    }

    /** Appends {@code tokens} in one forward and returns the logits after the last. */
    float[] feed(int... tokens) {
        batch.clear();
        batch.addSequence(tokens, 0, tokens.length, length, blockTable, BLOCK, true);
        model.forward(batch, cache, logits);
        length += tokens.length;
        return logits;
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    static float maxAbsDiff(float[] a, float[] b) {
        float m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    @Override
    public void close() { cache.close(); }
}
