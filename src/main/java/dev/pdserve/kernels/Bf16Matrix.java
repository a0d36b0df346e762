package dev.pdserve.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A bfloat16 matrix in mapped memory. bf16 is the top half of an fp32, so widening is a 16-bit
 * shift of each lane: load {@code L} shorts, sign-extend to ints, shift, reinterpret as floats.
 */
public final class Bf16Matrix implements Matrix {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    static final int L = F.length();
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment data;
    private final int rows;
    private final int cols;

    public Bf16Matrix(MemorySegment data, int rows, int cols) {
        if (data.byteSize() != 2L * rows * cols) {
            throw new IllegalArgumentException("bf16 matrix " + rows + "x" + cols + " needs " + 2L * rows * cols + " bytes, got " + data.byteSize());
        }
        this.data = data;
        this.rows = rows;
        this.cols = cols;
    }

    @Override public int rows() { return rows; }
    @Override public int cols() { return cols; }
    @Override public long bytes() { return data.byteSize(); }

    static FloatVector widen(MemorySegment seg, long byteOffset) {
        ShortVector s = ShortVector.fromMemorySegment(S, seg, byteOffset, ByteOrder.LITTLE_ENDIAN);
        return ((IntVector) s.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    static float scalar(MemorySegment seg, long byteOffset) {
        return Float.intBitsToFloat(seg.get(BF16, byteOffset) << 16);
    }

    @Override
    public void multiply(float[] x, int tokens, float[] out, int outStride, int r0, int r1) {
        int r = r0;
        if (cols % L == 0) {
            // Rows four at a time: 4 rows x 4 tokens (16 accumulators, each widened weight vector
            // used 4 times), then row by row for the rest (streaming one row at a time reads memory
            // faster at batch 1 than interleaving four). Every (row, token) sums its chunks in the
            // same order on every path, so a token's result does not depend on the batch around it.
            for (; r + 4 <= r1; r += 4) {
                int t = 0;
                for (; t + 4 <= tokens; t += 4) block4x4(x, t, out, outStride, r);
                for (; t < tokens; t++) {
                    for (int rr = r; rr < r + 4; rr++) out[t * outStride + rr] = dot(2L * rr * cols, x, t * cols, cols);
                }
            }
        }
        int upper = F.loopBound(cols);
        for (; r < r1; r++) {
            long row = 2L * r * cols;
            for (int t = 0; t < tokens; t++) out[t * outStride + r] = dot(row, x, t * cols, upper);
        }
    }

    private void block4x4(float[] x, int t, float[] out, int outStride, int r) {
        long w0 = 2L * r * cols, w1 = w0 + 2L * cols, w2 = w1 + 2L * cols, w3 = w2 + 2L * cols;
        int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        FloatVector z = FloatVector.zero(F);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        FloatVector a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
        for (int k = 0; k < cols; k += L) {
            FloatVector v0 = FloatVector.fromArray(F, x, x0 + k), v1 = FloatVector.fromArray(F, x, x1 + k);
            FloatVector v2 = FloatVector.fromArray(F, x, x2 + k), v3 = FloatVector.fromArray(F, x, x3 + k);
            FloatVector w = widen(data, w0 + 2L * k);
            a00 = w.fma(v0, a00); a01 = w.fma(v1, a01); a02 = w.fma(v2, a02); a03 = w.fma(v3, a03);
            w = widen(data, w1 + 2L * k);
            a10 = w.fma(v0, a10); a11 = w.fma(v1, a11); a12 = w.fma(v2, a12); a13 = w.fma(v3, a13);
            w = widen(data, w2 + 2L * k);
            a20 = w.fma(v0, a20); a21 = w.fma(v1, a21); a22 = w.fma(v2, a22); a23 = w.fma(v3, a23);
            w = widen(data, w3 + 2L * k);
            a30 = w.fma(v0, a30); a31 = w.fma(v1, a31); a32 = w.fma(v2, a32); a33 = w.fma(v3, a33);
        }
        int o0 = t * outStride + r, o1 = o0 + outStride, o2 = o1 + outStride, o3 = o2 + outStride;
        out[o0] = Lanes.sum(a00); out[o1] = Lanes.sum(a01);
        out[o2] = Lanes.sum(a02); out[o3] = Lanes.sum(a03);
        out[o0 + 1] = Lanes.sum(a10); out[o1 + 1] = Lanes.sum(a11);
        out[o2 + 1] = Lanes.sum(a12); out[o3 + 1] = Lanes.sum(a13);
        out[o0 + 2] = Lanes.sum(a20); out[o1 + 2] = Lanes.sum(a21);
        out[o2 + 2] = Lanes.sum(a22); out[o3 + 2] = Lanes.sum(a23);
        out[o0 + 3] = Lanes.sum(a30); out[o1 + 3] = Lanes.sum(a31);
        out[o2 + 3] = Lanes.sum(a32); out[o3 + 3] = Lanes.sum(a33);
    }

    /**
     * One accumulator, chunks in order, then the tail: the same order as {@link #block4x4}, so a
     * token's result does not depend on which other tokens share the batch (batch invariance).
     */
    private float dot(long row, float[] x, int xOff, int upper) {
        FloatVector acc = FloatVector.zero(F);
        int k = 0;
        for (; k < upper; k += L) acc = widen(data, row + 2L * k).fma(FloatVector.fromArray(F, x, xOff + k), acc);
        float s = Lanes.sum(acc);
        for (; k < cols; k++) s += scalar(data, row + 2L * k) * x[xOff + k];
        return s;
    }

    @Override
    public float dotRow(int r, float[] x, int xOff) {
        return dot(2L * r * cols, x, xOff, F.loopBound(cols));
    }

    @Override
    public void addScaledRow(int r, float a, float[] acc, int accOff) {
        long row = 2L * r * cols;
        int upper = F.loopBound(cols);
        FloatVector av = FloatVector.broadcast(F, a);
        int k = 0;
        for (; k < upper; k += L) {
            widen(data, row + 2L * k).fma(av, FloatVector.fromArray(F, acc, accOff + k)).intoArray(acc, accOff + k);
        }
        for (; k < cols; k++) acc[accOff + k] += a * scalar(data, row + 2L * k);
    }

    @Override
    public void copyRow(int r, float[] dst, int off) {
        long row = 2L * r * cols;
        int upper = F.loopBound(cols);
        int k = 0;
        for (; k < upper; k += L) widen(data, row + 2L * k).intoArray(dst, off + k);
        for (; k < cols; k++) dst[off + k] = scalar(data, row + 2L * k);
    }
}
