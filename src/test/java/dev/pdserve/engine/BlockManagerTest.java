package dev.pdserve.engine;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BlockManagerTest {
    static Request request(String id, int[] prompt, int maxTokens, int blockSize) {
        return new Request(id, prompt, SamplingParams.greedy(maxTokens), o -> {}, blockSize, 0, null);
    }

    static int[] range(int from, int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = from + i;
        return a;
    }

    @Test
    void allocatesWholeBlocksAllOrNothingAndFreesThemAll() {
        BlockManager bm = new BlockManager(4, 4, false);
        Request a = request("a", range(0, 9), 8, 4);
        assertThat(bm.allocate(a, 0, 9)).isTrue();
        assertThat(a.numBlocks).isEqualTo(3);
        assertThat(bm.numFreeBlocks()).isEqualTo(1);
        Request b = request("b", range(0, 5), 8, 4);
        assertThat(bm.allocate(b, 0, 5)).isFalse();
        assertThat(b.numBlocks).isZero();
        assertThat(bm.numFreeBlocks()).isEqualTo(1);
        assertThat(bm.allocate(a, 0, 12)).isTrue();
        assertThat(a.numBlocks).isEqualTo(3);
        assertThat(bm.allocate(a, 0, 13)).isTrue();
        assertThat(bm.numUsedBlocks()).isEqualTo(4);
        bm.free(a);
        assertThat(bm.numUsedBlocks()).isZero();
        assertThatThrownBy(() -> bm.free(new int[] {0}, 1)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void fullComputedBlocksAreSharedByALaterRequestWithTheSamePrefix() {
        BlockManager bm = new BlockManager(8, 4, true);
        Request a = request("a", range(100, 10), 4, 4);
        assertThat(bm.findCachedBlocks(a)).isZero();
        assertThat(bm.allocate(a, 0, 10)).isTrue();
        a.numComputed = 10;
        bm.cacheComputedBlocks(a);

        // Same first 8 tokens, then different: two full blocks hit while a still holds them.
        int[] p = range(100, 12);
        p[9] = 7;
        Request b = request("b", p, 4, 4);
        int hit = bm.findCachedBlocks(b);
        assertThat(hit).isEqualTo(2);
        assertThat(bm.allocate(b, hit, 12)).isTrue();
        assertThat(b.blockTable[0]).isEqualTo(a.blockTable[0]);
        assertThat(b.blockTable[1]).isEqualTo(a.blockTable[1]);
        assertThat(b.blockTable[2]).isNotEqualTo(a.blockTable[2]);
        assertThat(bm.numUsedBlocks()).isEqualTo(4);

        bm.free(a);
        bm.free(b);
        assertThat(bm.numUsedBlocks()).isZero();
        // Cached blocks survive with no user and are revived.
        Request c = request("c", range(100, 9), 4, 4);
        assertThat(bm.findCachedBlocks(c)).isEqualTo(2);
        // A prompt that is exactly the cached blocks leaves its last block to compute.
        Request d = request("d", range(100, 8), 4, 4);
        assertThat(bm.findCachedBlocks(d)).isEqualTo(1);
        // A different first block breaks the chain even if later blocks match.
        int[] q = range(100, 9);
        q[0] = 5;
        assertThat(bm.findCachedBlocks(request("e", q, 4, 4))).isZero();
    }

    @Test
    void cachedBlocksAreEvictedOnlyWhenNothingElseIsFree() {
        BlockManager bm = new BlockManager(4, 2, true);
        Request a = request("a", range(0, 4), 2, 2);
        bm.allocate(a, 0, 4);
        a.numComputed = 4;
        bm.cacheComputedBlocks(a);
        bm.free(a);
        // Two uncached blocks are handed out first, so a's prefix survives.
        Request b = request("b", range(50, 4), 2, 2);
        bm.allocate(b, 0, 4);
        assertThat(bm.findCachedBlocks(request("a2", range(0, 5), 2, 2))).isEqualTo(2);
        // Now allocation must evict: the tail block of a goes first, its head stays.
        Request c = request("c", range(80, 2), 2, 2);
        bm.allocate(c, 0, 2);
        assertThat(bm.findCachedBlocks(request("a3", range(0, 5), 2, 2))).isEqualTo(1);
        bm.free(b);
        bm.free(c);
        assertThat(bm.numUsedBlocks()).isZero();
    }

    @Test
    void prefixCachingOffNeverHits() {
        BlockManager bm = new BlockManager(8, 4, false);
        Request a = request("a", range(0, 9), 4, 4);
        bm.allocate(a, 0, 9);
        a.numComputed = 9;
        bm.cacheComputedBlocks(a);
        bm.free(a);
        assertThat(bm.findCachedBlocks(request("b", range(0, 9), 4, 4))).isZero();
    }
}
