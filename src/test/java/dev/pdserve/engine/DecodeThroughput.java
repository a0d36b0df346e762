package dev.pdserve.engine;

import dev.pdserve.model.CausalLM;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.tokenizer.Tokenizer;

import java.nio.file.Path;

/**
 * Quick decode-speed probe, not a test: {@code DecodeThroughput MODEL_DIR [batch ...]}. Each
 * request has a 32-token prompt and 64 greedy tokens (EOS ignored); reports generated tokens per
 * second over the whole run and the decode-only rate (after every request's first token).
 */
public final class DecodeThroughput {
    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        try (CausalLM model = ModelLoader.load(dir, LoadOptions.defaults()); Tokenizer tok = Tokenizer.load(dir)) {
            for (int i = 1; i < args.length; i++) {
                int batch = Integer.parseInt(args[i]);
                run(model, tok, batch); // warm-up
                run(model, tok, batch);
            }
        }
    }

    static void run(CausalLM model, Tokenizer tok, int batch) {
        int gen = 64;
        try (Engine e = new Engine(model, tok, EngineConfig.defaults(1024).withKvCacheBytes(64L << 20).withPrefixCaching(false))) {
            SamplingParams p = SamplingParams.greedy(gen).toBuilder().ignoreEos(true).build();
            Collector[] cs = new Collector[batch];
            long[] firstAt = new long[1];
            java.util.concurrent.atomic.AtomicInteger firsts = new java.util.concurrent.atomic.AtomicInteger();
            long t0 = System.nanoTime();
            for (int i = 0; i < batch; i++) {
                Collector c = new Collector();
                cs[i] = c;
                e.submit(new GenerationRequest("b" + i, randomPrompt(i), p), o -> {
                    if (o.completionTokens() == 1 && firsts.incrementAndGet() == batch) firstAt[0] = System.nanoTime();
                    c.accept(o);
                });
            }
            for (Collector c : cs) c.await();
            long t1 = System.nanoTime();
            double all = batch * gen / ((t1 - t0) / 1e9);
            double decode = batch * (gen - 1) / ((t1 - firstAt[0]) / 1e9);
            System.out.printf("%s batch %d: %.0f tok/s overall, %.0f tok/s decode (%.1f ms per step)%n",
                    model.config().modelType(), batch, all, decode, (t1 - firstAt[0]) / 1e6 / (gen - 1));
        }
    }

    static int[] randomPrompt(int i) {
        int[] p = new int[32];
        java.util.Random r = new java.util.Random(i);
        for (int k = 0; k < 32; k++) p[k] = 2 + r.nextInt(4000);
        return p;
    }
}
