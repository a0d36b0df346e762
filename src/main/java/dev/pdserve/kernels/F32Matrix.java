package dev.pdserve.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** An fp32 matrix in mapped or off-heap memory (F32 checkpoints, and F16 ones widened at load). */
public final class F32Matrix implements Matrix {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment data;
    private final int rows;
    private final int cols;

    public F32Matrix(MemorySegment data, int rows, int cols) {
        if (data.byteSize() != 4L * rows * cols) {
            throw new IllegalArgumentException("f32 matrix " + rows + "x" + cols + " needs " + 4L * rows * cols + " bytes, got " + data.byteSize());
        }
        this.data = data;
        this.rows = rows;
        this.cols = cols;
    }

    @Override public int rows() { return rows; }
    @Override public int cols() { return cols; }
    @Override public long bytes() { return data.byteSize(); }

    private FloatVector load(long byteOffset) {
        return FloatVector.fromMemorySegment(F, data, byteOffset, ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void multiply(float[] x, int tokens, float[] out, int outStride, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            for (int t = 0; t < tokens; t++) out[t * outStride + r] = dotRow(r, x, t * cols);
        }
    }

    @Override
    public float dotRow(int r, float[] x, int xOff) {
        long row = 4L * r * cols;
        int upper = F.loopBound(cols);
        FloatVector acc = FloatVector.zero(F);
        int k = 0;
        for (; k < upper; k += L) acc = load(row + 4L * k).fma(FloatVector.fromArray(F, x, xOff + k), acc);
        float s = Lanes.sum(acc);
        for (; k < cols; k++) s += data.get(F32, row + 4L * k) * x[xOff + k];
        return s;
    }

    @Override
    public void addScaledRow(int r, float a, float[] acc, int accOff) {
        long row = 4L * r * cols;
        for (int k = 0; k < cols; k++) acc[accOff + k] += a * data.get(F32, row + 4L * k);
    }

    @Override
    public void copyRow(int r, float[] dst, int off) {
        MemorySegment.copy(data, F32, 4L * r * cols, dst, off, cols);
    }
}
