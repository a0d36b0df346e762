package dev.pdserve.engine;

/**
 * The serving engine's limits, named after vLLM's flags. {@code kvCacheBytes} sizes the paged
 * KV pool (0: take {@code gpuMemoryUtilization} of the free RAM left after weights).
 */
public record EngineConfig(
        int blockSize,
        long kvCacheBytes,
        double gpuMemoryUtilization,
        int maxNumSeqs,
        int maxNumBatchedTokens,
        int maxModelLen,
        boolean enablePrefixCaching,
        long seed) {

    public static EngineConfig defaults(int maxModelLen) {
        return new EngineConfig(16, 256L << 20, 0.9, 256, 2048, maxModelLen, true, 0);
    }
}
