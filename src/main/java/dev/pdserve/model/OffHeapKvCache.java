package dev.pdserve.model;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** KV cache storage: per layer one zeroed off-heap array of numBlocks x blockSize x entryFloats fp32. */
public final class OffHeapKvCache implements KvCache, AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final MemorySegment[] layers;
    private final int blockSize;
    private final int numBlocks;
    private final int entryFloats;

    public OffHeapKvCache(int numLayers, int numBlocks, int blockSize, int entryFloats) {
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.entryFloats = entryFloats;
        this.layers = new MemorySegment[numLayers];
        long bytes = 4L * numBlocks * blockSize * entryFloats;
        for (int l = 0; l < numLayers; l++) layers[l] = arena.allocate(bytes, 64);
    }

    /** Bytes one block takes across all layers. */
    public static long bytesPerBlock(CausalLM model, int blockSize) {
        return 4L * blockSize * model.kvEntryFloats() * model.numLayers();
    }

    @Override public int blockSize() { return blockSize; }
    @Override public int numBlocks() { return numBlocks; }
    @Override public int entryFloats() { return entryFloats; }
    @Override public MemorySegment layer(int layer) { return layers[layer]; }

    @Override
    public void close() { arena.close(); }
}
