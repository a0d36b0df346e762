package dev.pdserve.kernels;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * W8A8: int8 weights with one fp32 scale per output row (symmetric, or with a zero point), run
 * against activations quantized per token to int8. Products of two int8 fit a short, pairs of
 * them are summed in int32, and the total is scaled once per (row, token):
 * {@code out = (sum w_q * x_q - offset * sum x_q) * wScale[r] * xScale[t]}. Quantized activations
 * are kept widened to shorts, so each is widened once per call, not once per weight row.
 */
public final class Int8Matrix implements Matrix {
    static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED;
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(S.vectorBitSize() / 2));
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    static final int L = S.length();

    /**
     * Static W8A8 (msmodelslim "W8A8"): activations quantized with one calibrated scale and zero
     * point, {@code xq = clamp(round(x / inputScale) + inputOffset)}, and
     * {@code out = (w_q . x_q + quantBias) * deqScale} per output row.
     */
    public record StaticInput(float inputScale, float inputOffset, int[] quantBias, float[] deqScale) {}

    private final MemorySegment data;
    private final float[] scales;
    private final float[] offsets;
    private final StaticInput staticInput;
    private final int rows;
    private final int cols;

    /** Dynamic W8A8; {@code offsets} may be null (symmetric). */
    public Int8Matrix(MemorySegment data, int rows, int cols, float[] scales, float[] offsets) {
        this(data, rows, cols, scales, offsets, null);
    }

    public Int8Matrix(MemorySegment data, int rows, int cols, float[] scales, float[] offsets, StaticInput staticInput) {
        if (data.byteSize() != (long) rows * cols) throw new IllegalArgumentException("int8 matrix " + rows + "x" + cols + " needs " + (long) rows * cols + " bytes, got " + data.byteSize());
        if (scales.length != rows) throw new IllegalArgumentException("int8 matrix needs " + rows + " scales, got " + scales.length);
        this.data = data;
        this.scales = scales;
        this.offsets = offsets;
        this.staticInput = staticInput;
        this.rows = rows;
        this.cols = cols;
    }

    @Override public int rows() { return rows; }
    @Override public int cols() { return cols; }
    @Override public long bytes() { return data.byteSize() + 4L * rows; }

    public MemorySegment data() { return data; }

    public float[] scales() { return scales; }

    @Override
    public boolean wantsInt8Input() { return true; }

    @Override
    public void multiply(float[] x, int tokens, float[] out, int outStride, int r0, int r1) {
        throw new UnsupportedOperationException("W8A8 matrices multiply quantized activations; use MatMul");
    }

    private static ShortVector widen(MemorySegment seg, long offset) {
        return (ShortVector) ByteVector.fromMemorySegment(B, seg, offset, ByteOrder.nativeOrder()).convertShape(VectorOperators.B2S, S, 0);
    }

    /**
     * Adds the lanes of a vector of int8 x int8 products (each fits a short) into int lanes: viewed
     * as ints, each lane holds two products, split by shifts. Exact, and no cross-lane shuffles.
     */
    private static IntVector addPairs(IntVector acc, ShortVector products) {
        IntVector both = products.reinterpretAsInts();
        return acc.add(both.lanewise(VectorOperators.ASHR, 16)).add(both.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16));
    }

    @Override
    public void multiplyQuantized(short[] xq, float[] xScale, int[] xSum, int tokens, float[] out, int outStride, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            long row = (long) r * cols;
            float ws = scales[r];
            float off = offsets == null ? 0f : offsets[r];
            int t = 0;
            for (; t + 4 <= tokens; t += 4) dot4(row, xq, t * cols, out, t * outStride + r, outStride, r, t, off, ws, xScale, xSum);
            for (; t < tokens; t++) out[t * outStride + r] = scale(r, dot1(row, xq, t * cols), t, off, ws, xScale, xSum);
        }
    }

    // The loops live in small methods of their own: C2 then inlines the Vector API calls into
    // them and emits vector instructions; folded into one large method it gave up inlining
    // under some call sites and fell back to the (very slow) Java implementation of the API.

    private int dot1(long row, short[] xq, int x0) {
        int upper = S.loopBound(cols);
        IntVector a0 = IntVector.zero(I), a1 = a0;
        int k = 0;
        for (; k + L < upper; k += 2 * L) {
            a0 = addPairs(a0, widen(data, row + k).mul(ShortVector.fromArray(S, xq, x0 + k)));
            a1 = addPairs(a1, widen(data, row + k + L).mul(ShortVector.fromArray(S, xq, x0 + k + L)));
        }
        for (; k < upper; k += L) a0 = addPairs(a0, widen(data, row + k).mul(ShortVector.fromArray(S, xq, x0 + k)));
        int s = a0.add(a1).reduceLanes(VectorOperators.ADD);
        for (; k < cols; k++) s += data.get(ValueLayout.JAVA_BYTE, row + k) * xq[x0 + k];
        return s;
    }

    private void dot4(long row, short[] xq, int x0, float[] out, int o, int outStride, int r, int t, float off, float ws,
                      float[] xScale, int[] xSum) {
        int upper = S.loopBound(cols);
        int x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        IntVector a0 = IntVector.zero(I), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (; k < upper; k += L) {
            ShortVector w = widen(data, row + k);
            a0 = addPairs(a0, w.mul(ShortVector.fromArray(S, xq, x0 + k)));
            a1 = addPairs(a1, w.mul(ShortVector.fromArray(S, xq, x1 + k)));
            a2 = addPairs(a2, w.mul(ShortVector.fromArray(S, xq, x2 + k)));
            a3 = addPairs(a3, w.mul(ShortVector.fromArray(S, xq, x3 + k)));
        }
        int s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
        int s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
        for (; k < cols; k++) {
            int w = data.get(ValueLayout.JAVA_BYTE, row + k);
            s0 += w * xq[x0 + k];
            s1 += w * xq[x1 + k];
            s2 += w * xq[x2 + k];
            s3 += w * xq[x3 + k];
        }
        out[o] = scale(r, s0, t, off, ws, xScale, xSum);
        out[o + outStride] = scale(r, s1, t + 1, off, ws, xScale, xSum);
        out[o + 2 * outStride] = scale(r, s2, t + 2, off, ws, xScale, xSum);
        out[o + 3 * outStride] = scale(r, s3, t + 3, off, ws, xScale, xSum);
    }

    private float scale(int r, int dot, int t, float off, float ws, float[] xScale, int[] xSum) {
        if (staticInput != null) return (dot + staticInput.quantBias[r]) * staticInput.deqScale[r];
        return (dot - off * xSum[t]) * ws * xScale[t];
    }

    private float weight(int r, int c) {
        float q = data.get(ValueLayout.JAVA_BYTE, (long) r * cols + c);
        return (q - (offsets == null ? 0f : offsets[r])) * scales[r];
    }

    @Override
    public float dotRow(int r, float[] x, int xOff) {
        float s = 0;
        for (int c = 0; c < cols; c++) s += weight(r, c) * x[xOff + c];
        return s;
    }

    @Override
    public void addScaledRow(int r, float a, float[] acc, int accOff) {
        for (int c = 0; c < cols; c++) acc[accOff + c] += a * weight(r, c);
    }

    @Override
    public void copyRow(int r, float[] dst, int off) {
        for (int c = 0; c < cols; c++) dst[off + c] = weight(r, c);
    }

    @Override
    public void quantizeInput(float[] x, int tokens, short[] xq, float[] xScale, int[] xSum) {
        if (staticInput == null) {
            quantizeActivations(x, tokens, cols, xq, xScale, xSum);
            return;
        }
        float inv = 1f / staticInput.inputScale;
        for (int i = 0; i < tokens * cols; i++) {
            xq[i] = (short) Math.max(-128, Math.min(127, Math.round(x[i] * inv + staticInput.inputOffset)));
        }
    }

    /**
     * Quantizes {@code tokens} rows of {@code cols} activations symmetrically per row:
     * {@code xq = round(x / s)} with {@code s = max|x| / 127}; also the row sums of xq (for zero points).
     */
    public static void quantizeActivations(float[] x, int tokens, int cols, short[] xq, float[] xScale, int[] xSum) {
        for (int t = 0; t < tokens; t++) {
            int base = t * cols;
            float max = 0;
            for (int c = 0; c < cols; c++) max = Math.max(max, Math.abs(x[base + c]));
            float s = max == 0 ? 1f : max / 127f;
            float inv = 1f / s;
            int sum = 0;
            for (int c = 0; c < cols; c++) {
                int q = Math.round(x[base + c] * inv);
                q = Math.max(-127, Math.min(127, q));
                xq[base + c] = (short) q;
                sum += q;
            }
            xScale[t] = s;
            xSum[t] = sum;
        }
    }
}
