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
        int upper = F.loopBound(cols);
        for (int r = r0; r < r1; r++) {
            long row = 2L * r * cols;
            int t = 0;
            for (; t + 4 <= tokens; t += 4) {
                int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
                int k = 0;
                for (; k < upper; k += L) {
                    FloatVector w = widen(data, row + 2L * k);
                    a0 = w.fma(FloatVector.fromArray(F, x, x0 + k), a0);
                    a1 = w.fma(FloatVector.fromArray(F, x, x1 + k), a1);
                    a2 = w.fma(FloatVector.fromArray(F, x, x2 + k), a2);
                    a3 = w.fma(FloatVector.fromArray(F, x, x3 + k), a3);
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
                float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
                for (; k < cols; k++) {
                    float w = scalar(data, row + 2L * k);
                    s0 += w * x[x0 + k];
                    s1 += w * x[x1 + k];
                    s2 += w * x[x2 + k];
                    s3 += w * x[x3 + k];
                }
                out[t * outStride + r] = s0;
                out[(t + 1) * outStride + r] = s1;
                out[(t + 2) * outStride + r] = s2;
                out[(t + 3) * outStride + r] = s3;
            }
            for (; t < tokens; t++) out[t * outStride + r] = dot(row, x, t * cols, upper);
        }
    }

    private float dot(long row, float[] x, int xOff, int upper) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int k = 0;
        for (; k + L < upper; k += 2 * L) {
            a0 = widen(data, row + 2L * k).fma(FloatVector.fromArray(F, x, xOff + k), a0);
            a1 = widen(data, row + 2L * (k + L)).fma(FloatVector.fromArray(F, x, xOff + k + L), a1);
        }
        for (; k < upper; k += L) a0 = widen(data, row + 2L * k).fma(FloatVector.fromArray(F, x, xOff + k), a0);
        float s = a0.add(a1).reduceLanes(VectorOperators.ADD);
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
