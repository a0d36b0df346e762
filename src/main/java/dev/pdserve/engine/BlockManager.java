package dev.pdserve.engine;

import java.util.Arrays;
import java.util.HashMap;

/**
 * Hands out the KV cache's blocks. Blocks are reference counted (requests sharing a cached prefix
 * share its blocks). A full block whose KV is computed is registered under the hash chain
 * {@code hash(parent hash, block tokens)}; when its last user lets go it stays in the cache,
 * reusable by a later request with the same prefix, until allocation evicts it (least recently
 * freed first). Blocks that hold nothing reusable are handed out before cached ones.
 *
 * <p>Free blocks sit in one intrusive doubly linked list (no allocation per block operation).
 * Not thread-safe: only the engine's step loop calls it.
 */
final class BlockManager {
    static final long NO_HASH = 0;

    private final int blockSize;
    private final int numBlocks;
    private final boolean prefixCaching;
    private final int[] refCount;
    private final long[] hashOf;
    /** Tokens of each registered block, to confirm a hash hit is not a collision. */
    private final int[][] tokensOf;
    private final HashMap<Long, Integer> cached = new HashMap<>();

    private final int[] prev;
    private final int[] next;
    private int head = -1;
    private int tail = -1;
    private int numFree;

    private long prefixQueries;
    private long prefixHits;

    BlockManager(int numBlocks, int blockSize, boolean prefixCaching) {
        if (numBlocks < 1) throw new IllegalArgumentException("need at least one KV block, got " + numBlocks);
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.prefixCaching = prefixCaching;
        this.refCount = new int[numBlocks];
        this.hashOf = new long[numBlocks];
        this.tokensOf = new int[numBlocks][];
        this.prev = new int[numBlocks];
        this.next = new int[numBlocks];
        for (int b = 0; b < numBlocks; b++) pushTail(b);
    }

    int blockSize() { return blockSize; }

    int numBlocks() { return numBlocks; }

    /** Blocks with no user (including cached ones that may be evicted). */
    int numFreeBlocks() { return numFree; }

    int numUsedBlocks() { return numBlocks - numFree; }

    long prefixQueries() { return prefixQueries; }

    long prefixHits() { return prefixHits; }

    int blocksFor(int numTokens) { return (numTokens + blockSize - 1) / blockSize; }

    /**
     * Looks up the longest cached prefix of a request that holds no blocks yet, in whole blocks,
     * leaving at least one token to compute (its logits are needed). Writes the hit block ids to
     * {@code r.blockTable[0..n)} without taking them (that is {@link #allocate}'s job) and returns n.
     */
    int findCachedBlocks(Request r) {
        if (!prefixCaching || r.numBlocks != 0) return 0;
        int maxBlocks = (r.numTokens - 1) / blockSize;
        hashFullBlocks(r, maxBlocks);
        int n = 0;
        while (n < maxBlocks) {
            Integer b = cached.get(r.blockHashes[n]);
            if (b == null || !Arrays.equals(tokensOf[b], 0, blockSize, r.tokens, n * blockSize, (n + 1) * blockSize)) break;
            r.blockTable[n++] = b;
        }
        return n;
    }

    /** Counts a prefix-cache lookup of {@code queried} tokens of which {@code hit} were found (vLLM counts tokens). */
    void recordPrefixLookup(int queried, int hit) {
        prefixQueries += queried;
        prefixHits += hit;
    }

    /**
     * Makes the request's table cover {@code numTokens} tokens: first takes the {@code numCached}
     * hit blocks {@link #findCachedBlocks} left at {@code r.blockTable[r.numBlocks..]}, then fresh
     * blocks. All or nothing: returns false, changing nothing, when not enough blocks are free.
     */
    boolean allocate(Request r, int numCached, int numTokens) {
        int have = r.numBlocks + numCached;
        int fresh = Math.max(0, blocksFor(numTokens) - have);
        int revived = 0;
        for (int i = r.numBlocks; i < have; i++) if (refCount[r.blockTable[i]] == 0) revived++;
        if (fresh + revived > numFree) return false;
        for (int i = r.numBlocks; i < have; i++) {
            int b = r.blockTable[i];
            if (refCount[b]++ == 0) unlink(b);
        }
        for (int i = 0; i < fresh; i++) r.blockTable[have + i] = takeFree();
        r.numBlocks = have + fresh;
        return true;
    }

    /**
     * Registers the request's full blocks whose KV is now computed, so later requests can reuse
     * them. Called after the forward that wrote them (never before: a block is only shared once
     * its contents exist).
     */
    void cacheComputedBlocks(Request r) {
        if (!prefixCaching) return;
        int full = Math.min(r.numComputed / blockSize, r.numBlocks);
        hashFullBlocks(r, full);
        for (int i = r.numRegisteredBlocks; i < full; i++) {
            int b = r.blockTable[i];
            long h = r.blockHashes[i];
            // A block revived from the cache is registered already; a duplicate of another block keeps no hash.
            if (hashOf[b] == NO_HASH && !cached.containsKey(h)) {
                hashOf[b] = h;
                if (tokensOf[b] == null) tokensOf[b] = new int[blockSize];
                System.arraycopy(r.tokens, i * blockSize, tokensOf[b], 0, blockSize);
                cached.put(h, b);
            }
        }
        r.numRegisteredBlocks = Math.max(r.numRegisteredBlocks, full);
    }

    /** Takes one more reference on blocks already in use (a KV lease holding a finished prompt's blocks). */
    void retain(int[] blocks) {
        for (int b : blocks) {
            if (refCount[b] <= 0) throw new IllegalStateException("block " + b + " is not in use");
            refCount[b]++;
        }
    }

    /** Lets go of all the request's blocks (finish, abort, preemption). */
    void free(Request r) {
        free(r.blockTable, r.numBlocks);
        r.numBlocks = 0;
        r.numRegisteredBlocks = 0;
    }

    /**
     * Lets go of the blocks past the first {@code blocksFor(numTokens)}: the slots of a
     * speculating step's rejected drafts. They hold nothing computed, so they are never cached.
     */
    void trim(Request r, int numTokens) {
        int keep = blocksFor(numTokens);
        if (keep >= r.numBlocks) return;
        release(r.blockTable, keep, r.numBlocks);
        r.numBlocks = keep;
        r.numRegisteredBlocks = Math.min(r.numRegisteredBlocks, keep);
    }

    /**
     * Lets go of the first {@code count} blocks of a table, last block first so that a sequence's
     * tail is evicted before its head (heads are the likelier shared prefixes). Also what a KV
     * lease will call with the block ids it kept after its request finished.
     */
    void free(int[] blocks, int count) { release(blocks, 0, count); }

    private void release(int[] blocks, int from, int to) {
        for (int i = to - 1; i >= from; i--) {
            int b = blocks[i];
            if (refCount[b] <= 0) throw new IllegalStateException("block " + b + " freed twice");
            if (--refCount[b] == 0) {
                if (hashOf[b] == NO_HASH) pushHead(b); else pushTail(b);
            }
        }
    }

    /** Drops every cached block (e.g. after weights change); blocks in use are kept. */
    void resetPrefixCache() {
        for (int b = 0; b < numBlocks; b++) hashOf[b] = NO_HASH;
        cached.clear();
    }

    private void hashFullBlocks(Request r, int upTo) {
        for (int i = r.numHashedBlocks; i < upTo; i++) {
            long h = i == 0 ? 0x5DEECE66DL : r.blockHashes[i - 1];
            for (int t = i * blockSize, end = t + blockSize; t < end; t++) {
                h = (h ^ r.tokens[t]) * 0x9E3779B97F4A7C15L;
                h ^= h >>> 29;
            }
            r.blockHashes[i] = h == NO_HASH ? 1 : h;
        }
        r.numHashedBlocks = Math.max(r.numHashedBlocks, upTo);
    }

    private int takeFree() {
        int b = head;
        unlink(b);
        if (hashOf[b] != NO_HASH) {
            cached.remove(hashOf[b], b);
            hashOf[b] = NO_HASH;
        }
        refCount[b] = 1;
        return b;
    }

    private void pushTail(int b) {
        prev[b] = tail;
        next[b] = -1;
        if (tail >= 0) next[tail] = b; else head = b;
        tail = b;
        numFree++;
    }

    private void pushHead(int b) {
        next[b] = head;
        prev[b] = -1;
        if (head >= 0) prev[head] = b; else tail = b;
        head = b;
        numFree++;
    }

    private void unlink(int b) {
        if (prev[b] >= 0) next[prev[b]] = next[b]; else head = next[b];
        if (next[b] >= 0) prev[next[b]] = prev[b]; else tail = prev[b];
        numFree--;
    }
}
