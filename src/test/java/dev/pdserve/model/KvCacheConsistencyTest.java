package dev.pdserve.model;

import dev.pdserve.engine.PagedKvCache;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** Cached decoding, chunked prefill and batching give, bit for bit, the logits of recomputing from scratch alone. */
class KvCacheConsistencyTest extends BothGoldenModels {
    private static int[] sequence(int n, int seed) {
        int[] ids = new int[n];
        ids[0] = 0;
        for (int i = 1; i < n; i++) ids[i] = 5 + (int) ((i * 2654435761L + seed * 40503L) % 4000);
        return ids;
    }

    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void decodingWithTheCacheEqualsRecomputing(String name) {
        CausalLM model = model(name);
        int[] ids = sequence(70, 1);
        try (SingleSequence cached = new SingleSequence(model, ids.length)) {
            cached.feed(Arrays.copyOf(ids, 40));
            for (int n = 41; n <= ids.length; n++) {
                float[] step = cached.feed(ids[n - 1]).clone();
                try (SingleSequence fresh = new SingleSequence(model, n)) {
                    float[] full = fresh.feed(Arrays.copyOf(ids, n));
                    assertThat(SingleSequence.maxAbsDiff(step, full)).as("%s after %d tokens", name, n).isEqualTo(0f);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void chunkedPrefillEqualsOneShotPrefill(String name) {
        CausalLM model = model(name);
        int[] ids = sequence(100, 2);
        try (SingleSequence whole = new SingleSequence(model, ids.length); SingleSequence chunked = new SingleSequence(model, ids.length)) {
            float[] expected = whole.feed(ids).clone();
            chunked.feed(Arrays.copyOfRange(ids, 0, 33));
            chunked.feed(Arrays.copyOfRange(ids, 33, 50));
            float[] got = chunked.feed(Arrays.copyOfRange(ids, 50, 100));
            assertThat(SingleSequence.maxAbsDiff(got, expected)).isEqualTo(0f);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void aBatchOfSequencesEqualsEachAlone(String name) {
        CausalLM model = model(name);
        int block = 16, seqs = 5;
        int[][] prompts = new int[seqs][];
        float[][] alone = new float[seqs][];
        for (int s = 0; s < seqs; s++) {
            prompts[s] = sequence(3 + 17 * s, 10 + s);
            try (SingleSequence one = new SingleSequence(model, prompts[s].length)) {
                alone[s] = one.feed(prompts[s]).clone();
            }
        }
        try (PagedKvCache cache = new PagedKvCache(model.numLayers(), 64, block, model.kvEntryFloats())) {
            ForwardBatch batch = new ForwardBatch();
            int nextBlock = 0;
            for (int s = 0; s < seqs; s++) {
                int[] table = new int[(prompts[s].length + block - 1) / block];
                for (int b = 0; b < table.length; b++) table[b] = nextBlock++;
                batch.addSequence(prompts[s], 0, prompts[s].length, 0, table, block, s != 2);
            }
            float[] logits = new float[(seqs - 1) * model.vocabSize()];
            model.forward(batch, cache, logits);
            int row = 0;
            for (int s = 0; s < seqs; s++) {
                if (s == 2) continue;
                float[] got = Arrays.copyOfRange(logits, row * model.vocabSize(), (row + 1) * model.vocabSize());
                assertThat(SingleSequence.maxAbsDiff(got, alone[s])).as("%s sequence %d", name, s).isEqualTo(0f);
                row++;
            }
        }
    }
}
