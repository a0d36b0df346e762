package dev.pdserve.jmh;

import dev.pdserve.engine.PagedKvCache;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.ForwardBatch;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;

import java.nio.file.Path;

/**
 * Aggregate decode speed at several batch sizes: B sequences each prefilled with a short prompt,
 * then steps that feed one token of every sequence in a single forward, so each weight is read
 * once per step whatever B is. Prints one markdown row per batch size.
 *
 * <pre>BatchDecodeBench --model DIR [--batches 1,8,32,64] [--prompt 32] [--steps 16] [--repeat 1] [--threads N] [--quantization w8a8]</pre>
 * {@code --repeat R} measures every batch size R times, in rounds over the list so that slow and
 * fast phases of a shared machine fall on all sizes alike, and reports the median step time.
 */
public final class BatchDecodeBench {
    private static final int BLOCK = 16;

    public static void main(String[] argv) {
        Path model = null;
        int[] batches = {1, 8, 32, 64};
        int prompt = 32, steps = 16, repeat = 1, threads = Runtime.getRuntime().availableProcessors();
        String quantization = null;
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--model" -> model = Path.of(argv[++i]);
                case "--batches" -> batches = java.util.Arrays.stream(argv[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--prompt" -> prompt = Integer.parseInt(argv[++i]);
                case "--steps" -> steps = Integer.parseInt(argv[++i]);
                case "--repeat" -> repeat = Integer.parseInt(argv[++i]);
                case "--threads" -> threads = Integer.parseInt(argv[++i]);
                case "--quantization" -> quantization = argv[++i];
                default -> throw new IllegalArgumentException("unknown argument " + argv[i]);
            }
        }
        if (model == null) throw new IllegalArgumentException("--model DIR is required");
        try (CausalLM lm = ModelLoader.load(model, new LoadOptions(threads, quantization))) {
            System.out.printf("weights: %.3f GB in memory (quantization %s)%n", lm.weightBytes() / 1e9, quantization == null ? "none" : quantization);
            int maxBatch = Math.max(4, java.util.Arrays.stream(batches).max().orElse(1)); // 4: the warm-up batch
            int blocksPerSeq = (prompt + steps + 1 + BLOCK - 1) / BLOCK + 1;
            try (PagedKvCache cache = new PagedKvCache(lm.numLayers(), maxBatch * blocksPerSeq, BLOCK, lm.kvEntryFloats())) {
                run(lm, cache, 4, prompt, 4, blocksPerSeq); // JIT warm-up
                double[][] seconds = new double[batches.length][repeat];
                for (int round = 0; round < repeat; round++) {
                    for (int i = 0; i < batches.length; i++) seconds[i][round] = run(lm, cache, batches[i], prompt, steps, blocksPerSeq) / steps;
                }
                System.out.println(repeat == 1 ? "| batch | step ms | aggregate decode tok/s | vs batch 1 |" : "| batch | median step ms (of " + repeat + ") | aggregate decode tok/s | vs batch 1 |");
                System.out.println("|---:|---:|---:|---:|");
                double base = 0;
                for (int i = 0; i < batches.length; i++) {
                    double[] s = seconds[i].clone();
                    java.util.Arrays.sort(s);
                    double step = repeat % 2 == 1 ? s[repeat / 2] : (s[repeat / 2 - 1] + s[repeat / 2]) / 2;
                    double tps = batches[i] / step;
                    if (base == 0) base = tps;
                    System.out.printf("| %d | %.1f | %.1f | %.1fx |%n", batches[i], step * 1000, tps, tps / base);
                }
            }
        }
    }

    /** Prefills {@code b} sequences, then times {@code steps} batched decode steps; returns seconds. */
    private static double run(CausalLM lm, PagedKvCache cache, int b, int prompt, int steps, int blocksPerSeq) {
        int[][] tables = new int[b][blocksPerSeq];
        for (int s = 0; s < b; s++) for (int k = 0; k < blocksPerSeq; k++) tables[s][k] = s * blocksPerSeq + k;
        ForwardBatch batch = new ForwardBatch();
        float[] logits = new float[b * lm.vocabSize()];
        int[] ids = new int[prompt];
        for (int s = 0; s < b; s++) {
            for (int i = 0; i < prompt; i++) ids[i] = i == 0 ? 0 : 5 + (i * 31 + s * 17) % 4000;
            batch.clear();
            batch.addSequence(ids, 0, prompt, 0, tables[s], BLOCK, true);
            lm.forward(batch, cache, logits);
        }
        int[] next = new int[b];
        long t0 = System.nanoTime();
        for (int step = 0; step < steps; step++) {
            batch.clear();
            for (int s = 0; s < b; s++) batch.addSequence(next, s, 1, prompt + step, tables[s], BLOCK, true);
            lm.forward(batch, cache, logits);
            for (int s = 0; s < b; s++) next[s] = argmax(logits, s * lm.vocabSize(), lm.vocabSize());
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    private static int argmax(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[off + i] > x[off + best]) best = i;
        return best;
    }
}
