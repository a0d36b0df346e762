package dev.pdserve.kernels;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** A token's matmul result must not depend on how many tokens share the call: batch invariance starts here. */
class Bf16MatrixTest {
    private static final int L = FloatVector.SPECIES_PREFERRED.length();

    /** Values over many magnitudes, so a different addition order would show in the last bits. */
    private static float[] wild(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(7) - 3));
        return v;
    }

    @Test
    void bf16MatmulGivesEveryTokenTheSameBitsWhateverTheBatch() {
        Random rnd = new Random(7);
        int rows = 13, cols = 4 * L, tokens = 11; // 13 rows: blocks of 4 and a remainder row
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = arena.allocate(2L * rows * cols);
            float[] wv = wild(rnd, rows * cols);
            for (int i = 0; i < wv.length; i++) {
                w.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i, (short) (Float.floatToRawIntBits(wv[i]) >>> 16));
            }
            Bf16Matrix m = new Bf16Matrix(w, rows, cols);
            float[] x = wild(rnd, tokens * cols);
            float[] batched = new float[tokens * rows];
            m.multiply(x, tokens, batched, rows, 0, rows);
            for (int t = 0; t < tokens; t++) {
                float[] alone = new float[rows];
                m.multiply(java.util.Arrays.copyOfRange(x, t * cols, (t + 1) * cols), 1, alone, rows, 0, rows);
                for (int r = 0; r < rows; r++) {
                    assertThat(Float.floatToRawIntBits(batched[t * rows + r])).as("token %d row %d", t, r)
                            .isEqualTo(Float.floatToRawIntBits(alone[r]));
                    assertThat(alone[r]).isEqualTo(m.dotRow(r, x, t * cols));
                }
            }
        }
    }
}
