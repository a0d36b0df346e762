package dev.pdserve.engine;

/** A snapshot of the engine's gauges and counters (vLLM's metric meanings). */
public record EngineStats(
        int numRunning,
        int numWaiting,
        double kvCacheUsage,
        int numBlocksTotal,
        int numBlocksUsed,
        long promptTokensTotal,
        long generationTokensTotal,
        long prefixCacheQueries,
        long prefixCacheHits,
        long numPreemptions) {}
