package dev.pdserve.jmh;

import dev.pdserve.engine.Engine;
import dev.pdserve.engine.EngineConfig;
import dev.pdserve.engine.GenerationRequest;
import dev.pdserve.engine.PagedKvCache;
import dev.pdserve.engine.SamplingParams;
import dev.pdserve.engine.SpecDecodeStats;
import dev.pdserve.engine.SpeculativeConfig;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.ForwardBatch;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Speculative decoding on vs off, same process, same prompts: decode tokens/s (output tokens
 * after the first, over the time from the last first token to the last token), acceptance rate
 * and tokens per verification step; and the price of verification: one forward of k+1 tokens per
 * sequence against a plain one-token step.
 *
 * <pre>
 * SpecDecodeBench --model DIR --workload copy|nocopy --batch 1,8 [--k 4] [--min 2] [--max 4] [--tokens 160] [--files DIR]
 * SpecDecodeBench --model DIR --verify-cost --batch 1,8 [--k 4] [--context 256]
 * </pre>
 * {@code copy}: real Python files (from {@code --files}, default the Python standard library)
 * followed by "the same file, with a function renamed" and the file's first line, so the
 * continuation copies its input. {@code nocopy}: random token prompts sampled at temperature 1.
 */
public final class SpecDecodeBench {
    public static void main(String[] argv) throws Exception {
        Path model = null, files = Path.of("/usr/lib/python3.11");
        String workload = "copy";
        int[] batches = {1, 8};
        int k = 4, min = 2, max = 4, tokens = 160, context = 256, threads = Runtime.getRuntime().availableProcessors(), repeat = 2;
        boolean verifyCost = false;
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--model" -> model = Path.of(argv[++i]);
                case "--workload" -> workload = argv[++i];
                case "--batch" -> batches = java.util.Arrays.stream(argv[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--k" -> k = Integer.parseInt(argv[++i]);
                case "--min" -> min = Integer.parseInt(argv[++i]);
                case "--max" -> max = Integer.parseInt(argv[++i]);
                case "--tokens" -> tokens = Integer.parseInt(argv[++i]);
                case "--context" -> context = Integer.parseInt(argv[++i]);
                case "--threads" -> threads = Integer.parseInt(argv[++i]);
                case "--repeat" -> repeat = Integer.parseInt(argv[++i]);
                case "--files" -> files = Path.of(argv[++i]);
                case "--verify-cost" -> verifyCost = true;
                default -> throw new IllegalArgumentException("unknown argument " + argv[i]);
            }
        }
        try (CausalLM lm = ModelLoader.load(model, LoadOptions.defaults().withThreads(threads)); Tokenizer tok = Tokenizer.load(model)) {
            if (verifyCost) {
                for (int b : batches) verifyCost(lm, b, k, context, repeat);
                return;
            }
            SpeculativeConfig spec = SpeculativeConfig.ngram(k, min, max);
            for (int b : batches) {
                List<int[]> prompts = workload.equals("copy") ? copyPrompts(tok, files, b, lm.config().maxPositionEmbeddings() - tokens - 8)
                        : randomPrompts(b, lm.vocabSize());
                double temperature = workload.equals("copy") ? 0 : 1.0;
                for (int round = 0; round <= repeat; round++) { // round 0 warms the JIT
                    Result off = run(lm, tok, prompts, tokens, temperature, null);
                    Result on = run(lm, tok, prompts, tokens, temperature, spec);
                    if (round == 0) continue;
                    System.out.printf("workload=%s batch=%d k=%d window=%d..%d plain_tok_s=%.1f spec_tok_s=%.1f speedup=%.2f"
                                    + " acceptance=%.3f tokens_per_verify_step=%.2f verify_steps=%d%n",
                            workload, b, k, min, max, off.tokPerSec, on.tokPerSec, on.tokPerSec / off.tokPerSec,
                            on.stats.acceptanceRate(), on.stats.meanAcceptanceLength(), on.stats.numDrafts());
                }
            }
        }
    }

    record Result(double tokPerSec, SpecDecodeStats stats) {}

    static Result run(CausalLM lm, Tokenizer tok, List<int[]> prompts, int tokens, double temperature, SpeculativeConfig spec) throws InterruptedException {
        int b = prompts.size(), longest = prompts.stream().mapToInt(p -> p.length).max().orElse(1);
        int len = longest + tokens + 16;
        long kvBytes = (long) b * (len / 16 + 2) * PagedKvCache.blockBytes(lm.numLayers(), 16, lm.kvEntryFloats());
        EngineConfig cfg = EngineConfig.defaults(lm.config().maxPositionEmbeddings()).withKvCacheBytes(kvBytes).withMaxNumSeqs(b)
                .withPrefixCaching(false).withSpeculative(spec);
        try (Engine engine = new Engine(lm, tok, cfg)) {
            CountDownLatch done = new CountDownLatch(b);
            AtomicLong lastFirst = new AtomicLong(), lastToken = new AtomicLong(), after = new AtomicLong();
            for (int s = 0; s < b; s++) {
                SamplingParams sp = SamplingParams.builder().temperature(temperature).seed(7L + s).maxTokens(tokens).ignoreEos(true).build();
                engine.submit(new GenerationRequest("r" + s, prompts.get(s), sp), o -> {
                    long now = System.nanoTime();
                    if (o.completionTokens() == 1) lastFirst.accumulateAndGet(now, Math::max);
                    else after.addAndGet(o.newTokenIds().length);
                    lastToken.accumulateAndGet(now, Math::max);
                    if (o.finished()) done.countDown();
                });
            }
            done.await();
            double seconds = (lastToken.get() - lastFirst.get()) / 1e9;
            SpecDecodeStats stats = engine.specStats();
            return new Result(after.get() / seconds, stats);
        }
    }

    /** Python files of a few hundred tokens: the file, a note that it comes again with a rename, and its first line. */
    static List<int[]> copyPrompts(Tokenizer tok, Path dir, int n, int maxPrompt) throws Exception {
        List<Path> candidates;
        try (var s = Files.list(dir)) {
            candidates = s.filter(p -> p.toString().endsWith(".py")).sorted().toList();
        }
        List<int[]> out = new ArrayList<>();
        for (Path p : candidates) {
            String src = Files.readString(p);
            if (src.length() < 600) continue;
            String body = src.substring(0, Math.min(src.length(), 1400));
            body = body.substring(0, body.lastIndexOf('\n') + 1);
            String firstLine = body.substring(0, body.indexOf('\n') + 1);
            String prompt = body + "\n\n# " + p.getFileName() + " again, the same file with one function renamed:\n" + firstLine;
            int[] ids = tok.encode(prompt, true);
            if (ids.length > maxPrompt) continue;
            out.add(ids);
            if (out.size() == n) break;
        }
        if (out.size() < n) throw new IllegalStateException("only " + out.size() + " usable .py files in " + dir);
        return out;
    }

    static List<int[]> randomPrompts(int n, int vocab) {
        List<int[]> out = new ArrayList<>();
        Random rnd = new Random(42);
        for (int s = 0; s < n; s++) {
            int[] p = new int[64];
            for (int i = 0; i < p.length; i++) p[i] = 2 + rnd.nextInt(Math.min(vocab, 4000) - 2);
            out.add(p);
        }
        return out;
    }

    /** ms of one forward of {@code per} new tokens for each of b sequences at context {@code context}. */
    static double stepMs(CausalLM lm, PagedKvCache cache, int[][] tables, int b, int per, int context, int steps) {
        ForwardBatch fb = new ForwardBatch();
        float[] logits = new float[b * per * lm.vocabSize()];
        int[] ids = new int[per];
        for (int i = 0; i < per; i++) ids[i] = 5 + i;
        long t0 = System.nanoTime();
        for (int step = 0; step < steps; step++) {
            fb.clear();
            for (int s = 0; s < b; s++) fb.addSequence(ids, 0, per, context, tables[s], 16, per);
            lm.forward(fb, cache, logits);
        }
        return (System.nanoTime() - t0) / 1e6 / steps;
    }

    static void verifyCost(CausalLM lm, int b, int k, int context, int repeat) {
        int perSeq = (context + k + 1 + 15) / 16;
        try (PagedKvCache cache = new PagedKvCache(lm.numLayers(), b * perSeq, 16, lm.kvEntryFloats())) {
            int[][] tables = new int[b][perSeq];
            for (int s = 0; s < b; s++) for (int i = 0; i < perSeq; i++) tables[s][i] = s * perSeq + i;
            // Fill the context once (its values do not matter for the cost).
            ForwardBatch fb = new ForwardBatch();
            int[] ctx = new int[context];
            for (int i = 0; i < context; i++) ctx[i] = 5 + i % 1000;
            for (int s = 0; s < b; s++) fb.addSequence(ctx, 0, context, 0, tables[s], 16, 1);
            lm.forward(fb, cache, new float[b * lm.vocabSize()]);
            int steps = Math.max(3, 24 / b);
            for (int round = 0; round <= repeat; round++) {
                double one = stepMs(lm, cache, tables, b, 1, context, steps);
                double verify = stepMs(lm, cache, tables, b, k + 1, context, steps);
                if (round > 0) {
                    System.out.printf("verify_cost batch=%d context=%d plain_step_ms=%.2f verify_k%d_step_ms=%.2f ratio=%.3f%n",
                            b, context, one, k, verify, verify / one);
                }
            }
        }
    }
}
