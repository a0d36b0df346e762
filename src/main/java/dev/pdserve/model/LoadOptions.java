package dev.pdserve.model;

/**
 * How to load a model: worker threads for the kernels (0: all cores) and a quantization method
 * (null: keep the checkpoint's dtype).
 */
public record LoadOptions(int threads, String quantization) {
    public static LoadOptions defaults() { return new LoadOptions(0, null); }

    public LoadOptions withThreads(int n) { return new LoadOptions(n, quantization); }

    public int resolvedThreads() { return threads > 0 ? threads : Runtime.getRuntime().availableProcessors(); }
}
