package dev.pdserve.kernels;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class OpsTest {
    private static final int L = FloatVector.SPECIES_PREFERRED.length();

    @Test
    void vectorExpIsWithinTwoUlpOfMathExpOverTheWholeNormalRange() {
        int n = 24_000 + 5;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -87f + i * (175f / n);
        float[] y = new float[n];
        var species = FloatVector.SPECIES_PREFERRED;
        for (int i = 0; i < n; i += L) {
            var m = species.indexInRange(i, n);
            Ops.exp(FloatVector.fromArray(species, x, i, m)).intoArray(y, i, m);
        }
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double exact = Math.exp(x[i]);
            worst = Math.max(worst, Math.abs(y[i] - exact) / Math.ulp((float) exact));
        }
        assertThat(worst).isLessThanOrEqualTo(2.0);
        assertThat(Ops.exp(FloatVector.zero(species)).lane(0)).isEqualTo(1f);
    }

    @Test
    void siluMulMatchesTheDefinitionAndGivesEachValueTheSameBitsHoweverTheRangeIsSplit() {
        Random rnd = new Random(9);
        int n = 5 * L + 7; // full vectors and a masked tail
        float[] gate = new float[n], up = new float[n];
        for (int i = 0; i < n; i++) {
            gate[i] = (float) (rnd.nextGaussian() * 4);
            up[i] = (float) rnd.nextGaussian();
        }
        float[] whole = gate.clone();
        Ops.siluMul(whole, 0, up, 0, n);
        for (int i = 0; i < n; i++) {
            double g = gate[i], expected = g / (1 + Math.exp(-g)) * up[i];
            assertThat((double) whole[i]).as("index %d", i).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-6 * Math.max(1, Math.abs(expected))));
        }
        float[] pieces = gate.clone();
        int[] cuts = {0, 3, L + 1, 3 * L - 2, n};
        for (int c = 0; c + 1 < cuts.length; c++) Ops.siluMul(pieces, cuts[c], up, cuts[c], cuts[c + 1] - cuts[c]);
        assertThat(Arrays.equals(pieces, whole)).isTrue();
        float[] extremes = {-200f, -90f, 0f, 90f, 200f};
        float[] ones = {1f, 1f, 1f, 1f, 1f};
        Ops.siluMul(extremes, 0, ones, 0, extremes.length);
        // e^x is clamped below overflow, so very negative gates give about -1e-36 where the exact
        // value underflows to -0: no infinity or NaN either way.
        assertThat(extremes[0]).isBetween(-1e-35f, 0f);
        assertThat(extremes[1]).isBetween(-1e-35f, 0f);
        assertThat(Arrays.copyOfRange(extremes, 2, 5)).containsExactly(0f, 90f, 200f);
    }

    @Test
    void softmaxSumsToOneAndMatchesTheDefinition() {
        Random rnd = new Random(4);
        for (int n : new int[] {1, 7, L, 3 * L + 5}) {
            float[] x = new float[n + 2];
            for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 8);
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 1; i <= n; i++) max = Math.max(max, x[i]);
            for (int i = 1; i <= n; i++) sum += Math.exp(x[i] - max);
            float[] expected = new float[n];
            for (int i = 0; i < n; i++) expected[i] = (float) (Math.exp(x[i + 1] - max) / sum);
            float before = x[0], after = x[n + 1];
            Ops.softmax(x, 1, n);
            double total = 0;
            for (int i = 0; i < n; i++) {
                assertThat(x[i + 1]).as("n %d index %d", n, i).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-6f));
                total += x[i + 1];
            }
            assertThat(total).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
            assertThat(x[0]).isEqualTo(before); // neighbours untouched
            assertThat(x[n + 1]).isEqualTo(after);
        }
    }

    @Test
    void weightedRowsIsTheInOrderFmaSumOfTheChosenRows() {
        Random rnd = new Random(6);
        int n = 5 * L + 3, count = 9; // a block of four vectors, one vector, a scalar tail
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment seg = arena.allocate(4L * n * 20);
            for (long i = 0; i < n * 20L; i++) seg.set(KvLayouts.F32, 4 * i, (float) rnd.nextGaussian());
            long[] rows = new long[count];
            float[] w = new float[count];
            for (int j = 0; j < count; j++) {
                rows[j] = 4L * n * rnd.nextInt(20);
                w[j] = rnd.nextFloat();
            }
            float[] out = new float[n + 2];
            Ops.weightedRows(out, 1, w, rows, count, seg, n);
            for (int k = 0; k < n; k++) {
                float expected = 0f;
                for (int j = 0; j < count; j++) expected = Math.fma(seg.get(KvLayouts.F32, rows[j] + 4L * k), w[j], expected);
                assertThat(out[1 + k]).as("element %d", k).isEqualTo(expected);
            }
            assertThat(out[0]).isZero();
            assertThat(out[n + 1]).isZero();
        }
    }
}
