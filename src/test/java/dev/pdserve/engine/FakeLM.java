package dev.pdserve.engine;

import dev.pdserve.TestModels;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.ForwardBatch;
import dev.pdserve.model.KvCache;
import dev.pdserve.model.ModelConfig;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A model for engine tests whose next-token logits depend on every token of the context as read
 * back through the paged KV cache: each token writes (token, position) into its slot, and the
 * logits are a hash of all (token, position) pairs read via the block table. A wrong block table,
 * a reused block with stale data or a wrong prefix-cache hit changes the output (or fails the
 * position check), so the engine's bookkeeping is tested without a real model. EOS is id 1.
 */
final class FakeLM implements CausalLM {
    private final ModelConfig config = ModelConfig.load(TestModels.llama());
    private final int vocab;
    volatile int forwards;
    /** When set, the next forward throws (to test the engine's error path). */
    volatile boolean failNext;

    FakeLM(int vocab) { this.vocab = vocab; }

    @Override public ModelConfig config() { return config; }
    @Override public int numLayers() { return 2; }
    @Override public int vocabSize() { return vocab; }
    @Override public int kvEntryFloats() { return 1; }
    @Override public String kvLayout() { return "fake-1"; }
    @Override public long weightBytes() { return 0; }

    @Override
    public void forward(ForwardBatch b, KvCache cache, float[] logits) {
        forwards++;
        if (failNext) {
            failNext = false;
            throw new IllegalStateException("injected forward failure");
        }
        MemorySegment tokens = cache.layer(0), positions = cache.layer(1);
        for (int t = 0; t < b.numTokens; t++) {
            tokens.setAtIndex(ValueLayout.JAVA_FLOAT, b.slots[t], b.tokenIds[t]);
            positions.setAtIndex(ValueLayout.JAVA_FLOAT, b.slots[t], b.positions[t]);
        }
        int row = 0;
        for (int s = 0; s < b.numSeqs; s++) {
            int end = b.seqStart[s + 1];
            for (int t = end - b.logitRows[s]; t < end; t++) {
                long h = 17;
                for (int pos = 0; pos <= b.positions[t]; pos++) {
                    long slot = (long) b.blockTables[s][pos / cache.blockSize()] * cache.blockSize() + pos % cache.blockSize();
                    float p = positions.getAtIndex(ValueLayout.JAVA_FLOAT, slot);
                    if (p != pos) throw new IllegalStateException("KV slot " + slot + " holds position " + p + ", expected " + pos);
                    h = (h ^ (long) tokens.getAtIndex(ValueLayout.JAVA_FLOAT, slot)) * 0x9E3779B97F4A7C15L;
                    h ^= h >>> 31;
                }
                for (int i = 0; i < vocab; i++) {
                    long x = (h + i) * 0xD6E8FEB86659FD93L;
                    x ^= x >>> 32;
                    logits[row * vocab + i] = (x & 0xFFFF) / 4096f;
                }
                row++;
            }
        }
    }

    @Override public void close() {}
}
