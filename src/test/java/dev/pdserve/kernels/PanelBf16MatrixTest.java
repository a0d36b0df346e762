package dev.pdserve.kernels;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The panel kernel against a plain scalar loop, and batch invariance: every (row, token) must be
 * the same fma chain whatever the batch, the 8/4/1-token blocks, the partial last panel or the
 * row split over threads.
 */
class PanelBf16MatrixTest {
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Not a multiple of the panel: panel pairs (a four-panel group in one range), a lone full panel and a partial one. */
    private static final int ROWS = 5 * PanelBf16Matrix.PANEL + 13;
    private static final int COLS = 37;

    /** Values over many magnitudes, so a different addition order would show in the last bits. */
    private static float[] wild(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(7) - 3));
        return v;
    }

    private static MemorySegment bf16(Arena arena, float[] values) {
        MemorySegment w = arena.allocate(2L * values.length);
        for (int i = 0; i < values.length; i++) w.set(BF16, 2L * i, (short) (Float.floatToRawIntBits(values[i]) >>> 16));
        return w;
    }

    private static float widened(MemorySegment w, int r, int k) {
        return Float.intBitsToFloat(w.get(BF16, 2L * ((long) r * COLS + k)) << 16);
    }

    @Test
    void everyResultIsTheColumnOrderFmaChainWhateverTheBatchAndTheThreadSplit() {
        Random rnd = new Random(11);
        int tokens = 19; // 4-token blocks and 3 left over; the batches below reach every path
        try (Arena arena = Arena.ofShared(); WorkerPool pool = new WorkerPool(2)) {
            MemorySegment w = bf16(arena, wild(rnd, ROWS * COLS));
            PanelBf16Matrix m = PanelBf16Matrix.pack(w, ROWS, COLS, arena);
            float[] x = wild(rnd, tokens * COLS);
            float[] expected = new float[tokens * ROWS];
            for (int t = 0; t < tokens; t++) {
                for (int r = 0; r < ROWS; r++) {
                    float s = 0f;
                    for (int k = 0; k < COLS; k++) s = Math.fma(widened(w, r, k), x[t * COLS + k], s);
                    expected[t * ROWS + r] = s;
                }
            }
            MatMul matmul = new MatMul(pool);
            for (int batch : new int[] {1, 3, 4, 7, 8, 12, 19}) {
                float[] out = new float[batch * ROWS], whole = new float[batch * ROWS];
                matmul.run(m, Arrays.copyOf(x, batch * COLS), batch, out);
                m.multiply(x, batch, whole, ROWS, 0, ROWS); // one range: the four-panel walk too
                for (int i = 0; i < out.length; i++) {
                    assertThat(Float.floatToRawIntBits(out[i])).as("batch %d token %d row %d", batch, i / ROWS, i % ROWS)
                            .isEqualTo(Float.floatToRawIntBits(expected[i]));
                    assertThat(Float.floatToRawIntBits(whole[i])).as("one range, batch %d token %d row %d", batch, i / ROWS, i % ROWS)
                            .isEqualTo(Float.floatToRawIntBits(expected[i]));
                }
            }
            for (int r = 0; r < ROWS; r++) assertThat(m.dotRow(r, x, 5 * COLS)).isEqualTo(expected[5 * ROWS + r]);
        }
    }

    @Test
    void writesOnlyItsRowsIntoAWiderOutput() {
        Random rnd = new Random(3);
        int tokens = 5, stride = ROWS + 7;
        try (Arena arena = Arena.ofShared()) {
            PanelBf16Matrix m = PanelBf16Matrix.pack(bf16(arena, wild(rnd, ROWS * COLS)), ROWS, COLS, arena);
            float[] out = new float[tokens * stride];
            Arrays.fill(out, Float.NaN);
            m.multiply(wild(rnd, tokens * COLS), tokens, out, stride, 0, ROWS);
            for (int t = 0; t < tokens; t++) {
                for (int c = 0; c < stride; c++) {
                    assertThat(Float.isNaN(out[t * stride + c])).as("token %d column %d", t, c).isEqualTo(c >= ROWS);
                }
            }
        }
    }

    @Test
    void rowReadsGiveTheRowMajorValues() {
        Random rnd = new Random(5);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment w = bf16(arena, wild(rnd, ROWS * COLS));
            PanelBf16Matrix m = PanelBf16Matrix.pack(w, ROWS, COLS, arena);
            Bf16Matrix rowMajor = new Bf16Matrix(w, ROWS, COLS);
            float[] a = new float[COLS], b = new float[COLS];
            for (int r : new int[] {0, 1, PanelBf16Matrix.PANEL - 1, PanelBf16Matrix.PANEL, ROWS - 1}) {
                m.copyRow(r, a, 0);
                rowMajor.copyRow(r, b, 0);
                assertThat(a).containsExactly(b);
                float[] accA = new float[COLS], accB = new float[COLS];
                m.addScaledRow(r, 0.75f, accA, 0);
                rowMajor.addScaledRow(r, 0.75f, accB, 0);
                assertThat(accA).containsExactly(accB, within(0f));
            }
            assertThat(m.bytes()).isEqualTo(2L * 6 * PanelBf16Matrix.PANEL * COLS);
        }
    }
}
