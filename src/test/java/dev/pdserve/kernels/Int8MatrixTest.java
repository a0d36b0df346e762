package dev.pdserve.kernels;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The int8 panel kernel against exact integer arithmetic: W8A8's definition is an integer dot
 * product scaled once per (row, token), and with sums below 2^24 the fp32 kernel must give it
 * exactly, whatever the batch, the token blocks, the partial last panel or the thread split.
 */
class Int8MatrixTest {
    /** Full panel pairs, a lone full panel and a partial one. */
    private static final int ROWS = 3 * Int8Matrix.PANEL + 13;
    private static final int COLS = 301;

    private static Int8Rows random(Arena arena, Random rnd, float[] offsets, Int8Rows.StaticInput in) {
        MemorySegment q = arena.allocate((long) ROWS * COLS);
        for (int i = 0; i < ROWS * COLS; i++) q.set(ValueLayout.JAVA_BYTE, i, (byte) (rnd.nextInt(255) - 127));
        float[] scales = new float[ROWS];
        for (int r = 0; r < ROWS; r++) scales[r] = (float) (0.001 + rnd.nextDouble() * 0.05);
        return new Int8Rows(q, ROWS, COLS, scales, offsets, in);
    }

    private static float[] gaussian(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * 3);
        return v;
    }

    /** out = (sum q * xq - offset * sum xq) * scale[r] * xScale[t], the integer parts exact. */
    private static float[] expected(Int8Rows q, float[] x, int tokens) {
        float[] xq = new float[x.length], xs = new float[tokens], sums = new float[tokens];
        Int8Matrix.quantizeActivations(x, tokens, COLS, xq, xs, sums);
        float[] out = new float[tokens * ROWS];
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < ROWS; r++) {
                long dot = 0;
                for (int c = 0; c < COLS; c++) dot += q.q(r, c) * (long) xq[t * COLS + c];
                float zero = q.offsets() == null ? 0f : -q.offsets()[r];
                out[t * ROWS + r] = Math.fma(zero, sums[t], (float) dot) * q.scales()[r] * xs[t];
            }
        }
        return out;
    }

    @Test
    void equalsTheIntegerDotWhateverTheBatchAndTheThreadSplit() {
        Random rnd = new Random(21);
        int tokens = 19;
        try (Arena arena = Arena.ofShared(); WorkerPool pool = new WorkerPool(2)) {
            for (float[] offsets : new float[][] {null, gaussian(rnd, ROWS)}) {
                Int8Rows q = random(arena, rnd, offsets, null);
                Int8Matrix m = Int8Matrix.pack(q, arena);
                float[] x = gaussian(rnd, tokens * COLS);
                float[] want = expected(q, x, tokens);
                MatMul matmul = new MatMul(pool);
                for (int batch : new int[] {1, 2, 3, 4, 7, 8, 12, 19}) {
                    float[] out = new float[batch * ROWS];
                    matmul.run(m, Arrays.copyOf(x, batch * COLS), batch, out);
                    for (int i = 0; i < out.length; i++) {
                        assertThat(out[i]).as("offsets %s batch %d token %d row %d", offsets != null, batch, i / ROWS, i % ROWS).isEqualTo(want[i]);
                    }
                }
            }
        }
    }

    @Test
    void staticInputUsesTheCalibratedScaleAndWritesOnlyItsRows() {
        Random rnd = new Random(8);
        int tokens = 5, stride = ROWS + 7;
        try (Arena arena = Arena.ofShared()) {
            int[] bias = new int[ROWS];
            float[] deq = new float[ROWS];
            for (int r = 0; r < ROWS; r++) { bias[r] = rnd.nextInt(2001) - 1000; deq[r] = (float) rnd.nextDouble() * 0.01f; }
            Int8Rows q = random(arena, rnd, null, new Int8Rows.StaticInput(0.05f, 3f, bias, deq));
            Int8Matrix m = Int8Matrix.pack(q, arena);
            float[] x = gaussian(rnd, tokens * COLS);
            float[] xq = new float[x.length], xs = new float[tokens], sums = new float[tokens];
            m.quantizeInput(x, tokens, xq, xs, sums);
            float[] out = new float[tokens * stride];
            Arrays.fill(out, Float.NaN);
            m.multiplyQuantized(xq, xs, sums, tokens, out, stride, 0, ROWS);
            for (int t = 0; t < tokens; t++) {
                for (int r = 0; r < ROWS; r++) {
                    long dot = 0;
                    for (int c = 0; c < COLS; c++) {
                        int xi = Math.max(-128, Math.min(127, Math.round(x[t * COLS + c] * (1f / 0.05f) + 3f)));
                        assertThat(xq[t * COLS + c]).isEqualTo((float) xi);
                        dot += q.q(r, c) * (long) xi;
                    }
                    assertThat(out[t * stride + r]).as("token %d row %d", t, r).isEqualTo((dot + bias[r]) * deq[r]);
                }
                for (int c = ROWS; c < stride; c++) assertThat(out[t * stride + c]).isNaN();
            }
            assertThatThrownBy(() -> m.multiplyQuantized(xq, xs, sums, tokens, out, stride, 5, ROWS)).hasMessageContaining("start on a panel");
        }
    }

    @Test
    void activationsRoundToNearestEvenWithTheRowMaxAt127() {
        Random rnd = new Random(13);
        int tokens = 3, cols = 37; // a vector body and a scalar tail
        float[] x = gaussian(rnd, tokens * cols);
        x[5] = -9f; // token 0's max |x|: its scale is 9 / 127
        x[cols + 36] = 6.35f; // in the tail: token 1's max
        java.util.Arrays.fill(x, 2 * cols, 3 * cols, 0f); // an all-zero token: scale 1, all zeros
        x[7] = 0.5f * 9f / 127f; // 0.5 after scaling: ties go to even, 0
        x[8] = 1.5f * 9f / 127f; // 1.5: to 2
        float[] xq = new float[x.length], xs = new float[tokens], sums = new float[tokens];
        Int8Matrix.quantizeActivations(x, tokens, cols, xq, xs, sums);
        assertThat(xs).containsExactly(9f / 127f, 6.35f / 127f, 1f);
        assertThat(xq[5]).isEqualTo(-127f);
        assertThat(xq[cols + 36]).isEqualTo(127f);
        for (int t = 0; t < tokens; t++) {
            float sum = 0;
            for (int c = 0; c < cols; c++) {
                float want = (float) Math.rint(x[t * cols + c] * (1f / xs[t]));
                assertThat(xq[t * cols + c]).as("token %d column %d", t, c).isEqualTo(want);
                sum += want;
            }
            assertThat(sums[t]).isEqualTo(sum);
        }
        assertThat(xq[7]).isEqualTo(0f);
        assertThat(xq[8]).isEqualTo(2f);
    }

    @Test
    void rowReadsGiveTheDequantizedRowMajorValues() {
        Random rnd = new Random(5);
        try (Arena arena = Arena.ofShared()) {
            float[] offsets = gaussian(rnd, ROWS);
            Int8Rows q = random(arena, rnd, offsets, null);
            Int8Matrix m = Int8Matrix.pack(q, arena);
            float[] row = new float[COLS];
            for (int r : new int[] {0, 1, Int8Matrix.PANEL - 1, Int8Matrix.PANEL, ROWS - 1}) {
                m.copyRow(r, row, 0);
                for (int c = 0; c < COLS; c++) assertThat(row[c]).isEqualTo((q.q(r, c) - offsets[r]) * q.scales()[r]);
                float[] acc = new float[COLS];
                m.addScaledRow(r, 0.5f, acc, 0);
                for (int c = 0; c < COLS; c++) assertThat(acc[c]).isCloseTo(0.5f * row[c], within(0f));
            }
            assertThat(m.bytes()).isEqualTo(4L * Int8Matrix.PANEL * COLS + 4L * ROWS);
        }
    }
}
