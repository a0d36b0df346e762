package dev.pdserve.engine;

import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PagedKvCacheTest {
    @Test
    void layersAreZeroedWritableAndBlocksAreContiguousSlices() {
        // 4 MiB per layer: the mmap path; 1 KiB: the arena path.
        for (int blocks : new int[] {1024, 1}) {
            try (PagedKvCache c = new PagedKvCache(3, blocks, 16, 64)) {
                assertThat(c.layer(2).byteSize()).isEqualTo((long) blocks * 16 * 64 * 4);
                assertThat(c.layer(1).getAtIndex(ValueLayout.JAVA_FLOAT, blocks * 16L * 64 - 1)).isZero();
                c.layer(1).setAtIndex(ValueLayout.JAVA_FLOAT, (blocks - 1) * 16L * 64 + 5, 3.5f);
                assertThat(c.block(1, blocks - 1).getAtIndex(ValueLayout.JAVA_FLOAT, 5)).isEqualTo(3.5f);
                assertThat(c.block(0, blocks - 1).getAtIndex(ValueLayout.JAVA_FLOAT, 5)).isZero();
            }
        }
    }

    static EngineConfig config() { return EngineConfig.defaults(256).withMaxNumSeqs(8).withMaxNumBatchedTokens(64); }

    @Test
    void theBlockCountComesFromTheByteBudgetOrFreeMemory() {
        long perBlock = PagedKvCache.blockBytes(4, 16, 80);
        assertThat(perBlock).isEqualTo(4L * 16 * 80 * 4);
        EngineConfig fixed = config().withKvCacheBytes(perBlock * 100 + 7);
        assertThat(PagedKvCache.numBlocksFor(fixed, 4, 80)).isEqualTo(100);
        EngineConfig fromRam = config().withKvCacheBytes(0).withGpuMemoryUtilization(0.01);
        long expected = (long) (0.01 * PagedKvCache.memAvailableBytes()) / perBlock;
        assertThat((double) PagedKvCache.numBlocksFor(fromRam, 4, 80)).isCloseTo(expected, org.assertj.core.data.Percentage.withPercentage(20));
        assertThatThrownBy(() -> PagedKvCache.numBlocksFor(config().withKvCacheBytes(10), 4, 80))
                .isInstanceOf(EngineException.class).hasMessageContaining("no block");
    }
}
