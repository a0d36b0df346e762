package dev.pdserve.model;

import java.lang.foreign.MemorySegment;

/**
 * Where a model keeps its per-token attention state: for every layer one off-heap array of
 * {@code numSlots x entryFloats()} fp32 values. A slot is {@code block * blockSize() + offset};
 * the model writes the slots a {@link ForwardBatch} names and reads through its block tables.
 * A block of one layer is therefore contiguous, which is what the KV transfer sends.
 */
public interface KvCache {
    /** Tokens per block. */
    int blockSize();

    /** Number of blocks. */
    int numBlocks();

    /** fp32 values per token and layer (the model's {@link CausalLM#kvEntryFloats()}). */
    int entryFloats();

    /** The whole array of one layer: {@code numBlocks * blockSize * entryFloats} floats. */
    MemorySegment layer(int layer);
}
