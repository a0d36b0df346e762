package dev.pdserve.engine;

/**
 * The serving engine's limits, named after vLLM's flags. {@code kvCacheBytes} sizes the paged
 * KV pool (0: take {@code gpuMemoryUtilization} of the free RAM left after weights); {@code
 * speculative} turns on speculative decoding (null: off). Start from
 * {@link #defaults} and change what differs with the {@code with...} copies.
 */
public record EngineConfig(
        int blockSize,
        long kvCacheBytes,
        double gpuMemoryUtilization,
        int maxNumSeqs,
        int maxNumBatchedTokens,
        int maxModelLen,
        boolean enablePrefixCaching,
        long seed,
        SpeculativeConfig speculative) {

    /** vLLM's defaults where it has them: blocks of 16, 256 sequences, 2048 batched tokens, prefix caching on; a 256 MiB KV pool. */
    public static EngineConfig defaults(int maxModelLen) {
        return new EngineConfig(16, 256L << 20, 0.9, 256, 2048, maxModelLen, true, 0, null);
    }

    public EngineConfig withBlockSize(int v) { return new EngineConfig(v, kvCacheBytes, gpuMemoryUtilization, maxNumSeqs, maxNumBatchedTokens, maxModelLen, enablePrefixCaching, seed, speculative); }

    public EngineConfig withKvCacheBytes(long v) { return new EngineConfig(blockSize, v, gpuMemoryUtilization, maxNumSeqs, maxNumBatchedTokens, maxModelLen, enablePrefixCaching, seed, speculative); }

    public EngineConfig withGpuMemoryUtilization(double v) { return new EngineConfig(blockSize, kvCacheBytes, v, maxNumSeqs, maxNumBatchedTokens, maxModelLen, enablePrefixCaching, seed, speculative); }

    public EngineConfig withMaxNumSeqs(int v) { return new EngineConfig(blockSize, kvCacheBytes, gpuMemoryUtilization, v, maxNumBatchedTokens, maxModelLen, enablePrefixCaching, seed, speculative); }

    public EngineConfig withMaxNumBatchedTokens(int v) { return new EngineConfig(blockSize, kvCacheBytes, gpuMemoryUtilization, maxNumSeqs, v, maxModelLen, enablePrefixCaching, seed, speculative); }

    public EngineConfig withMaxModelLen(int v) { return new EngineConfig(blockSize, kvCacheBytes, gpuMemoryUtilization, maxNumSeqs, maxNumBatchedTokens, v, enablePrefixCaching, seed, speculative); }

    public EngineConfig withPrefixCaching(boolean v) { return new EngineConfig(blockSize, kvCacheBytes, gpuMemoryUtilization, maxNumSeqs, maxNumBatchedTokens, maxModelLen, v, seed, speculative); }

    public EngineConfig withSeed(long v) { return new EngineConfig(blockSize, kvCacheBytes, gpuMemoryUtilization, maxNumSeqs, maxNumBatchedTokens, maxModelLen, enablePrefixCaching, v, speculative); }

    /** Speculative decoding ({@code --speculative-config}); null: off. */
    public EngineConfig withSpeculative(SpeculativeConfig v) { return new EngineConfig(blockSize, kvCacheBytes, gpuMemoryUtilization, maxNumSeqs, maxNumBatchedTokens, maxModelLen, enablePrefixCaching, seed, v); }
}
