package dev.pdserve.jmh;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.ModelSupport;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
import com.github.tjake.jlama.util.PhysicalCoreExecutor;

import java.util.Arrays;
import java.util.Optional;
import java.util.UUID;

/**
 * Jlama 0.8.4's batch-1 speed on the same folder and the same work as {@link PdserveDecodeBench}:
 * {@code batchForward} over the prompt, then greedy {@code forward} + {@code sample} per token.
 * Working dtype F32 and activation quantization I8, Jlama's own defaults.
 */
public final class JlamaDecodeBench {
    public static void main(String[] argv) throws Exception {
        BenchArgs a = BenchArgs.parse(argv);
        // Jlama assumes two hardware threads per core and would use one thread here otherwise.
        PhysicalCoreExecutor.overrideThreadCount(a.threads());
        chunks = a::chunk;
        long t0 = System.nanoTime();
        AbstractModel model = ModelSupport.loadModel(a.model().toFile(), DType.F32, DType.I8);
        double load = (System.nanoTime() - t0) / 1e9;
        try (KvBufferCache kv = new KvBufferCache(model)) {
            run(model, kv, a.prompt(Math.min(16, a.promptTokens())), a.warmupTokens());
            long[] times = new long[2];
            int[] tokens = run(model, kv, a.prompt(a.promptTokens()), a.decodeTokens(), times);
            BenchArgs.report("jlama", load, times[0] / 1e9, a.promptTokens(), times[1] / 1e9, a.decodeTokens(),
                    Arrays.copyOf(tokens, Math.min(8, tokens.length)));
        } finally {
            model.close();
        }
    }

    private static java.util.function.IntUnaryOperator chunks = n -> n;

    static int chunk(int promptLength) { return chunks.applyAsInt(promptLength); }

    static int[] run(AbstractModel model, KvBufferCache kv, int[] prompt, int decodeTokens) {
        return run(model, kv, prompt, decodeTokens, new long[2]);
    }

    static int[] run(AbstractModel model, KvBufferCache kv, int[] prompt, int decodeTokens, long[] times) {
        int[] out = new int[decodeTokens];
        try (KvBufferCache.KvBuffer buf = kv.getKvBuffer(UUID.randomUUID());
             AbstractTensor logits = model.makeDenseTensor(model.getConfig().vocabularySize)) {
            long t0 = System.nanoTime();
            int chunk = chunk(prompt.length);
            int next = 0;
            for (int from = 0; from < prompt.length; from += chunk) {
                int n = Math.min(chunk, prompt.length - from);
                AbstractTensor hidden = model.batchForward(Arrays.copyOfRange(prompt, from, from + n), from, buf);
                if (from + n == prompt.length) {
                    try (AbstractTensor last = hidden.slice(n - 1)) {
                        next = model.sample(last, 0f, 0f, logits);
                    }
                }
                hidden.close();
            }
            long t1 = System.nanoTime();
            int pos = prompt.length;
            for (int i = 0; i < decodeTokens; i++) {
                out[i] = next;
                try (AbstractTensor h = model.forward(next, pos++, buf, Optional.empty())) {
                    next = model.sample(h, 0f, 0f, logits);
                }
            }
            times[0] = t1 - t0;
            times[1] = System.nanoTime() - t1;
        }
        return out;
    }
}
