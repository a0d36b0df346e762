package dev.pdserve.prefix;

/**
 * The prefix cache's block hash chain: a full block of tokens is known by
 * {@code hash(parent block's hash, its tokens)}, so equal hashes mean equal prefixes up to that
 * block. The engine registers cached blocks under it and publishes it in its KV events; the proxy
 * computes it over a request's prompt to find which instance already holds how much of it. Both
 * must compute it the same way, hence one class.
 */
public final class BlockHash {
    /** Means "no hash": never produced by {@link #next}. Also the parent of a prompt's first block. */
    public static final long NONE = 0;
    private static final long ROOT = 0x5DEECE66DL;

    private BlockHash() {}

    /** The hash of the block {@code tokens[from, from + blockSize)} whose parent block hashed to {@code parent} (NONE: first block). */
    public static long next(long parent, int[] tokens, int from, int blockSize) {
        long h = parent == NONE ? ROOT : parent;
        for (int t = from, end = from + blockSize; t < end; t++) {
            h = (h ^ tokens[t]) * 0x9E3779B97F4A7C15L;
            h ^= h >>> 29;
        }
        return h == NONE ? 1 : h;
    }

    /** The hashes of the first {@code numBlocks} full blocks of {@code tokens}. */
    public static long[] chain(int[] tokens, int numBlocks, int blockSize) {
        long[] out = new long[numBlocks];
        long parent = NONE;
        for (int i = 0; i < numBlocks; i++) out[i] = parent = next(parent, tokens, i * blockSize, blockSize);
        return out;
    }
}
