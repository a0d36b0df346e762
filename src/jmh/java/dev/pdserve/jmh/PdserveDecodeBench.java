package dev.pdserve.jmh;

import dev.pdserve.engine.PagedKvCache;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.ForwardBatch;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;

import java.util.Arrays;

/**
 * pdserve's batch-1 speed on a checkpoint folder: one forward over the whole prompt (prefill),
 * then greedy decode one token per forward. Straight on the model, without scheduler or HTTP.
 */
public final class PdserveDecodeBench {
    private static final int BLOCK = 16;

    public static void main(String[] argv) {
        BenchArgs a = BenchArgs.parse(argv);
        long t0 = System.nanoTime();
        try (CausalLM model = ModelLoader.load(a.model(), LoadOptions.defaults().withThreads(a.threads()))) {
            double load = (System.nanoTime() - t0) / 1e9;
            int maxLen = a.promptTokens() + a.decodeTokens() + a.warmupTokens() + 1;
            int blocks = (maxLen + BLOCK - 1) / BLOCK;
            try (PagedKvCache cache = new PagedKvCache(model.numLayers(), blocks, BLOCK, model.kvEntryFloats())) {
                Runner r = new Runner(model, cache, blocks, a);
                // Warm the JIT on a short sequence first, then measure a fresh one.
                r.run(a.prompt(Math.min(16, a.promptTokens())), a.warmupTokens());
                Result m = r.run(a.prompt(a.promptTokens()), a.decodeTokens());
                BenchArgs.report("pdserve", load, m.prefillSeconds, a.promptTokens(), m.decodeSeconds, a.decodeTokens(),
                        Arrays.copyOf(m.tokens, Math.min(8, m.tokens.length)));
            }
        }
    }

    record Result(double prefillSeconds, double decodeSeconds, int[] tokens) {}

    private static final class Runner {
        final CausalLM model;
        final PagedKvCache cache;
        final int[] blockTable;
        final ForwardBatch batch = new ForwardBatch();
        final float[] logits;
        final int[] one = new int[1];
        final BenchArgs args;

        Runner(CausalLM model, PagedKvCache cache, int blocks, BenchArgs args) {
            this.args = args;
            this.model = model;
            this.cache = cache;
            this.blockTable = new int[blocks];
            for (int i = 0; i < blocks; i++) blockTable[i] = i;
            this.logits = new float[model.vocabSize()];
        }

        Result run(int[] prompt, int decodeTokens) {
            int[] out = new int[decodeTokens];
            long t0 = System.nanoTime();
            int chunk = args.chunk(prompt.length);
            for (int from = 0; from < prompt.length; from += chunk) {
                int n = Math.min(chunk, prompt.length - from);
                batch.clear();
                batch.addSequence(prompt, from, n, from, blockTable, BLOCK, from + n == prompt.length);
                model.forward(batch, cache, logits);
            }
            int next = argmax(logits);
            long t1 = System.nanoTime();
            int pos = prompt.length;
            for (int i = 0; i < decodeTokens; i++) {
                out[i] = next;
                one[0] = next;
                batch.clear();
                batch.addSequence(one, 0, 1, pos++, blockTable, BLOCK, true);
                model.forward(batch, cache, logits);
                next = argmax(logits);
            }
            long t2 = System.nanoTime();
            return new Result((t1 - t0) / 1e9, (t2 - t1) / 1e9, out);
        }
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
