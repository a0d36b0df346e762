package dev.pdserve.server;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;

/** Buckets count as prometheus_client counts them: {@code value <= bound}, to the exact bound. */
class BucketHistogramTest {
    @Test
    void aThreeMillisecondGapLandsInTheFirstBucketNotInOneSecond() {
        BucketHistogram h = new BucketHistogram(VllmMetrics.ITL_BUCKETS);
        h.observe(0.003);
        BucketHistogram.Snapshot s = h.snapshot();
        assertThat(s.cumulative()[0]).as("le=0.01").isEqualTo(1);
        assertThat(s.count()).isEqualTo(1);
        assertThat(s.sum()).isEqualTo(0.003);
    }

    @Test
    void aValueOnABoundCountsInThatBoundsBucket() {
        BucketHistogram h = new BucketHistogram(0.01, 0.025, 0.05, 1.0, 80.0);
        for (double v : new double[] {0.01, 0.025, 0.0250000001, 1.0, 80.0, 80.0000001, -1.0, 0.0}) h.observe(v);
        // Per bucket: le=0.01 {0.01, -1, 0}, le=0.025 {0.025}, le=0.05 {0.0250000001}, le=1 {1.0}, le=80 {80.0}, +Inf {80.0000001}.
        assertThat(h.snapshot().cumulative()).containsExactly(3, 4, 5, 6, 7, 8);
    }

    @Test
    void valuesJustAroundEveryVllmLatencyBoundFallOnTheRightSide() {
        for (double[] bounds : List.of(VllmMetrics.TTFT_BUCKETS, VllmMetrics.ITL_BUCKETS, VllmMetrics.REQUEST_LATENCY_BUCKETS)) {
            for (int i = 0; i < bounds.length; i++) {
                BucketHistogram h = new BucketHistogram(bounds);
                h.observe(bounds[i]);
                h.observe(Math.nextUp(bounds[i]));
                long[] c = h.snapshot().cumulative();
                assertThat(c[i]).as("bound %s holds itself", bounds[i]).isEqualTo(1);
                if (i > 0) assertThat(c[i - 1]).as("below %s", bounds[i]).isZero();
                assertThat(c[i + 1]).as("next bucket after %s", bounds[i]).isEqualTo(2);
            }
        }
    }

    @Test
    void oneTwoFiveBucketsAreVllms() {
        assertThat(BucketHistogram.oneTwoFive(100)).containsExactly(1, 2, 5, 10, 20, 50, 100);
        assertThat(BucketHistogram.oneTwoFive(2048)).containsExactly(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000);
        assertThat(BucketHistogram.oneTwoFive(163840)).endsWith(50000, 100000);
        assertThat(BucketHistogram.oneTwoFive(1)).containsExactly(1);
    }

    @Test
    void concurrentObservationsAreAllCounted() throws Exception {
        BucketHistogram h = new BucketHistogram(1, 2, 5);
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<java.util.concurrent.Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 8; t++) fs.add(pool.submit(() -> { for (int i = 0; i < 10_000; i++) h.observe(i % 7); }));
            for (var f : fs) f.get();
        }
        BucketHistogram.Snapshot s = h.snapshot();
        assertThat(s.count()).isEqualTo(80_000);
        // Per thread i % 7 takes 0..3 1429 times and 4..6 1428 times: <= 1 {0, 1}, <= 2 {2}, <= 5 {3, 4, 5}, above {6}.
        assertThat(s.cumulative()).containsExactly(8 * 2858, 8 * 4287, 8 * 8572, 80_000);
    }
}
