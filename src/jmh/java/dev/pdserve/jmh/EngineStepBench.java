package dev.pdserve.jmh;

import dev.pdserve.engine.Engine;
import dev.pdserve.engine.EngineConfig;
import dev.pdserve.engine.GenerationRequest;
import dev.pdserve.engine.PagedKvCache;
import dev.pdserve.engine.SamplingParams;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.ForwardBatch;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * What the serving engine adds to a decode step: the same B-sequence decode run once as bare
 * forwards and once through {@link Engine} (scheduler, block manager, sampler, detokenizer,
 * outputs). Prints ms per step for both and the difference as a share of the step; and, measured
 * inside the engine run itself (so free of run-to-run noise), the share of wall time the engine
 * thread spends outside {@code forward}: scheduling, block tables, sampling, detokenizing, outputs.
 *
 * <pre>EngineStepBench --model DIR [--batch 32] [--steps 16] [--threads N]</pre>
 */
public final class EngineStepBench {
    public static void main(String[] argv) throws Exception {
        Path model = null;
        int batch = 32, steps = 16, threads = Runtime.getRuntime().availableProcessors(), prompt = 16;
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--model" -> model = Path.of(argv[++i]);
                case "--batch" -> batch = Integer.parseInt(argv[++i]);
                case "--steps" -> steps = Integer.parseInt(argv[++i]);
                case "--threads" -> threads = Integer.parseInt(argv[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + argv[i]);
            }
        }
        try (CausalLM lm = ModelLoader.load(model, LoadOptions.defaults().withThreads(threads)); Tokenizer tok = Tokenizer.load(model)) {
            for (int round = 0; round < 2; round++) { // the first round warms the JIT
                double bare = bareStepSeconds(lm, batch, prompt, steps);
                TimedLM timed = new TimedLM(lm);
                double engine = engineStepSeconds(timed, tok, batch, prompt, steps);
                if (round == 1) {
                    double forward = timed.forwardNanosSinceMark / 1e9 / steps;
                    System.out.printf("batch=%d steps=%d bare_ms_per_step=%.2f engine_ms_per_step=%.2f overhead_pct=%.2f"
                                    + " engine_forward_ms_per_step=%.2f outside_forward_pct=%.2f%n",
                            batch, steps, bare * 1000, engine * 1000, 100 * (engine - bare) / engine,
                            forward * 1000, 100 * (engine - forward) / engine);
                }
            }
        }
    }

    private static int[] prompt(int s, int n) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = i == 0 ? 0 : 5 + (i * 31 + s * 17) % 4000;
        return ids;
    }

    private static double bareStepSeconds(CausalLM lm, int b, int prompt, int steps) {
        int block = 16, perSeq = (prompt + steps + 2 + block - 1) / block;
        try (PagedKvCache cache = new PagedKvCache(lm.numLayers(), b * perSeq, block, lm.kvEntryFloats())) {
            ForwardBatch fb = new ForwardBatch();
            float[] logits = new float[b * lm.vocabSize()];
            int[][] tables = new int[b][perSeq];
            for (int s = 0; s < b; s++) for (int k = 0; k < perSeq; k++) tables[s][k] = s * perSeq + k;
            fb.clear();
            for (int s = 0; s < b; s++) fb.addSequence(prompt(s, prompt), 0, prompt, 0, tables[s], block, true);
            lm.forward(fb, cache, logits);
            int[] next = new int[b];
            long t0 = System.nanoTime();
            for (int step = 0; step < steps; step++) {
                fb.clear();
                for (int s = 0; s < b; s++) fb.addSequence(next, s, 1, prompt + step, tables[s], block, true);
                lm.forward(fb, cache, logits);
            }
            return (System.nanoTime() - t0) / 1e9 / steps;
        }
    }

    private static double engineStepSeconds(CausalLM lm, Tokenizer tok, int b, int prompt, int steps) throws InterruptedException {
        long kvBytes = (long) b * ((prompt + steps + 2 + 15) / 16 + 1) * PagedKvCache.blockBytes(lm.numLayers(), 16, lm.kvEntryFloats());
        EngineConfig cfg = EngineConfig.defaults(prompt + steps + 2).withKvCacheBytes(kvBytes).withGpuMemoryUtilization(0)
                .withMaxNumSeqs(b).withMaxNumBatchedTokens(1 << 16).withPrefixCaching(false);
        SamplingParams sp = SamplingParams.builder().temperature(0).maxTokens(steps + 1).ignoreEos(true).build();
        try (Engine engine = new Engine(lm, tok, cfg)) {
            CountDownLatch prefilled = new CountDownLatch(b), done = new CountDownLatch(b);
            long[] firstAt = new long[1];
            for (int s = 0; s < b; s++) {
                engine.submit(new GenerationRequest("r" + s, prompt(s, prompt), sp), o -> {
                    if (o.completionTokens() == 1 && o.newTokenIds().length == 1) prefilled.countDown();
                    if (o.finished()) done.countDown();
                });
            }
            prefilled.await();
            if (lm instanceof TimedLM timed) timed.mark();
            long t0 = System.nanoTime();
            done.await();
            return (System.nanoTime() - t0) / 1e9 / steps;
        }
    }

    /** Counts the time spent in {@code forward}, so the engine's own share of a step can be read off. */
    private static final class TimedLM implements CausalLM {
        private final CausalLM lm;
        volatile long forwardNanosSinceMark;

        TimedLM(CausalLM lm) { this.lm = lm; }

        void mark() { forwardNanosSinceMark = 0; }

        @Override public void forward(ForwardBatch batch, dev.pdserve.model.KvCache cache, float[] logits) {
            long t0 = System.nanoTime();
            lm.forward(batch, cache, logits);
            forwardNanosSinceMark += System.nanoTime() - t0;
        }

        @Override public dev.pdserve.model.ModelConfig config() { return lm.config(); }
        @Override public int numLayers() { return lm.numLayers(); }
        @Override public int vocabSize() { return lm.vocabSize(); }
        @Override public int kvEntryFloats() { return lm.kvEntryFloats(); }
        @Override public String kvLayout() { return lm.kvLayout(); }
        @Override public long weightBytes() { return lm.weightBytes(); }
        @Override public void close() { } // the caller closes the real model
    }
}
