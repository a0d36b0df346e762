package dev.pdserve.kernels;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WorkerPoolTest {
    /** Counts how often each index ran; a job that is still running after run() returned shows up as a missing count. */
    private static final class Counting implements WorkerPool.Job {
        final AtomicIntegerArray hits = new AtomicIntegerArray(4096);

        @Override
        public void run(int from, int to, int worker) {
            for (int i = from; i < to; i++) hits.incrementAndGet(i);
            if ((from & 3) == 0) Thread.yield(); // uneven chunks, so workers overlap job boundaries
        }
    }

    @Test
    void everyIndexRunsExactlyOnceAndRunReturnsOnlyWhenAllAreDone() {
        // More threads than cores, so workers get descheduled between reading a job and claiming a chunk.
        try (WorkerPool pool = new WorkerPool(6)) {
            Counting a = new Counting(), b = new Counting();
            for (int round = 0; round < 20_000; round++) {
                Counting job = (round & 1) == 0 ? a : b;
                int n = 1 + (round * 7919) % 300;
                pool.run(job, n, 1);
                for (int i = 0; i < n; i++) {
                    assertThat(job.hits.getAndSet(i, 0)).as("round %d index %d of %d", round, i, n).isEqualTo(1);
                }
                assertThat(job.hits.get(n)).isZero();
            }
        }
    }

    @Test
    void aFailingChunkIsRethrownByTheCaller() {
        try (WorkerPool pool = new WorkerPool(3)) {
            WorkerPool.Job failing = (from, to, worker) -> { if (from == 0) throw new IllegalStateException("boom"); };
            assertThatThrownBy(() -> pool.run(failing, 100, 1)).hasMessage("boom");
            Counting ok = new Counting();
            pool.run(ok, 50, 1);
            for (int i = 0; i < 50; i++) assertThat(ok.hits.get(i)).isEqualTo(1);
        }
    }
}
